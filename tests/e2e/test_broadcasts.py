"""Committee broadcasts and /subscribe through the sandbox: composing with a preview and
the recipient count, delivery by region and topic, quiet hours, the unsubscribe button,
delivery counts with a user who blocked the bot, and refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.services import broadcasts
from sandbox import SandboxServer
from storage.broadcasts import Broadcast, Subscription
from storage.outbox import OutboxMessage
from storage.questions import Conversation
from tests.conftest import run_harness
from tests.support import ALEX, XIAOMEI, XIAOMING, BotHarness, button_data, buttons

TZ = ZoneInfo("Asia/Shanghai")
WANG = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}  # committee admin
LI = {"id": 2002, "first_name": "李老师", "language_code": "zh-hans"}  # a cadre, not admin
XIAOHUA = {"id": 1004, "first_name": "小华", "language_code": "zh-hans"}
TEXT = "周六上午志愿者招募 <报名> & 集合：青年之家"
SHOWN = "周六上午志愿者招募 <报名> & 集合：青年之家"  # as the recipient reads it


@pytest.fixture
async def harness(sandbox: SandboxServer, sqlite_url: str) -> AsyncIterator[BotHarness]:
    """The bot, looking for finished broadcasts several times a second."""
    async for running in run_harness(sandbox, sqlite_url, broadcast_check_interval_s=0.2):
        yield running


async def _finished_notices(harness: BotHarness, seq: int) -> list[dict[str, Any]]:
    """Wait for the author's "finished" message, and a little longer for a second one."""
    await harness.client.wait_for_bot_message(
        WANG["id"], after_seq=seq, predicate=lambda m: "已发送完毕" in (m.get("text") or "")
    )
    await asyncio.sleep(0.6)  # three more checks, in which a second notice would come
    return [
        m
        for m in await harness.client.messages(WANG["id"])
        if m["from_bot"] and "已发送完毕" in (m.get("text") or "")
    ]


def _with(messages: list[dict[str, Any]], text: str) -> dict[str, Any]:
    """The newest bot message containing ``text`` (a "finished" notice may come between)."""
    found = [m for m in messages if m["from_bot"] and text in (m.get("text") or "")]
    assert found, f"no message with {text!r} among {[m.get('text') for m in messages]}"
    return found[-1]


async def _latest(harness: BotHarness, chat_id: int, text: str) -> dict[str, Any]:
    return _with(await harness.client.messages(chat_id), text)


async def _live(harness: BotHarness, chat_id: int, message: dict[str, Any]) -> dict[str, Any]:
    return await harness.message(chat_id, message["message_id"])


async def _youth(harness: BotHarness, user: dict[str, Any], *path: str) -> None:
    """/start, then walk the region picker."""
    picker = (await harness.send(user, "/start"))[-1]
    for label in path:
        await harness.press(user, await _live(harness, user["id"], picker), label)


async def _follow(harness: BotHarness, user: dict[str, Any], topic: str) -> dict[str, Any]:
    panel = (await harness.send(user, "/subscribe"))[-1]
    answer = await harness.press(user, panel, topic)
    assert answer["answered"] and not answer["show_alert"]
    return await _live(harness, user["id"], panel)


async def _compose(
    harness: BotHarness, text: str, regions: list[str], topics: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """As the admin: write, choose, and return the preview (announcement, summary)."""
    _with(await harness.send(WANG, "/broadcast"), "请输入通知内容")
    step = _with(await harness.send(WANG, text), "发给哪些区域")
    for label in regions:
        await harness.press(WANG, await _live(harness, WANG["id"], step), label)
    await harness.press(WANG, await _live(harness, WANG["id"], step), "下一步")
    step = await _latest(harness, WANG["id"], "哪些话题")
    for label in topics:
        await harness.press(WANG, await _live(harness, WANG["id"], step), label)
    await harness.press(WANG, await _live(harness, WANG["id"], step), "下一步")
    messages = [m for m in await harness.client.messages(WANG["id"]) if m["from_bot"]]
    summary = _with(messages, "接收人数")
    before = [m for m in messages if m["message_id"] < summary["message_id"]]
    return _with(before, "— 团委通知"), summary


async def _delivered(harness: BotHarness, broadcast_id: int) -> list[OutboxMessage]:
    """Wait until no row of the broadcast is left to send; return its rows."""
    async with asyncio.timeout(10):
        while True:
            async with harness.sessions() as session:
                rows = list(
                    await session.scalars(
                        select(OutboxMessage).where(
                            OutboxMessage.kind == "broadcast", OutboxMessage.ref_id == broadcast_id
                        )
                    )
                )
            if rows and all(r.state not in ("pending", "sending") for r in rows):
                return rows
            await asyncio.sleep(0.05)


async def _last_broadcast(harness: BotHarness) -> Broadcast:
    async with harness.sessions() as session:
        found = await session.scalar(select(Broadcast).order_by(Broadcast.id.desc()))
    assert found is not None
    return found


def _announcements(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["from_bot"] and "— 团委通知" in (m.get("text") or "")]


async def test_admin_composes_and_only_targeted_youths_receive_it(harness: BotHarness) -> None:
    await _youth(harness, XIAOMING, "东城区", "东湖街道")  # a street of 东城区
    await _youth(harness, XIAOHUA, "东城区", "新华街道")  # follows nothing
    await _youth(harness, XIAOMEI, "高新區")
    await _youth(harness, ALEX, "West District", "All of West District")  # outside
    panel = await _follow(harness, XIAOMING, "志愿服务")
    assert "✅ 志愿服务" in [b["text"] for b in buttons(panel)]
    await _follow(harness, XIAOMEI, "志願服務")
    await _follow(harness, ALEX, "Volunteering")

    announcement, summary = await _compose(harness, TEXT, ["东城区", "高新区"], ["志愿服务"])
    # The preview is the message young people get, then the targeting and the count.
    assert announcement["text"].startswith(SHOWN + "\n\n— 团委通知")
    assert "&lt;报名&gt; &amp;" in announcement["html"]
    assert [b["text"] for b in buttons(announcement)] == ["🔕 退订"]
    assert "区域：东城区、高新区" in summary["text"]
    assert "话题：志愿服务" in summary["text"]
    assert "接收人数：2" in summary["text"]

    seq = await harness.client.last_seq()
    await harness.press(WANG, summary, "发送")
    await _latest(harness, WANG["id"], "正在发给 2 名青年")
    assert buttons(await _live(harness, WANG["id"], summary)) == []  # no second send
    broadcast = await _last_broadcast(harness)
    assert broadcast.recipient_count == 2
    assert broadcast.state in (broadcasts.SENDING, broadcasts.DONE)  # done once delivered
    rows = await _delivered(harness, broadcast.id)
    assert sorted(r.chat_id for r in rows) == [XIAOMING["id"], XIAOMEI["id"]]
    assert {r.state for r in rows} == {"sent"}

    got = await harness.client.wait_for_bot_message(
        XIAOMING["id"], after_seq=seq, predicate=lambda m: "团委通知" in (m.get("text") or "")
    )
    assert got["text"] == announcement["text"]
    assert button_data(got, "退订") == f"v1:sbu:{broadcast.id}"
    hant = _announcements(await harness.client.messages(XIAOMEI["id"]))
    assert len(hant) == 0  # zh-Hant readers get the footer in their script
    hant = [
        m
        for m in await harness.client.messages(XIAOMEI["id"])
        if m["from_bot"] and SHOWN in (m.get("text") or "")
    ]
    assert (
        len(hant) == 1 and hant[0]["text"] == SHOWN + "\n\n— 團委通知 · 發送 /subscribe 選擇話題"
    )
    for outside in (XIAOHUA, ALEX):
        assert not [
            m
            for m in await harness.client.messages(outside["id"])
            if m["from_bot"] and SHOWN in (m.get("text") or "")
        ]

    # The author hears once that it finished.
    notices = await _finished_notices(harness, seq)
    assert len(notices) == 1
    assert f"通知 B{broadcast.id} 已发送完毕：送达 2，屏蔽了机器人 0，失败 0" in notices[0]["text"]
    assert (await _last_broadcast(harness)).state == broadcasts.DONE


async def test_broadcast_waits_out_quiet_hours(harness: BotHarness) -> None:
    clock = harness.app.bot_data.services.clock
    await _youth(harness, XIAOMING, "高新区")
    clock.set(datetime(2026, 11, 18, 23, 30, tzinfo=TZ))
    _, summary = await _compose(harness, "明早集合", [], [])
    assert "区域：全部区域" in summary["text"] and "话题：不限话题" in summary["text"]
    assert "接收人数：1" in summary["text"]
    seq = await harness.client.last_seq()
    await harness.press(WANG, summary, "发送")
    morning = datetime(2026, 11, 19, 8, 0, tzinfo=TZ)
    async with asyncio.timeout(10):
        while True:
            async with harness.sessions() as session:
                row = await session.scalar(
                    select(OutboxMessage).where(OutboxMessage.kind == "broadcast")
                )
            if row is not None and row.due_at >= morning:
                break
            await asyncio.sleep(0.05)
    assert row.state == "pending"
    assert not _announcements(await harness.client.messages(XIAOMING["id"]))
    clock.set(datetime(2026, 11, 19, 8, 1, tzinfo=TZ))
    got = await harness.client.wait_for_bot_message(
        XIAOMING["id"], after_seq=seq, predicate=lambda m: "明早集合" in (m.get("text") or "")
    )
    assert "团委通知" in got["text"]


async def test_unsubscribe_button_stops_later_broadcasts(harness: BotHarness) -> None:
    await _youth(harness, XIAOMING, "高新区")
    await _youth(harness, XIAOHUA, "高新区")
    _, summary = await _compose(harness, "第一条通知", ["高新区"], [])
    assert "接收人数：2" in summary["text"]
    seq = await harness.client.last_seq()
    await harness.press(WANG, summary, "发送")
    got = await harness.client.wait_for_bot_message(
        XIAOMING["id"], after_seq=seq, predicate=lambda m: "第一条通知" in (m.get("text") or "")
    )
    answer = await harness.press(XIAOMING, got, "退订")
    assert answer["text"] == "已退订"
    confirmation = await _latest(harness, XIAOMING["id"], "不会再收到通知")
    assert "/subscribe" in confirmation["text"]
    panel = (await harness.send(XIAOMING, "/subscribe"))[-1]
    assert "通知：关闭" in panel["text"]

    _, summary = await _compose(harness, "第二条通知", ["高新区"], [])
    assert "接收人数：1" in summary["text"]
    seq = await harness.client.last_seq()
    await harness.press(WANG, summary, "发送")
    await harness.client.wait_for_bot_message(
        XIAOHUA["id"], after_seq=seq, predicate=lambda m: "第二条通知" in (m.get("text") or "")
    )
    await _delivered(harness, (await _last_broadcast(harness)).id)
    texts = [m.get("text") or "" for m in await harness.client.messages(XIAOMING["id"])]
    assert not [t for t in texts if "第二条通知" in t]

    # Announcements back on from /subscribe: the next one reaches them again.
    await harness.press(XIAOMING, panel, "全部通知")
    assert "通知：开启" in (await _live(harness, XIAOMING["id"], panel))["text"]
    _, summary = await _compose(harness, "第三条通知", ["高新区"], [])
    assert "接收人数：2" in summary["text"]


async def test_subscribe_toggles_are_saved_and_shown(harness: BotHarness) -> None:
    await _youth(harness, XIAOMING, "高新区")
    panel = (await harness.send(XIAOMING, "/subscribe"))[-1]
    labels = [b["text"] for b in buttons(panel)]
    assert "▫️ 志愿服务" in labels and "▫️ 就业创业" in labels
    assert labels[-1].startswith("🔔 全部通知：开启")
    await harness.press(XIAOMING, panel, "志愿服务")
    await harness.press(XIAOMING, await _live(harness, XIAOMING["id"], panel), "就业创业")
    await harness.press(XIAOMING, await _live(harness, XIAOMING["id"], panel), "志愿服务")
    panel = await _live(harness, XIAOMING["id"], panel)
    labels = [b["text"] for b in buttons(panel)]
    assert "▫️ 志愿服务" in labels and "✅ 就业创业" in labels
    async with harness.sessions() as session:
        followed = list(await session.scalars(select(Subscription.topic_code)))
    assert followed == ["employment"]
    await harness.press(XIAOMING, panel, "全部通知")
    panel = await _live(harness, XIAOMING["id"], panel)
    assert "通知：关闭" in panel["text"]
    assert buttons(panel)[-1]["text"].startswith("🔕 全部通知：关闭")

    # Forged or stale data is refused, not acted on.
    answer = await harness.press_data(XIAOMING, panel["message_id"], "v1:sbt:astrology:1")
    assert answer["show_alert"] and "话题已经不存在" in answer["text"]
    answer = await harness.press_data(XIAOMING, panel["message_id"], "v1:bcok:77")
    assert answer["show_alert"] and "不能操作" in answer["text"]
    answer = await harness.press_data(XIAOMING, panel["message_id"], "v1:sbt:x:y:z")
    assert answer["show_alert"] and "失效" in answer["text"]


async def test_broadcast_is_refused_to_anyone_but_an_admin(harness: BotHarness) -> None:
    await _youth(harness, XIAOMING, "高新区")
    for person in (XIAOMING, LI):
        replies = await harness.send(person, "/broadcast")
        assert replies[-1]["text"] == "只有团委管理员可以发布通知。"
        replies = await harness.send(person, "/broadcasts")
        assert replies[-1]["text"] == "只有团委管理员可以发布通知。"
    async with harness.sessions() as session:
        assert await session.scalar(select(Broadcast)) is None
    # A youth pressing an admin's draft button is refused too.
    prompt = (await harness.send(WANG, "/broadcast"))[-1]
    step = (await harness.send(WANG, "测试"))[-1]
    data = button_data(step, "下一步")
    answer = await harness.press_data(XIAOMING, prompt["message_id"], data, chat_id=WANG["id"])
    assert answer["show_alert"] and "不能操作" in answer["text"]


async def test_cancel_and_wrong_input_while_composing(harness: BotHarness) -> None:
    await harness.send(WANG, "/broadcast")
    replies = await harness.send(WANG, "长" * 3501)
    assert "内容有 3501 字，上限是 3500 字" in replies[-1]["text"]
    step = (await harness.send(WANG, "活动通知"))[-1]
    replies = await harness.send(WANG, "再写一段")
    assert "请使用上一条消息的按钮" in replies[-1]["text"]
    forged = button_data(step, "东城区").replace("district-a", "atlantis")
    answer = await harness.press_data(WANG, step["message_id"], forged)
    assert answer["show_alert"] and "之前的步骤" in answer["text"]
    replies = await harness.send(WANG, "/cancel")
    assert replies[-1]["text"] == "已取消，通知没有发出。"
    assert (await _last_broadcast(harness)).state == broadcasts.CANCELLED
    answer = await harness.press(WANG, step, "下一步")
    assert answer["show_alert"] and "已经发出或已取消" in answer["text"]
    # Change from the preview: back to the text, the choices kept.
    _, summary = await _compose(harness, "初稿", ["高新区"], [])
    await harness.press(WANG, summary, "修改")
    await _latest(harness, WANG["id"], "请输入通知内容")
    step = _with(await harness.send(WANG, "定稿"), "发给哪些区域")
    assert "已选：高新区" in step["text"]


async def test_broadcasts_lists_counts_with_a_blocked_user(harness: BotHarness) -> None:
    await _youth(harness, XIAOMING, "高新区")
    await _youth(harness, XIAOHUA, "高新区")
    await harness.client.block(XIAOHUA["id"])
    replies = await harness.send(WANG, "/broadcasts")
    assert "还没有通知" in replies[-1]["text"]
    _, summary = await _compose(harness, "屏蔽测试", [], [])
    assert "接收人数：2" in summary["text"]
    seq = await harness.client.last_seq()
    await harness.press(WANG, summary, "发送")
    broadcast = await _last_broadcast(harness)
    rows = await _delivered(harness, broadcast.id)
    assert sorted(r.state for r in rows) == ["sent", "unreachable"]
    listing = _with(await harness.send(WANG, "/broadcasts"), "最近的通知")
    assert f"B{broadcast.id}" in listing["text"] and "屏蔽测试" in listing["text"]
    assert "接收 2 人：已送达 1，已屏蔽 1，失败 0，待发送 0" in listing["text"]
    answer = await harness.press(WANG, listing, "刷新")
    assert answer["answered"]
    notices = await _finished_notices(harness, seq)
    assert len(notices) == 1 and "送达 1，屏蔽了机器人 1，失败 0" in notices[0]["text"]
    # The blocked youth is now marked unreachable and left out of the next count.
    _, summary = await _compose(harness, "下一条", [], [])
    assert "接收人数：1" in summary["text"]


async def test_longest_announcement_fits_with_its_footer(harness: BotHarness) -> None:
    await _youth(harness, ALEX, "Hi-Tech Zone")
    # 3500 UTF-16 units (emoji count twice), the most the text step takes; the sandbox
    # fails the test if the preview or the delivered message breaks Telegram's limit.
    longest = "😀" * 1000 + "长" * 1500
    announcement, summary = await _compose(harness, longest, [], [])
    assert announcement["text"].startswith(longest)
    seq = await harness.client.last_seq()
    await harness.press(WANG, summary, "发送")
    got = await harness.client.wait_for_bot_message(
        ALEX["id"], after_seq=seq, predicate=lambda m: longest in (m.get("text") or "")
    )
    assert got["text"].endswith("— League committee announcement · /subscribe to choose topics")


async def test_an_abandoned_draft_is_cancelled_and_frees_the_chat(harness: BotHarness) -> None:
    from bot.sweeper import sweep

    await harness.send(WANG, "/broadcast")
    await harness.send(WANG, "周六青年之家开放日，欢迎参加")  # the text step, then left
    services = harness.app.bot_data.services
    services.clock.advance(hours=71)
    assert (await sweep(services)).drafts_expired == 0
    seq = await harness.client.last_seq()
    services.clock.advance(hours=2)
    assert (await sweep(services)).drafts_expired == 1
    notice = await harness.client.wait_for_bot_message(
        WANG["id"], after_seq=seq, timeout=10, predicate=lambda m: "通知草稿" in m["text"]
    )
    assert "已取消" in notice["text"] and "没有发出" in notice["text"]
    async with harness.sessions() as session:
        (draft,) = await session.scalars(select(Broadcast))
    assert draft.state == "cancelled"
    # The chat is free again: nothing waits there, and nothing is cancelled twice.
    async with harness.sessions() as session:
        assert await session.get(Conversation, WANG["id"]) is None
    assert (await sweep(services)).drafts_expired == 0
