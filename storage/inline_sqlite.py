"""SQLite without a thread hop per call: an aiosqlite-shaped connection that runs inline.

SQLAlchemy's ``sqlite+aiosqlite`` dialect talks to an :mod:`aiosqlite` connection, which
runs every call (cursor, execute, fetch, close, commit) on its own thread and hands the
result back through the event loop. Our statements take microseconds in SQLite itself;
the four hand-offs per statement cost more than that, and under load they were the
largest single cost in the bot (issue 7's load benchmark). :class:`InlineConnection`
offers the same interface, through ``create_async_engine(async_creator=...)``, and runs
each call on the event loop's thread at once.

What the thread gave for free, this module has to provide itself:

- **Waiting for the write lock.** SQLite has one writer at a time. A connection that
  wanted to write while another held the lock used to wait (busy_timeout) on its own
  thread; inline, that wait would stop the event loop, and with it the holder, which
  may be awaiting a Telegram reply before it commits: a deadlock until the timeout.
  So writers in this process queue on an :class:`asyncio.Lock` per database file
  (shared by every engine of the process on the same event loop), taken before a
  connection's first write and released when its transaction ends. Another process
  (a ``voy`` command beside the bot) holding the lock makes SQLite answer "busy" at
  once (busy_timeout 0 here): the statement is tried again after an ``asyncio.sleep``
  that grows from 1 ms to 50 ms, until the connection's timeout, so the loop goes on
  with other updates meanwhile instead of sleeping in SQLite's busy handler.
- **Turns on the loop.** A call here finishes without suspending, so a transaction of
  many statements (an export, an erasure) would hold every other update until it ends
  (taking a connection from the pool does give the loop a turn). Each connection lets
  the loop run other tasks after every ``YIELD_EVERY`` statements, as aiosqlite's
  hand-offs did after each call.
- **Long statements.** A statement runs on the loop's thread, so a heavy one (the
  weekly digest over a large database) holds every other update meanwhile. Ours are
  indexed and short; PostgreSQL is the backend for large deployments.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Any statement that is not a plain read may write or make pysqlite open a transaction,
# so it first takes the process's write lock for the database file; if it opened none,
# the lock is given back at once. A read waiting for writers would be harmless but slow;
# a write that skipped the lock would hold the loop in SQLite's busy handler.
_WRITE_WORDS = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
# PRAGMAs that change the database file (the others read or set this connection only).
_WRITING_PRAGMAS = re.compile(
    r"^PRAGMA\s+(\w+\.)?(user_version|application_id|schema_version|wal_checkpoint|"
    r"incremental_vacuum|optimize)\b",
    re.IGNORECASE,
)


def is_read(sql: str) -> bool:
    """Whether ``sql`` only reads (no write lock needed): SELECT and EXPLAIN, a CTE that
    does not insert, update or delete, and PRAGMAs other than those that write."""
    head = sql.lstrip()
    word = head[:7].upper()
    if word.startswith(("SELECT", "EXPLAIN")):
        return True
    if word.startswith("WITH"):
        return _WRITE_WORDS.search(head) is None
    if word.startswith("PRAGMA"):
        return _WRITING_PRAGMAS.match(head) is None
    return False


# SQLite's "busy" result codes that waiting can cure (SQLITE_BUSY, _RECOVERY, _TIMEOUT).
_BUSY_CODES = frozenset({5, 261, 773})
# SQLITE_BUSY_SNAPSHOT: a transaction that read and fell behind another's write; waiting
# helps only if it had done nothing yet (the statement that opened it was the first),
# when SQLite has dropped the stale snapshot already (its own busy handler retries then).
_BUSY_SNAPSHOT = 517
# A connection lets other tasks run after this many statements: a statement takes
# microseconds, a turn of the loop a few more.
YIELD_EVERY = 16
# SQLite's busy handler on inline connections: none (it would sleep on the loop's thread).
BUSY_TIMEOUT_MS = 0
_FIRST_RETRY_S = 0.001
_LONGEST_RETRY_S = 0.05


def _is_busy(exc: sqlite3.OperationalError, *, fresh: bool) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code in _BUSY_CODES or (fresh and code == _BUSY_SNAPSHOT)


# The write locks, by event loop and database file: every engine of this process on the
# same file and loop shares one (tests run several loops, one after another).
_write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _write_lock(database: str) -> asyncio.Lock:
    """The lock this process's writers of ``database`` queue on."""
    locks = _write_locks.setdefault(asyncio.get_running_loop(), {})
    lock = locks.get(database)
    if lock is None:
        lock = locks[database] = asyncio.Lock()
    return lock


class _Queue:
    """aiosqlite's job queue, as SQLAlchemy's adapter uses it (``_tx.put_nowait``)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineCursor:
    """An aiosqlite-shaped cursor whose calls run at once."""

    def __init__(self, connection: InlineConnection, cursor: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    def __await__(self) -> Any:
        async def itself() -> InlineCursor:
            return self

        return itself().__await__()

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        await self._connection.before(sql)
        try:
            await self._connection.patiently(
                self._cursor.execute, sql, () if parameters is None else parameters
            )
        finally:
            self._connection.release_if_idle()
        await self._connection.counted()
        return self

    async def executemany(self, sql: str, parameters: Any) -> InlineCursor:
        await self._connection.before(sql)
        try:
            # A retry needs the rows again: an iterator would be half used up.
            rows = parameters if isinstance(parameters, list | tuple) else list(parameters)
            await self._connection.patiently(self._cursor.executemany, sql, rows)
        finally:
            self._connection.release_if_idle()
        await self._connection.counted()
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size) if size is not None else self._cursor.fetchmany()

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """The parts of :class:`aiosqlite.Connection` SQLAlchemy's dialect uses, inline."""

    def __init__(self, connection: sqlite3.Connection, database: str, wait_s: float) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._tx = _Queue(connection)
        self._database = database
        self._holding: asyncio.Lock | None = None
        self._holding_loop: asyncio.AbstractEventLoop | None = None
        self._wait_s = wait_s
        self._statements = 0

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def before(self, sql: str) -> None:
        """Take the write lock before the statement that opens a write transaction."""
        if self._holding is not None or self._conn.in_transaction:
            return
        if not is_read(sql):
            lock = _write_lock(self._database)
            try:
                async with asyncio.timeout(self._wait_s):
                    await lock.acquire()
            except TimeoutError:
                raise sqlite3.OperationalError("database is locked") from None
            self._holding, self._holding_loop = lock, asyncio.get_running_loop()

    async def patiently(self, call: Callable[..., Any], *args: Any) -> Any:
        """``call(*args)``, tried again while another process holds the database's lock,
        sleeping on the loop between tries, for up to the connection's timeout."""
        fresh = not self._conn.in_transaction  # this call opens the transaction
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        pause = _FIRST_RETRY_S
        while True:
            try:
                return call(*args)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc, fresh=fresh):
                    raise
            if deadline is None:
                deadline = loop.time() + self._wait_s
            left = deadline - loop.time()
            if left <= 0:
                raise sqlite3.OperationalError("database is locked")
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, _LONGEST_RETRY_S)

    async def counted(self) -> None:
        """Count a statement; every ``YIELD_EVERY``-th lets the loop run other tasks."""
        self._statements += 1
        if self._statements >= YIELD_EVERY:
            self._statements = 0
            await asyncio.sleep(0)

    def release_if_idle(self) -> None:
        """Give the write lock back if no transaction is open (after a statement, a
        commit or a rollback)."""
        if self._holding is not None and not self._conn.in_transaction:
            self._give_back()

    def _give_back(self) -> None:
        """Release the write lock, on its loop's thread (a forced close or the garbage
        collector may come from elsewhere)."""
        lock, loop = self._holding, self._holding_loop
        self._holding = self._holding_loop = None
        if lock is None or loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            lock.release()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(lock.release)

    def __del__(self) -> None:
        # A connection dropped without a rollback must not keep every writer waiting.
        self._give_back()

    def cursor(self) -> InlineCursor:
        return InlineCursor(self, self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        cursor = self.cursor()
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        try:
            await self.patiently(self._conn.commit)
        finally:
            self.release_if_idle()

    async def rollback(self) -> None:
        try:
            self._conn.rollback()
        finally:
            self.release_if_idle()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._connection is None:
            return
        try:
            self._conn.close()
        finally:
            self._connection = None
            self._give_back()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's forced termination)."""
        try:
            if self._connection is not None:
                self._conn.close()
        finally:
            self._connection = None
            self._give_back()


def creator(database: str, **connect_args: Any) -> Callable[[], Any]:
    """An ``async_creator`` for ``create_async_engine`` over the SQLite file ``database``.

    ``connect_args`` go to :func:`sqlite3.connect`; its ``timeout`` bounds the wait for
    another process's write lock and for this process's writers. Their SQLite busy
    handler must be off (``BUSY_TIMEOUT_MS``, which ``storage.db`` sets on every
    connection; see :meth:`InlineConnection.patiently`).
    """
    key = str(Path(database).resolve())
    wait_s = float(connect_args.get("timeout", 5.0))
    arguments = {"check_same_thread": False, **connect_args}

    async def connect() -> InlineConnection:
        connection = sqlite3.connect(database, **arguments)
        return InlineConnection(connection, key, wait_s)

    return connect
