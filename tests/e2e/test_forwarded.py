"""A young person forwards a message to the bot (from a friend, a hidden account, a group
or a channel): it is their question, the cadre's card says it was forwarded, and nobody
on staff learns who first wrote it; its personal data is masked like any text."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from sandbox import SandboxServer
from storage.models import InboundMessage
from storage.questions import Question
from tests.bot.test_data_rights import _scan
from tests.conftest import run_harness
from tests.e2e.test_data_rights import _document, _reply
from tests.support import XIAOMING, BotHarness, buttons

WANG = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}
FRIEND = {"id": 1777, "first_name": "张三丰", "last_name": "Zhang", "username": "zhangsan_2010"}
# What a staff member must never see of the original senders.
THIRD_PARTY = (
    "张三丰",
    "zhangsan_2010",
    "1777",
    "-1001777",
    "李四光",
    "东湖青年频道",
    "donghu_youth",
    "小编甲",
)
ORIGINS: list[tuple[dict[str, Any], str]] = [
    (
        {"type": "user", "sender_user": FRIEND},
        "这个夏令营是真的吗？周六在东湖公园集合，交三百元，联系电话一三八一二三四五六七八",
    ),
    (
        {"type": "hidden_user", "sender_user_name": "李四光"},
        "明晚七点东湖公园门口见，别告诉老师，我的手机幺三九 零零一二 三四五六",
    ),
    (
        {
            "type": "channel",
            "chat": {"id": -1001777, "title": "东湖青年频道", "username": "donghu_youth"},
            "message_id": 88,
            "author_signature": "小编甲",
        },
        "东湖公园夏令营开始招募营员，名额有限，报名请加微信 donghu2026",
    ),
]


def _leaks(leaked: str, text: str) -> bool:
    """Whether ``text`` holds ``leaked``; an id only as a whole number, not as digits of
    another (a message's date, 1795177712, is not the friend 1777)."""
    if leaked.lstrip("-").isdigit():
        return re.search(rf"(?<![\d-]){re.escape(leaked)}(?!\d)", text) is not None
    return leaked in text


# The start of what the young person is told when a forwarded message reaches staff.
NOTE = "你转发的这条消息"
HIDDEN = ("一三八一二三四五六七八", "幺三九 零零一二 三四五六", "donghu2026")


async def _start(harness: BotHarness) -> None:
    picker = (await harness.send(XIAOMING, "/start"))[-1]
    for label in ("东城区", "东湖街道"):
        await harness.press(XIAOMING, picker, label)
        picker = await harness.message(XIAOMING["id"], picker["message_id"])
    await harness.send(WANG, "/start")


async def test_a_forwarded_message_is_asked_marked_and_without_its_sender(
    harness: BotHarness,
) -> None:
    await _start(harness)
    for origin, text in ORIGINS:
        seq = await harness.client.last_seq()
        (reply,) = await harness.send(XIAOMING, text, forward_origin=origin)
        assert "转发" in reply["text"], reply["text"]  # told how a forward is handled
        card = await harness.client.wait_for_bot_message(
            WANG["id"],
            after_seq=seq,
            timeout=10,
            predicate=lambda m: "问题 #" in (m.get("text") or ""),
        )
        shown = card["text"]
        assert "转发" in shown and "东湖公园" in shown, shown
        for leaked in (*THIRD_PARTY, *HIDDEN):
            assert not _leaks(leaked, shown), (leaked, shown)
    async with harness.sessions() as session:
        asked = list(await session.scalars(select(Question).order_by(Question.id)))
        stored = [
            json.dumps(row.payload, ensure_ascii=False)
            for row in await session.scalars(select(InboundMessage))
        ]
    assert [q.thread[0].forwarded for q in asked] == [True, True, True]
    # The stored updates keep that a message was forwarded, not who first wrote it.
    assert sum('"forward_origin"' in payload for payload in stored) == 3
    for leaked in THIRD_PARTY:
        assert not any(_leaks(leaked, payload) for payload in stored), leaked
    # 小明's own copy says which of his messages were forwarded (and not from whom).
    data = await _document(harness, await _reply(harness, XIAOMING, "/mydata", "voy-mydata-"))
    assert [q["messages"][0]["forwarded"] for q in data["questions"]] == [True, True, True]
    exported = json.dumps(data, ensure_ascii=False)
    assert not any(_leaks(leaked, exported) for leaked in THIRD_PARTY)


async def test_a_forwarded_follow_up_is_marked_on_the_cadres_card(harness: BotHarness) -> None:
    await _start(harness)
    seq = await harness.client.last_seq()
    reply = (await harness.send(XIAOMING, "我们东湖街道有没有周末的篮球活动？"))[-1]
    await harness.client.wait_for_bot_message(
        WANG["id"],
        after_seq=seq,
        timeout=10,
        predicate=lambda m: "问题 #" in (m.get("text") or ""),
    )
    async with harness.sessions() as session:
        question_id = await session.scalar(select(Question.id))
    assert question_id is not None
    # 小明 adds a friend's message to it ("follow up", then the forward).
    seq = await harness.client.last_seq()
    await harness.press_data(XIAOMING, reply["message_id"], f"v1:qfu:{question_id}")
    replies = await harness.send(
        XIAOMING,
        "周六下午两点篮球场，带身份证一一〇一〇一二〇〇八〇一〇一一二三四报名",
        forward_origin={"type": "user", "sender_user": FRIEND},
    )
    assert NOTE in replies[-1]["text"], replies  # told what the cadre is shown of it
    card = await harness.client.wait_for_bot_message(
        WANG["id"], after_seq=seq, timeout=10, predicate=lambda m: "追问" in (m.get("text") or "")
    )
    assert "转发" in card["text"] and "篮球场" in card["text"], card["text"]
    for leaked in (*THIRD_PARTY, "一一〇一〇一二〇〇八〇一〇一一二三四"):
        assert leaked not in card["text"], leaked


def _last_reply(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return [m for m in messages if m["from_bot"]][-1]


async def test_a_forwarded_message_answered_then_passed_to_a_person_says_so(
    harness: BotHarness,
) -> None:
    """An FAQ answer reaches nobody on staff (no note), but "ask a person" after it sends
    the forwarded words to a cadre: the young person is told then."""
    await _start(harness)
    (reply,) = await harness.send(
        XIAOMING, "团费怎么交？", forward_origin={"type": "user", "sender_user": FRIEND}
    )
    assert [b["text"] for b in buttons(reply)][-1] == "👎 找人工解答"
    assert NOTE not in reply["text"]
    await harness.press(XIAOMING, reply, "找人工")
    routed = _last_reply(await harness.client.messages(XIAOMING["id"]))
    assert "问题编号" in routed["text"] and NOTE in routed["text"], routed["text"]


async def test_a_forwarded_call_for_help_says_so(harness: BotHarness) -> None:
    await _start(harness)
    replies = await harness.send(
        XIAOMING,
        "我真的不想活了，每天都很痛苦",
        forward_origin={"type": "hidden_user", "sender_user_name": "李四光"},
    )
    assert NOTE in replies[-1]["text"], replies


@pytest.fixture
async def cautious(sandbox: SandboxServer, database_url: str) -> AsyncIterator[BotHarness]:
    """A bot that never answers on its own, so every likely match becomes a suggestion."""
    async for running in run_harness(sandbox, database_url, match_answer_threshold=1.0):
        yield running


async def test_a_forwarded_message_with_none_of_the_suggestions_says_so(
    cautious: BotHarness,
) -> None:
    await _start(cautious)
    (reply,) = await cautious.send(
        XIAOMING, "团关系咋转", forward_origin={"type": "user", "sender_user": FRIEND}
    )
    assert "你是想问" in reply["text"] and NOTE not in reply["text"]
    await cautious.press(XIAOMING, reply, "以上都不是")
    routed = _last_reply(await cautious.client.messages(XIAOMING["id"]))
    assert "转给团干部" in routed["text"] and NOTE in routed["text"], routed["text"]


# A forward's first writer, and a classmate it mentions by their account (no username to
# show: Telegram sends their whole User object in a text_mention entity).
WRITER = {"id": 764_183_552, "first_name": "李四光", "last_name": "Li", "username": "lisiguang"}
MONITOR = {"id": 853_274_619, "first_name": "王五", "last_name": "Wang", "username": "wangwu_09"}


async def test_nothing_is_kept_of_the_writer_or_the_person_a_forward_mentions(
    harness: BotHarness,
) -> None:
    await _start(harness)
    seq = await harness.client.last_seq()
    (reply,) = await harness.send(
        XIAOMING,
        "班长说周六下午在东湖公园集合，每人交三百元活动费，是真的吗",
        forward_origin={"type": "user", "sender_user": WRITER},
        text_mentions=[{"offset": 0, "length": 2, "user": MONITOR}],
    )
    assert "转发" in reply["text"], reply["text"]
    card = await harness.client.wait_for_bot_message(
        WANG["id"],
        after_seq=seq,
        timeout=10,
        predicate=lambda m: "问题 #" in (m.get("text") or ""),
    )
    assert "转发" in card["text"] and "班长说周六" in card["text"], card["text"]
    async with harness.sessions() as session:
        (question,) = await session.scalars(select(Question))
        assert question.thread[0].forwarded
        for person in (WRITER, MONITOR):
            strings = tuple(str(person[k]) for k in ("id", "first_name", "last_name", "username"))
            found = await _scan(session, strings=strings, number=int(person["id"]))
            assert found == [], (person["first_name"], found)
        (row,) = await session.scalars(
            select(InboundMessage).where(InboundMessage.text.like("班长说%"))
        )
    # What it was is kept: a forward, mentioning someone there.
    message = row.payload["message"]
    assert message["forward_origin"]["type"] == "user"
    assert [e["type"] for e in message["entities"]] == ["text_mention"]
