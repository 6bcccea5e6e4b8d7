"""Migrations apply, match the models, and revert, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from storage import migrate
from storage.base import Base
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import User


async def _round_trip(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) is not None

        def diff(connection: Connection) -> list[object]:
            return compare_metadata(MigrationContext.configure(connection), Base.metadata)

        async with engine.connect() as connection:
            assert await connection.run_sync(diff) == [], "models and migrations disagree"

        sessions = create_session_factory(engine)
        async with unit_of_work(sessions) as session:
            session.add(
                User(telegram_id=9_000_000_001, first_name="青年", locale="zh-Hans", roles=[])
            )
        async with sessions() as session:
            user = await session.scalar(select(User).where(User.telegram_id == 9_000_000_001))
            assert user is not None and user.first_name == "青年"
            assert user.created_at.tzinfo is not None

        await migrate.downgrade(engine, "base")

        def tables(connection: Connection) -> set[str]:
            return set(inspect(connection).get_table_names())

        async with engine.connect() as connection:
            assert await connection.run_sync(tables) <= {"alembic_version"}
    finally:
        await engine.dispose()


@pytest.mark.sqlite_only("SQLite's migrations; test_postgres_round_trip does PostgreSQL")
async def test_sqlite_round_trip(sqlite_file_url: str) -> None:
    await _round_trip(sqlite_file_url)


async def test_postgres_round_trip(postgres_url: str) -> None:
    await _round_trip(postgres_url)


async def test_two_upgrades_at_once_on_postgres_both_succeed(postgres_url: str) -> None:
    """Two instances' deploy steps upgrading an empty database at the same moment: the
    second waits for the first (an advisory lock) and finds it current. Without the
    lock one of them failed on a unique violation of alembic's version table (in two
    processes) or both waited on each other's tables (in one)."""
    engines = [create_engine(postgres_url) for _ in range(2)]
    try:
        async with asyncio.timeout(60):
            await asyncio.gather(*(migrate.upgrade(engine) for engine in engines))
        heads = {await migrate.current_revision(engine) for engine in engines}
        assert len(heads) == 1 and None not in heads
    finally:
        for engine in engines:
            await engine.dispose()


async def _alerts_backfilled(url: str) -> None:
    """0014: an urgent question from before gets its alert, at the time it was asked."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from storage.questions import Question, QuestionEvent
    from tests.support import user_as_of_old_revision

    engine = create_engine(url)
    try:
        await migrate.upgrade(engine, "0013_inbound_requeue")
        sessions = create_session_factory(engine)
        asked = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
        # Rows as that revision has them (Core, its columns only: the models are newer).
        async with engine.begin() as connection:
            user_id = await user_as_of_old_revision(connection, 9_000_000_002)
            ids = []
            for text, urgent in (("救救我", True), ("团费怎么交", False)):
                ids.append(
                    (
                        await connection.execute(
                            insert(Question.__table__)
                            .values(
                                user_id=user_id,
                                text=text,
                                status="new",
                                urgent=urgent,
                                asked_at=asked,
                                last_activity_at=asked,
                            )
                            .returning(Question.__table__.c.id)
                        )
                    ).scalar_one()
                )
            urgent_id = ids[0]

        async def alerts() -> list[tuple[int, datetime]]:
            async with sessions() as session:
                rows = await session.execute(
                    select(QuestionEvent.question_id, QuestionEvent.created_at).where(
                        QuestionEvent.trigger == "alert"
                    )
                )
                return [(qid, at) for qid, at in rows]

        await migrate.upgrade(engine)
        assert await alerts() == [(urgent_id, asked)]
        await migrate.downgrade(engine, "0013_inbound_requeue")
        assert await alerts() == []
    finally:
        await engine.dispose()


@pytest.mark.sqlite_only("the same on PostgreSQL: test_postgres_alerts_are_backfilled")
async def test_sqlite_alerts_are_backfilled(sqlite_file_url: str) -> None:
    await _alerts_backfilled(sqlite_file_url)


async def test_postgres_alerts_are_backfilled(postgres_url: str) -> None:
    await _alerts_backfilled(postgres_url)
