"""Engines, sessions and the one place where a unit of work commits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import inline_sqlite


class DatabaseFolderError(Exception):
    """Raised when the folder of a SQLite database cannot be created."""

    def __init__(self, folder: str, database: str, reason: str) -> None:
        """Keep the folder that could not be made, the database's path and the OS's reason."""
        super().__init__(f"cannot create the folder {folder} for {database}: {reason}")
        self.folder = folder
        self.database = database
        self.reason = reason


def create_engine(url: str, *, inline: bool = True, **kwargs: Any) -> AsyncEngine:
    """Create an async engine that hides statement parameters in errors.

    For SQLite, also create the folder and enable WAL and foreign keys; statements run on
    the event loop's thread (``storage.inline_sqlite``) unless ``inline`` is False, when
    they run on aiosqlite's thread (long reads that must not hold the loop).

    Raises:
        DatabaseFolderError: the SQLite database's folder cannot be created.
    """
    parsed = make_url(url)
    # Statement parameters (people's messages, names) stay out of exception texts, and so
    # out of logs and the inbound log.
    kwargs.setdefault("hide_parameters", True)
    kwargs.setdefault("json_serializer", to_json)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            folder = Path(database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a regular file on the way, a read-only file system
                raise DatabaseFolderError(
                    str(exc.filename or folder), database, exc.strerror or str(exc)
                ) from exc
        # How long to wait for another process's lock: 30 s, or the URL's ``?timeout=``
        # (SQLAlchemy reads that, but its own connect_args used to override it).
        timeout = parsed.query.get("timeout", 30)
        timeout = timeout[-1] if isinstance(timeout, tuple) else timeout
        connect_args = {"timeout": float(timeout), **kwargs.pop("connect_args", {})}
        # Calls run on the event loop's thread, not aiosqlite's (storage/inline_sqlite),
        # for a plain file; a URL with options (uri=true, …) keeps aiosqlite, which reads
        # them.
        busy_ms = int(float(connect_args["timeout"]) * 1000)
        inline = inline and bool(database) and database != ":memory:" and not parsed.query
        if inline and "async_creator" not in kwargs:
            kwargs["async_creator"] = inline_sqlite.creator(str(database), **connect_args)
            # The wait for another process's lock happens on the loop (inline_sqlite).
            busy_ms = inline_sqlite.BUSY_TIMEOUT_MS
        else:
            kwargs["connect_args"] = connect_args
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine, busy_ms=busy_ms)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "postgresql":
        _replace_nul_characters(engine)
    return engine


def _jsonable(value: object) -> object:
    """A date as the Bot API writes it (Unix seconds): PTB's ``to_dict`` leaves an
    InaccessibleMessage's ``date`` (0) as a datetime, and an update carrying one (a pin
    of an old message) could not be stored at all. Anything else JSON cannot hold is an
    error, as with :func:`json.dumps`."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def to_json(value: object) -> str:
    """The engines' JSON serializer: :func:`json.dumps`, dates as :func:`_jsonable` says."""
    return json.dumps(value, default=_jsonable)


def _replace_nul_characters(engine: AsyncEngine) -> None:
    """Store U+0000 as U+FFFD: PostgreSQL text cannot hold it, and a message carrying one
    would otherwise fail to be stored at all. (JSON columns escape it and keep it.)"""

    @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
    def _on_execute(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> tuple[str, Any]:
        return statement, _without_nul(parameters)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, tuple):
        return tuple(_without_nul(item) for item in value)
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    return value


def _configure_sqlite(engine: AsyncEngine, *, busy_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets a second shell (`voy org load`) read and write while the demo runs.
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL syncs at checkpoints, not at every commit: a killed process
        # loses nothing committed (the WAL is in the OS's hands); only a power cut or an
        # OS crash can lose the last commits. FULL made every update wait for the disk.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # How long SQLite waits for another process's write lock: the connection's
        # timeout, or 0 on an inline connection, which waits on the event loop instead.
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()


def insert_for(session: AsyncSession) -> Any:
    """The dialect's ``insert`` construct, which offers ``on_conflict_do_nothing``.

    Used instead of a savepoint to lose a race quietly: on SQLite (pysqlite) releasing
    a savepoint opened before any write would commit the caller's transaction early.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"SQLite and PostgreSQL are supported, not {dialect}")


async def lock_for_writing(session: AsyncSession) -> None:
    """Start ``session``'s write transaction now, before it reads rows it will change.

    On SQLite, FOR UPDATE is ignored and pysqlite opens the transaction only at the
    first write, so a job that reads rows and then changes them can overwrite what
    another writer committed in between (two sweeps both escalating one question, the
    later one writing its stale copy over the other's). A no-op UPDATE takes the
    database's write lock at once: other writers wait until this session commits (this
    process's on the event loop, see ``storage.inline_sqlite``; other processes in their
    busy handler), and its reads see their latest work. On PostgreSQL this does nothing:
    ``with_for_update`` row locks do that job there.
    """
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("UPDATE job_leases SET name = name WHERE 0"))


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return a session factory whose objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """Open a session for one job or command; commit on success, roll back on error."""
    async with sessions() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()
