"""Leases for singleton jobs: with several instances, one at a time runs each job.

A lease is a row in ``job_leases`` (name, holder, expires_at). Taking it is one
conditional upsert that works on SQLite and PostgreSQL alike: insert the row, or take
it over when we already hold it or it has expired; otherwise the statement changes
nothing and returns no row. The holder renews the lease each time its job runs, so it
stays the leader; another instance takes over once the lease expires (the holder died)
or was released (the holder shut down cleanly).

Usage, in a job callback::

    await leases.run_exclusive(services, "weekly_digest", lambda: digest.run(services))

A job whose run outlasts its lease can overlap with a successor; choose ``ttl`` well
above the run time. Jobs stay idempotent anyway (outbox dedupe keys, row states).

Expiry is written and compared on the database's clock, read in the same transaction:
hosts' clocks drift, and one running ahead would otherwise take a live lease.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Services
from storage.db import insert_for, unit_of_work
from storage.leases import JobLease

_log = logging.getLogger(__name__)

T = TypeVar("T")

# This process's holder id when VOY_INSTANCE_ID is not set: unique per process.
_PROCESS_HOLDER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
DEFAULT_TTL = timedelta(minutes=5)


def holder_id(services: Services) -> str:
    """The id this instance holds leases under (``VOY_INSTANCE_ID`` or host:pid:random)."""
    return services.settings.instance_id or _PROCESS_HOLDER


async def database_now(session: AsyncSession) -> datetime:
    """The database server's current time (UTC, aware), the one clock all hosts share."""
    if session.get_bind().dialect.name == "sqlite":
        # CURRENT_TIMESTAMP has whole seconds only; this is the same UTC clock, in ms.
        text = await session.scalar(select(func.strftime("%Y-%m-%d %H:%M:%f", "now")))
        return datetime.fromisoformat(str(text)).replace(tzinfo=UTC)
    value = await session.scalar(select(func.clock_timestamp()))
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


async def acquire(
    session: AsyncSession,
    name: str,
    *,
    holder: str,
    ttl: timedelta,
    now: datetime | None = None,
) -> bool:
    """Take or renew the lease ``name`` for ``holder``; False if another holds it.

    ``now`` overrides the database's clock (tests). The caller commits (the lease protects
    nothing until others can see it).
    """
    now = now or await database_now(session)
    insert = insert_for(session)
    stmt = insert(JobLease).values(name=name, holder=holder, expires_at=now + ttl, acquired_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[JobLease.name],
        set_={
            "holder": stmt.excluded.holder,
            "expires_at": stmt.excluded.expires_at,
            "acquired_at": stmt.excluded.acquired_at,
        },
        # Renew our own lease, or take over one that ran out; never steal a live one.
        where=(JobLease.holder == holder) | (JobLease.expires_at <= now),
    ).returning(JobLease.holder)
    row = (await session.execute(stmt)).first()
    return row is not None


async def release(session: AsyncSession, name: str, *, holder: str) -> bool:
    """Give up the lease ``name`` if ``holder`` has it; return whether it had."""
    result = await session.execute(
        delete(JobLease).where(JobLease.name == name, JobLease.holder == holder)
    )
    return bool(getattr(result, "rowcount", 0))


async def current_holder(
    session: AsyncSession, name: str, *, now: datetime | None = None
) -> str | None:
    """Who holds the lease ``name`` now (None when free or expired), by the database's clock."""
    lease = await session.scalar(select(JobLease).where(JobLease.name == name))
    if lease is None or lease.expires_at <= (now or await database_now(session)):
        return None
    return lease.holder


async def run_exclusive(
    services: Services,
    name: str,
    job: Callable[[], Awaitable[T]],
    *,
    ttl: timedelta = DEFAULT_TTL,
) -> T | None:
    """Run ``job`` if this instance holds (or can take) the lease ``name``; else skip.

    Returns the job's result, or None when another instance holds the lease.
    """
    holder = holder_id(services)
    async with unit_of_work(services.sessions) as session:
        now = await database_now(session)
        held = await acquire(session, name, holder=holder, ttl=ttl, now=now)
    if held:
        services.leases_taken[name] = now
    else:
        _log.debug("job %s skipped: another instance holds its lease", name)
        return None
    return await job()


async def release_all(services: Services) -> None:
    """Release the leases this instance holds (on a clean shutdown: others take over).

    Only those it took itself and still holds as it wrote them: an instance that failed
    to start took none, and must not release the leases of another one running under
    the same ``VOY_INSTANCE_ID`` (a reused id, or the old process of a restart).
    """
    holder = holder_id(services)
    taken, services.leases_taken = services.leases_taken, {}
    if not taken:
        return
    async with unit_of_work(services.sessions) as session:
        for name, at in taken.items():
            await session.execute(
                delete(JobLease).where(
                    JobLease.name == name, JobLease.holder == holder, JobLease.acquired_at == at
                )
            )
