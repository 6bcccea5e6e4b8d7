"""Scheduled messages reach people through the running bot, once, across a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.clock import Clock
from bot.delivery import Deliverer, DeliverySettings, register
from bot.services import outbox
from sandbox import SandboxServer
from storage.db import unit_of_work
from storage.outbox import OutboxMessage
from tests.conftest import run_harness
from tests.support import XIAOMING, BotHarness

YOUTH_ID = cast(int, XIAOMING["id"])
SETTINGS = DeliverySettings(interval_s=0.1, rate_per_s=100.0)
TEXT = "你的问题<b>解决了吗</b>?"


def daytime_clock() -> Clock:
    """A clock at 10:00 in Shanghai today, so quiet hours do not hold the youth back."""
    clock = Clock()
    today = datetime.now(ZoneInfo(SETTINGS.timezone)).date()
    clock.set(datetime.combine(today, time(10), ZoneInfo(SETTINGS.timezone)).astimezone(UTC))
    return clock


def start_delivering(harness: BotHarness, clock: Clock) -> None:
    """Wire the deliverer as the composition root will: one repeating job."""
    deliverer = Deliverer(harness.app.bot, harness.sessions, clock, SETTINGS)
    register(harness.app, deliverer, SETTINGS)
    assert harness.app.job_queue is not None
    assert len(harness.app.job_queue.get_jobs_by_name("outbox")) == 1


async def schedule(harness: BotHarness, clock: Clock, *, after: timedelta) -> None:
    async with unit_of_work(harness.sessions) as session:
        row = await outbox.enqueue(
            session,
            kind="resolved_check",
            chat_id=YOUTH_ID,
            recipient_user_id=YOUTH_ID,
            text=TEXT,
            due_at=clock.now() + after,
            dedupe_key="resolved:question:1",
            audience="youth",
            ref=("question", 1),
        )
    assert row is not None


async def stored(harness: BotHarness) -> OutboxMessage:
    async with harness.sessions() as session:
        row = await session.scalar(select(OutboxMessage))
    assert row is not None
    return row


async def copies(harness: BotHarness) -> int:
    messages = await harness.client.messages(YOUTH_ID)
    return sum(1 for m in messages if m["from_bot"] and m.get("text") == "你的问题解决了吗?")


async def settle(harness: BotHarness) -> None:
    """Let a few more ticks pass, in which a second copy would be sent if it were."""
    await asyncio.sleep(SETTINGS.interval_s * 5)


async def test_due_message_arrives_once(harness: BotHarness) -> None:
    clock = daytime_clock()
    await harness.send(XIAOMING, "/start")  # the private chat exists once they wrote
    start_delivering(harness, clock)
    mark = await harness.client.last_seq()
    await schedule(harness, clock, after=timedelta(0))

    message = await harness.client.wait_for_bot_message(YOUTH_ID, after_seq=mark)
    assert message["html"] == TEXT
    await settle(harness)
    assert await copies(harness) == 1
    row = await stored(harness)
    assert row.state == "sent" and row.sent_message_id == message["message_id"]


async def test_restart_between_scheduling_and_delivery_delivers_once(
    sandbox: SandboxServer, database_url: str
) -> None:
    clock = daytime_clock()
    async for harness in run_harness(sandbox, database_url):
        await harness.send(XIAOMING, "/start")
        start_delivering(harness, clock)
        await schedule(harness, clock, after=timedelta(hours=1))
        await settle(harness)
        assert await copies(harness) == 0
        assert (await stored(harness)).state == "pending"

    clock.advance(hours=1)
    async for harness in run_harness(sandbox, database_url):
        mark = await harness.client.last_seq()
        start_delivering(harness, clock)
        message = await harness.client.wait_for_bot_message(YOUTH_ID, after_seq=mark)
        assert message["html"] == TEXT
        await settle(harness)
        assert await copies(harness) == 1
        row = await stored(harness)
        assert (row.state, row.sent_message_id) == ("sent", message["message_id"])
