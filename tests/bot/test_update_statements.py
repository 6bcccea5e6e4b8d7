"""The per-update savings of issue 7 item 5: they must not change what the services decide."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update
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
