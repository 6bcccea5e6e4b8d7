"""SQLite run on the event loop's thread (storage/inline_sqlite): writers queue, nobody hangs."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, create_session_factory
from storage.inline_sqlite import YIELD_EVERY, InlineConnection, is_read


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    # A short timeout: a writer blocked on SQLite's own lock (busy_timeout) or on this
    # process's writers fails in a second, instead of holding the test for 30.
    engine = create_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}", connect_args={"timeout": 1}
    )
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE items (n INTEGER NOT NULL)"))
    yield engine
    await engine.dispose()


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(text("items"))) or 0)


async def _write_soon(engine: AsyncEngine, n: int) -> None:
    """Write ``n`` and commit, failing if the write lock is not free within 2 s."""
    async with create_session_factory(engine)() as session:
        await asyncio.wait_for(session.execute(text(f"INSERT INTO items VALUES ({n})")), 2)
        await session.commit()


async def test_the_engine_runs_sqlite_inline(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, InlineConnection)


async def test_a_writer_waits_for_another_that_awaits_before_committing(
    engine: AsyncEngine,
) -> None:
    """The first writer awaits (a Telegram call, say) while holding the write lock; the
    second queues on the loop instead of blocking it in SQLite's busy handler, so the
    first can finish, and then the second writes."""
    sessions = create_session_factory(engine)
    order: list[str] = []
    first_wrote = asyncio.Event()

    async def first() -> None:
        async with sessions() as session:
            await session.execute(text("INSERT INTO items VALUES (1)"))
            first_wrote.set()
            await asyncio.sleep(0.5)  # the second writer is waiting meanwhile
            order.append("first commits")
            await session.commit()

    async def second() -> None:
        await first_wrote.wait()
        async with sessions() as session:
            await session.execute(text("INSERT INTO items VALUES (2)"))
            order.append("second wrote")
            await session.commit()

    await asyncio.wait_for(asyncio.gather(first(), second()), timeout=10)
    assert order == ["first commits", "second wrote"]
    assert await _count(engine) == 2


async def test_reading_does_not_wait_for_a_writer(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    async with sessions() as writer, sessions() as reader:
        await writer.execute(text("INSERT INTO items VALUES (1)"))
        # WAL: the reader sees the last commit at once, without the uncommitted row.
        assert await reader.scalar(select(func.count()).select_from(text("items"))) == 0
        await writer.commit()
    assert await _count(engine) == 1


@pytest.mark.parametrize(
    "first",
    ["INSERT INTO items VALUES (1)", "INSERT INTO missing VALUES (1)"],
    ids=["closed without a commit", "failed before opening a transaction"],
)
async def test_a_writer_that_leaves_without_committing_lets_the_next_one_in(
    engine: AsyncEngine, first: str
) -> None:
    async with create_session_factory(engine)() as session:
        # Closed without a commit (the pool rolls back), or failed on a missing table.
        with contextlib.suppress(OperationalError):
            await session.execute(text(first))
    await _write_soon(engine, 2)
    assert await _count(engine) == 1


async def test_another_process_holding_the_lock_is_waited_for(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """Another process (here a thread with its own connection: `voy org load`, say)
    holds SQLite's write lock for a moment: the write waits for it and succeeds."""
    held = threading.Event()

    def other() -> None:
        connection = sqlite3.connect(tmp_path / "inline.db")
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO items VALUES (9)")
        held.set()
        threading.Event().wait(0.3)
        connection.commit()
        connection.close()

    thread = threading.Thread(target=other)
    thread.start()
    await asyncio.to_thread(held.wait)
    async with create_session_factory(engine)() as session:
        await session.execute(text("INSERT INTO items VALUES (1)"))
        await session.commit()
    thread.join()
    assert await _count(engine) == 2


async def test_two_engines_on_one_file_share_the_queue(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """Tests and `voy` commands in the bot's process open engines of their own on the
    same file: their writers queue with the bot's instead of deadlocking against it."""
    other = create_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}", connect_args={"timeout": 1}
    )
    try:
        async with create_session_factory(engine)() as holder:
            await holder.execute(text("INSERT INTO items VALUES (1)"))
            waiting = asyncio.create_task(_insert(other, 2))
            await asyncio.sleep(0.5)
            assert not waiting.done()
            await holder.commit()
        await asyncio.wait_for(waiting, 2)
    finally:
        await other.dispose()
    assert await _count(engine) == 2


async def _insert(engine: AsyncEngine, n: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(f"INSERT INTO items VALUES ({n})"))


async def test_a_connection_dropped_while_writing_lets_the_next_writer_in(
    engine: AsyncEngine,
) -> None:
    """A connection closed by force (SQLAlchemy's terminate, or the garbage collector)
    in the middle of a write gives the lock back instead of keeping every writer out."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        await connection.execute(text("INSERT INTO items VALUES (1)"))
        raw.driver_connection.stop()
        await connection.invalidate()
    await _write_soon(engine, 2)
    assert await _count(engine) == 1


@pytest.mark.parametrize(
    ("sql", "read"),
    [
        ("SELECT 1", True),
        ("  select * from items", True),
        ("WITH x AS (SELECT 1) SELECT * FROM x", True),
        ("WITH x AS (SELECT 1) INSERT INTO items SELECT * FROM x", False),
        ("EXPLAIN QUERY PLAN SELECT 1", True),
        ("PRAGMA table_info(items)", True),
        ("PRAGMA foreign_keys=ON", True),  # this connection only
        ("PRAGMA user_version=7", False),
        ("PRAGMA main.wal_checkpoint(TRUNCATE)", False),
        ("INSERT INTO items VALUES (1)", False),
        ("CREATE TABLE t (n INTEGER)", False),
        ("SAVEPOINT sa_savepoint_1", False),
    ],
)
def test_which_statements_need_the_write_lock(sql: str, read: bool) -> None:
    assert is_read(sql) is read


async def test_a_cte_read_does_not_wait_for_a_writer(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    async with sessions() as writer, sessions() as reader:
        await writer.execute(text("INSERT INTO items VALUES (1)"))
        query = text("WITH x AS (SELECT count(*) AS n FROM items) SELECT n FROM x")
        assert await asyncio.wait_for(reader.scalar(query), 0.5) == 0
        await writer.commit()


@contextlib.asynccontextmanager
async def _held_by_another_process(
    path: Path, *, writes: bool = False
) -> AsyncIterator[threading.Event]:
    """Another connection (as a `voy` command would) holds ``path``'s write lock until
    the yielded event is set; with ``writes``, it inserts 1 and commits then."""
    held, release = threading.Event(), threading.Event()

    def other() -> None:
        connection = sqlite3.connect(path)
        connection.execute("BEGIN IMMEDIATE")
        if writes:
            connection.execute("INSERT INTO items VALUES (1)")
        held.set()
        release.wait(10)
        if writes:
            connection.commit()
        else:
            connection.rollback()
        connection.close()

    thread = threading.Thread(target=other)
    thread.start()
    try:
        await asyncio.to_thread(held.wait)
        yield release
    finally:
        release.set()
        thread.join()


async def test_another_process_holding_the_lock_too_long_fails_the_write_in_time(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """The connection's timeout (here 1 s) bounds the wait for another process's lock
    too: a write it blocks fails after that, instead of waiting 30 s."""
    async with _held_by_another_process(tmp_path / "inline.db"):
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"):
            async with create_session_factory(engine)() as session:
                await session.execute(text("INSERT INTO items VALUES (1)"))
        assert time.monotonic() - started < 5


async def test_a_write_waits_for_another_process_on_the_loop_not_in_sqlite(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """Another process (a `voy` command) holding the write lock for a while: our write
    waits for it and then succeeds, and meanwhile the loop goes on (SQLite's busy handler
    would have slept on the loop's thread for the whole wait)."""
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    try:
        async with _held_by_another_process(tmp_path / "inline.db", writes=True) as release:
            threading.Timer(0.4, release.set).start()
            started = time.monotonic()
            async with create_session_factory(engine)() as session:
                await session.execute(text("INSERT INTO items VALUES (2)"))
                await session.commit()
            waited = time.monotonic() - started
    finally:
        ticking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticking
    assert 0.3 < waited < 1.0
    assert await _count(engine) == 2
    assert max(gaps) < 0.15, f"the loop stood still for {max(gaps):.2f} s"


async def test_a_busy_database_is_tried_again_and_other_errors_are_not(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert isinstance(raw, InlineConnection)
        calls: list[int] = []

        def busy_twice() -> str:
            calls.append(1)
            if len(calls) < 3:
                error = sqlite3.OperationalError("database is locked")
                error.sqlite_errorcode = 5  # type: ignore[attr-defined]
                raise error
            return "done"

        assert await raw.patiently(busy_twice) == "done"
        assert len(calls) == 3

        def snapshot_once() -> str:
            calls.append(1)
            if len(calls) < 2:
                error = sqlite3.OperationalError("database is locked")
                error.sqlite_errorcode = 517  # type: ignore[attr-defined]  # BUSY_SNAPSHOT
                raise error
            return "done"

        # The statement opening the transaction: SQLite dropped the snapshot, try again.
        calls.clear()
        assert await raw.patiently(snapshot_once) == "done"
        assert len(calls) == 2
        # A transaction that read before: waiting cannot cure its stale snapshot.
        cursor = raw.cursor()
        await cursor.execute("INSERT INTO items VALUES (1)")
        calls.clear()
        with pytest.raises(sqlite3.OperationalError):
            await raw.patiently(snapshot_once)
        assert len(calls) == 1
        await raw.rollback()


async def test_rows_given_as_an_iterator_are_all_written_after_a_wait(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """executemany tried again after another process's lock: the retry has every row
    (an iterator would have lost the one the failed try took)."""
    async with _held_by_another_process(tmp_path / "inline.db") as release:
        threading.Timer(0.2, release.set).start()
        async with engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            await raw.cursor().executemany(
                "INSERT INTO items VALUES (?)", ((n,) for n in range(10, 15))
            )
            await raw.commit()
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT n FROM items ORDER BY n"))
        assert [n for (n,) in rows] == [10, 11, 12, 13, 14]


async def _turns_while(work: Any) -> tuple[int, Any]:
    """How many times a ticker task ran while ``work`` was awaited, and its result."""
    turns = 0

    async def ticker() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    turns = 0
    try:
        result = await work
    finally:
        ticking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticking
    return turns, result


async def test_a_long_transaction_lets_other_tasks_run(engine: AsyncEngine) -> None:
    """Many statements in one transaction (an export): the loop gets a turn every
    YIELD_EVERY statements (3 turns in all without them, from the pool's checkout)."""
    sessions = create_session_factory(engine)

    async def reads() -> None:
        async with sessions() as session:
            for _ in range(YIELD_EVERY * 10):
                await session.execute(text("SELECT count(*) FROM items"))

    turns, _ = await _turns_while(reads())
    assert turns >= 10
