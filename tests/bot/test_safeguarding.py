"""Safeguarding detection: what must reach a person, what must not, and how fast."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from bot.services import safeguarding
from bot.services.safeguarding import (
    Concern,
    SafeguardingConfigError,
    assess,
    categories,
    check_pattern_file,
)

SELF_HARM = [
    "我不想活了",
    "我 不想 活了",
    "不想活了😭",
    "我不想活了。。。",
    "不想😭活了",
    "活着没意思",
    "活著真沒意思",  # Traditional; t2s keeps 著, the module folds it
    "活着，真没意思",  # punctuation inside the phrase
    "我好想死",
    "真的想死了",
    "今晚想割腕",
    "想从学校的楼上跳楼",
    "我想自杀",
    "我想自殺",
    "最近总有轻生的念头",
    "我想結束自己的生命",
    "吃安眠药会怎样",
    "我已经写好遗书了",
    "我真的撐不下去了",
    "偷偷拿刀片划手臂",
    "想紫砂",
    "我把药都攒起来了",
    "永別了，謝謝大家",
    "i want to die",
    "I'm going to kill myself tonight",
    "I cut myself again",
    "I don't want to live anymore",
    "thinking about SUICIDE",
    "self-harm",
    "我想kill myself",
    # Cutting with a particle or a result in between, on the arm, again (audit).
    "我昨晚又划了手臂",
    "我又割了手腕",
    "昨天晚上割破了手臂",
    "我昨晚又劃了手臂",  # Traditional
    "在手臂上划了好几道",
    "胳膊上又割了一刀",
    "忍不住又划了，好痛",
    "手腕上全是疤",
    "我用圆规扎自己",
    "I cut again last night",
    # Wishing not to wake up (audit).
    "好想睡一觉就再也不醒",
    "希望明天不要醒来",
    "睡着了就别醒了",
    "要是能一睡不醒就好了",
    "I hope I never wake up",
    # Putting pills aside with 存/藏 (audit).
    "我把药都存起来了",
    "我偷偷存了好多安眠药",
    "我存了一百片药",
    "药已经存够了",
    "我把安眠药藏起来了",
    # Starving and purging.
    "我每天吃完饭就去催吐",
    "吃完饭就去抠喉咙",
    "我已经三天没吃饭了",
    "我逼自己不吃东西",
    "I make myself throw up after meals",
    # Probe review: indirect, slang, Cantonese and English forms that were missed.
    "如果我消失了大家会不会更好",
    "要是我不在了，爸妈会轻松很多",
    "如果我明天不在了 請幫我跟媽媽說對不起",  # Traditional
    "每天都想结束这一切",
    "zs算了 反正没人管",  # zs = 自杀 (pinyin initials)
    "我想zs",
    "再见了这个世界",
    "成绩出来了，我没脸活下去了",
    "我不配活着",
    "最近总想着死",
    "脑子里一直有死的念头",
    "药不如一次全吃了算了",
    "把所有的药都吞了",
    "我想噶了",  # 噶 = die (internet slang)
    "今天去天台站了很久，差一点就跳了",
    "站在楼顶往下看了很久",
    "唔想再生存落去",  # Cantonese: I don't want to go on living
    "我係咪死咗會好啲",  # Cantonese: would it be better if I died
    "想寻短见",
    "我只是家里的累赘",
    "好累，不想再坚持了",
    "been thinking about unaliving myself",
    "planning to ctb this weekend",  # ctb = catch the bus (suicide)
    "i've been saving up my pills",
    "how many paracetamol would it take",
    "sh relapse, 3 months clean gone",
    "I wrote my goodbye letters",
    "what's even the point of living anymore",
    "so tired of being alive",
    "i took all my pills",
    "i deserve to die",
    "i won't be here tomorrow",
    "i wish i wasn't born",
    # Second probe round: last arrangements, wounds, pills in other containers.
    "我把喜欢的东西都送给朋友了，以后也用不上了",
    "后事都交代好了",
    "今晚就是最后一晚了",
    "手上的伤口又多了几条",
    "一直在想要不要吞那罐藥",
    "好想永远休息",
    "i just want everything to stop",
    "i want the pain to stop for good",
    "gave my cat to my friend, i won't need to look after her anymore",
    "i'm giving away all my stuff",
    "i scratch my arms until they bleed",
    # Third probe round: near misses of the families above.
    "感觉这个世界没有我也一样转",
    "刚才差点就把药全吞了",
    "我在网上搜了怎么死最不痛",
    "好想一覺瞓唔醒",  # Cantonese 瞓 = 睡
    "nobody would even notice if i was gone",
    "what's the most painless way to die",
    # Fourth round, by family (a dev set's misses, each said three other ways).
    # A letter left to be found, goodbyes said, gone by the time it is read.
    "給爸媽的信我已經寫好了，等他們發現的時候我已經不在了",
    "我在书桌上留了一封信，明早他们就会看到",
    "已经偷偷跟最好的朋友告别了",
    "i left a note for my mom, she'll find it in the morning",
    "i dont think ill be around much longer",
    "already said my goodbyes to my friends",
    # Vanishing, with words between; being a burden, in English.
    "好想从这个世界上消失",
    "想悄悄地消失，谁也找不到我",
    "i just want to disappear",
    "everyone would be better off if i wasnt here",
    "im just a burden to my family",
    # Relief from the pain, and cuts in Cantonese (鎅, 𠝹).
    "划完之后心里才舒服一点",
    "只有疼的时候才觉得自己还活着",
    "我又𠝹咗手",
    "鎅完手先瞓得着",
    # Scratching, hitting, head-banging and hair-pulling.
    "一焦虑就抓自己的胳膊，抓得全是血印",
    "气到打自己，打到脸都肿了",
    "我控制不住会拿头往墙上撞",
    "烦的时候就用拳头砸墙，砸到手破",
    "一紧张就忍不住拔自己的头发，头顶都秃了一块",
    "i bang my head against the wall when im upset",
    "i burn myself with a lighter",
    # Wounds in rows, deep cuts and bleeding; 又划了 before more words.
    "同桌手腕上有好多一道一道的口子，我该不该告诉老师",
    "她腿上都是一条一条的疤",
    "划得太深了，血一直止不住",
    "刚才又划了 好痛",
    # Starving: days on water, afraid to eat, food thrown away, a weight in the 30s kg,
    # periods stopped.
    "已经两天只喝水没吃东西了",
    "一吃东西就有罪恶感",
    "我一食嘢就想呕",
    "明明很饿也不敢吃饭，怕胖",
    "每天偷偷把午饭倒掉",
    "现在才36kg，可是照镜子还是觉得自己胖",
    "我想瘦到三十多公斤",
    "例假好几个月没来了，头发也掉得厉害",
    "i havent eaten in three days",
    "im scared to eat because i'll gain weight",
    # Fifth round: a probe of fresh phrasings, written after the fourth, missed these.
    "我真的好累，感觉自己撑不住了",
    "我不想再给任何人添麻烦了，以后就不会了",
    "我把我的游戏账号密码都给了表弟，以后用不到了",
    "对不起，这是我最后一次跟你们说话了",
    "我用橡皮擦一直擦手腕直到破皮",
    "已经一个礼拜没怎么吃东西了",
    "我吃完饭总是偷偷去厕所抠出来",
    "我覺得自己係個負擔",  # Cantonese 係 = 是
    "i've been cutting for a year",
    # Sixth round: a second probe of fresh phrasings missed these.
    "每天晚上都在想，如果我从没出现过，大家会不会更开心",
    "活着太没劲了，每天都一样",
    "感觉自己像个多余的人，没有人需要我",
    "想找个没人的地方一直睡下去",
    "洗澡的时候热水烫手臂，烫到起泡才停",
    "我会故意把手往门上砸",
    "最近一天只吃一顿，还是觉得自己好胖",
    "吐完之后才觉得安心",
    "我已经想好了，周五晚上就结束",
    "我唔想再喺呢個世界",  # Cantonese
    "我已經好多日冇食嘢",  # Cantonese
    "I feel like a burden to everyone around me",
    "I've been thinking about ending things",
    # Seventh round: a third probe of fresh phrasings missed these.
    "我把日记烧了，该处理的都处理好了",
    "好想就这样睡过去不用再面对明天",
    "我觉得我的存在就是个错误",
    "我已经很久没有开心过了，感觉活着就是在受罪",
    "今天在天台上站了好久，风好大",
    "刚才拿剪刀在腿上剪了几道",
    "一个月瘦了十斤，但我还想再瘦",
    "我身上的伤不敢让同学看见，夏天也穿长袖",
    # Eighth round: a fourth probe of fresh phrasings missed these.
    "如果明天出车祸就好了",
    "药箱里的药我都数过了，够了",
    "我觉得我死了爸妈会松一口气",
    "昨天晚上差点就从窗户跳出去了",
    "我拿小刀在手腕上写了他的名字",
    "我已经吐了一个月了，牙都坏了",
    "每顿饭只吃几口",
    # A burden to the whole family, unnoticed if gone, a date not reached.
    "我就是这个家的拖油瓶",
    "我是爸妈的负担",
    "感觉自己像透明人一样，消失了也没人发现",
    "死了都不会有人在乎",
    "i don't think i'll make it to next year",
    "i don't see myself making it to graduation",
]
ABUSE = [
    "他打我",
    "爸爸打我",
    "我爸昨天又打了我",
    "繼父經常打我",
    "我家有家暴",
    "我被性侵了",
    "被猥亵了怎么办",
    "有人摸我",
    "老师摸了我的腿",
    "我被强迫",
    "我被虐待",
    "他用皮带抽我",
    "爸爸喝醉了打妈妈",
    "他们不给我饭吃",
    "他让我拍裸照",
    "被性騷擾了",
    "my dad hits me",
    "I was abused",
    "he raped me",
    "he touched me",
    "my stepdad beats me every night",
    # A parent's threat (audit).
    "期末考砸了 我爸说回家打死我",
    "我妈说再考不好就打死我",
    "回去肯定会被打死",
    "我爸说要打断我的腿",
    "有人找我要钱，不给就打我",  # 打我 wins over the extortion (abuse before bullying)
    "他们说不给钱就揍我",
    # A (step) relative or a grown man in the child's room or bed at night (audit).
    "继父晚上会进我房间 我很害怕",
    "叔叔半夜钻进我的被窝",
    "舅舅总是趁我睡着进我房间",
    "後爸偷看我洗澡",  # Traditional
    "他进我房间的时候我好怕",
    "my stepdad comes into my room at night",
    # Pregnancy, flagged like 发生关系: a cadre cannot tell a minor from an adult member.
    "我怀孕了 不敢告诉家里",
    "我好像怀孕了怎么办",
    "我女朋友怀孕了",
    "验孕棒两道杠",
    "紧急避孕药在哪买",
    "I think im pregnant",
    # Also a report: an adult member's false alarm costs one look (the YAML's choice);
    # the general question 怀孕期间能参加团组织活动吗 is in NEGATIVES.
    "我怀孕了，还能参加团日活动吗",
    # Running away, afraid to go home, shut out.
    "我想离家出走",
    "我不敢回家",
    "昨晚睡在网吧",
    "我爸把我关在门外一晚上",
    "他们不让我进家门",
    "I ran away from home",
    # An adult met online: photos, meeting, secrecy.
    "网友约我见面",
    "网友要我的照片",
    "网上认识的哥哥让我去他家",
    "他让我发不穿衣服的照片",
    "他让我不要告诉爸妈",
    "an online friend asked me for pics",
    # Probe review: sexual abuse and grooming said indirectly, pinyin initials,
    # Cantonese, a parent named before the blow, domestic violence in English.
    "叔叔让我看他下面",
    "他叫我摸他那里",
    "我被qj了",  # qj = 强奸
    "被xq了怎么办",  # xq = 性侵
    "補習班老師一直傳很噁心的訊息給我 還約我單獨出去",
    "他老是给我发色情图片",
    "他说这是我们之间的秘密",
    "公交上遇到咸猪手",
    "有个大叔说给我钱让我陪他",
    "昨天被爸妈打了一顿",
    "俾老豆打到成身瘀",  # Cantonese: dad beat me black and blue
    "my dad beats my mom and i'm scared",
    "he hits my mum when he's drunk",
    "this 25 yo guy on snap keeps sending me money for pics",
    "he said it's our little secret",
    "a guy i met on roblox wants my address",
    "he keeps asking me to sext",
    # Second probe round: taking it out on the child, a lap, a camera, wandering hands,
    # a drunk parent (Cantonese 郁手 = 动手), a threat to post photos.
    "我爸心情不好就拿我出气",
    "我就是我妈的出气筒",
    "继父老是让我坐他腿上",
    "有个主播让我开摄像头给他看",
    "繼父會叫我幫他按摩 然後手亂放",
    "他帮我补课的时候手不老实",
    "阿爸飲醉酒就郁手打人",
    "我爸一喝醉就动手打我妈",
    "網上有個人話如果我唔再傳相就會放上網",
    "他说不然就把我的照片发到网上",
    "my stepdad makes me sit on his lap",
    "he wants me to video call him without my shirt",
    "a guy said he'd buy me skins if i send pics",
    "my mom's boyfriend threw my little brother against the wall",
    "he threatened to post my photos",
    # Third probe round.
    "表哥趁家里没人对我做了那种事",
    "老師叫我放學留下來 然後一直抱我",
    "屋企成日有人打交 我唔敢返屋企",  # Cantonese: afraid to go home
    "my uncle does stuff to me when my parents aren't home",
    "my dad said if i tell anyone he'll hurt my mom",
    # Fourth round, by family. The hair, the neck, pinned down, a thing or a tool used
    # on the child, a bone broken.
    "我妈一生气就揪着我的头发往地上拖",
    "他抓住我的头往桌子上磕",
    "爸爸掐着我的脖子不放",
    "佢揸住我條頸",  # Cantonese: he grabbed my neck
    "奶奶拿缝衣针扎我",
    "我爸拿烟灰缸砸我",
    "他把我按在地上打",
    "他打断过我的手",
    "my dad grabbed me by the hair",
    "my mom throws things at me when she's angry",
    "he pinned me against the wall",
    # A weapon at home, a child hiding.
    "家里人吵架，我爸举着菜刀要砍我妈",
    "我躲在衣柜里不敢出来，外面在砸东西",
    # Neglect: no doctor, told to bear it, adults gone, no food or warm clothes.
    "我发烧好几天了，爸妈不带我去看病",
    "手骨折了，我妈说忍忍就好了",
    "爸妈去外地好几天了，电话一直打不通",
    "家里没有大人，我和妹妹已经吃了三天方便面",
    "妈妈把我一个人丢在家，已经一个星期没回来了",
    "冬天了还没有棉衣穿",
    "屋企冇嘢食",  # Cantonese: no food at home
    "my parents havent been home in four days",
    "theres no food in the house",
    "my mom won't take me to the doctor",
    # Thrown out or shut out.
    "被我妈赶出来了，现在不知道去哪",
    "俾老豆趕咗出屋企",  # Cantonese
    "我爸叫我滚，我就出来了，现在在街上",
    "我妈不给我开门",
    "她说让我死在外面",
    "再也不想回那个家了",
    "my dad threw me out last night",
    "i have nowhere to sleep tonight",
    # Sexual abuse said indirectly: a hand inside clothes, a touch that felt wrong, a
    # drink and lost memory, rubbing in a crowd, a closed door and a demand.
    "他把手伸进我的裤子里",
    "表哥趁我睡着把手伸到我被子里",
    "叔叔帮我涂药的时候摸的地方让我很不舒服",
    "喝了他递给我的水就晕了，醒来在陌生的房间",
    "醒来发现裤子被脱了",
    "地铁上有个大叔一直用下面顶我",
    "他关上门就让我亲他",
    "he put his hand under my shirt",
    "i woke up and my clothes were off",
    # Grooming: fewer clothes in the photos, "the other girls all do", a scout asking
    # for photos in underwear, a threat to send the photos on, gifts, secrecy, flattery,
    # an offer of work far away.
    "他老让我穿少一点拍照片给他看",
    "他说别的女孩都给他发过，我不发就是不爱他",
    "有个说自己是模特公司的人要我发穿泳衣的照片",
    "我发了照片给他，他说不给钱就把照片发给我爸妈",
    "一个网友给我寄了一双鞋",
    "游戏里认识的大哥哥说想来我的学校看我",
    "他叫我把我们的聊天记录都删了",
    "他总说我比同龄人成熟",
    "有人让我偷偷把家里的户口本带出来",
    "有人说可以带我去柬埔寨打工赚大钱",
    "he wants pics of me in my bikini",
    "he told me to delete our chats",
    "he says im mature for my age",
    # Fifth round (a probe of fresh phrasings).
    "妈妈的男朋友老是喝醉了进我房间",
    "家里三天没开火了，我饿得睡不着",
    "我跟弟弟两个人在家，大人都出去了好几天",
    "有个叔叔经常给我买零食，还让我别告诉我妈",
    "体育老师让我去器材室单独找他",
    "网上有个人说如果我不给他发视频就把我们的聊天发给全校",
    "他说见面的事不要跟任何人说",
    "现在在火车站，不知道今晚睡哪",
    "a man from instagram wants to meet me alone",
    "my dad hits my little brother",
    "I ran away and I'm sleeping at the park",
    # Sixth round (a second probe of fresh phrasings).
    "我妈罚我在阳台站了一夜",
    "继母不让我吃晚饭，说我不配",
    "上课的时候老师老是贴着我站，还把手放在我腰上",
    "家里没人做饭，我已经饿了两天",
    "我爸妈离婚了，谁都不要我",
    "有个大哥哥说喜欢我，让我晚上偷偷溜出去见他",
    "他让我拍下面给他看",
    "my uncle makes me do things I don't want to",
    "a guy online keeps asking for photos and says he'll share our chats if I stop",
    "my stepdad keeps coming into the bathroom when I shower",
    # Seventh round (a third probe of fresh phrasings).
    "继父半夜敲我的门，我把门锁上了他就在外面骂",
    "网上认识的人说他是18岁，可是视频里他看起来像三十多",
    "他说只要我跟他视频脱衣服就给我五百块",
    "我的衣服被他们扒了",
    "妈妈出去打工一直没回来",
    "我从家里跑出来了，现在在朋友家",
    "my mom's boyfriend makes me sleep in his bed",
    "my parents leave me alone for weeks",
    "someone I met on a game wants me to come to his house",
    # Eighth round (a fourth probe of fresh phrasings).
    "我爸说我再哭就把我扔出去",
    "我身上的烟疤是我爸弄的",
    "我在网上认识的男朋友32岁，他说年龄不是问题",
    "他说只要我去见他就给我买最新的手机",
    "家里已经断水断电了，爸爸欠了好多钱跑了",
    "有個男人喺網上叫我傳相畀佢",  # Cantonese 相 = photo
    "my coach sends me messages late at night and tells me not to tell my parents",
    "i'm thinking of running away tonight",
]
VIOLENCE = [
    "我想杀了他",
    "我想殺了他們",
    "我要砍人",
    "明天带刀去学校",
    "我要报复社会",
    "真想杀人",
    "想捅死他",
    "跟他同归于尽",
    "他说要杀了我",
    "I will kill him",
    "gonna bring a knife to school",
    "他说放学要打死我",
    # Being followed or lain in wait for.
    "有个男的一直跟着我",
    "放学被人跟踪了",
    "有人在我家楼下蹲我",
    "a man has been following me home",
    "someone is stalking me",
    # Probe review: threats with the people in between, Cantonese, revenge.
    "我想把那些人都弄死",
    "把他们全杀了",
    "佢話要斬死我",  # Cantonese: he says he'll hack me to death
    "我要讓他們全部付出代價",
    "他们都得死",
    "some guys said they'll jump me after school",
    "they'll all pay for what they did",
    "i'm gonna make them all pay",
    "he said he's going to stab me",
    "my brother threatened me with a knife",  # a weapon: violence, not bullying
    "he pulled a knife on me",
    # Second probe round.
    "我想拿刀把他们一个个解决掉",
    "i'm going to hurt the kid who did this",
    "i know where he lives",
    # Third probe round.
    "我真係想攞刀劈死佢",  # Cantonese 劈 = hack
    "谁再惹我我就让他见血",
    "gonna bring my dad's gun to school",
    # Fourth round, by family. The young person's own threats: fire, something in a
    # drink, "whoever" as the target, pushing someone down, a plan of revenge, a weapon
    # for the next time.
    "我要把他家烧了",
    "真想在她饭里下点泻药",
    "谁再惹我我就弄死谁",
    "想趁他不注意把他推下楼",
    "这口气咽不下，我一定要报复回去",
    "下次他再推我我就拿圆规扎他",
    "让他们也尝尝被欺负的滋味",
    "im going to burn his house down",
    "i'll put something in her drink",
    "i want to make them suffer",
    # Threats to the young person: people brought to beat them, a blade, knowing where
    # they live.
    "他们说明天要叫人来收拾我",
    "那群人说放学后砍我",
    "他说知道我家在哪，让我晚上小心点",
    "he said he knows where i live",
    # Stalking: a tracker, a stranger lurking or taking photos, knowing what they wear,
    # calls from changing numbers.
    "我书包里被人放了定位器",
    "有个陌生男人天天在校门口盯着我看",
    "上学路上被人偷拍了",
    "有个号码一直给我发消息，说出我每天穿什么",
    "陌生号码天天换着号打给我",
    "someone put an airtag in my bag",
    "he always shows up wherever i go",
    # Fifth round (a probe of fresh phrasings).
    "我恨他们，我要让他们全部消失",
    "谁敢再笑我，我就拿刀跟他拼了",
    "我在网上买了一把刀，准备明天带去学校",
    "有個男人成日跟住我返學",  # Cantonese 跟住 = 跟着
    # Sixth round (a second probe of fresh phrasings).
    "我真的忍不了了，我已经准备好刀了",
    # Seventh round (a third probe of fresh phrasings).
    "我要让那个老师付出代价",
    "我知道她住哪，放学就去找她算账",
    "有个人每天在我们学校门口拍女生",
    # Eighth round (a fourth probe of fresh phrasings).
    "那个人说如果我敢报警就让我全家好看",
    "这几天总有一辆车停在我家楼下，车里的人一直盯着我",
    "我的手机好像被人装了监控软件",
]
BULLYING = [
    "被欺负",
    "我在学校被欺负",
    "他們欺負我",
    "被霸凌了",
    "同学孤立我",
    "我被孤立了",
    "被高年级勒索",
    "有人敲诈我",
    "放学被围殴",
    "我被网暴了",
    "被人肉了",
    "我被打。怎么办",
    "被同学打了",
    "全班都不理我",
    "他們給我起難聽的外號",
    "I'm being bullied",
    "they make fun of me every day",
    "cyberbullying",
    # Cornering and extortion (audit).
    "被高年级的堵在厕所要钱",
    "同学说放学后要在校门口堵我",
    "他们天天堵我要钱",
    "他們放學後在巷子裡堵我",  # Traditional
    "高年级的每周逼我交钱",
    "放学又被他们堵了",
    "那几个人问我要钱",
    # Things thrown or poured at the young person (audit).
    "同桌天天往我书包里扔垃圾",
    "他们往我身上泼水",
    "同学朝我吐口水",
    "有人在我的椅子上涂胶水",
    # Probe review: extortion without 钱 after 不给, Cantonese, English exclusion and
    # online forms.
    "每天被同学要钱，不给就打",
    "被高年级的收走了生活费",
    "俾人杯葛，全班都唔理我",  # Cantonese: boycotted, the whole class ignores me
    "佢哋成日蝦我",  # Cantonese 蝦 = to bully
    "有人冒充我开小号发奇怪的东西",
    "被同学挂到表白墙上了",
    "班上的人给我取了个很难听的外号",
    "everyone in my class ignores me and leaves me out",
    "people keep posting mean stuff about me on tiktok",
    "someone made a fake account of me and posts embarrassing stuff",
    "everyone at school hates me",
    "they push me around in the hallway",
    # Second probe round.
    "他们把我的头按进马桶里",
    "有人把我的聊天记录截图到处发",
    "班上女生組群組專門笑我",
    "他们天天笑我胖",
    "they dumped my bag in the toilet",
    "got voted ugliest in class in an instagram poll",
    "the older boys corner me in the bathroom",
    # Third probe round.
    "班长带头不让大家跟我说话",
    "他们逼我在厕所里跪着给他们道歉",
    "我的照片被人做成表情包在年级群里传",
    "they call me slurs every day",
    # Fourth round, by family. Names, belongings, school as a punishment, locked in.
    "他们天天叫我肥猪",
    "班上男生喊我丑八怪",
    "佢哋成日叫我肥婆",  # Cantonese
    "他们把我的鞋藏起来了",
    "他们把我的校服扔进了垃圾桶",
    "每天去学校都像下地狱一样",
    "被同学反锁在厕所里出不来",
    # Photos and videos posted, polls, being "hung up" online.
    "她们把我换衣服的照片发到了群里",
    "有人把我被打的视频传到网上",
    "他们在群里投票选班上最恶心的人",
    "被人开帖挂出来了",
    # Extortion: searched for money, made to buy or bring things, "or else".
    "那几个人每天都翻我的书包拿钱",
    "高年级的逼我每天帮他们买早餐",
    "他们让我每周带一条烟给他们",
    "他们逼我去偷家里的钱",
    "他们说否则就废了我",
    "佢哋日日問我攞錢",  # Cantonese
    "they make me pay them every week",
    "they filmed me getting hit and put it on tiktok",
    "someone made a poll about who's the ugliest and everyone picked me",
    # Fifth round (a probe of fresh phrasings).
    "有人在我的储物柜里塞了恐吓信",
    "全班同学建了个群专门讨论怎么整我",
    "他们每天让我帮他们写作业，不写就打",
    # Sixth round (a second probe of fresh phrasings).
    "那个男生说要在放学路上堵我，让我等着",
    "每次体育课他们都故意用球砸我",
    "有人冒用我的名字在网上骂人",
    # Seventh round (a third probe of fresh phrasings).
    "全年级都在传我的丑照",
    "班上嘅人成日笑我係肥婆",  # Cantonese
    # Eighth round (a fourth probe of fresh phrasings).
    "他们把我的头发剪掉了一块",
    "他们让我每天给他们五块钱，不给就不让我上厕所",
    "有人在贴吧发帖说我是小三",
]
POSITIVES = (
    [(text, "self_harm") for text in SELF_HARM]
    + [(text, "abuse") for text in ABUSE]
    + [(text, "violence") for text in VIOLENCE]
    + [(text, "bullying") for text in BULLYING]
)

NEGATIVES = [
    # Hyperbole and words that merely contain a trigger character.
    "杀毒软件",
    "笑死我了",
    "累死了",
    "热死了",
    "手机死机了",
    "想死你了",
    "我想死磕这道题",
    "秒杀活动什么时候开始",
    "怎么砍价",
    "跳楼价大甩卖",
    "紫砂壶多少钱",
    "去死皮怎么弄",
    # News: 自杀式袭击 is a term of art, not about the writer (a documented choice).
    "自杀式袭击的新闻",
    # Sport, games and their slang.
    "打篮球",
    "打游戏被虐",
    "昨天打游戏被虐惨了",
    "玩农药上分",
    "我们去玩狼人杀",
    "斗地主出炸弹",
    "我打我的游戏",
    "比赛被打败了",
    # Everyday phrases built on 打, 踢, 骚扰, 勒索, 笑话.
    "你们可以打我电话吗",
    "打我卡里就行",
    "他把我踢出群了",
    "一直在划手机",
    "老是接到骚扰电话",
    "不要打扰我学习",
    "讲个笑话我听",
    "打疫苗被打了一针",
    "酒精能杀死细菌吗",
    "勒索病毒怎么办",
    # English.
    "killing time",
    "this game kills me",
    "bully for you",
    "he beat me at chess",
    "this song touched me",
    "my phone is going to die",
    "drug abuse prevention week",
    # Ordinary FAQ questions.
    "怎么入团",
    "团费交多少",
    "志愿时长证明怎么开",
    "12355是什么电话",
    "12355能匿名吗",
    "入团申请书怎么写",
    "团员证丢了怎么办",
    # Sharing words with the patterns added after the audit.
    "志愿活动要钱吗",
    "参加活动要钱吗",
    "报名要钱不",
    "同学们参加团日活动要钱吗",
    "学校周围的人说报名要钱",
    "打电话问活动要钱吗",
    "不给钱就不能参加吗",
    "划船比赛怎么报名",
    "老师划了几道题",
    "帮我划一下重点",
    "在手机上划一下就能报名吗",
    "药店在哪",
    "药品怎么保存",
    "把药存在冰箱里可以吗",
    "怎么存钱",
    "存钱罐在哪买",
    "路上堵车，我晚点到",
    "路上很堵，我迟到了",
    "路上堵了，我会晚点到",
    "我被堵在路上了",
    "下水道被堵住了",
    "扔垃圾分类怎么分",
    "往垃圾桶里扔东西要分类吗",
    "他往我这边传球",
    # 打死我也不信 is an idiom (= I'd never believe it), excluded in abuse and violence.
    "打死我也不信",
    "打死我都想不到他会入团",
    "我妈总打断我说话",
    "宿舍房间怎么分配",
    "活动房间在哪",
    "妈妈进我房间不敲门",  # a parent by day, no fear: not flagged
    "晚上几点回宿舍",
    "怀孕期间能参加团组织活动吗",  # a general question, no report (see ABUSE)
    "少先队两道杠是什么",
    "景区人流量大吗",
    "用药流程是什么",
    "不想上学怎么办",  # not a concern on its own
    "周末没地方去玩",
    "我住在公园旁边",
    "老师要跑家访",
    "早上总是醒不来",
    "怎么总是睡不醒",
    "明天醒来记得报名",
    "清明节去烈士陵园祭扫",
    "减肥食谱推荐",
    "节食减肥有用吗",
    "我要逼自己好好学习",
    "扎头发的教程",
    "网友说入团要交钱是真的吗",
    "网友见面会怎么报名",
    "老师让我发一张证件照",
    "团支书让我发露营的照片",
    "让我给下面的同学发通知",
    "老师让我不要告诉别人答案",
    "跟着我读一遍入团誓词",
    "快递跟踪怎么查",
    "thanks for following me",
    "he follows me on instagram",
    # Policy and prevention are not reports (excluded), nor the everyday forms that
    # share words with the patterns added in the probe review.
    "学校的反霸凌制度是什么",
    "學校的反霸凌政策是什麼",
    "预防校园欺凌主题班会怎么开",
    "what's the school's anti-bullying policy",
    "防性侵教育课件哪里下载",
    "今天的药都吃了",
    "这个药一次吃几片",
    "我的药都吃完了",
    "在阳台上跳绳",
    "如果我不在，你帮我签到",
    "我不在家，明天再说",
    "再见了大家，我先下线了",
    "天台的门锁了吗",
    "把进程杀了重启一下",
    "把蚊子打死了",
    "我被挂科了",
    "好累，明天还要坚持跑步",
    "我是团支书，收到了班费",
    "you'll pay for dinner?",
    "how many pills should i take for a headache",
    "i took my pills this morning",
    "my brother beat my dad at chess",
    "we made a group chat for the class trip",
    "the kids in my class are so nice",
    "不要被人打扰",
    "被同学打断了",
    "被人打败了",
    "你们都要死了吗，这么晚还不睡",
    "我们之间的秘密基地",
    "how many days would it take to get the certificate",
    "this is our secret base",
    "our secret santa gifts",
    "my crush ignores me",
    # Second probe round: harmless forms next to its patterns.
    "高考完了，这些书以后也用不上了",
    "今天是假期最后一天了",
    "这盒药一天吃几次",
    "手机上的截图怎么发给老师",
    "拿刀切水果要小心",
    "笑我自己太笨了",
    "my little brother keeps hitting me with pillows lol",
    "i won't need the textbook anymore",
    "she was voted most likely to succeed",
    "my dad throws the ball to me",
    "老师的点评一针见血",
    "被妈妈抽出时间陪我",
    "被我爸打电话叫回家",
    "我把药全吃完了，明天去医院复查",
    "考完试就不用再烦了",
    "nobody would notice if i changed my hairstyle",
    "if i tell my mom she'll take away my switch",
    # Fourth round: harmless forms next to its self-harm families.
    "给老师的信写好了，明天交",
    "跟同学们道别了，下周转学",
    "蚊子包抓到流血了",
    "帮我妈拔白头发",
    "手机屏幕上一道道划痕怎么修",
    "打完针就舒服多了",
    "今天又划了好多重点",
    "想减肥，晚饭少吃点",
    "我想瘦到五十公斤",
    "我138公斤太胖了想减肥",
    "一吃辣就想吐",
    "i said goodbye to my friends at the airport",
    "i dont think ill make it to class on time",
    # ... and next to its abuse families.
    "我妈拿刀切菜",
    "妈妈拿我的手机打游戏",
    "昨晚躲在被子里哭了一晚上",
    "高三好痛苦，妈妈说忍忍就过去了",
    "被老师赶出教室了",
    "我不想回家过年",
    "the teacher kicked me out of class",
    "my mom won't let me go to the party",
    # ... and next to its sexual abuse and grooming families.
    "我家猫老蹭我",
    "他老是蹭我的饭卡",
    "帮我看看这件泳衣好看吗",
    "别的同学都会做这道题",
    "老师关上门让我坐下说",
    "吃了他给的药就不晕了",
    "朋友让我把照片删了",
    "爸爸带我去他上班的地方看看",
    # ... and next to its violence and stalking families.
    "复仇者联盟什么时候上映",
    "报复性熬夜怎么改",
    "中医讲究对症下药",
    "趁老师不注意睡了一觉",
    "往你碗里加点汤",
    "帮我砍一刀",
    "叫人打我电话就行",
    "陌生人给的东西不要吃等等",
    "钥匙上装个airtag能找回来吗",
    "i put an airtag on my keys",
    # ... and next to its bullying families.
    "妈妈翻我钱包",
    "爸爸叫我臭小子",
    "高三上学就像坐牢",
    "老师把我的获奖照片发到了班群",
    "我爸让我去楼下买包烟",
    "还好你帮我，不然就把我累死了",
    "要不把我的也带上",
    # Harmless forms the list raised an alarm for, with other phrasings of each: game
    # tactics and respawning, laughing "to death", the news, a legal question, a topic
    # for class, a bystander's "what if", campaigns against bullying, calls, fiction.
    "这波自杀式打法太莽了",
    "自杀式进攻居然赢了",
    "这个视频让我笑不活了",
    "笑得不活了哈哈",
    "掉进虚空自杀回出生点",
    "mc里自杀能回家吗",
    "热搜上说某明星轻生了是真的吗",
    "新闻报道有个人跳楼了，是哪里的",
    "新闻说有人持刀抢劫银行被抓了",
    "最近的持刀伤人案判了吗",
    "网暴别人要负法律责任吗",
    "热搜说那个主播被网暴了",
    "班会要讲关于校园霸凌的话题，怎么准备",
    "写一篇关于网络暴力的作文",
    "假如遇到同学被霸凌该不该告诉老师",
    "如果发现别人被孤立应该怎么帮",
    "远离校园霸凌手抄报怎么画",
    "抵制网络暴力倡议书",
    "我妈一上午打了我二十多个电话",
    "他打了我好几通电话我都没接",
    "东野圭吾的小说里凶手是怎么杀人的",
    "那部剧里的霸凌情节太压抑了",
    "看完那本书里面的欺凌描写好难受",
    # Next to the fifth round's families.
    "困得撑不住了，先睡了",
    "周末不知道去哪玩",
    "想消失一个周末去旅游",
    "考试周要熬不住了",
    "mum took my phone away for a week",
    "不小心被开水烫到起泡了",
    "男朋友说他不要我了",
    "今天在天台上坐了一会儿看星星",
    "爸爸出差一直没回家，好想他",
    "暑假瘦了五斤，还想再瘦一点点，怎么运动",
    "夏天也要穿长袖防晒吗",
    "今天在江边坐了好久，风景真好",
    "大家都在说我进步了",
    "我妈让我别告诉我爸我考了多少分",
    # A probe for false alarms near the fourth to seventh rounds' families.
    "不想再给老师添麻烦了，我自己查吧",
    "这周三天没吃零食了，坚持住了",
    "把卡在牙缝里的东西抠出来",
    "饿得睡不着，宿舍有泡面吗",
    "见面的事不要跟任何人说，我们要给班主任一个惊喜",
    "出去旅游不知道今晚住哪，有推荐的酒店吗",
    "我给老师写了一封信，明天她就会看到",
    "已经跟同学们告别了，下周转学",
    "想消失一会儿，出去散散心",
    "只有疼的时候才知道要去医院",
    "我又划了一根火柴",
    "妈妈手机没电了，电话打不通",
    "家里没有大人的时候我就看电视",
    "上课说话被老师赶出来罚站",
    "室友叫我滚去洗澡哈哈",
    "拍好了我就把照片发给你",
    "网友给我寄了明信片",
    "拼多多砍我一刀的链接",
    "成绩被挂出来了",
    "理发师剪了我的头发",
    "对面的同学一直看着我",
    "不给钱就不让我参加活动吗",
    "老师不在了大家都松一口气",
    "明天小区停水停电吗",
    "我男朋友25岁，比我大两岁",
    "毕业了，以后这些课本用不上了",
    "",
    "   ",
]


@pytest.mark.parametrize(("text", "category"), POSITIVES)
def test_concerning_messages_are_caught(text: str, category: str) -> None:
    concern = assess(text)
    assert concern is not None, text
    assert concern.category == category, (text, concern)
    assert concern.matched


@pytest.mark.parametrize("text", NEGATIVES)
def test_harmless_messages_pass(text: str) -> None:
    assert assess(text) is None


# The parent named before the blow, as children most often say it: with 我 before the
# parent (被我爸打了), and with what the blow left (打出血, 掐出血). The exclusions after
# the verb that keep 抽出时间 and 打中 (a ball) out took 打出血 and 揍出血 with them.
PARENT_BEFORE_THE_BLOW = [
    "昨天被我爸打了一顿",
    "我又被我妈打了",
    "被我继父打了",
    "被我爸打得浑身是伤",
    "被爸爸打出血了",
    "我被爸爸打出了血",
    "被爸爸揍出血",
    "被妈妈掐出血",
    "被爸爸打出淤青",
    "被我哥打了",  # a brother or sister: the review's near misses
    "又被我姐打了一顿",
    "我被关在厕所里",
    "我被同学锁在器材室里出不来",
]


@pytest.mark.parametrize("text", PARENT_BEFORE_THE_BLOW)
def test_a_parent_named_before_the_blow_is_caught(text: str) -> None:
    concern = assess(text)
    assert concern is not None and concern.category == "abuse", (text, concern)


def test_there_are_enough_examples() -> None:
    assert len(POSITIVES) >= 40
    assert len(NEGATIVES) >= 20
    assert {category for _, category in POSITIVES} == set(categories())


def test_categories_in_priority_order() -> None:
    assert categories() == ("self_harm", "abuse", "violence", "bullying")


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("他们天天欺负我，爸爸还打我，我不想活了", "self_harm"),
        ("同学欺负我，我想杀了他们", "violence"),
        ("爸爸打我，我想杀了他", "abuse"),
        ("I'm bullied at school and I want to die", "self_harm"),
    ],
)
def test_most_serious_category_wins(text: str, category: str) -> None:
    concern = assess(text)
    assert concern is not None and concern.category == category


def test_matched_phrase_is_reported_for_the_card() -> None:
    assert assess("我真的不想活了") == Concern(category="self_harm", matched="不想活")
    assert assess("MY DAD HITS ME") == Concern(category="abuse", matched="hits me")


def test_exclusion_blanks_only_its_own_span() -> None:
    # Gaming slang does not hide a real report in the same message.
    concern = assess("打游戏被虐，回家爸爸还打我")
    assert concern is not None and concern.category == "abuse"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("看到新闻说有人自杀，我也想自杀", "self_harm"),
        ("热搜上那个博主被网暴了，我也被网暴了", "bullying"),
        ("网暴我的人会被判刑吗", "bullying"),
        ("我看到同桌每天被欺负", "bullying"),
        ("如果看到有人被欺负怎么办，我自己就天天被欺负", "bullying"),
        ("他打了我好几个电话，回家又打了我一巴掌", "abuse"),
        ("电影里的霸凌跟我在学校被霸凌一模一样", "bullying"),
        ("笑不活了，但其实我真的不想活了", "self_harm"),
    ],
)
def test_a_report_next_to_a_harmless_form_is_still_caught(text: str, category: str) -> None:
    """The news, a legal question, a bystander's "what if", calls and fiction are
    blanked out as spans: a report of the writer's own in the same message stays."""
    concern = assess(text)
    assert concern is not None and concern.category == category, (text, concern)


def test_clause_end_survives_punctuation() -> None:
    # 被打 needs a clause end (not 被打扰): a full stop gives one, a following word not.
    assert assess("我被打。怎么办") is not None
    assert assess("我被打扰了怎么办") is None


def test_broken_input_does_not_crash() -> None:
    assert assess("\ud800想死") is not None
    assert assess("\x00\n\t") is None


def test_long_text_costs_in_proportion_to_its_length() -> None:
    """No pattern backtracks badly: ten times the text costs about ten times the time,
    not orders of magnitude more. (The time itself is a benchmark figure:
    ``python -m bench.bench_matcher`` prints it against its 5 ms target.)"""
    long = ("我想问一下怎么入团，团费交多少？volunteer hours 证明怎么开，谢谢！" * 60)[:2000]
    assert assess(long) is None  # no hit: every category is scanned in full

    # The least of many rounds, in turn, in this process's CPU time (the suite's other
    # workers do not count).
    best = [float("inf")] * 2
    for _ in range(20):
        for i, text in enumerate((long, long[:200])):
            start = time.process_time()
            assess(text)
            best[i] = min(best[i], time.process_time() - start)
    ratio = best[0] / best[1]
    assert ratio < 40, f"2,000 characters took {ratio:.0f} times as long as 200"


def test_a_trigger_at_the_end_of_a_long_text_is_found() -> None:
    text = "怎么入团？" * 400 + "其实我不想活了"
    concern = assess(text)
    assert concern is not None and concern.category == "self_harm"


def test_shipped_pattern_file_is_valid() -> None:
    counts = check_pattern_file()
    assert list(counts) == list(categories())
    assert all(count >= 20 for count in counts.values())


def _pattern_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "patterns.yaml"
    path.write_text("version: 1\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("categories:\n  a:\n    patterns: ['<nope>x']\n", "unknown macro"),
        ("categories:\n  a:\n    patterns: ['Kill']\n", "lower case"),
        ("categories:\n  a:\n    patterns: ['自殺']\n", "Simplified"),
        ("categories:\n  a:\n    patterns: ['x?']\n", "empty text"),
        ("categories:\n  a:\n    patterns: ['(x']\n", "bad pattern"),
        ("categories:\n  a:\n    patterns: []\n", "patterns"),
        ("categories:\n  a:\n    patterns: ['x']\n    typo: []\n", "typo"),
    ],
)
def test_bad_pattern_files_are_refused(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(SafeguardingConfigError, match=message):
        check_pattern_file(_pattern_file(tmp_path, body))


def test_macros_expand(tmp_path: Path) -> None:
    body = "macros:\n  who: '他|她'\ncategories:\n  a:\n    patterns: ['<who>打我']\n"
    assert check_pattern_file(_pattern_file(tmp_path, body)) == {"a": 1}


def test_patterns_are_compiled_once() -> None:
    assert safeguarding._categories() is safeguarding._categories()


def test_the_evaluation_counts_alarms_misses_and_false_alarms() -> None:
    """``bench/eval_safeguarding.py``: what the list's reviewers measure it with."""
    from bench.eval_safeguarding import evaluate, render

    report = evaluate(
        [
            {"text": "我不想活了", "label": "concern", "kind": "self_harm"},
            {"text": "今天天气不错", "label": "concern", "kind": "self_harm"},  # a miss
            {"text": "我爸喝醉了就打我", "label": "concern", "kind": "abuse"},
            {"text": "团费怎么交", "label": "ok"},
            {"text": "我想去死", "label": "ok", "kind": "planted"},  # a false alarm
        ]
    )
    assert report.missed == ["今天天气不错"]
    assert [text for text, _ in report.false_alarms] == ["我想去死"]
    text = render(report, misses=True)
    assert "recall      2/3 = 0.667" in text and "false alarm 1/2 = 0.500" in text
    assert "concern  self_harm                   1/2" in text
    assert "ok       -                           0/1" in text


def test_the_evaluation_reads_a_file_saved_with_a_bom_and_names_a_bad_line(
    tmp_path: Path,
) -> None:
    from bench.eval_safeguarding import read

    good = tmp_path / "good.jsonl"
    good.write_text('\ufeff{"text": "我不想活了", "label": "concern"}\r\n\r\n', encoding="utf-8")
    assert read(good) == [{"text": "我不想活了", "label": "concern"}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "label": "ok"}\n{"label": "ok"}\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"bad.jsonl:2: needs a JSON object with text and label"):
        read(bad)


@pytest.mark.parametrize(
    ("pattern", "chars"),
    [
        ("打我", {"打"}),
        ("(?:被|俾)(?:我的?)?(?:爸|妈)打", {"被", "俾"}),
        ("(?:我)?被打", {"我", "被"}),  # an optional opening: what follows can open too
        ("(?<!很)堵我", {"堵"}),  # look-behind, look-ahead and \b take no character
        ("\\bkms\\b", {"k"}),
        ("(?:[一二]|\\d+)天", {"一", "二", *"0123456789"}),
        ("(?:|x)y", {"x", "y"}),  # an empty alternative
        ("被.{0,4}打", {"被"}),
        (".{0,4}打", None),  # any character can open it
        ("[^x]打", None),
        ("\\w+死", None),
        ("(?:x)?", None),  # can match nothing
        ("(?i)x", None),  # would match X too
    ],
)
def test_first_characters_of_a_pattern(pattern: str, chars: set[str] | None) -> None:
    """What lets the combined alternation skip the positions no pattern can start at."""
    assert safeguarding._first_chars(pattern) == (None if chars is None else frozenset(chars))


def test_every_shipped_alternation_skips_positions_no_pattern_can_start_at() -> None:
    """A pattern that can begin with any character (``.``, ``\\w``, ``[^…]``) would make
    every category scan every position: start patterns with a literal (YAML header)."""
    for cat in safeguarding._categories():
        for compiled in (*cat.patterns, *cat.exclude):
            assert compiled.pattern.startswith("(?=["), (cat.name, compiled.pattern[:80])


DEV_SET = Path(__file__).resolve().parents[1] / "data" / "safeguarding_dev.jsonl"


def test_the_list_keeps_what_it_reaches_on_its_dev_set() -> None:
    """A regression guard, not a measure: the list was tuned on this set
    (tests/data/README.md), so its 120 of 120 calls for help overstate what it catches
    in new messages. An edit may not miss one of them nor add a false alarm to the one
    left (今日測驗難到爆，我想死呀哈哈, kept: hyperbole and a real wish read alike)."""
    from bench.eval_safeguarding import CONCERN, OK, evaluate

    text = DEV_SET.read_text(encoding="utf-8")
    report = evaluate([json.loads(line) for line in text.splitlines() if line.strip()])
    concern, ok = report.by_label[CONCERN], report.by_label[OK]
    assert (concern.total, ok.total) == (120, 120)
    assert concern.alarms >= 120, report.missed
    assert ok.alarms <= 1, report.false_alarms


def test_the_look_ahead_finds_what_the_plain_alternation_finds() -> None:
    """The look-ahead only skips positions; it must never change what is found. Every
    shipped alternation, with and without it, on every example here and in the dev set,
    as prepared for matching, and on every suffix of them (each position a start)."""
    import json
    import random

    texts = [text for text, _ in POSITIVES] + list(NEGATIVES)
    texts += [json.loads(line)["text"] for line in DEV_SET.read_text("utf-8").splitlines()]
    rng = random.Random(7)
    texts += ["".join(rng.sample(texts, 3)) for _ in range(200)]  # several messages run on
    prepared = [form for text in texts for form in safeguarding._prepare(text)]
    for cat in safeguarding._categories():
        for compiled in (*cat.patterns, *cat.clause_patterns, *cat.exclude):
            assert compiled.pattern.startswith("(?=[")
            body = compiled.pattern[compiled.pattern.index("])(?:") + 5 : -1]
            plain = re.compile(body, re.ASCII)
            for text in prepared:
                for start in range(0, len(text), 7):
                    ahead, found = compiled.search(text, start), plain.search(text, start)
                    assert (ahead and ahead.span()) == (found and found.span()), (
                        cat.name,
                        text,
                    )
