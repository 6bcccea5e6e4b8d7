"""Masking minors' personal data and the pseudonyms cadres see."""

from __future__ import annotations

import os
import re
import time
from datetime import date

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from bot.services.privacy import MASK_KINDS, find_personal_data, mask_personal_data, pseudonym

LABELS = {
    "phone": "[手机]",
    "landline": "[座机]",
    "id_card": "[身份证]",
    "student_id": "[学号]",
    "bank_card": "[银行卡]",
    "email": "[邮箱]",
    "qq": "[QQ]",
    "wechat": "[微信]",
    "address": "[地址]",
    "school_class": "[班级]",
    "school": "[学校]",
    "name": "[姓名]",
}

MASKED = [
    # a name introduced as one
    ("我叫张小明，想要一个新书包", "我叫[姓名]，想要一个新书包", "name"),
    # a relative's or classmate's name, said as one; 本人…; 我姓…叫…
    ("妈妈叫李秀英，想要一个新书包", "妈妈叫[姓名]，想要一个新书包", "name"),
    ("我女儿叫张思琪，今年九岁", "我女儿叫[姓名]，今年九岁", "name"),
    ("我同学叫王明在学校被欺负", "我同学叫[姓名]在学校被欺负", "name"),
    ("本人张伟，男，15岁", "本人[姓名]，男，15岁", "name"),
    ("我姓王，叫王芳", "我姓王，叫[姓名]", "name"),
    ("我女兒叫陳美玲，今年十歲", "我女兒叫[姓名]，今年十歲", "name"),
    ("我姥爺叫王建國。", "我姥爺叫[姓名]。", "name"),
    ("姓名：王芳 想要一套课外书", "姓名：[姓名] 想要一套课外书", "name"),
    # a common surname after 我是, then a pause
    ("我是张伟，想要一个书包", "我是[姓名]，想要一个书包", "name"),
    ("我是李小红今年12岁", "我是[姓名]今年12岁", "name"),
    ("我是張偉，想問", "我是[姓名]，想問", "name"),
    # one's own school, introduced
    ("我在育才小学上学", "我在[学校]上学", "school"),
    ("我来自学军中学，想问", "我来自[学校]，想问", "school"),
    ("我在北京师范大学附属中学", "我在[学校]", "school"),
    ("我们实验中学组织了活动", "我们[学校]组织了活动", "school"),
    ("我在育才小學上學", "我在[学校]上學", "school"),
    ("我在南昌二中读书", "我在[学校]读书", "school"),
    ("我是人大附中的", "我是[学校]的", "school"),
    # student numbers
    ("我的学号是20230512", "我的学号是[学号]", "student_id"),
    ("准考证号：360102123456，查不到成绩", "准考证号：[学号]，查不到成绩", "student_id"),
    ("学籍号 G360102201001011234", "学籍号 [学号]", "student_id"),
    ("准考证号：2026 3601 0203 查不到", "准考证号：[学号] 查不到", "student_id"),
    ("我的学号 2023 0105 12", "我的学号 [学号]", "student_id"),
    # phone
    ("我的手机号是13812345678，麻烦回电", "我的手机号是[手机]，麻烦回电", "phone"),
    ("电话：138 1234 5678", "电话：[手机]", "phone"),
    ("打+86 139-0012-3456找我妈妈", "打[手机]找我妈妈", "phone"),
    ("我用全角打的：１５９１２３４５６７８", "我用全角打的：[手机]", "phone"),
    # landline
    ("家里座机 0755-26123456 晚上有人", "家里座机 [座机] 晚上有人", "landline"),
    ("学校电话（010）62345678", "学校电话[座机]", "landline"),
    ("打021 6123 4567找老师", "打[座机]找老师", "landline"),
    # ID card
    ("身份证号110101200501011234", "身份证号[身份证]", "id_card"),
    ("我的身份证是11010120080101123X，对吗", "我的身份证是[身份证]，对吗", "id_card"),
    ("老身份证110101850101123还能用吗", "老身份证[身份证]还能用吗", "id_card"),
    # bank card
    ("我的银行卡号6222 0212 3456 7890 123", "我的银行卡号[银行卡]", "bank_card"),
    ("打到卡号6222021234567890就行", "打到卡号[银行卡]就行", "bank_card"),
    ("卡号6217-0000-1111-2222", "卡号[银行卡]", "bank_card"),
    # email
    ("邮箱 xiaoming2010@163.com 可以收", "邮箱 [邮箱] 可以收", "email"),
    ("发到12345678@qq.com吧", "发到[邮箱]吧", "email"),
    ("联系 Li.Hua_2009@school.edu.cn", "联系 [邮箱]", "email"),
    # QQ
    ("我的QQ是 12345678", "我的QQ是 [QQ]", "qq"),
    ("qq号：987654321，加我", "qq号：[QQ]，加我", "qq"),
    ("扣扣 2345678 有事找我", "扣扣 [QQ] 有事找我", "qq"),
    # WeChat
    ("加我微信 xm_2010abc", "加我微信 [微信]", "wechat"),
    ("vx: abc12345", "vx: [微信]", "wechat"),
    ("微信号是Zhang-San01，谢谢", "微信号是[微信]，谢谢", "wechat"),
    # address
    ("我家住在人民路12号3栋2单元501室", "我家住在[地址]", "address"),
    ("地址：北京市朝阳区建国路88号", "地址：北京市朝阳区[地址]", "address"),
    ("住在幸福小区3栋2单元501，你们来吧", "住在[地址]，你们来吧", "address"),
    ("在和平街5号院门口", "在[地址]门口", "address"),
    # school class
    ("我在三年级二班", "我在[班级]", "school_class"),
    ("我是初二(3)班的", "我是[班级]的", "school_class"),
    ("高一3班的同学欺负我", "[班级]的同学欺负我", "school_class"),
    ("我是五（2）班的", "我是[班级]的", "school_class"),
]

UNTOUCHED = [
    "2026年5月1日开始报名",
    "团费每月500元吗",
    "我今年15岁",
    "问题编号 123 还没回复",
    "活动在2026-05-01 10:30",
    "有事打12355，紧急情况打110、120、119",
    "法律援助12348，社保12333",
    "志愿时长48小时",
    "初二的学生能入团吗",
    "高三班会什么时候开",
    "我在团委上班",
    "人民路",
    "WeChat account please",
    "微信号是多少",
    "第3单元的作业",
    "地铁1号线",
    "入团要等到14周岁吗",
    "排名第1234名",
    # 我是 before what is no name
    "我是高中生。",
    "我是高一学生",
    "我是江西人",
    "我是江苏的",
    "我是马上要中考的学生",
    "我是大学生",
    "我是高考生，想问",
    "我是高职生，想问",
    # school words that name no school
    "我想考大学",
    "上中学以后",
    "小学初中都可以参加吗",
    "普通高中和职高怎么选",
    "报考什么大学好",
    "他们学校不让",
    "哪所学校好",
    "我们学校的团委",
    "重点中学",
    "请问大学生可以入团吗",
    "我想问一下高中入团的条件",
    "今年高中毕业，团关系怎么转",
    "高考志愿填报大学有什么建议",
    "全国大学生志愿服务西部计划怎么报",
    "贫困大学生资助",
    "请问小学生能参加吗",
    "985大学",
    "市重点高中",
    "省重点中学",
    "师范大学和综合大学",
    "职业技术学院",
    "我在山区小学支教",
    "给山区学校捐书",
    "团区委学校部电话",
    "我在学校被欺负",
    "我在读高中",
    "我在高一中午吃饭",
    "其中一个问题",
    # 叫 after a relative, but no name
    "孩子叫什么名字好",
    "妈妈叫我回家",
    "同学叫外卖",
    "爸爸叫王师傅来修",
    "朋友叫我去参加活动",
    "本人是学生",
    "本人今年15岁",
    "本人高三，想了解入团的流程",
    "本人高二在读，想问志愿时长",
    "学号忘了怎么办",
    "准考证号是什么",
]


@pytest.mark.parametrize(("text", "masked", "kind"), MASKED)
def test_each_kind_is_masked(text: str, masked: str, kind: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == [kind]


@pytest.mark.parametrize("text", UNTOUCHED)
def test_ordinary_numbers_are_kept(text: str) -> None:
    assert mask_personal_data(text, LABELS) == text
    assert find_personal_data(text) == []


def test_mixed_sentence() -> None:
    text = (
        "我是初二(3)班的，住在人民路12号，电话13812345678，"
        "QQ 12345678，邮箱a.b@163.com，身份证110101200901011234。我今年15岁。"
    )
    assert mask_personal_data(text, LABELS) == (
        "我是[班级]的，住在[地址]，电话[手机]，QQ [QQ]，邮箱[邮箱]，身份证[身份证]。我今年15岁。"
    )
    assert find_personal_data(text) == [
        ("school_class", "初二(3)班"),
        ("address", "人民路12号"),
        ("phone", "13812345678"),
        ("qq", "12345678"),
        ("email", "a.b@163.com"),
        ("id_card", "110101200901011234"),
    ]


@pytest.mark.parametrize("text", [text for text, _, _ in MASKED] + UNTOUCHED)
def test_masking_is_idempotent(text: str) -> None:
    once = mask_personal_data(text, LABELS)
    assert mask_personal_data(once, LABELS) == once
    assert find_personal_data(once) == []


def test_found_text_is_the_original_spelling() -> None:
    assert find_personal_data("电话：１３８ １２３４ ５６７８") == [
        ("phone", "１３８ １２３４ ５６７８")
    ]


def test_every_kind_needs_a_label() -> None:
    assert set(MASK_KINDS) == set(LABELS)
    with pytest.raises(ValueError, match="wechat"):
        mask_personal_data("hi", {k: v for k, v in LABELS.items() if k != "wechat"})


def test_pseudonym_is_stable_and_short() -> None:
    code = pseudonym(123456789, "s3cret")
    assert re.fullmatch("[0-9A-F]{4}", code)
    assert pseudonym(123456789, "s3cret") == code


def test_pseudonym_depends_on_the_secret() -> None:
    ids = range(1000, 1100)
    first = [pseudonym(i, "secret-one") for i in ids]
    second = [pseudonym(i, "secret-two") for i in ids]
    # A chance collision per id is 1 in 65,536; most must differ.
    assert sum(a != b for a, b in zip(first, second, strict=True)) >= 98


def test_pseudonyms_spread_over_the_code_space() -> None:
    codes = {pseudonym(i, "secret") for i in range(1000)}
    assert len(codes) > 980  # about 7.6 collisions expected among 1000 of 65,536 codes


def test_pseudonym_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        pseudonym(1, "")


# Numbers written out digit by digit in Chinese numerals (一三八…, 幺 for 1, 〇/零 for 0,
# the banker's 壹贰叁), in other digit scripts, mixed with Arabic digits, or split by
# spaces, dashes or dots: the same phone and ID numbers, found the same way.
SPELLED_OUT = [
    ("我电话一三八一二三四五六七八，晚上打", "我电话[手机]，晚上打", "phone"),
    ("打幺三八幺二三四五六七八找我", "打[手机]找我", "phone"),
    ("号码138零零一二三四五六", "号码[手机]", "phone"),
    ("一三八 一二三四 五六七八", "[手机]", "phone"),
    ("电话一三八-一二三四-五六七八", "电话[手机]", "phone"),
    ("我电话是138.1234.5678", "我电话是[手机]", "phone"),
    ("电话 1 3 8 1 2 3 4 5 6 7 8", "电话 [手机]", "phone"),
    ("电话138·1234·5678", "电话[手机]", "phone"),
    ("壹叁捌壹贰叁肆伍陆柒捌是我的号", "[手机]是我的号", "phone"),
    ("我的手機號碼是一三八一二三四五六七八", "我的手機號碼是[手机]", "phone"),
    ("打給我：壹參捌壹貳參肆伍陸柒捌", "打給我：[手机]", "phone"),
    ("电话𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖", "电话[手机]", "phone"),
    ("身份证一一〇一〇一二〇〇五〇一〇一一二三四", "身份证[身份证]", "id_card"),
    ("身份證號一一〇一〇一二〇〇八〇一〇一一二三X", "身份證號[身份证]", "id_card"),
    ("身份证110101-20050101-1234", "身份证[身份证]", "id_card"),
    ("我的QQ是一二三四五六七八", "我的QQ是[QQ]", "qq"),
    ("学号二〇二三〇五一二", "学号[学号]", "student_id"),
    ("家里座机零七五五二六一二三四五六", "家里座机[座机]", "landline"),
]

SPELLED_UNTOUCHED = [
    "手机１３９０Ｏ１２３４５６",  # a letter O: no number
    "1.5 2.5 3.5 4.5 5.5 6.5",
    "1 3 5 7 9 11 13 15",
    "二〇二六年五月一日开始报名",
    "二零二六年的团费是三百元",
    "一九九八年出生的可以吗",
    "我在初二，明年初三",
    "南昌二中的团委",
    "我住三〇二室",
    "我们班有四五十个人",
    "三三两两地来了",
    "一五一十地说了",
    "数一二三四五六七八九十",
    "十一月十二日下午三点",
    "活动在二〇二六年十二月三十一日",
    "团费每月伍拾元",
    "零零后能入团吗",
    "有事打一二三五五",
    "报名截止到2026.05.01",
    "版本 1.3.8",
    "得了98.5分",
    "排第一二名",
    "我們班四五十個人",
]


@pytest.mark.parametrize(("text", "masked", "kind"), SPELLED_OUT)
def test_numbers_spelled_out_are_masked(text: str, masked: str, kind: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == [kind]


@pytest.mark.parametrize("text", SPELLED_UNTOUCHED)
def test_numerals_in_ordinary_text_are_kept(text: str) -> None:
    assert mask_personal_data(text, LABELS) == text
    assert find_personal_data(text) == []


def test_a_spelled_out_number_is_found_in_its_own_spelling() -> None:
    assert find_personal_data("电话一三八 一二三四 五六七八。") == [
        ("phone", "一三八 一二三四 五六七八")
    ]


@pytest.mark.parametrize("text", [text for text, _, _ in SPELLED_OUT] + SPELLED_UNTOUCHED)
def test_masking_spelled_out_numbers_is_idempotent(text: str) -> None:
    once = mask_personal_data(text, LABELS)
    assert mask_personal_data(once, LABELS) == once


# E-mail addresses and WeChat ids whose digits are parted by dots or underscores: the
# digits belong to the address, not to a number read out (they were hidden whole before
# spelled-out numbers were read, and must stay so).
ADDRESSES_WITH_PARTED_DIGITS = [
    ("我的邮箱是zhang.2008.0512@qq.com", "我的邮箱是[邮箱]", "email"),
    ("邮箱 wang_123_456@163.com", "邮箱 [邮箱]", "email"),
    ("邮箱 xiaoming_2009_0101@163.com", "邮箱 [邮箱]", "email"),
    ("邮箱是 2008.0512.abc@qq.com", "邮箱是 [邮箱]", "email"),
    ("邮箱 123.456.789@qq.com，谢谢", "邮箱 [邮箱]，谢谢", "email"),
    ("微信号 zhang_2008_0512_abc", "微信号 [微信]", "wechat"),
    ("我的微信 wxid_2010_1234_5678x", "我的微信 [微信]", "wechat"),
    ("wechat: xm_2010_0101", "wechat: [微信]", "wechat"),
]


@pytest.mark.parametrize(("text", "masked", "kind"), ADDRESSES_WITH_PARTED_DIGITS)
def test_addresses_with_parted_digits_are_masked_whole(text: str, masked: str, kind: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == [kind]
    assert mask_personal_data(masked, LABELS) == masked


def test_a_parted_number_ending_a_sentence_is_still_masked() -> None:
    # A dot after the number ends the sentence; it does not make the number an address.
    assert mask_personal_data("我电话是138.1234.5678.", LABELS) == "我电话是[手机]."


# More ways people part a number: Chinese commas between spelled-out groups, a spaced
# dash or two spaces, a slash or tilde, the other Unicode dashes and the minus sign, a
# no-break space, circled digits, an ID number typed 6-4-4-4.
MORE_SEPARATORS = [
    ("一三八，一二三四，五六七八", "[手机]", "phone"),
    ("电话一三八、一二三四、五六七八", "电话[手机]", "phone"),
    ("电话 138 - 1234 - 5678", "电话 [手机]", "phone"),
    ("电话 138  1234  5678 晚上打", "电话 [手机] 晚上打", "phone"),
    ("电话138/1234/5678", "电话[手机]", "phone"),
    ("电话138~1234~5678", "电话[手机]", "phone"),
    ("电话138\u20101234\u20105678", "电话[手机]", "phone"),
    ("电话138\u20111234\u20115678", "电话[手机]", "phone"),
    ("电话138\u20121234\u20125678", "电话[手机]", "phone"),
    ("电话138\u20151234\u20155678", "电话[手机]", "phone"),
    ("电话138\u22121234\u22125678", "电话[手机]", "phone"),
    ("电话138\u00a01234\u00a05678", "电话[手机]", "phone"),
    ("电话①③⑧①②③④⑤⑥⑦⑧", "电话[手机]", "phone"),
    ("身份证 110101 2005 0101 1234", "身份证 [身份证]", "id_card"),
    ("身份证 110101 2008 0101 123X，对吗", "身份证 [身份证]，对吗", "id_card"),
]

MORE_SEPARATORS_UNTOUCHED = [
    "活动在2026/05/01开始",
    "5~6个人一组",
    "100~200元都可以",
    "1、2、3、4、5、6、7、8都要填",
    "一、二、三、四、五、六",
    "2023、2024、2025、2026年的志愿时长",
    "二〇二三，二〇二四，二〇二五，二〇二六年",
    "团费1,380,000元",
    "第①②③④⑤条",
    "2026 - 05 - 01 报名",
    "共 3  5  7 人",
]


@pytest.mark.parametrize(("text", "masked", "kind"), MORE_SEPARATORS)
def test_numbers_parted_other_ways_are_masked(text: str, masked: str, kind: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == [kind]
    assert mask_personal_data(masked, LABELS) == masked


@pytest.mark.parametrize("text", MORE_SEPARATORS_UNTOUCHED)
def test_dates_ranges_and_lists_are_kept(text: str) -> None:
    assert mask_personal_data(text, LABELS) == text
    assert find_personal_data(text) == []


def _cpu_seconds(*texts: str, rounds: int = 5) -> list[float]:
    """The least CPU time masking each text took over a few rounds, taken in turn: the
    process's own CPU time, so other processes on a busy machine (the suite's other
    workers) do not count, and a slow spell touches every text alike."""
    best = [float("inf")] * len(texts)
    for _ in range(rounds):
        for i, text in enumerate(texts):
            start = time.process_time()
            mask_personal_data(text, LABELS)
            best[i] = min(best[i], time.process_time() - start)
    return best


# Hostile repeats for each way a number is read: digits, numerals, letters next to them,
# groups of one, two and three, separators single and doubled, a country code, an X, QQ and
# WeChat introducers, e-mail and WeChat id characters, list marks, a zero-width space,
# numerals that are words glued to digits (before or after a number), groups before an
# e-mail, wxid_.
HOSTILE_UNITS = [
    "一", "1", "a", "a.", "1.", "一 ", "1 ", "12 ", "123 ", "1.2 ", "1——", "QQ 123 ",
    "qq1234 ", "+86 ", "8 6", "123X", "1 X ", "a_1", "a@1.", "1@a.", "微信 1234 ", "wx 1 ",
    "1、", "123、", "1。", "\u200b1", "x1", "a1_", "12345 ",
    "陆1", "1两", "两 1 ", "陆138 ", "138 1234 ", "1234 a", "12345678 ", "wxid_1", "1234-",
    "5678两 ", "1234 陆138 ", "138 1234 56 78 ", "56.", "2023 ", "2023-2024 12 ",
    "13812345678陆", "1陆2", "13000000000零一12345678", "12345678陆一三八",
    "1 3点", "第2 1 3 8 ", "1 3 ", "1 3 8 1 2 3 4 5 6 7 8 9 0 ",
]  # fmt: skip


@pytest.mark.parametrize(
    "unit",
    ["一", "1", "a", "a.", "1.", "一 ", "QQ 123 ", "+86 ", "123X", "a_1", "陆1", "138 1234 "],
)
def test_masking_time_grows_about_linearly(unit: str) -> None:
    # A hostile text of 20,000 characters against one of 2,000: ten times as long should
    # take about ten times as long, never about a hundred times (a pattern retried from
    # every position). The ratio, not a time, so a slow machine does not fail it.
    small, large = _cpu_seconds(unit * (2_000 // len(unit)), unit * (20_000 // len(unit)))
    assert large / small < 30, (small, large)


@pytest.mark.parametrize("introducer", ["微信", "wx", "wechat id", "QQ号", "扣扣", "学号"])
@pytest.mark.parametrize("space", [" ", "\n"])
def test_an_introducer_before_a_long_run_of_spaces_is_masked_fast(
    introducer: str, space: str
) -> None:
    # An id's introducer, then spaces or line breaks and no id: each of the optional
    # spaces around 是/为 and the colon took a share of the run in every way there is,
    # time growing with the run's cube (a 4,000-character message: minutes on the
    # event loop). Ten times as long should take about ten times as long.
    small, large = _cpu_seconds(f"{introducer}{space * 50}!", f"{introducer}{space * 500}!")
    assert large / small < 30, (small, large)


# Gaps found after the separators above: a country code before a number parted by dots,
# QQ numbers and WeChat ids typed in groups, an ID number's check character X after a
# parted number, a number glued to letters, a number beside a short one, more separators.
PARTED_GAPS = [
    # +86 before a number the phone pattern reads only once it is put together
    ("电话+86 138.1234.5678", "电话[手机]", "phone"),
    ("+86·138·1234·5678", "[手机]", "phone"),
    ("+86 一三八·一二三四·五六七八", "[手机]", "phone"),
    ("+86 1 3 8 1 2 3 4 5 6 7 8", "[手机]", "phone"),
    ("+86-1-3-8-1-2-3-4-5-6-7-8 找我", "[手机] 找我", "phone"),
    ("＋８６ １３８．１２３４．５６７８", "[手机]", "phone"),
    # QQ numbers and WeChat ids in groups
    ("QQ 1234 5678", "QQ [QQ]", "qq"),
    ("qq号 12345 6789", "qq号 [QQ]", "qq"),
    ("QQ：123-456-789，加我", "QQ：[QQ]，加我", "qq"),
    ("扣扣 1234 5678 有事找我", "扣扣 [QQ] 有事找我", "qq"),
    ("我的QQ是 12345678 15岁", "我的QQ是 [QQ] 15岁", "qq"),
    ("QQ:12345678 2026年注册的", "QQ:[QQ] 2026年注册的", "qq"),
    ("微信 1234 5678", "微信 [微信]", "wechat"),
    ("wx: 123 456 789", "wx: [微信]", "wechat"),
    # ID numbers ending in X, parted or in numerals
    ("身份证一一〇一〇一·二〇〇五〇一〇一·一二三X", "身份证[身份证]", "id_card"),
    ("身份证一一〇一〇一-二〇〇五〇一〇一-一二三X", "身份证[身份证]", "id_card"),
    ("身份证 一一〇一〇一 二〇〇五 〇一〇一 一二三X", "身份证 [身份证]", "id_card"),
    ("身份证 110101·2005·0101·123x", "身份证 [身份证]", "id_card"),
    ("身份证１１０１０１．２００５０１０１．１２３Ｘ", "身份证[身份证]", "id_card"),
    ("身份证 110101 2005 0101 123 X", "身份证 [身份证]", "id_card"),
    ("身份证 1 1 0 1 0 1 2 0 0 5 0 1 0 1 1 2 3 X", "身份证 [身份证]", "id_card"),
    ("身份证 110101 2005 01 01 1234", "身份证 [身份证]", "id_card"),
    ("身份证 110101.2005.01.01.123X", "身份证 [身份证]", "id_card"),
    # glued to letters (no e-mail address or WeChat id holds them)
    ("tel138.1234.5678", "tel[手机]", "phone"),
    ("abc138.1234.5678.", "abc[手机].", "phone"),
    ("abc13812345678.", "abc[手机].", "phone"),
    ("138.1234.5678abc", "[手机]abc", "phone"),
    ("Tel.138.1234.5678", "Tel.[手机]", "phone"),
    ("联系abc_138_1234_5678", "联系abc_[手机]", "phone"),
    # beside a short number
    ("电话138.1234.5678 3点后打", "电话[手机] 3点后打", "phone"),
    ("第2 138·1234·5678", "第2 [手机]", "phone"),
    ("电话1 3 8 1 2 3 4 5 6 7 8，3点后", "电话[手机]，3点后", "phone"),
    # more separators: doubled dashes and dots, the ideographic full stop, more dots and
    # hyphens, more spaces (en and em spaces, zero-width, tab)
    ("电话138——1234——5678", "电话[手机]", "phone"),
    ("电话138--1234--5678", "电话[手机]", "phone"),
    ("电话138··1234··5678", "电话[手机]", "phone"),
    ("电话138。1234。5678", "电话[手机]", "phone"),
    ("电话138‧1234‧5678", "电话[手机]", "phone"),
    ("电话138∙1234∙5678", "电话[手机]", "phone"),
    ("电话138⋅1234⋅5678", "电话[手机]", "phone"),
    ("电话138﹒1234﹒5678", "电话[手机]", "phone"),
    ("电话138﹣1234﹣5678", "电话[手机]", "phone"),
    ("电话138\u20021234\u20025678", "电话[手机]", "phone"),
    ("电话138\u2003\u20031234\u2003\u20035678", "电话[手机]", "phone"),
    ("电话138\u200b1234\u200b5678", "电话[手机]", "phone"),
    ("电话138\t1234\t5678", "电话[手机]", "phone"),
    ("电话一三八\u3000一二三四\u3000五六七八", "电话[手机]", "phone"),
]

# Still e-mail addresses and WeChat ids, masked whole.
PARTED_ADDRESSES = [
    ("邮箱 138.1234.5678@qq.com", "邮箱 [邮箱]", "email"),
    ("邮箱 tel.138.1234.5678@163.com", "邮箱 [邮箱]", "email"),
    ("微信 abc_138_1234_5678", "微信 [微信]", "wechat"),
]

PARTED_UNTOUCHED = [
    "活动在2026-11-24举行",
    "活动在2026.11.24 12:30开始",
    "2026年11月24日12:30到13:30",
    "08:00-17:30开放",
    "2026.11.24-2026.11.30",
    "2026.11.24 - 2026.11.30 共7天",
    "2026。11。24",
    "2025年和2026年",
    "1998 2005 2026",
    "团费 12.50 元",
    "奖金1,380.50元",
    "考了135.5分",
    "语文120 数学135 英语140",
    "邮编330038",
    "邮编 100871",
    "3 5 7 人",
    "共12 345人",
    "v1.3.8 和 v2.10.15",
    "2026-11-24 3点",
    "QQ群 500 人",
    "QQ 2026年才注册",
    "微信 2026年",
    "身份证 2026年到期",
    "身份证号 1101 xiaoming",
    "1.5——2.5 之间",
    "第1——3章",
    "1~3——5~7",
]


@pytest.mark.parametrize(("text", "masked", "kind"), PARTED_GAPS + PARTED_ADDRESSES)
def test_parted_numbers_past_the_gaps_are_masked(text: str, masked: str, kind: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == [kind]
    assert mask_personal_data(masked, LABELS) == masked


@pytest.mark.parametrize("text", PARTED_UNTOUCHED)
def test_dates_times_amounts_and_codes_are_kept(text: str) -> None:
    assert mask_personal_data(text, LABELS) == text
    assert find_personal_data(text) == []


def test_a_country_code_is_masked_with_the_number() -> None:
    assert find_personal_data("电话+86 138.1234.5678。") == [("phone", "+86 138.1234.5678")]
    assert find_personal_data("身份证 110101·2005·0101·123x。") == [
        ("id_card", "110101·2005·0101·123x")
    ]


def test_an_x_starting_a_word_is_no_check_character() -> None:
    # Seventeen digits are hidden all the same (as what kind does not matter here).
    masked = mask_personal_data("身份证 110101 2005 0101 123 xiaoming", LABELS)
    assert masked.endswith("] xiaoming")
    assert not re.search("[0-9]", masked)


# A Chinese numeral that is also a word (陆 and 伍 are surnames, 老二 and 老幺 name a child,
# 两个, 一直, 三点, 高三) glued to a number before or after it: the number is masked
# and the word kept.
NUMERAL_WORDS = [
    ("联系人：小陆13812345678", "联系人：小陆[手机]", "phone"),
    ("聯繫人：小陸13812345678", "聯繫人：小陸[手机]", "phone"),
    ("找老伍13812345678", "找老伍[手机]", "phone"),
    ("我家老二13812345678", "我家老二[手机]", "phone"),
    ("我是老幺13812345678", "我是老幺[手机]", "phone"),
    ("我是高三13812345678", "我是高三[手机]", "phone"),
    ("人参13812345678", "人参[手机]", "phone"),
    ("13812345678一直打不通", "[手机]一直打不通", "phone"),
    ("13812345678两个号都行", "[手机]两个号都行", "phone"),
    ("打13812345678三点以后", "打[手机]三点以后", "phone"),
    ("老二13812345678两个号都行", "老二[手机]两个号都行", "phone"),
    ("拨零13812345678", "拨零[手机]", "phone"),
    ("小陆138.1234.5678", "小陆[手机]", "phone"),
    ("小陆138 1234 5678", "小陆[手机]", "phone"),
    ("小陆１３８－１２３４－５６７８", "小陆[手机]", "phone"),
    ("我家老二一三八一二三四五六七八", "我家老二[手机]", "phone"),
    ("一三八一二三四五六七八两个号都行", "[手机]两个号都行", "phone"),
    ("小陆110101200501011234", "小陆[身份证]", "id_card"),
    ("老二11010120050101123X", "老二[身份证]", "id_card"),
    ("小陆110101.2005.01.01.1234", "小陆[身份证]", "id_card"),
    ("小陆0791-88123456", "小陆[座机]", "landline"),
]


@pytest.mark.parametrize(("text", "masked", "kind"), NUMERAL_WORDS)
def test_a_number_glued_to_a_numeral_word_is_masked(text: str, masked: str, kind: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == [kind]
    assert mask_personal_data(masked, LABELS) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("电话8613812345678", "电话[手机]"),
        ("小陆8613812345678", "小陆[手机]"),
        ("老二0086 13812345678", "老二[手机]"),
    ],
)
def test_a_country_code_glued_without_a_plus_is_masked_with_the_number(
    text: str, masked: str
) -> None:
    assert mask_personal_data(text, LABELS) == masked


# 86 before a mobile number and a space or other pause, with no + or 00: the country code
# is masked with the number, as +86 is.
BARE_COUNTRY_CODES = [
    ("86 138 1234 5678", "[手机]"),
    ("电话86 138 1234 5678", "电话[手机]"),
    ("86-138-1234-5678", "[手机]"),
    ("86 13812345678，晚上打", "[手机]，晚上打"),
    ("86·138·1234·5678", "[手机]"),
    ("86—138—1234—5678", "[手机]"),
    ("86 一三八一二三四五六七八", "[手机]"),
    ("86 1 3 8 1 2 3 4 5 6 7 8", "[手机]"),
    ("86 138 1234 56 78", "[手机]"),
    ("８６ １３８ １２３４ ５６７８", "[手机]"),
]


@pytest.mark.parametrize(("text", "masked"), BARE_COUNTRY_CODES)
def test_a_bare_country_code_is_masked_with_the_number(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == ["phone"]


def test_86_ending_another_number_is_no_country_code() -> None:
    assert find_personal_data("电话86 138 1234 5678") == [("phone", "86 138 1234 5678")]
    assert find_personal_data("QQ 12345686 13812345678") == [
        ("qq", "12345686"),
        ("phone", "13812345678"),
    ]


def test_the_numeral_word_is_not_part_of_the_number() -> None:
    assert find_personal_data("小陆13812345678两个号") == [("phone", "13812345678")]
    assert find_personal_data("老二一三八一二三四五六七八") == [
        ("phone", "一三八一二三四五六七八")
    ]


# A number glued to a numeral word, after another number and a space: the two were read
# as one number of twenty digits or more, which is neither, and both were left visible.
NUMERAL_WORDS_AFTER_A_NUMBER = [
    ("QQ 12345678 陆13812345678", "QQ [QQ] 陆[手机]"),
    ("QQ 12345678 陸13812345678", "QQ [QQ] 陸[手机]"),
    ("QQ 12345678 13812345678两个号都行", "QQ [QQ] [手机]两个号都行"),
    ("QQ 12345678 陆138.1234.5678", "QQ [QQ] 陆[手机]"),
    ("QQ 12345678 陆138 1234 5678", "QQ [QQ] 陆[手机]"),
    ("QQ 12345678 陆138-1234-5678 找我", "QQ [QQ] 陆[手机] 找我"),
    ("QQ 12345678 陆一三八一二三四五六七八", "QQ [QQ] 陆[手机]"),
    ("QQ 12345678 陆110101200501011234", "QQ [QQ] 陆[身份证]"),
]


@pytest.mark.parametrize(("text", "masked"), NUMERAL_WORDS_AFTER_A_NUMBER)
def test_a_number_glued_to_a_numeral_word_after_another_is_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert mask_personal_data(masked, LABELS) == masked


def test_the_numeral_word_after_another_number_is_kept() -> None:
    assert find_personal_data("QQ 12345678 陆13812345678") == [
        ("qq", "12345678"),
        ("phone", "13812345678"),
    ]


# The same with no space: the numeral word glued to both numbers was read as a digit, and
# the twenty digits or more made no number, so both were left visible.
NUMERAL_WORDS_BETWEEN_NUMBERS = [
    ("QQ 12345678陆13812345678", "QQ [QQ]陆[手机]"),
    ("QQ12345678陸13812345678", "QQ[QQ]陸[手机]"),
    ("QQ 12345678两13812345678", "QQ [QQ]两[手机]"),
    ("QQ 12345678二三13812345678", "QQ [QQ]二三[手机]"),
    ("QQ １２３４５６７８陆１３８１２３４５６７８", "QQ [QQ]陆[手机]"),
    ("QQ 12345678陆138 1234 5678", "QQ [QQ]陆[手机]"),
    ("QQ 12345678陆138-1234-5678找我", "QQ [QQ]陆[手机]找我"),
    ("QQ 12345678陆138.1234.5678", "QQ [QQ]陆[手机]"),
    ("QQ 12345678陆一三八一二三四五六七八", "QQ [QQ]陆[手机]"),
    ("QQ 12345678陆一三八 一二三四 五六七八", "QQ [QQ]陆[手机]"),
    ("一三八一二三四五六七八两12345678", "[手机]两12345678"),
    ("QQ 12345678陆110101200501011234", "QQ [QQ]陆[身份证]"),
    ("QQ 12345678陆0791-88123456", "QQ [QQ]陆[座机]"),
    ("13812345678陆13912345678", "[手机]陆[手机]"),
    ("QQ 123456789陆13812345678两13912345678", "QQ [QQ]陆[手机]两[手机]"),
    ("QQ 12345678陆6222021234567890", "QQ [QQ]陆[银行卡]"),
]


@pytest.mark.parametrize(("text", "masked"), NUMERAL_WORDS_BETWEEN_NUMBERS)
def test_a_numeral_word_glued_between_two_numbers_parts_them(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert mask_personal_data(masked, LABELS) == masked


@pytest.mark.parametrize(
    "text",
    [
        # Numerals glued inside one number written in two scripts are its digits.
        "电话138一二三45678",
        "卡号62220212三4567890123",
        "卡号6222021234567890一23",
        "身份证11010120050101一234",
    ],
)
def test_numerals_inside_one_number_are_its_digits(text: str) -> None:
    assert len(find_personal_data(text)) == 1
    assert not re.search("[0-9]", mask_personal_data(text, LABELS))


# A number parted by spaces before an e-mail address: the address is the whole number.
SPACED_ADDRESSES = [
    ("邮箱 138 1234 5678@qq.com", "邮箱 [邮箱]", "email"),
    ("138 1234 5678@qq.com，谢谢", "[邮箱]，谢谢", "email"),
    ("发到1234 5678@qq.com", "发到[邮箱]", "email"),
    ("邮箱1381 2345 678@163.com", "邮箱[邮箱]", "email"),
]


@pytest.mark.parametrize(("text", "masked", "kind"), SPACED_ADDRESSES)
def test_a_spaced_number_before_an_address_is_masked_whole(
    text: str, masked: str, kind: str
) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == [kind]


# A mobile number typed in groups the way people group one: 3-4-4, 3-3-5, 4-3-4, 4-4-3,
# 3-8, 7-4, 3-4-2-2 or 3-2-2-2-2 (the last four or eight in pairs, the same pause between
# all), or digit by digit.
MOBILE_GROUPINGS = [
    ("电话 138 1234 5678", "电话 [手机]"),
    ("电话 138 123 45678", "电话 [手机]"),
    ("电话 1381 234 5678", "电话 [手机]"),
    ("电话 1381 2345 678", "电话 [手机]"),
    ("电话 138 12345678", "电话 [手机]"),
    ("电话 1381234 5678", "电话 [手机]"),
    ("电话 138-123-45678", "电话 [手机]"),
    ("电话 1 3 8 1 2 3 4 5 6 7 8", "电话 [手机]"),
    ("电话 1-3-8-1-2-3-4-5-6-7-8", "电话 [手机]"),
    ("电话 138 1234 56 78", "电话 [手机]"),
    ("电话 138-1234-56-78，晚上打", "电话 [手机]，晚上打"),
    ("电话 138.1234.56.78", "电话 [手机]"),
    ("电话 138·1234·56·78。", "电话 [手机]。"),
    ("电话 138  1234  56  78", "电话 [手机]"),
    ("电话 一三八 一二三四 五六 七八", "电话 [手机]"),
    ("电话 +86 138 1234 56 78", "电话 [手机]"),
    ("138 12 34 56 78", "[手机]"),
    ("电话 138-12-34-56-78，晚上打", "电话 [手机]，晚上打"),
    ("电话 138.12.34.56.78", "电话 [手机]"),
    ("电话 一三八 一二 三四 五六 七八", "电话 [手机]"),
    ("电话 +86 138 12 34 56 78", "电话 [手机]"),
]

# Scores, counts and lists of short numbers that happen to add up to eleven digits after
# a 13-19: no grouping of a phone number.
SHORT_NUMBER_LISTS = [
    "分数 135 120 98 100",
    "各科 135 120 98 100 88",
    "得分 138 95 102 110",
    "报名人数 150 200 86 123",
    "13 58 92 100 88",
    "年龄 15 16 14 13 17 15",
    "票数 139 12 8 100 55",
    "1 3 8 12 34 56 78 人",
]


@pytest.mark.parametrize(("text", "masked"), MOBILE_GROUPINGS)
def test_a_mobile_in_its_usual_groups_is_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == ["phone"]


@pytest.mark.parametrize("text", SHORT_NUMBER_LISTS)
def test_lists_of_short_numbers_are_kept(text: str) -> None:
    assert mask_personal_data(text, LABELS) == text
    assert find_personal_data(text) == []


# Digits read out one by one within groups, another pause between the groups (1 3 8 - 1 2 3
# 4 - 5 6 7 8): the pauses differ, so the digits were read as no number and shown.
SPELLED_IN_GROUPS = [
    ("1 3 8 - 1 2 3 4 - 5 6 7 8", "[手机]", "phone"),
    ("电话 1 3 8-1 2 3 4-5 6 7 8，晚上打", "电话 [手机]，晚上打", "phone"),
    ("电话 一 三 八 - 一 二 三 四 - 五 六 七 八", "电话 [手机]", "phone"),
    ("1-3-8 1-2-3-4 5-6-7-8", "[手机]", "phone"),
    ("电话 1 3 8 / 1 2 3 4 / 5 6 / 7 8", "电话 [手机]", "phone"),
    ("身份证 1 1 0 1 0 1 - 2 0 0 5 0 1 0 1 - 1 2 3 4", "身份证 [身份证]", "id_card"),
    ("身份证 1 1 0 1 0 1 - 2 0 0 8 0 1 0 1 - 1 2 3 X", "身份证 [身份证]", "id_card"),
]

# Groups read out so that make no number: a date, an answer key in fours, short groups.
SPELLED_IN_GROUPS_KEPT = [
    "2 0 2 6 - 0 5 - 0 1",
    "答案 1 3 2 4 - 2 3 1 4 - 2 3 1 2",
    "1 3 - 8 1 - 2 3 - 4 5 - 6 7 - 8",
    "第 1 3 - 1 5 题",
]


@pytest.mark.parametrize(("text", "masked", "kind"), SPELLED_IN_GROUPS)
def test_digits_read_out_in_groups_are_masked(text: str, masked: str, kind: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == [kind]
    assert mask_personal_data(masked, LABELS) == masked


@pytest.mark.parametrize("text", SPELLED_IN_GROUPS_KEPT)
def test_digits_read_out_in_groups_that_make_no_number_are_kept(text: str) -> None:
    assert mask_personal_data(text, LABELS) == text


# A mobile number with its first three digits in brackets, as a landline's area code is
# written: the brackets are no digit, so the groups after them were read alone and shown.
BRACKETED_MOBILES = [
    ("(138)1234-5678", "[手机]"),
    ("（138）1234 5678", "[手机]"),
    ("电话（138）12345678，晚上打", "电话[手机]，晚上打"),
    ("电话 (138) 1234 5678", "电话 [手机]"),
    ("电话（138）1234·5678", "电话[手机]"),
    ("+86 (138) 1234-5678", "[手机]"),
]


@pytest.mark.parametrize(("text", "masked"), BRACKETED_MOBILES)
def test_a_mobile_with_its_first_group_in_brackets_is_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == ["phone"]
    assert mask_personal_data(masked, LABELS) == masked


# A landline number with its area code in brackets: the brackets say what the digits
# after them are, so they are hidden whatever digit they begin with (a made-up or mistyped
# local number, 1234 5678, was shown).
BRACKETED_LANDLINES = [
    ("(010)12345678", "[座机]"),
    ("（010）1234-5678", "[座机]"),
    ("学校电话（0755）1234567，找老师", "学校电话[座机]，找老师"),
    ("(021) 0123 4567", "[座机]"),
]


@pytest.mark.parametrize(("text", "masked"), BRACKETED_LANDLINES)
def test_a_landline_with_its_area_code_in_brackets_is_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == ["landline"]
    assert mask_personal_data(masked, LABELS) == masked


def test_a_short_number_in_brackets_is_kept() -> None:
    for text in ("第(138)题 1234 5678", "(135)分 12345678", "(138)1234"):
        assert find_personal_data(text) == [], text


# The same groups parted by list marks (、，,): a mobile number in pairs, or a mobile or ID
# number read out digit by digit, the same mark between all. Lists of numbers that make
# no such number stay as they are.
LISTED_MOBILES = [
    ("138、1234、56、78", "[手机]"),
    ("电话138、1234、56、78，晚上打", "电话[手机]，晚上打"),
    ("电话 138，1234，56，78", "电话 [手机]"),
    ("电话 138,1234,56,78", "电话 [手机]"),
    ("电话 138 、1234 、56 、78", "电话 [手机]"),
    ("电话 一三八、一二三四、五六、七八", "电话 [手机]"),
    ("电话 幺三八、幺二三四、五六、七八", "电话 [手机]"),
    ("电话 １３８、１２３４、５６、７８", "电话 [手机]"),
    ("电话 138、12、34、56、78", "电话 [手机]"),
    ("电话 1、3、8、1、2、3、4、5、6、7、8", "电话 [手机]"),
    ("电话 一、三、八、一、二、三、四、五、六、七、八", "电话 [手机]"),
    ("+86、138、1234、56、78", "[手机]"),
]

LISTS_OF_PAIRS = [
    "12、34、56、78",
    "138、12、34、56",
    "第1、3、5、7、9题",
    "1、2、3、4、5、6、7、8、9、10、11",
    "一、二、三、四、五、六、七、八、九、十",
    "得分 135、120、98、100",
    "1、3、8、1、2、3、4、5、6、7、8、9",
]


@pytest.mark.parametrize(("text", "masked"), LISTED_MOBILES)
def test_a_mobile_parted_by_list_marks_is_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == ["phone"]
    assert mask_personal_data(masked, LABELS) == masked


@pytest.mark.parametrize("text", LISTS_OF_PAIRS)
def test_lists_of_pairs_and_digits_are_kept(text: str) -> None:
    assert mask_personal_data(text, LABELS) == text


def test_an_id_number_read_out_with_list_marks_is_masked() -> None:
    text = "身份证 1、1、0、1、0、1、2、0、0、5、0、1、0、1、1、2、3、4"
    assert mask_personal_data(text, LABELS) == "身份证 [身份证]"


def test_a_qq_number_beside_a_phone_number_is_two_numbers() -> None:
    assert find_personal_data("QQ 12345678 13812345678") == [
        ("qq", "12345678"),
        ("phone", "13812345678"),
    ]
    assert mask_personal_data("QQ 12345678 13812345678", LABELS) == "QQ [QQ] [手机]"
    assert find_personal_data("QQ 12345678-13812345678") == [
        ("qq", "12345678"),
        ("phone", "13812345678"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "QQ 一二三四五六七八 一三八一二三四五六七八",
        "QQ 12345678·13812345678",
        "QQ 12345678  13812345678",
        "QQ １２３４５６７８．１３８１２３４５６７８",
    ],
)
def test_a_whole_mobile_number_after_a_parted_one_is_its_own(text: str) -> None:
    assert [kind for kind, _ in find_personal_data(text)] == ["qq", "phone"]


def test_a_bank_card_is_still_masked_however_grouped_in_fours() -> None:
    for card in (
        "6222021234567890123",
        "6222 0212 3456 7890 123",
        "6222-0212-3456-7890",
        "6222 021234567890123",
        "6222 0212 34567890 123",
        "1234 5678 1381 2345 678",
    ):
        assert find_personal_data(f"卡号{card}") == [("bank_card", card)]


# Years in a row, parted by spaces or dashes, are a list (which years' policies), no bank
# card: no card number begins with 19 or 20 (UnionPay 62, Visa 4, Mastercard 51-55 and
# 2221-2720, the old domestic 9).
YEAR_LISTS = [
    "2023 2024 2025 2026年的政策有什么不同",
    "2023 2024 2025 2026",
    "2023-2024-2025-2026",
    "2022 2023 2024 2025 2026这几年的志愿时长",
    "2026 2025 2024 2023 这四年",
    "1998 2005 2016 2026",
    # parted otherwise, or dates (a year and a month or a day) in a row
    "2019/2020/2021/2022学年的志愿时长",
    "2019.2020.2021.2022",
    "2019·2020·2021·2022",
    "2019—2020—2021—2022",
    "2019~2020~2021~2022",
    "2019 / 2020 / 2021 / 2022",
    "２０１９／２０２０／２０２１／２０２２",
    "2019/2020 2021/2022",
    "20260501-20260507",
    "20260501 20260507",
    "2026.0501-2026.0507",
    "2026 0501 2026 0507",
    "202609-202707-2028",
    "活动时间20260501—20260507，地点待定",
]


@pytest.mark.parametrize("text", YEAR_LISTS)
def test_a_list_of_years_is_no_bank_card(text: str) -> None:
    assert mask_personal_data(text, LABELS) == text
    assert find_personal_data(text) == []


def test_a_card_number_beside_or_after_years_is_still_masked() -> None:
    for card in (
        "2023202420252026",
        "2023 2024 2025 2026 123",
        "2023 2024 2025 2026123",
        "6222 2023 2024 2025",
        "2023 2024 2025 6222",
        "6222 0212 3456 7890",
        "2023/2024/2025/2026/123",
        "6222/2023/2024/2025",
        "6222.0501.2026.0507",
        "2019 2020 2021 2022 1",
    ):
        assert find_personal_data(f"卡号{card}") == [("bank_card", card)]


# A card number's short last group after its sixteen digits in fours, parted otherwise
# than by a space or a dash: the sixteen were hidden and the last group shown after the
# label (卡号 [银行卡]/1).
@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("卡号 2019/2020/2021/2022/1", "卡号 [银行卡]"),
        ("卡号 6222/0212/3456/7890/1", "卡号 [银行卡]"),
        ("卡号6222.0212.3456.7890.12，谢谢", "卡号[银行卡]，谢谢"),
        ("卡号 6222·0212·3456·7890·123", "卡号 [银行卡]"),
        ("卡号 62220212/34567890/1", "卡号 [银行卡]"),
        ("卡号 6222—0212—3456—7890—1", "卡号 [银行卡]"),
    ],
)
def test_a_card_numbers_short_last_group_is_hidden_with_it(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == ["bank_card"]
    assert mask_personal_data(masked, LABELS) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("QQ 1234-5678-90", "QQ [QQ]"),
        ("QQ：123-456-7890", "QQ：[QQ]"),
        ("qq 12345678-9", "qq [QQ]"),
        ("微信 1234-5678-90", "微信 [微信]"),
    ],
)
def test_a_qq_number_ending_in_a_short_group_is_masked_whole(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked


# A number in groups after another number in the same run (a student number, a year, a
# count): read with it, the digits made no number, and the ID number was shown whenever its
# birth date was parted (01 01) or its groups by anything but a space or a dash; a mobile
# number too when parted by dots, slashes or the like.
NUMBERS_AFTER_A_NUMBER = [
    ("2023 110101 2008 01 01 1234", "2023 [身份证]", "id_card"),
    ("12 110101 2008 01 01 1234", "12 [身份证]", "id_card"),
    ("2023 110101.2008.0101.1234", "2023 [身份证]", "id_card"),
    ("2023.110101.2008.01.01.1234", "2023.[身份证]", "id_card"),
    ("2023—110101—2008—0101—1234", "2023—[身份证]", "id_card"),
    ("2023/110101/2008/0101/123X", "2023/[身份证]", "id_card"),
    ("2023、110101、2008、0101、1234", "2023、[身份证]", "id_card"),
    ("２０２３ １１０１０１．２００８．０１０１．１２３４", "２０２３ [身份证]", "id_card"),
    ("2023 一一〇一〇一 二〇〇八 〇一 〇一 一二三四", "2023 [身份证]", "id_card"),
    ("2023 1101 0120 0801 0112 34", "2023 [身份证]", "id_card"),
    ("2023.138.1234.5678", "2023.[手机]", "phone"),
    ("2023 138.1234.5678", "2023 [手机]", "phone"),
    ("123·138·1234·5678", "123·[手机]", "phone"),
    ("2023/一三八/一二三四/五六七八", "2023/[手机]", "phone"),
    ("电话 2 1 3 8 1 2 3 4 5 6 7 8", "电话 2 [手机]", "phone"),
]


@pytest.mark.parametrize(("text", "masked", "kind"), NUMBERS_AFTER_A_NUMBER)
def test_a_number_in_groups_after_another_is_masked(text: str, masked: str, kind: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == [kind]
    assert mask_personal_data(masked, LABELS) == masked


# An ID number typed in fours, its last digit alone before the check character: read as
# a card number, its X was shown.
@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("身份证 1101 0120 0801 0112 3X", "身份证 [身份证]"),
        ("身份证 1101-0120-0801-0112-3x，对吗", "身份证 [身份证]，对吗"),
        ("2023 1101 0120 0801 0112 3X", "2023 [身份证]"),
    ],
)
def test_an_id_number_in_fours_is_masked_with_its_check_character(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == ["id_card"]


# After a student number the ID number was cut where the student number's pattern stopped,
# and its last digits were shown (学号 2023 1101012008010|11234).
@pytest.mark.parametrize(
    "text",
    [
        "学号 2023 110101200801011234",
        "学号 2023 110101 2008 01 01 1234",
        "学号 2023-110101-2008-0101-1234",
        "学号 2023 一一〇一〇一二〇〇八〇一〇一一二三四",
        "考号 2023 110101 2008 0101 123X",
        "学号 2023 1101 0120 0801 0112 34",
    ],
)
def test_an_id_number_after_a_student_number_is_hidden_whole(text: str) -> None:
    masked = mask_personal_data(text, LABELS)
    assert not re.search("[0-9X一二三四五六七八九〇]", masked), masked
    assert mask_personal_data(masked, LABELS) == masked


# Dates, lists and counts after a number stay as they are; a card number stays one.
@pytest.mark.parametrize(
    "text",
    [
        "2023 2026.11.24 2026.11.30",
        "2008.09-2012.07 2012.09-2015.07",
        "1998.09-2002.07 2002.09-2005.07",
        "初中 2012.09-2015.07，高中 2015.09-2018.06",
        "第3 2026.11.24—2026.11.30",
        "2023.138.12",
        "123.456.789.101",
        "12 13 14 15 16 17 18 19 20 21 22",
        "1 2 3 4 5 6 7 8 9 10 11 12",
        "分数 100 135 120 98 100",
    ],
)
def test_dates_and_lists_after_a_number_are_kept(text: str) -> None:
    assert mask_personal_data(text, LABELS) == text


# Single digits with one pause that go on past a mobile number's eleven (an answer key):
# their first eleven were hidden as a mobile number whenever they happened to make one.
# A list going on two digits or more past the number is no number read out, unless a
# phone number is said to follow (电话, 手机, 打, call...): then the number is read out of
# it, as before.
READ_OUT_LISTS = [
    "答案是 1 3 2 4 2 3 1 4 2 3 1 2 4 3",
    "答案 1-3-2-4-2-3-1-4-2-3-1-2-4-3",
    "答案 1.3.2.4.2.3.1.4.2.3.1.2.4.3",
    "答案 一 三 二 四 二 三 一 四 二 三 一 二 四 三",
    "答案是 1 3 2 4 2 3 1 4 2 3 1 2 4 3 对吗",
    "选 1 3 5 2 4 1 3 5 2 4 1 3 5",
    "顺序 2 1 3 8 1 2 3 4 5 6 7 8 9",
    "1 3 2 4 - 2 3 1 4 - 2 3 1 2",
]

CUED_READ_OUT_LISTS = [
    ("电话 2 1 3 8 1 2 3 4 5 6 7 8 9 0", "电话 2 [手机] 9 0"),
    ("手机 1 3 8 1 2 3 4 5 6 7 8 9 0", "手机 [手机] 9 0"),
    ("打给我 1 3 8 1 2 3 4 5 6 7 8 9 0", "打给我 [手机] 9 0"),
    ("我的電話是 1 3 8 1 2 3 4 5 6 7 8 9 0", "我的電話是 [手机] 9 0"),
    ("call me: 1-3-8-1-2-3-4-5-6-7-8-9-0", "call me: [手机]-9-0"),
    ("电话 1、3、8、1、2、3、4、5、6、7、8、9", "电话 [手机]、9"),
    # Read out whole, or after a number of more than one digit, it is one all the same.
    ("1 3 8 1 2 3 4 5 6 7 8", "[手机]"),
    ("QQ 12345678 1 3 8 1 2 3 4 5 6 7 8", "QQ [QQ] [手机]"),
    ("1 3 8 1 2 3 4 5 6 7 8 一直打不通", "[手机] 一直打不通"),
    ("1 3 8 1 2 3 4 5 6 7 8 两个号都行", "[手机] 两个号都行"),
    # An ID number's digits are no chance: read out of a longer list, it is hidden.
    ("1 1 0 1 0 1 2 0 0 5 0 1 0 1 1 2 3 4 5 6", "[身份证] 5 6"),
]

# One more single digit after a mobile number read out, or before it, is no list going
# on (1 3 8 1 2 3 4 5 6 7 8 9 was shown); nor is another number read out after it.
NUMBERS_READ_OUT_BESIDE_A_DIGIT = [
    ("1 3 8 1 2 3 4 5 6 7 8 9", "[手机] 9"),
    ("1-3-8-1-2-3-4-5-6-7-8-9", "[手机]-9"),
    ("1.3.8.1.2.3.4.5.6.7.8.9", "[手机].9"),
    ("一 三 八 一 二 三 四 五 六 七 八 九", "[手机] 九"),
    ("2 1 3 8 1 2 3 4 5 6 7 8", "2 [手机]"),
    ("答案是 1 3 2 4 2 3 1 4 2 3 1 2", "答案是 [手机] 2"),
    ("答案 一 三 二 四 二 三 一 四 二 三 一 二", "答案 [手机] 二"),
    ("1 3 8 1 2 3 4 5 6 7 8 1 3 9 1 2 3 4 5 6 7 8", "[手机] [手机]"),
    ("1-3-8-1-2-3-4-5-6-7-8-1-3-9-1-2-3-4-5-6-7-8-9", "[手机]-[手机]-9"),
]

# A digit glued to a word after a mobile number read out (3点后, 2个号, 1班, 3楼, 5号) is
# the word's, not a list going on: the number was shown.
NUMBERS_READ_OUT_BEFORE_A_COUNT = [
    ("我妈妈 1 3 8 1 2 3 4 5 6 7 8 2个号都行", "我妈妈 [手机] 2个号都行"),
    ("1 3 8 1 2 3 4 5 6 7 8 1 班的", "[手机] 1 班的"),
    ("1 3 8 1 2 3 4 5 6 7 8 3楼", "[手机] 3楼"),
    ("1-3-8-1-2-3-4-5-6-7-8-3点后打", "[手机]-3点后打"),
    ("1.3.8.1.2.3.4.5.6.7.8.5号", "[手机].5号"),
    ("１ ３ ８ １ ２ ３ ４ ５ ６ ７ ８ ２个号", "[手机] ２个号"),
    ("一 三 八 一 二 三 四 五 六 七 八 3点后", "[手机] 3点后"),
    ("一-三-八-一-二-三-四-五-六-七-八-九点后", "[手机]-九点后"),
    ("1 3 8 1 2 3 4 5 6 7 8 2個號都行", "[手机] 2個號都行"),
    ("1 3 8 - 1 2 3 4 - 5 6 7 8 3点后打", "[手机] 3点后打"),
]

# Words that say a phone number follows: contact words, WeChat and QQ, a country code.
NEWLY_CUED_READ_OUT_LISTS = [
    ("加我微信 1 3 8 1 2 3 4 5 6 7 8 3点以后在线", "加我微信 [手机] 3点以后在线"),
    ("加我微信 1 3 8 1 2 3 4 5 6 7 8 9 0", "加我微信 [手机] 9 0"),
    ("加我 1 3 8 1 2 3 4 5 6 7 8 9 0", "加我 [手机] 9 0"),
    ("vx 1 3 8 1 2 3 4 5 6 7 8 9 0", "vx [手机] 9 0"),
    ("wx: 1-3-8-1-2-3-4-5-6-7-8-9-0", "wx: [手机]-9-0"),
    ("v信 1 3 8 1 2 3 4 5 6 7 8 9 0", "v信 [手机] 9 0"),
    ("QQ 1 3 8 1 2 3 4 5 6 7 8 9 0", "QQ [手机] 9 0"),
    ("qq号 1.3.8.1.2.3.4.5.6.7.8.9.0", "qq号 [手机].9.0"),
    ("联系方式：1 3 8 1 2 3 4 5 6 7 8 9 0", "联系方式：[手机] 9 0"),
    ("聯繫方式：一 三 八 一 二 三 四 五 六 七 八 九 〇", "聯繫方式：[手机] 九 〇"),
    ("+86 1 3 8 1 2 3 4 5 6 7 8 9 0", "[手机] 9 0"),
    ("+86 1 3 8 1 2 3 4 5 6 7 8 9点后", "[手机] 9点后"),
]

# Digits read out in a number's groups after another number (ce0848a read them out alone
# only): shown, and hidden once the other number was masked.
READ_OUT_IN_GROUPS_AFTER_A_NUMBER = [
    ("QQ 12345678 1 3 8 - 1 2 3 4 - 5 6 7 8", "QQ [QQ] [手机]"),
    ("QQ 12345678 1-3-8 1-2-3-4 5-6-7-8", "QQ [QQ] [手机]"),
    ("QQ 12345678 一 三 八 - 一 二 三 四 - 五 六 七 八", "QQ [QQ] [手机]"),
    # After a phone word, read out of groups that run on past it.
    ("电话 1-3-8 1-2-3-4 5-6-7-8-9", "电话 [手机]-9"),
    ("电话 1 3 8 - 1 2 3 4 - 5 6 7 8 9", "电话 [手机] 9"),
]


@pytest.mark.parametrize("text", READ_OUT_LISTS)
def test_a_list_of_digits_going_on_past_a_mobile_number_is_kept(text: str) -> None:
    assert mask_personal_data(text, LABELS) == text


@pytest.mark.parametrize(("text", "masked"), CUED_READ_OUT_LISTS)
def test_a_mobile_number_is_read_out_of_a_list_after_a_phone_word(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert mask_personal_data(masked, LABELS) == masked


@pytest.mark.parametrize(("text", "masked"), NUMBERS_READ_OUT_BESIDE_A_DIGIT)
def test_a_mobile_number_read_out_beside_one_more_digit_is_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert mask_personal_data(masked, LABELS) == masked


@pytest.mark.parametrize(("text", "masked"), NUMBERS_READ_OUT_BEFORE_A_COUNT)
def test_a_digit_glued_to_a_word_after_a_read_out_number_is_no_list(
    text: str, masked: str
) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert mask_personal_data(masked, LABELS) == masked


# The same families: a mobile number read out with one pause (ASCII, full-width or Chinese
# digits), then the pause and a digit glued to a word, after other words or none.
_READ_OUT_PAUSES = [" ", "  ", "-", ".", " - ", "·", "_", "/", "—", "~", "、", "，"]
_DIGIT_SCRIPTS = ["0123456789", "０１２３４５６７８９", "〇一二三四五六七八九"]


def _read_out(digits: str, script: str, pause: str) -> str:
    return pause.join(script[int(digit)] for digit in digits)


@pytest.mark.parametrize("pause", _READ_OUT_PAUSES)
@pytest.mark.parametrize(
    "count", ["3点后打", "2个号都行", "1班", "3楼", "5号", "三点后", "1 班的"]
)
def test_a_number_read_out_before_a_count_never_survives_masking(pause: str, count: str) -> None:
    for script in _DIGIT_SCRIPTS:
        for before in ["", "我妈妈 ", "加我微信 ", "+86 ", "QQ 12345678 "]:
            text = before + _read_out("13812345678", script, pause) + pause + count
            masked = mask_personal_data(text, LABELS)
            left = re.sub("[^0-9]", "", _as_ascii(masked))
            assert "1381234" not in left and "2345678" not in left, (text, masked)
            assert mask_personal_data(masked, LABELS) == masked


# And with one more digit before or after it, no word glued to it. (Parted by list marks,
# 1、3、8、1、2、3、4、5、6、7、8、9 is a list: see LISTS_OF_PAIRS.)
@pytest.mark.parametrize("pause", [p for p in _READ_OUT_PAUSES if p not in "、，"])
def test_a_number_read_out_beside_one_more_digit_never_survives_masking(pause: str) -> None:
    for script in _DIGIT_SCRIPTS:
        number = _read_out("13812345678", script, pause)
        for text in [
            number + pause + script[9],
            script[2] + pause + number,
            f"答案 {number}{pause}{script[1]}。",
        ]:
            masked = mask_personal_data(text, LABELS)
            left = re.sub("[^0-9]", "", _as_ascii(masked))
            assert "1381234" not in left and "2345678" not in left, (text, masked)
            assert mask_personal_data(masked, LABELS) == masked


@pytest.mark.parametrize(("text", "masked"), NEWLY_CUED_READ_OUT_LISTS)
def test_contact_words_and_a_country_code_say_a_number_follows(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert mask_personal_data(masked, LABELS) == masked


@pytest.mark.parametrize(("text", "masked"), READ_OUT_IN_GROUPS_AFTER_A_NUMBER)
def test_a_number_read_out_in_groups_after_another_is_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert mask_personal_data(masked, LABELS) == masked


# A card number in Chinese numerals whose digits after its first three happen to make an
# old ID number's fifteen was read so, which hides nothing: it was shown.
@pytest.mark.parametrize(
    "text",
    [
        "卡号 六二二二_二八零零_六二三零_九零二零_三四",
        "卡号 六二二二_二八零零_六二三零_九零二零_三四 2张",
    ],
)
def test_a_card_number_in_numerals_holding_an_old_id_number_is_masked(text: str) -> None:
    masked = mask_personal_data(text, LABELS)
    assert masked.startswith("卡号 [银行卡]"), masked
    assert mask_personal_data(masked, LABELS) == masked


@pytest.mark.parametrize(
    "card", ["1234.5678.1381.2345.678", "6222/1381/2345/6789", "1234 5678 1381 2345 678"]
)
def test_a_card_number_holding_a_mobile_number_is_one_card(card: str) -> None:
    assert find_personal_data(f"卡号{card}") == [("bank_card", card)]


# A WeChat id with WeChat's own prefix, said with no WeChat word before it.
WXIDS = [
    ("wxid_2010_1234_5678x", "[微信]"),
    ("加我 wxid_ab12cd34ef5612 谢谢", "加我 [微信] 谢谢"),
    ("我的号wxid_13812345678", "我的号[微信]"),
    ("WXID_abc2010", "[微信]"),
]


@pytest.mark.parametrize(("text", "masked"), WXIDS)
def test_a_wxid_is_a_wechat_id(text: str, masked: str) -> None:
    assert mask_personal_data(text, LABELS) == masked
    assert [k for k, _ in find_personal_data(text)] == ["wechat"]


@pytest.mark.parametrize("text", ["wxid_是什么意思", "wxid_开头的号怎么加"])
def test_the_wxid_prefix_alone_is_kept(text: str) -> None:
    assert mask_personal_data(text, LABELS) == text


# Property: a mobile or ID number, however it is written (digits in any script the masking
# reads, grouped as people group them, any separators between the groups) and whatever
# text around it, does not survive masking: no seven of its digits in a row are left, and
# the masked text, its separators taken out, does not hold the number.
# ``VOY_HYPOTHESIS_PROFILE=hunt`` draws many more examples (``VOY_HYPOTHESIS_EXAMPLES``).
_PROFILE = os.environ.get("VOY_HYPOTHESIS_PROFILE", "ci")
_EXAMPLES = int(os.environ.get("VOY_HYPOTHESIS_EXAMPLES", "0")) or (
    5000 if _PROFILE == "hunt" else 300
)

# Every way a digit may be written: ASCII, full-width, Chinese (〇/零 and 幺/两 too, the
# banker's in both scripts), circled, mathematical bold, Arabic-Indic.
_WRITINGS = {
    digit: [str(digit), chr(0xFF10 + digit), chr(0x1D7CE + digit), chr(0x0660 + digit), *extra]
    for digit, extra in enumerate(
        [
            "〇零⓪",
            "一幺壹①",
            "二两贰貳②",
            "三叁參③",
            "四肆④",
            "五伍⑤",
            "六陆陸⑥",
            "七柒⑦",
            "八捌⑧",
            "九玖⑨",
        ]
    )
}
_AS_ASCII = {char: str(digit) for digit, chars in _WRITINGS.items() for char in chars}
_CHECK_X = ["X", "x", "Ｘ", "ｘ"]
_SEPARATORS = [
    " ", "  ", "\u00a0", "\u3000", "\u2002", "\u2003", "\u2009", "\u200b", "\t",
    "-", " - ", "- ", "--", "－", "\u2010", "\u2013", "—", "——", " — ", "\u2212", "﹣",
    ".", "．", "。", "·", " · ", "・", "•", "‧", "∙", "⋅", "﹒",
    "/", "／", " / ", "_", "＿", "~", "～", "，", "、", ", ",
]  # fmt: skip
# Commas part lists: two numbers' groups of one length are two numbers (2023、2024), so
# comma-parted groups of two digits are no test of a number; digits read out one by one,
# or a mobile number's last four in pairs, the same mark between all, are.
_LIST = ("，", "、", ", ")
_MOBILE_GROUPS = [
    [11], [3, 4, 4], [3, 8], [7, 4], [4, 4, 3], [3, 4, 2, 2], [3, 2, 2, 2, 2], [1] * 11
]  # fmt: skip
_ID_GROUPS = [[18], [6, 8, 4], [6, 4, 4, 4], [6, 12], [6, 4, 2, 2, 4], [1] * 18]
_COUNTRY_CODES = ["+86 ", "+86-", "+86·", "0086 ", "(+86)", "(+86) ", "＋８６ ", "86 ", "86-"]
# Text around the number: no digit or numeral in it (one beside the number would make it
# another, longer number), but anything else: words, letters, punctuation, @ and dots.
_AROUND = st.text(
    st.sampled_from(
        "我的电话号码是请打给身份证联系方式谢谢晚上有事找妈妈老师学校在家住哪里可以吗问题"
        "团员入团志愿活动报名时间地点想要书包同学朋友微信邮箱手机電話號碼請聯繫謝謝學校媽媽"
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        " .,:;!?()[]@#%+*-_/~'\"：，。！？（）、“”《》…—·"
    ),
    max_size=12,
)


@st.composite
def _written_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A valid mobile or ID number as digits, and as someone might type it."""
    if draw(st.booleans()):
        digits = (
            "1"
            + draw(st.sampled_from("3456789"))
            + draw(st.text("0123456789", min_size=9, max_size=9))
        )
        groups = draw(st.sampled_from(_MOBILE_GROUPS))
    else:
        area = draw(st.integers(100000, 999999))
        born = draw(st.dates(date(1900, 1, 1), date(2029, 12, 31))).strftime("%Y%m%d")
        sequence = draw(st.text("0123456789", min_size=3, max_size=3))
        digits = f"{area}{born}{sequence}{draw(st.sampled_from('0123456789X'))}"
        groups = draw(st.sampled_from(_ID_GROUPS))
    one_script = draw(st.none() | st.integers(0, 3))
    chars = [
        draw(st.sampled_from(_CHECK_X))
        if digit == "X"
        else _WRITINGS[int(digit)][one_script]
        if one_script is not None
        else draw(st.sampled_from(_WRITINGS[int(digit)]))
        for digit in digits
    ]
    listable = min(groups) > 2 or max(groups) == 1 or groups in ([3, 4, 2, 2], [3, 2, 2, 2, 2])
    separators = _SEPARATORS if listable else [s for s in _SEPARATORS if s not in _LIST]
    # Digits read out one by one, or in pairs, share one pause; groups of three or more may
    # have a different one each.
    same = draw(st.sampled_from(separators))
    written, at = "", 0
    for i, size in enumerate(groups):
        if i:
            written += same if min(groups) < 3 else draw(st.sampled_from(separators) | st.just(""))
        written += "".join(chars[at : at + size])
        at += size
    if len(digits) == 11 and draw(st.booleans()):
        written = draw(st.sampled_from(_COUNTRY_CODES)) + written
    return digits, written


def _as_ascii(text: str) -> str:
    return "".join(_AS_ASCII.get(char, char) for char in text).upper().replace("Ｘ", "X")


@settings(max_examples=_EXAMPLES, derandomize=_PROFILE != "hunt", database=None, deadline=None)
@given(number=_written_numbers(), before=_AROUND, after=_AROUND)
@example(number=("13812345678", "+86 138.1234.5678"), before="电话", after="")
@example(number=("13812345678", "138.1234.5678"), before="tel", after="")
@example(number=("13812345678", "13812345678"), before="abc", after=".")
# Its digits fall into dates (201401 20000101 1900): an ID number all the same.
@example(number=("201401200001011900", "2 0 1 4 0 1 2 0 0 0 0 1 0 1 1 9 0 0"), before="", after="")
@example(
    number=("11010120050101123X", "一一〇一〇一·二〇〇五〇一〇一·一二三X"), before="", after=""
)
@example(
    number=("11010120050101123X", "１１０１０１．２００５０１０１．１２３Ｘ"), before="", after=""
)
def test_a_written_number_never_survives_masking(
    number: tuple[str, str], before: str, after: str
) -> None:
    digits, written = number
    masked = mask_personal_data(before + written + after, LABELS)
    left = _as_ascii(masked)
    for start in range(len(digits) - 6):
        assert digits[start : start + 7] not in left, (written, masked)
    parts = re.sub("|".join(map(re.escape, sorted(_SEPARATORS, key=len, reverse=True))), "", left)
    assert digits not in re.sub(r"\s", "", parts), (written, masked)
    assert mask_personal_data(masked, LABELS) == masked


# Chinese numerals that are words too (陆 and 伍 are surnames, 老二, 老幺, 两个, 一直, 三点).
_NUMERAL_WORDS = st.text(st.sampled_from("陆陸伍参參两兩零幺一二三"), max_size=3)


@settings(max_examples=_EXAMPLES, derandomize=_PROFILE != "hunt", database=None, deadline=None)
@given(number=_written_numbers(), word_before=_NUMERAL_WORDS, word_after=_NUMERAL_WORDS)
@example(number=("13812345678", "1 3 8 1 2 3 4 5 6 7 8"), word_before="二", word_after="两")
@example(number=("110101200501011234", "110101.2005.01.01.1234"), word_before="陆", word_after="")
@example(number=("13000000000", "0086 13000000000"), word_before="一一", word_after="一一一")
def test_a_written_number_glued_to_numeral_words_never_survives_masking(
    number: tuple[str, str], word_before: str, word_after: str
) -> None:
    digits, written = number
    masked = mask_personal_data(f"联系人{word_before}{written}{word_after}", LABELS)
    left = _as_ascii(masked)
    for start in range(len(digits) - 6):
        assert digits[start : start + 7] not in left, (written, masked)
    assert mask_personal_data(masked, LABELS) == masked


# A QQ number in digits of its own, glued to numeral words and the number, after or before
# it. A number whose digits mix scripts one by one (1三8…) is left out: glued to another
# number, nothing tells where either ends.
_CHINESE = frozenset("〇零一幺壹二两贰貳三叁參四肆五伍六陆陸七柒八捌九玖")
_NEIGHBOURS = st.sampled_from(["12345678", "１２３４５６７８", "987654321"])


@settings(max_examples=_EXAMPLES, derandomize=_PROFILE != "hunt", database=None, deadline=None)
@given(
    number=_written_numbers(),
    word=_NUMERAL_WORDS.filter(bool),
    neighbour=_NEIGHBOURS,
    number_first=st.booleans(),
)
@example(
    number=("13812345678", "13812345678"), word="陆", neighbour="12345678", number_first=False
)
@example(
    number=("13812345678", "一三八一二三四五六七八"),
    word="陆",
    neighbour="12345678",
    number_first=False,
)
# The words are digits of the number after them too (零一12345678): both are hidden.
@example(
    number=("13000000000", "13000000000"), word="零一", neighbour="12345678", number_first=True
)
@example(
    number=("110101200501011234", "一一〇一〇一二〇〇五〇一〇一一二三四"),
    word="两",
    neighbour="12345678",
    number_first=True,
)
def test_a_written_number_glued_by_numeral_words_to_another_never_survives_masking(
    number: tuple[str, str], word: str, neighbour: str, number_first: bool
) -> None:
    digits, written = number
    assume(len({char in _CHINESE for char in written if char in _AS_ASCII}) == 1)
    text = f"{written}{word}{neighbour}" if number_first else f"QQ {neighbour}{word}{written}"
    masked = mask_personal_data(text, LABELS)
    left = _as_ascii(masked).removesuffix(_as_ascii(neighbour))
    for start in range(len(digits) - 6):
        assert digits[start : start + 7] not in left, (text, masked)
    assert mask_personal_data(masked, LABELS) == masked


@pytest.mark.parametrize("unit", [*HOSTILE_UNITS, "".join(HOSTILE_UNITS)])
def test_a_hostile_text_of_100_000_characters_is_masked_fast(unit: str) -> None:
    # About 0.2 s on a laptop. Patterns retried from every position of a long run take
    # minutes at this size, so the bound catches them on any machine.
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    start = time.perf_counter()
    mask_personal_data(text, LABELS)
    assert time.perf_counter() - start < 5
