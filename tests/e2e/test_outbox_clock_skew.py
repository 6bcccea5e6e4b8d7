"""The outbox lease is taken and judged on the database's clock, not each host's."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.delivery import Deliverer, DeliverySettings
from bot.services import outbox
from storage.db import unit_of_work
from tests.support import BotHarness

WANG_ID = 2001  # a staff persona: the private chat exists


async def test_an_instance_whose_clock_runs_ahead_does_not_resend_a_push_in_flight(
    harness: BotHarness,
) -> None:
    """bot/leases.py takes job leases on the database's clock because "hosts' clocks
    drift, and one running ahead would otherwise take a live lease". The outbox's lease
    did not: lease_until was written from the claiming host's clock and compared with
    the other host's, so with the default 60 s lease a second instance whose clock ran
    ~30 s ahead reclaimed a row whose first sender was still waiting for Telegram, and
    the push went out twice. Scaled down here: a 4 s lease, a 3 s skew, a 2 s send."""
    assert harness.app.job_queue is not None
    harness.app.job_queue.scheduler.remove_job("outbox")  # only our two deliverers run
    settings = DeliverySettings(interval_s=0.1, rate_per_s=100.0, lease_s=4.0)
    services = harness.app.bot_data.services
    from bot.clock import Clock

    behind, ahead = Clock(), Clock()
    behind.set(services.clock.now())
    ahead.set(services.clock.now() + timedelta(seconds=3))
    first = Deliverer(harness.app.bot, harness.sessions, behind, settings)
    second = Deliverer(harness.app.bot, harness.sessions, ahead, settings)
    async with unit_of_work(harness.sessions) as session:
        await outbox.enqueue(
            session,
            kind="sla_reminder",
            chat_id=WANG_ID,
            recipient_user_id=WANG_ID,
            text="⏰ 提醒：问题 #1 已等待 24 小时",
            due_at=behind.now(),
            dedupe_key="sla:1:1:1",
            audience="staff",
        )
    await harness.client.set_latency("sendMessage", 2.0)
    sending = asyncio.create_task(first.run_once())
    await asyncio.sleep(1.5)  # the first host is still waiting for Telegram
    await second.run_once()
    await sending
    copies = [
        m
        for m in await harness.client.messages(WANG_ID)
        if m["from_bot"] and "问题 #1 已等待" in (m.get("text") or "")
    ]
    assert len(copies) == 1, f"sent {len(copies)} times"
