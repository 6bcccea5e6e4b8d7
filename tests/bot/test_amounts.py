"""The estimated value of a wish, as a young person types it: digits or Chinese numerals,
with the hedges and units people put around them."""

from __future__ import annotations

import pytest

from bot.services.amounts import parse_yuan


@pytest.mark.parametrize(
    ("text", "yuan"),
    [
        ("300", 300),
        ("300元", 300),
        ("300 元", 300),
        ("300 yuan", 300),
        ("300块钱", 300),
        ("¥300", 300),
        ("３００元", 300),  # full-width digits
        ("约300元", 300),
        ("大概一百块吧", 100),
        ("两百", 200),
        ("三百五", 350),
        ("一千二", 1200),
        ("五十元左右", 50),
        ("1千", 1000),
        ("2百五", 250),
        ("兩百塊", 200),  # Traditional
        ("大約三百五十元吧。", 350),
        ("about 300 yuan", 300),
        ("5千", 5000),  # a multiplier multiplies (the cap is checked by the caller)
        ("2万", 20000),
        # Endings people add, accepted before Chinese numerals were read (a review).
        ("300塊錢", 300),
        ("300圓", 300),
        ("300元錢", 300),
        ("300元整", 300),
        ("300块整", 300),
        ("300，", 300),
        ("300元，", 300),
        ("300元😊", 300),
        ("300元的", 300),
        ("300元啊", 300),
        ("300元呢", 300),
        ("300元 谢谢", 300),
        ("300?", 300),
        ("三百塊錢", 300),
        ("估計兩百", 200),
        ("應該兩百", 200),
    ],
)
def test_amounts_people_write(text: str, yuan: int) -> None:
    assert parse_yuan(text) == yuan


@pytest.mark.parametrize(
    "text",
    [
        "",
        "不知道",
        "很贵",
        "几百",
        "一百多",  # more than a hundred: how much more is not said
        "100-200",
        "3.5",
        "300 dollars",
        "300abc",
        "第三",
        "一起",
        "百百",
        "元",
        "300多",  # vague: more than 300
        "300以内",
        "300+",
        "⑳" * 2200,  # NFKC makes 4,400 digits: more than int() reads
    ],
)
def test_what_is_no_amount_is_refused(text: str) -> None:
    assert parse_yuan(text) is None
