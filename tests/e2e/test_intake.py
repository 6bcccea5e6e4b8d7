"""The durable intake: updates are stored before they are acknowledged, and recovered."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
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


async def test_a_batch_is_stored_in_one_commit_before_it_is_queued_and_queued_once(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    """put collects; flush stores and commits the batch, then queues it; a delivery
    stored before is not queued again."""
    await prepare(sqlite_url)
    update = await _acknowledged_update(sandbox)
    engine = create_engine(sqlite_url)
    sessions = create_session_factory(engine)
    commits: list[object] = []
    event.listen(engine.sync_engine, "commit", commits.append)
    try:
        queue = DurableUpdateQueue(sessions)
        await queue.put(update)
        assert queue.qsize() == 0, "queued before it was stored"
        async with sessions() as session:
            assert await session.scalar(select(InboundMessage)) is None
        assert await queue.flush() == 1
        assert (queue.qsize(), len(commits)) == (1, 1)
        await queue.put(update)  # redelivered: the batch was not confirmed
        assert await queue.flush() == 0
        assert queue.qsize() == 1
        assert await queue.flush() == 0  # nothing collected: no transaction at all
        assert len(commits) == 2
        async with sessions() as session:
            rows = list(await session.scalars(select(InboundMessage)))
        assert [(r.status, r.text) for r in rows] == [(INBOUND_RECEIVED, "多大年龄可以申请入团？")]
    finally:
        await engine.dispose()


async def test_a_batch_whose_commit_fails_is_not_confirmed_and_is_handled_later(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    """While the inbound log cannot be written, the bot confirms nothing it fetched: the
    update stays with Telegram (here the sandbox) and is handled, once, when it can be."""
    failing = True
    refused: list[str] = []

    def refuse_inbound(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if failing and statement.lstrip().upper().startswith("INSERT INTO INBOUND_MESSAGES"):
            refused.append(statement)
            raise sqlite3.OperationalError("disk I/O error (injected)")

    event.listen(Engine, "before_cursor_execute", refuse_inbound)
    try:
        async for harness in run_harness(sandbox, sqlite_url):
            seq = await harness.client.last_seq()
            await harness.client.send_text(XIAOMING, "多大年龄可以申请入团？")
            for _ in range(200):  # the bot fetches it and fails to store it, and again
                if len(refused) >= 2:
                    break
                await asyncio.sleep(0.05)
            assert len(refused) >= 2
            assert [u["update_id"] for u in sandbox.core.updates.pending] == [1]
            assert not [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]]
            failing = False
            await harness.client.wait_for_bot_message(XIAOMING["id"], after_seq=seq, timeout=10)
            await harness.settled(1)
            replies = [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]]
            assert len(replies) == 1 and "十四周岁" in replies[0]["text"]
            async with harness.sessions() as session:
                rows = list(await session.scalars(select(InboundMessage)))
            assert [(r.status, r.text) for r in rows] == [
                (INBOUND_HANDLED, "多大年龄可以申请入团？")
            ]
            assert not sandbox.core.updates.pending  # confirmed once stored
    finally:
        event.remove(Engine, "before_cursor_execute", refuse_inbound)


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


async def test_the_next_fetch_waits_until_the_queue_is_taken(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    """IntakeRequest fetches again only once every queued update was taken for handling:
    under load the updates wait with Telegram and come in one batch, one commit."""
    await prepare(sqlite_url)
    update = await _acknowledged_update(sandbox)
    engine = create_engine(sqlite_url)
    try:
        queue = DurableUpdateQueue(create_session_factory(engine))
        await queue.put(update)
        assert await queue.flush() == 1
        waiting = asyncio.create_task(queue.drained())
        await asyncio.sleep(0.05)
        assert not waiting.done(), "fetching while updates wait in memory"
        assert await queue.get() is update
        await asyncio.wait_for(waiting, 1)
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_a_busy_bot_leaves_new_updates_with_telegram_and_takes_them_in_one_batch(
    sandbox: SandboxServer, postgres_url: str
) -> None:
    """While the bot is still on one update, updates arriving one by one are not fetched
    one by one: the next getUpdates waits until the queue is taken, then brings them all.

    On PostgreSQL: on SQLite the update in hand holds the write lock until its commit, so
    storing the next batch waits for it anyway.
    """

    def fetches() -> int:
        return sum(call["method"] == "getUpdates" for call in sandbox.core.calls)

    async for harness in run_harness(sandbox, postgres_url):
        sandbox.core.latency["sendmessage"] = 1.5  # a slow Telegram holds the first reply
        seq = await harness.client.last_seq()
        await harness.client.send_text(XIAOMING, "多大年龄可以申请入团？")
        await asyncio.sleep(0.3)
        before = fetches()
        people = [
            {"id": 9100 + n, "first_name": f"青年{n}", "language_code": "zh-hans"}
            for n in range(4)
        ]
        for person in people:
            await harness.client.send_text(person, "团费怎么交？")
            await asyncio.sleep(0.15)
        during = fetches() - before
        sandbox.core.latency.clear()
        for chat_id in [XIAOMING["id"], *(p["id"] for p in people)]:
            await harness.client.wait_for_bot_message(chat_id, after_seq=seq, timeout=10)
        # One fetch brought the second message; the next waited for the queue to be taken.
        assert during <= 2, f"{during} fetches while the bot was busy"
