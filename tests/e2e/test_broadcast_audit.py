"""What an audit of committee broadcasts and /subscribe found: each test failed on the
code before its fix (the docstrings say what went wrong)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sandbox import SandboxServer
from storage.broadcasts import Broadcast
from storage.outbox import OutboxMessage
from tests.conftest import run_harness
from tests.e2e.test_broadcasts import (
    TZ,
    WANG,
    XIAOHUA,
    _compose,
    _last_broadcast,
    _live,
    _youth,
)
from tests.support import XIAOMING, BotHarness, buttons


@pytest.fixture
async def harness(sandbox: SandboxServer, sqlite_url: str) -> AsyncIterator[BotHarness]:
    """The bot, looking for finished broadcasts several times a second."""
    async for running in run_harness(sandbox, sqlite_url, broadcast_check_interval_s=0.2):
        yield running


async def _rows(harness: BotHarness, broadcast_id: int) -> list[OutboxMessage]:
    async with harness.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "broadcast", OutboxMessage.ref_id == broadcast_id
                )
            )
        )


async def _settle(harness: BotHarness, broadcast_id: int) -> list[OutboxMessage]:
    """Wait until no row of the broadcast is pending or being sent."""
    async with asyncio.timeout(10):
        while True:
            rows = await _rows(harness, broadcast_id)
            if rows and all(r.state not in ("pending", "sending") for r in rows):
                return rows
            await asyncio.sleep(0.05)


async def test_turning_announcements_off_stops_one_still_queued(harness: BotHarness) -> None:
    """A broadcast confirmed at night waits for the morning; a young person who turns
    announcements off meanwhile (the /subscribe switch) must not get it at 08:00."""
    clock = harness.app.bot_data.services.clock
    await _youth(harness, XIAOMING, "高新区")
    await _youth(harness, XIAOHUA, "高新区")
    clock.set(datetime(2026, 11, 18, 23, 30, tzinfo=TZ))
    _, summary = await _compose(harness, "明早集合", [], [])
    assert "接收人数：2" in summary["text"]
    await harness.press(WANG, summary, "发送")
    broadcast = await _last_broadcast(harness)
    # Still at night: XIAOMING turns every announcement off.
    panel = (await harness.send(XIAOMING, "/subscribe"))[-1]
    await harness.press(XIAOMING, panel, "全部通知")
    assert "通知：关闭" in (await _live(harness, XIAOMING["id"], panel))["text"]
    clock.set(datetime(2026, 11, 19, 8, 1, tzinfo=TZ))
    rows = await _settle(harness, broadcast.id)
    delivered = [
        m
        for m in await harness.client.messages(XIAOMING["id"])
        if m["from_bot"] and "明早集合" in (m.get("text") or "")
    ]
    assert delivered == [], (
        "the announcement reached a young person who had turned announcements off "
        f"before it went out (rows: {[(r.chat_id, r.state) for r in rows]})"
    )


async def test_a_draft_left_for_a_wish_is_still_cancelled_and_its_author_told(
    harness: BotHarness,
) -> None:
    """README: "A draft left for VOY_WISH_DRAFT_EXPIRY_HOURS is cancelled (nothing is
    sent) and its author told". An admin who opens /wish while writing a broadcast
    leaves the broadcast row in state "draft" for good: no sweep ever cancels it."""
    from bot.sweeper import sweep

    await harness.send(WANG, "/broadcast")
    await harness.send(WANG, "周六青年之家开放日")  # the text step, then /wish
    await harness.send(WANG, "/wish")
    services = harness.app.bot_data.services
    services.clock.advance(hours=200)  # well past both draft expiries
    await sweep(services)
    async with harness.sessions() as session:
        (draft,) = await session.scalars(select(Broadcast))
    assert draft.state == "cancelled", f"broadcast B{draft.id} left in state {draft.state!r}"


def _big_grid(tmp_path: Path) -> Path:
    """The demo org with three more districts, each with 30 streets (101 regions under
    the city: a middling city's grid)."""
    import yaml

    from bot.data import DEMO_ORG

    spec = yaml.safe_load(Path(DEMO_ORG).read_text(encoding="utf-8"))
    city = spec["regions"][0]
    for district in ("d", "e", "f"):
        city["children"].append(
            {
                "code": f"district-{district}",
                "names": {"zh-Hans": f"{district.upper()}区"},
                "children": [
                    {"code": f"{district}-street-{i}", "names": {"zh-Hans": f"{district}{i}街道"}}
                    for i in range(30)
                ],
            }
        )
    path = tmp_path / "big_org.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


async def _load_big_grid(harness: BotHarness, tmp_path: Path) -> None:
    from bot.services import org
    from storage.db import unit_of_work

    parsed = org.parse_org_file(_big_grid(tmp_path))
    async with unit_of_work(harness.sessions) as session:
        await org.load_org(session, parsed, default_locale="zh-Hans")


async def test_every_district_can_be_chosen_in_a_larger_grid(
    harness: BotHarness, tmp_path: Path
) -> None:
    """The region step lists the grid in tree order but stops after 60 buttons: with 101
    regions, the last district (and the streets after the 60th) cannot be chosen at
    all, so a broadcast to it cannot be written."""
    await _load_big_grid(harness, tmp_path)
    await harness.send(WANG, "/broadcast")
    step = (await harness.send(WANG, "F区活动通知"))[-1]
    labels = [b["text"] for b in buttons(step)]
    assert "F区" in labels, f"no button for F区 among {len(labels)} buttons; last: {labels[-3:]}"
    # A grid this large is a tree with one branch open: open F区, choose its last street.
    (opener,) = [
        b
        for b in buttons(step)
        if b["callback_data"].startswith("v1:bco:") and b["callback_data"].endswith(":district-f")
    ]
    await harness.press_data(WANG, step["message_id"], opener["callback_data"])
    step = await _step_message(harness, step["message_id"])
    labels = [b["text"] for b in buttons(step)]
    assert "· f29街道" in labels and "· e29街道" not in labels, labels
    assert len(labels) < 100
    await harness.press(WANG, step, "· f29街道")
    step = await _step_message(harness, step["message_id"])
    assert "✅ · f29街道" in [b["text"] for b in buttons(step)]  # the branch stays open
    async with harness.sessions() as session:
        chosen = await session.scalar(select(Broadcast.region_codes))
    assert chosen == ["f-street-29"]


async def _step_message(harness: BotHarness, message_id: int) -> dict[str, Any]:
    """The admin's region step message as it stands after an edit."""
    (found,) = [
        m for m in await harness.client.messages(WANG["id"]) if m["message_id"] == message_id
    ]
    return found


async def test_someone_who_only_wrote_in_a_group_is_not_counted_as_a_recipient(
    harness: BotHarness,
) -> None:
    """A member of the committee's group who is not staff, and never opened a private
    chat with the bot, is registered by their group message (no region, no role) and
    then counted and targeted by every "all regions" broadcast, though the bot cannot
    reach them (Telegram refuses a first private message: 403, counted as blocked)."""
    from tests.support import COMMITTEE_CHAT

    await _youth(harness, XIAOMING, "高新区")
    secretary = {"id": 2099, "first_name": "秘书", "language_code": "zh-hans"}
    await harness.send(secretary, "收到，我去准备会议室", chat_id=COMMITTEE_CHAT)
    _, summary = await _compose(harness, "全市通知", [], [])
    assert "接收人数：1" in summary["text"], summary["text"]
    # Once they write to the bot in private, they are reachable and counted.
    await harness.send(secretary, "/start")
    _, summary = await _compose(harness, "全市通知", [], [])
    assert "接收人数：2" in summary["text"], summary["text"]


async def test_a_stale_switch_labelled_turn_off_does_not_turn_announcements_on(
    harness: BotHarness,
) -> None:
    """The /subscribe switch carries no target state ("sba" flips whatever is stored).
    A young person opens /subscribe (🔔 on, "tap to turn off"), then taps 🔕 under an
    announcement (off); tapping the panel's "tap to turn off" afterwards turns
    announcements back ON, the opposite of what the button they pressed says."""
    await _youth(harness, XIAOMING, "高新区")
    panel = (await harness.send(XIAOMING, "/subscribe"))[-1]
    switch = buttons(panel)[-1]["text"]
    assert switch.startswith("🔔 全部通知：开启（点一下关闭）")
    seq = await harness.client.last_seq()
    _, summary = await _compose(harness, "第一条通知", [], [])
    await harness.press(WANG, summary, "发送")
    got = await harness.client.wait_for_bot_message(
        XIAOMING["id"], after_seq=seq, predicate=lambda m: "第一条通知" in (m.get("text") or "")
    )
    await harness.press(XIAOMING, got, "退订")
    await harness.press(XIAOMING, panel, "点一下关闭")  # the old panel: "tap to turn off"
    shown = (await _live(harness, XIAOMING["id"], panel))["text"]
    assert "通知：关闭" in shown, f"pressing 'tap to turn off' left announcements on: {shown!r}"
