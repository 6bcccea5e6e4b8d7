"""The per-update savings of issue 7 item 5: they must not change what the services decide."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import routing, users
from storage import migrate
from storage.base import utcnow
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import User


@pytest.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(sqlite_url)
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    await engine.dispose()


async def _touch(sessions: async_sessionmaker[AsyncSession], telegram_id: int) -> User:
    async with unit_of_work(sessions) as session:
        user, _ = await users.touch(
            session,
            telegram_id=telegram_id,
            first_name="小明",
            language_code="zh-hans",
            default_locale="zh-Hans",
        )
        return user


async def test_last_seen_is_refreshed_at_most_once_a_minute(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = (await _touch(sessions, 42)).last_seen_at
    assert (await _touch(sessions, 42)).last_seen_at == first  # seconds later: kept
    stale = utcnow() - users.LAST_SEEN_RESOLUTION - timedelta(seconds=1)
    async with unit_of_work(sessions) as session:
        await session.execute(update(User).values(last_seen_at=stale))
    refreshed = (await _touch(sessions, 42)).last_seen_at
    assert refreshed > first


async def test_reachable_answers_only_for_the_people_asked_about(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for telegram_id in (1, 2, 3):
        await _touch(sessions, telegram_id)
    async with unit_of_work(sessions) as session:
        await users.mark_unreachable(session, telegram_id=2)
    async with unit_of_work(sessions) as session:
        assert await routing.reachable(session, [1, 2]) == {1}
        assert await routing.reachable(session, [2, 3, 99]) == {3}
        assert await routing.reachable(session, []) == set()


async def test_a_known_sender_costs_one_read_and_no_flush(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _touch(sessions, 42)
    statements: list[str] = []
    flushes: list[int] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split()[0])

    async def touch(session: AsyncSession, name: str) -> User:
        user, created = await users.touch(
            session,
            telegram_id=42,
            first_name=name,
            language_code="zh-hans",
            default_locale="zh-Hans",
        )
        assert not created
        return user

    async with unit_of_work(sessions) as session:
        bind = session.get_bind()
        event.listen(bind, "before_cursor_execute", count)
        event.listen(session.sync_session, "before_flush", lambda *_: flushes.append(1))
        try:
            await touch(session, "小明")
            assert statements == ["SELECT"] and not flushes
            user = await touch(session, "小明明")  # a new name is written
            assert statements[-1] == "UPDATE" and flushes and user.first_name == "小明明"
        finally:
            event.remove(bind, "before_cursor_execute", count)
