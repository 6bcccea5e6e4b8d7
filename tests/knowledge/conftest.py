"""Fixtures for the matcher tests: a small youth-league knowledge base."""

from __future__ import annotations

import pytest

from knowledge import FaqDoc, Matcher

YOUTH_KB = [
    FaqDoc(
        "league-join-age",
        "多大年龄可以申请入团？",
        ("几岁能入团", "入团年龄要求", "我13岁可以入团吗"),
    ),
    FaqDoc(
        "league-join-steps", "入团的流程是怎样的？", ("怎么入团", "入团要经过哪些步骤", "入团程序")
    ),
    FaqDoc("league-dues", "团费怎么交？", ("团费在哪里交", "交团费的方式", "团费可以微信交吗")),
    FaqDoc("league-transfer", "怎么转团组织关系？", ("团关系怎么转", "毕业了团关系转到哪里")),
    FaqDoc("league-overage", "超过28岁怎么离团？", ("超龄离团手续", "28岁以后还是团员吗")),
    FaqDoc("volunteer-hours", "志愿时长证明怎么开？", ("志愿服务证明在哪开", "怎么查志愿时长")),
    FaqDoc("charity-wish", "怎么认领微心愿？", ("我想帮别人实现心愿", "微心愿在哪里认领")),
    FaqDoc("hotline-12355", "12355是什么？", ("青少年服务台是干什么的", "12355能帮我什么")),
    FaqDoc("phone-screenshot", "苹果手机怎么截图？", ("iphone怎么截屏", "苹果手机截屏方法")),
    FaqDoc("safety-drowning", "暑假怎么预防溺水？", ("防溺水注意什么", "游泳安全须知")),
    FaqDoc("home-a", "青年之家在哪里？", ("青年之家地址",), region="district-a"),
    FaqDoc("home-b", "青年之家在哪里？", ("青年之家地址",), region="district-b"),
]


@pytest.fixture(scope="package")
def youth_matcher() -> Matcher:
    """One matcher over :data:`YOUTH_KB`, shared (it is immutable)."""
    return Matcher(YOUTH_KB)
