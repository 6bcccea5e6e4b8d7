"""Normalisation: script, width, case, punctuation, emoji, fillers and numerals."""

from __future__ import annotations

import pytest

from knowledge.normalize import cn_to_arabic, normalize, normalize_many


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("團費怎麼交？", "团费怎么交"),  # Traditional -> Simplified, punctuation gone
        ("我們幹什麼", "我们干什么"),
        ("ＡＢＣ１２３　ｉＰｈｏｎｅ ６", "abc123 iphone 6"),  # full width -> half width
        ("WiFi 密码忘了怎么办", "wifi密码忘了怎么办"),  # no space next to CJK
        ("十八岁可以入团吗😊👍🏻", "18岁可以入团吗"),  # emoji with a skin-tone modifier
        ("🎉🎉入团🇨🇳", "入团"),
    ],
)
def test_script_width_case_emoji(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("你好，请问几岁可以入团啊？谢谢！", "几岁可以入团"),
        ("老师，怎么转团关系呢？", "怎么转团关系"),
        ("老师您好请问团费怎么交", "团费怎么交"),
        ("急急急！怎么办", "怎么办"),
        ("请问 入团 啊", "入团"),
    ],
)
def test_greetings_and_particles_are_stripped(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "用英语怎么说谢谢",  # 谢谢 inside a clause is content
        "班主任老师的电话",  # so is 老师
        "一起去酒吧",  # 吧 of 酒吧 is not a particle
        "干嘛",
        "什么",  # 么 is never stripped
    ],
)
def test_meaningful_words_survive(raw: str) -> None:
    assert normalize(raw) == raw


def test_greeting_only_message_is_kept() -> None:
    assert normalize("你好") == "你好"
    assert normalize("谢谢！") == "谢谢"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("十八岁", "18岁"),
        ("二十五周岁", "25周岁"),
        ("五万块钱", "5万块钱"),
        ("一九九八年", "1998年"),
        ("两千零八年", "2008年"),
        ("第三届", "第3届"),
        ("两个人", "2个人"),
        ("一百二十三", "123"),
        ("十分好", "十分好"),  # 十分 is an adverb
        ("一起", "一起"),  # bare 一 stays
        ("星期一", "星期一"),
    ],
)
def test_numerals(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_cn_to_arabic() -> None:
    assert cn_to_arabic("二十八") == 28
    assert cn_to_arabic("十") == 10
    assert cn_to_arabic("一百零五") == 105
    assert cn_to_arabic("") is None


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("三百五", 350),  # spoken short for 三百五十, not 305
        ("一千二", 1200),
        ("一万二", 12000),
        ("一千二百五", 1250),
        ("一百一", 110),
        ("两百", 200),
        ("两千零五十", 2050),
        ("一千零二", 1002),
        ("十五", 15),
        ("十万", 100000),
        ("十二万", 120000),
        ("一九九八", 1998),
        ("1千", 1000),  # digits and numerals mixed
        ("2百五", 250),
        ("1千2", 1200),
        ("1千200", 1200),
        ("12万", 120000),
    ],
)
def test_cn_to_arabic_reads_spoken_and_mixed_numerals(numeral: str, value: int) -> None:
    assert cn_to_arabic(numeral) == value


@pytest.mark.parametrize(
    "numeral", ["百百", "千千", "一百千", "五五百", "万万", "百x", "三百五五"]
)
def test_cn_to_arabic_refuses_what_is_no_number(numeral: str) -> None:
    assert cn_to_arabic(numeral) is None


@pytest.mark.parametrize("raw", ["", "   ", "，，，", "\n\n", "🙂"])
def test_nothing_left(raw: str) -> None:
    assert normalize(raw) == ""


def test_batch_matches_one_by_one() -> None:
    texts = ["你好", "團費怎麼交？", "", "a\nb", "  iphone   6 ", "请问 入团 啊", "十八岁😊"]
    assert normalize_many(texts) == [normalize(t) for t in texts]
    assert normalize_many([]) == []
