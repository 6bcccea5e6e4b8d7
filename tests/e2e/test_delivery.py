"""Updates are stored once and handled once, across restarts and redeliveries."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from telegram import Update

from sandbox import SandboxServer
from storage.models import InboundMessage
from tests.conftest import STAFF, TOKEN, run_harness
from tests.support import XIAOMING, BotHarness, texts


async def _count(harness: BotHarness) -> int:
    async with harness.sessions() as session:
        return int(await session.scalar(select(func.count(InboundMessage.id))) or 0)


async def test_restart_with_reused_update_ids_still_answers(database_url: str) -> None:
    """A new sandbox numbers updates from 1 again, as Telegram may; the bot must not skip them."""
    for round_ in range(2):
        if round_:
            # Message dates have one-second resolution; a real restart takes longer.
            await asyncio.sleep(1.1)
        server = SandboxServer(token=TOKEN, port=0)
        await server.start()
        try:
            async for harness in run_harness(server, database_url):
                mark = await harness.inbound_mark()
                sent = await harness.client.send_text(XIAOMING, "/help")
                assert sent["update_id"] == 1
                await harness.settled(sent["update_id"], after=mark)
                replies = [
                    m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]
                ]
                assert "使用说明" in texts(replies), f"round {round_}: no answer"
                assert await _count(harness) == round_ + 1
        finally:
            await server.stop()
        assert not server.violations


async def test_redelivered_update_is_handled_once(harness: BotHarness) -> None:
    replies = await harness.send(XIAOMING, "/help")
    assert len(replies) == 1
    async with harness.sessions() as session:
        row = await session.scalar(select(InboundMessage))
    assert row is not None
    await harness.app.update_queue.put(Update.de_json(row.payload, harness.app.bot))
    # The redelivery is processed (and skipped) before this next update is.
    after = await harness.send(XIAOMING, "/help")
    assert len(after) == 1
    assert await _count(harness) == 2


async def test_core_flows_on_postgres(postgres_url: str) -> None:
    """The first conversation and a question, on PostgreSQL, with an odd language code."""
    # The staff have started the bot, so the routed question's card reaches its cadre
    # whether or not the deliverer runs before the harness stops.
    server = SandboxServer(token=TOKEN, port=0, personas=STAFF)
    await server.start()
    try:
        async for harness in run_harness(server, postgres_url):
            odd = {**XIAOMING, "language_code": "zh-hans-" + "x" * 40}
            replies = await harness.send(odd, "/start")
            assert "青年之声" in texts(replies)
            await harness.press(odd, replies[-1], "高新区")
            user = await harness.user(XIAOMING["id"])
            assert user is not None and user.region_code == "district-c"
            (answer,) = await harness.send(odd, "请问几岁可以入团")
            assert "十四周岁" in answer["text"]
            (routed,) = await harness.send(odd, "篮球场什么时候修好")
            assert "转给团干部" in routed["text"]
    finally:
        await server.stop()
    assert not server.violations
