"""The durable intake: updates are stored before they are acknowledged, and recovered."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from telegram import Bot

from bot.intake import DurableUpdateQueue
from bot.services import inbox
from sandbox import SandboxClient, SandboxServer
from storage.db import create_engine, create_session_factory
from storage.models import INBOUND_HANDLED, INBOUND_RECEIVED, InboundMessage
from tests.conftest import prepare, run_harness
from tests.support import TOKEN, XIAOMING


async def _acknowledged_update(server: SandboxServer) -> object:
    """A user's message fetched and confirmed, as by a process that then died."""
    async with SandboxClient(server.url.rstrip("/")) as client:
        await client.send_text(XIAOMING, "多大年龄可以申请入团？")
    async with Bot(TOKEN, base_url=server.base_url) as bot:
        updates = await bot.get_updates(timeout=0)
        assert len(updates) == 1
        await bot.get_updates(offset=updates[0].update_id + 1, timeout=0)  # confirm it
        assert not await bot.get_updates(timeout=0)
        return updates[0]


async def test_put_stores_before_queuing_and_queues_once(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    """put commits the update first; the same delivery put again is not queued twice."""
    await prepare(sqlite_url)
    update = await _acknowledged_update(sandbox)
    engine = create_engine(sqlite_url)
    sessions = create_session_factory(engine)
    try:
        queue = DurableUpdateQueue(sessions)
        await queue.put(update)
        await queue.put(update)  # redelivered: the batch was not confirmed
        assert queue.qsize() == 1
        async with sessions() as session:
            rows = list(await session.scalars(select(InboundMessage)))
        assert [(r.status, r.text) for r in rows] == [(INBOUND_RECEIVED, "多大年龄可以申请入团？")]
    finally:
        await engine.dispose()


async def test_update_acknowledged_but_not_handled_is_handled_after_restart(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    """A process killed after storing an update (so Telegram forgot it) loses nothing."""
    await prepare(sqlite_url)
    update = await _acknowledged_update(sandbox)
    engine = create_engine(sqlite_url)
    try:
        async with create_session_factory(engine)() as session:
            await inbox.store(session, update)  # type: ignore[arg-type]
            await session.commit()
    finally:
        await engine.dispose()

    async for harness in run_harness(sandbox, sqlite_url):
        for _ in range(200):
            async with harness.sessions() as session:
                row = await session.scalar(select(InboundMessage))
            assert row is not None
            if row.status != INBOUND_RECEIVED:
                break
            await asyncio.sleep(0.05)
        assert row.status == INBOUND_HANDLED
        replies = [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]]
        assert len(replies) == 1
        assert "十四周岁" in replies[0]["text"]


async def test_mark_done_lets_only_one_handler_commit(sqlite_url: str) -> None:
    """Of two sessions handling the same update, the second's mark fails (it rolls back)."""
    await prepare(sqlite_url)
    engine = create_engine(sqlite_url)
    sessions = create_session_factory(engine)
    server = SandboxServer(token=TOKEN, port=0)
    await server.start()
    try:
        update = await _acknowledged_update(server)
        async with sessions() as session:
            inbound_id = await inbox.store(session, update)  # type: ignore[arg-type]
            await session.commit()
        assert inbound_id is not None
        async with sessions() as first, sessions() as second:
            assert await inbox.to_handle(first, update) == inbound_id  # type: ignore[arg-type]
            assert await inbox.mark_done(first, inbound_id=inbound_id)
            await first.commit()
            assert not await inbox.mark_done(second, inbound_id=inbound_id)
            assert await inbox.to_handle(second, update) is None  # type: ignore[arg-type]
    finally:
        await server.stop()
        await engine.dispose()
