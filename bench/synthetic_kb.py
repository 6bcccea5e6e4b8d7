"""Deterministic synthetic knowledge bases and perturbed queries for the benchmark.

Each entry is one *intent* (how to, which documents, how long, ...) about one service
object for one place and audience; its phrasings are that intent's templates filled
with the same slots, so they paraphrase each other. Queries take a random phrasing
and damage it the way users do: a typo, reordered clauses, Traditional characters,
a greeting. Long queries wrap a damaged phrasing in the sentences people write
around their question: who they are, what happened, how they feel, thanks.
"""

from __future__ import annotations

import random
from functools import lru_cache

import opencc

from knowledge.types import FaqDoc

__all__ = ["make_kb", "make_long_queries", "make_queries"]


def _words(text: str) -> tuple[str, ...]:
    """Split a space-separated vocabulary (easier to read and edit than a list)."""
    return tuple(text.split())


_PLACES = _words(
    "北京 上海 广州 深圳 杭州 成都 武汉 西安 南京 重庆 天津 苏州 长沙 郑州 青岛 沈阳 大连 厦门 "
    "福州 济南 合肥 昆明 南宁 贵阳 兰州 太原 石家庄 哈尔滨 长春 南昌 海口 乌鲁木齐 呼和浩特 银川 "
    "西宁 拉萨 宁波 无锡 佛山 东莞 温州 珠海 烟台 徐州 常州 泉州 惠州 中山 绍兴 嘉兴 洛阳 "
    "朝阳区 海淀区 浦东新区 天河区 南山区 西湖区 武侯区 雁塔区 鼓楼区 江北区"
)
_AUDIENCES = _words(
    "大学生 高中生 初中生 中职学生 研究生 应届毕业生 外地户籍青年 退役军人 残疾青年 留学回国人员 "
    "进城务工青年 未成年人 青年教师 新入职员工 个体工商户 返乡创业青年 少数民族学生 困难家庭学生 "
    "团干部 志愿者"
)
_OBJECTS = _words(
    "团员证 团组织关系 入团申请 团费 志愿服务证明 志愿者证书 学生证 身份证 居住证 社保卡 医保卡 "
    "公积金 驾驶证 护照 港澳通行证 户口迁移 毕业证 学位证 就业协议 档案 营业执照 创业补贴 "
    "创业担保贷款 助学贷款 奖学金 助学金 实习证明 见习补贴 失业登记 人才公寓 租房补贴 "
    "青年驿站 法律援助 心理咨询预约 献血证 无犯罪记录证明 体检报告 普通话证书 教师资格证 "
    "英语四级成绩 计算机等级证书 暑期托管 四点半课堂 游泳培训 防溺水课程 微心愿 希望工程资助 "
    "西部计划报名 三支一扶报名 征兵报名 入党申请 积极分子培训 团课学习 青年大学习 社会实践证明 "
    "志愿时长 团代表提案 接访预约 联谊活动报名 技能培训补贴 职业资格证书 就业见习岗位"
)
_VERBS = _words(
    "办理 补办 申请 查询 注销 转移 更换 续期 领取 缴纳 退还 修改 挂失 激活 预约 认证 打印 "
    "开具 提交 撤销"
)
# Paraphrase templates per intent. {v} verb, {o} object, {p} place, {a} audience.
_INTENTS = (
    ("{p}{a}怎么{v}{o}", "{a}在{p}如何{v}{o}", "{p}的{a}想{v}{o}该怎么做", "{v}{o}流程{p}{a}"),
    ("{p}{a}{v}{o}需要什么材料", "{a}{v}{o}要带哪些证件在{p}", "在{p}{v}{o}需要准备什么{a}"),
    ("{p}{v}{o}要多长时间{a}", "{a}在{p}{v}{o}多久能办好", "{p}{a}{v}{o}需要几天"),
    ("{p}{a}{v}{o}收费吗", "{a}在{p}{v}{o}要交钱吗", "{p}{v}{o}的费用是多少{a}"),
    ("{p}哪里可以{v}{o}{a}", "{a}在{p}去什么地方{v}{o}", "{p}{v}{o}的地点在哪{a}"),
    ("{p}{a}可以在网上{v}{o}吗", "{a}能不能在手机上{v}{o}{p}", "{p}{v}{o}有没有线上渠道{a}"),
    ("{p}{a}{v}{o}有什么条件", "{a}满足什么要求才能在{p}{v}{o}", "{p}{v}{o}对{a}有哪些限制"),
    ("{p}{a}{v}{o}的截止时间是什么时候", "{a}在{p}最晚什么时候{v}{o}", "{p}{v}{o}几号截止{a}"),
)
_TYPO_POOL = "的地得在再做作到道以已那哪么吗嘛办半理里请情清青年念"
_FILLERS = ("请问", "你好，", "老师，", "", "")
_TAILS = ("？", "啊", "呢？", "，谢谢！", "")


@lru_cache(maxsize=1)
def _s2t() -> opencc.OpenCC:
    """Simplified → Traditional converter for the Traditional-input queries."""
    return opencc.OpenCC("s2t")


def make_kb(size: int, *, seed: int = 7) -> list[FaqDoc]:
    """Generate ``size`` distinct entries, each with 2-4 alternative phrasings.

    Args:
        size: Number of entries.
        seed: Random seed; the same seed gives the same knowledge base.

    Returns:
        The entries.
    """
    rng = random.Random(seed)
    seen: set[tuple[int, int, int, int, int]] = set()
    docs: list[FaqDoc] = []
    while len(docs) < size:
        key = (
            rng.randrange(len(_INTENTS)),
            rng.randrange(len(_VERBS)),
            rng.randrange(len(_OBJECTS)),
            rng.randrange(len(_PLACES)),
            rng.randrange(len(_AUDIENCES)),
        )
        if key in seen:
            continue
        seen.add(key)
        intent, verb, obj, place, audience = key
        slots = {"v": _VERBS[verb], "o": _OBJECTS[obj], "p": _PLACES[place]}
        slots["a"] = _AUDIENCES[audience]
        templates = list(_INTENTS[intent])
        rng.shuffle(templates)
        texts = [t.format(**slots) for t in templates]
        n_alts = min(len(texts) - 1, rng.randint(2, 4))
        docs.append(FaqDoc(f"syn-{len(docs):06d}", texts[0], tuple(texts[1 : 1 + n_alts])))
    return docs


def _perturb(text: str, rng: random.Random) -> str:
    """Damage a phrasing like a user would."""
    kind = rng.randrange(4)
    if kind == 0 and len(text) > 4:  # typo: one character replaced or dropped
        i = rng.randrange(len(text))
        text = text[:i] + rng.choice((rng.choice(_TYPO_POOL), "")) + text[i + 1 :]
    elif kind == 1 and len(text) > 6:  # reordered: the two halves swapped
        cut = rng.randrange(2, len(text) - 2)
        text = text[cut:] + text[:cut]
    elif kind == 2:
        text = _s2t().convert(text)
    return rng.choice(_FILLERS) + text + rng.choice(_TAILS)


def make_queries(docs: list[FaqDoc], n: int, *, seed: int = 11) -> list[tuple[str, str]]:
    """Draw ``n`` perturbed phrasings of random entries.

    Args:
        docs: Output of :func:`make_kb`.
        n: Number of queries.
        seed: Random seed.

    Returns:
        ``(query, entry id)`` pairs.
    """
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for _ in range(n):
        doc = docs[rng.randrange(len(docs))]
        phrasing = rng.choice((doc.question, *doc.alt_questions))
        out.append((_perturb(phrasing, rng), doc.entry_id))
    return out


_CONTEXTS = (
    "我是{a}，今年刚到{p}",
    "我家在{p}，最近遇到一点麻烦",
    "上周去办事窗口排了很久的队结果没办成",
    "问了好几个同学都说不清楚",
    "爸妈工作忙没空管这事，只能自己来问",
    "网上查到的说法都不一样，越看越乱",
    "学校老师让我们自己去了解一下",
    "这件事拖了快一个月了心里有点着急",
)


def make_long_queries(docs: list[FaqDoc], n: int, *, seed: int = 13) -> list[tuple[str, str]]:
    """Draw ``n`` long messages, each asking one entry's question amid other sentences.

    Args:
        docs: Output of :func:`make_kb`.
        n: Number of messages.
        seed: Random seed.

    Returns:
        ``(message, entry id)`` pairs; messages run to 60-120 characters.
    """
    rng = random.Random(seed)
    places, audiences = _PLACES, _AUDIENCES
    out: list[tuple[str, str]] = []
    for _ in range(n):
        doc = docs[rng.randrange(len(docs))]
        phrasing = _perturb(rng.choice((doc.question, *doc.alt_questions)), rng)
        said = [
            c.format(p=rng.choice(places), a=rng.choice(audiences))
            for c in rng.sample(_CONTEXTS, rng.randint(2, 3))
        ]
        said.insert(rng.randint(1, len(said)), phrasing)
        out.append(("，".join(said) + rng.choice(("。", "？谢谢", "，麻烦了！")), doc.entry_id))
    return out
