"""Job leases on SQLite and PostgreSQL: one holder at a time, renewal, expiry takeover."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot import leases
from bot.clock import Clock
from bot.context import Services
from knowledge.index import KnowledgeIndex
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.leases import JobLease
from tests.conftest import make_settings

T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
TTL = timedelta(minutes=1)


@pytest.fixture
async def database(db_url: str) -> str:
    """The same database, migrated."""
    engine = create_engine(db_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    return db_url


async def _acquire(sessions, holder: str, now: datetime, ttl: timedelta = TTL) -> bool:
    async with unit_of_work(sessions) as session:
        return await leases.acquire(session, "sweeper", holder=holder, ttl=ttl, now=now)


async def _holder(sessions, now: datetime) -> str | None:
    async with sessions() as session:
        return await leases.current_holder(session, "sweeper", now=now)


async def test_one_holder_renewal_and_expiry_takeover(database: str) -> None:
    engine = create_engine(database)
    sessions = create_session_factory(engine)
    try:
        assert await _acquire(sessions, "a", T0)
        assert not await _acquire(sessions, "b", T0 + timedelta(seconds=30))
        assert await _holder(sessions, T0 + timedelta(seconds=30)) == "a"
        # The holder renews: its lease now runs a minute from the renewal.
        assert await _acquire(sessions, "a", T0 + timedelta(seconds=50))
        assert not await _acquire(sessions, "b", T0 + timedelta(seconds=100))
        # The holder stopped renewing: once the lease ran out, another takes over.
        assert await _acquire(sessions, "b", T0 + timedelta(seconds=111))
        assert await _holder(sessions, T0 + timedelta(seconds=111)) == "b"
        assert not await _acquire(sessions, "a", T0 + timedelta(seconds=112))
        assert await _holder(sessions, T0 + timedelta(seconds=200)) is None
    finally:
        await engine.dispose()


async def test_release_only_by_the_holder(database: str) -> None:
    engine = create_engine(database)
    sessions = create_session_factory(engine)
    try:
        assert await _acquire(sessions, "a", T0)
        async with unit_of_work(sessions) as session:
            assert not await leases.release(session, "sweeper", holder="b")
        assert not await _acquire(sessions, "b", T0 + timedelta(seconds=1))
        async with unit_of_work(sessions) as session:
            assert await leases.release(session, "sweeper", holder="a")
        assert await _acquire(sessions, "b", T0 + timedelta(seconds=2))
    finally:
        await engine.dispose()


async def test_concurrent_claims_have_one_winner(database: str) -> None:
    engine = create_engine(database)
    sessions = create_session_factory(engine)
    try:
        results = await asyncio.gather(*(_acquire(sessions, f"h{i}", T0) for i in range(8)))
        assert sum(results) == 1
        winner = f"h{results.index(True)}"
        assert await _holder(sessions, T0) == winner
    finally:
        await engine.dispose()


def _services(url: str, instance_id: str) -> Services:
    settings = make_settings(url, instance_id=instance_id)
    engine = create_engine(url)
    return Services(
        settings=settings,
        engine=engine,
        sessions=create_session_factory(engine),
        knowledge=KnowledgeIndex(settings.thresholds()),
        clock=Clock(),
    )


async def test_run_exclusive_runs_on_one_instance(database: str) -> None:
    one, two = _services(database, "one"), _services(database, "two")
    ran: list[str] = []

    async def job(name: str) -> str:
        ran.append(name)
        return name

    try:
        assert await leases.run_exclusive(one, "digest", lambda: job("one")) == "one"
        assert await leases.run_exclusive(two, "digest", lambda: job("two")) is None
        assert await leases.run_exclusive(one, "digest", lambda: job("one")) == "one"
        assert ran == ["one", "one"]
        # A clean shutdown of the holder hands the job over at once.
        await leases.release_all(one)
        assert await leases.run_exclusive(two, "digest", lambda: job("two")) == "two"
        assert ran == ["one", "one", "two"]
    finally:
        await one.engine.dispose()
        await two.engine.dispose()


async def test_a_shutdown_releases_only_what_this_instance_took(database: str) -> None:
    """A second process under the same VOY_INSTANCE_ID (a start that failed on a port in
    use, or the old process of a restart) once released the running one's leases."""
    running, failed, other = (_services(database, name) for name in ("voy-1", "voy-1", "two"))
    ran: list[str] = []

    async def job(name: str) -> str:
        ran.append(name)
        return name

    try:
        assert await leases.run_exclusive(running, "digest", lambda: job("running")) == "running"
        await leases.release_all(failed)  # took nothing
        assert await leases.run_exclusive(other, "digest", lambda: job("other")) is None
        # The old process took the lease before the new one renewed it under the same id.
        old = _services(database, "voy-1")
        assert await leases.run_exclusive(old, "sweeper", lambda: job("old")) == "old"
        assert await leases.run_exclusive(running, "sweeper", lambda: job("running")) == "running"
        await leases.release_all(old)
        assert await leases.run_exclusive(other, "sweeper", lambda: job("other")) is None
        await leases.release_all(running)  # a clean shutdown hands both over at once
        assert await leases.run_exclusive(other, "digest", lambda: job("other")) == "other"
        assert await leases.run_exclusive(other, "sweeper", lambda: job("other")) == "other"
        assert ran == ["running", "old", "running", "other", "other"]
        await old.engine.dispose()
    finally:
        for services in (running, failed, other):
            await services.engine.dispose()


async def test_a_host_whose_clock_runs_ahead_cannot_take_a_live_lease(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Expiry is written and compared on the database's clock, not each host's."""
    one, two = _services(database, "one"), _services(database, "two")
    ran: list[str] = []

    async def job(name: str) -> str:
        ran.append(name)
        return name

    try:
        before = datetime.now(UTC)
        assert await leases.run_exclusive(one, "digest", lambda: job("one"), ttl=TTL) == "one"
        after = datetime.now(UTC)
        async with one.sessions() as session:
            lease = await session.get(JobLease, "digest")
            assert lease is not None
            # The database and this host share a clock here; slack for SQLite's ms.
            slack = timedelta(milliseconds=5)
            assert before + TTL - slack <= lease.expires_at <= after + TTL + slack
        # The second host's clock runs an hour ahead: to it, the lease looks expired.
        ahead = datetime.now(UTC) + timedelta(hours=1)
        monkeypatch.setattr(leases, "utcnow", lambda: ahead, raising=False)
        assert await leases.run_exclusive(two, "digest", lambda: job("two"), ttl=TTL) is None
        async with two.sessions() as session:
            assert await leases.current_holder(session, "digest") == "one"
        assert ran == ["one"]
    finally:
        await one.engine.dispose()
        await two.engine.dispose()
