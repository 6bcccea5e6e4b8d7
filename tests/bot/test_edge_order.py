"""VOY_CONCURRENT_UPDATES > 1: other chats go ahead, one chat waits its turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update

from bot.edge import SessionUpdateProcessor
from storage import migrate
from storage.db import create_engine, create_session_factory
from storage.models import INBOUND_HANDLED, InboundMessage

NOW = 1_790_000_000


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    await engine.dispose()


def _update(update_id: int, chat_id: int, text: str) -> Update:
    sender = {"id": chat_id, "is_bot": False, "first_name": "小明"}
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": NOW,
                "chat": {"id": chat_id, "type": "private"},
                "from": sender,
                "text": text,
            },
        },
        None,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("slots", [4, 2])
async def test_one_chat_in_order_other_chats_meanwhile(
    sessions: async_sessionmaker[AsyncSession], slots: int
) -> None:
    """With 2 slots, the first chat's waiting updates must not hold the second slot."""
    processor = SessionUpdateProcessor(
        sessions, default_locale="zh-Hans", max_concurrent_updates=slots
    )
    journal: list[str] = []
    release_first = asyncio.Event()
    other_done = asyncio.Event()

    async def work(name: str, gate: asyncio.Event | None = None) -> None:
        journal.append(f"{name} start")
        if gate is not None:
            await gate.wait()
        journal.append(f"{name} end")
        if name == "b1":
            other_done.set()

    # Both people wrote before: on SQLite a first-time sender's row would take the write
    # lock, and the other chat would wait for it whatever the processor does.
    for n, chat in ((1, 100), (2, 200)):
        await processor.process_update(_update(n, chat, "你好"), work(f"hello{n}"))
    journal.clear()

    a1, a2, a3 = _update(11, 100, "第一步"), _update(12, 100, "第二步"), _update(13, 100, "第三步")
    b1 = _update(14, 200, "别人的问题")
    tasks = [
        asyncio.create_task(processor.process_update(a1, work("a1", release_first))),
        asyncio.create_task(processor.process_update(a2, work("a2"))),
        asyncio.create_task(processor.process_update(a3, work("a3"))),
        asyncio.create_task(processor.process_update(b1, work("b1"))),
    ]
    # Another chat is handled while the first chat's first update is still running...
    await asyncio.wait_for(other_done.wait(), timeout=10)
    await asyncio.wait_for(tasks[3], timeout=10)  # and committed
    assert "a1 start" in journal and "a1 end" not in journal
    # ...and that chat's later updates have not started.
    assert "a2 start" not in journal and "a3 start" not in journal
    assert processor.chats_in_hand() == 1

    release_first.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    mine = [entry for entry in journal if entry.startswith("a")]
    assert mine == ["a1 start", "a1 end", "a2 start", "a2 end", "a3 start", "a3 end"]
    assert processor.chats_in_hand() == 0  # no lock left behind

    async with sessions() as session:
        statuses = list(await session.scalars(select(InboundMessage.status)))
    assert statuses == [INBOUND_HANDLED] * 6


async def test_sequential_processing_needs_no_chat_locks(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    processor = SessionUpdateProcessor(
        sessions, default_locale="zh-Hans", max_concurrent_updates=1
    )
    seen: list[int] = []

    async def work(n: int) -> None:
        seen.append(n)

    for n in (1, 2):
        await processor.process_update(_update(n, 300, f"问题{n}"), work(n))
    assert seen == [1, 2]
    assert processor.chats_in_hand() == 0


async def test_a_webhook_update_resent_while_handled_elsewhere_is_handled_once(
    postgres_url: str,
) -> None:
    """Two instances (PostgreSQL, no intake, as with webhooks): Telegram re-sends an update
    to the second while the first is still handling it. The copy waits for the first
    instance's commit and is skipped, so the work and the reply happen once."""
    engine = create_engine(postgres_url)
    await migrate.upgrade(engine)
    sessions = create_session_factory(engine)
    first, second = (SessionUpdateProcessor(sessions, default_locale="zh-Hans") for _ in range(2))
    journal: list[str] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def work(name: str, gate: asyncio.Event | None = None) -> None:
        journal.append(name)
        if gate is not None:
            started.set()
            await gate.wait()

    try:
        await first.process_update(_update(1, 100, "你好"), work("hello"))
        update = _update(2, 100, "我的问题")
        handling = asyncio.create_task(first.process_update(update, work("first", release)))
        await asyncio.wait_for(started.wait(), timeout=10)
        resent = asyncio.create_task(second.process_update(update, work("second")))
        await asyncio.sleep(0.3)
        # Before, the first instance committed the update's row before handling it, so
        # the second found it still waiting and handled it as well (two replies).
        assert "second" not in journal
        release.set()
        await asyncio.wait_for(asyncio.gather(handling, resent), timeout=10)
        assert journal == ["hello", "first"]
        async with sessions() as session:
            statuses = list(await session.scalars(select(InboundMessage.status)))
        assert statuses == [INBOUND_HANDLED] * 2
    finally:
        await engine.dispose()
