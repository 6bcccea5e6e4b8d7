"""The database out of reach: tell the ops chat straight through the Bot API, and again
once it is back.

Ops alerts normally go through the outbox, a table in the database, so an outage of the
database itself would reach nobody. An update or job failing because the database cannot
be reached is reported here instead, directly, once per kind of failure and
``VOY_OPS_ALERT_WINDOW_MINUTES`` (in memory: each instance for itself). The alert names
the error's type and a code (SQLite's error name, PostgreSQL's SQLSTATE, the socket's
errno), never its message, the database URL or what anybody wrote.

An outage is an *episode*: it begins with the first failure reported, and ends when a
job probing the database every ``VOY_OUTBOX_INTERVAL_S`` finds it answering ``SELECT 1``
*and* no failure was reported for ``QUIET_S`` seconds (a read-only or full database
answers ``SELECT 1`` while every write fails). Then, if the episode sent an alert, one
"back" notice follows, and the episode's alerts are forgotten: an outage after it is
alerted again, within the same window.

"Unreachable" (:func:`unreachable`) means, anywhere in the error's chain of causes:

- a SQLAlchemy ``DBAPIError`` whose connection SQLAlchemy found dropped
  (``connection_invalidated``);
- on SQLite, a ``DatabaseError`` (``OperationalError`` or the plain ``DatabaseError`` of
  ``NOTADB`` and ``CORRUPT``) whose primary result code is none of ``SQLITE_ERROR``,
  ``SQLITE_BUSY`` and ``SQLITE_LOCKED``: the file cannot be opened, read or written
  (``CANTOPEN``, ``IOERR``, ``FULL``, ``READONLY``, ``CORRUPT``, ``NOTADB``).
  ``SQLITE_ERROR`` is SQL the database rejects (a syntax error, a missing table): a bug
  or a missing migration. ``BUSY`` and ``LOCKED`` (and storage.inline_sqlite's own
  "database is locked", which has no code) are a busy database: load, not an outage;
- on PostgreSQL, a SQLSTATE of class 08 (connection), 28 (the login refused: a wrong
  password, ``pg_hba.conf``), 53 (disk full, out of memory, too many connections), 57P
  (shut down, starting up) or 58 (I/O), or 3D000 (the database does not exist);
- an ``OSError`` raised inside the driver or SQLAlchemy's pool (asyncpg lets the socket's
  ``ConnectionRefusedError``, ``gaierror`` or ``TimeoutError`` through unwrapped).

Not counted: constraint violations and other SQL errors, a busy database, and the pool's
own timeout (all connections in use: load). Those go through the outbox as before, or,
when the outbox cannot take the alert, straight through the Bot API
(``handlers.errors``).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import sqlite3
import traceback
from datetime import timedelta
from time import monotonic
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application

from bot import metrics
from bot.context import BotApplication, BotData
from bot.i18n import translator
from bot.services.inbox import update_type

_log = logging.getLogger(__name__)

PROBE_JOB = "database_probe"
_PROBE_TIMEOUT_S = 3.0
# How long no failure may have been reported before the database counts as back.
QUIET_S = 60.0
# SQLite's primary result codes that are no outage: SQL the database rejects (ERROR),
# a database busy with another writer (BUSY, LOCKED).
_SQLITE_NOT_OUTAGE = {1, 5, 6}
# sqlite3's errors that are about the SQL or the values, not the file.
_SQLITE_SQL_ERRORS = (
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
    sqlite3.DataError,
    sqlite3.NotSupportedError,
)
_PG_OUTAGE_STATES = ("08", "28", "53", "57P", "58", "3D000")
_BACK_KEY = "database:back"
_DRIVERS = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3", "storage.inline_sqlite")


def unreachable(error: BaseException | None) -> BaseException | None:
    """The error in ``error``'s chain that means the database cannot be reached, if any."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if _unreachable(error):
            return error
        context = None if error.__suppress_context__ else error.__context__
        error = error.__cause__ if error.__cause__ is not None else context
    return None


def _unreachable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        orig = error.orig
        if isinstance(orig, sqlite3.DatabaseError):
            if isinstance(orig, _SQLITE_SQL_ERRORS):
                return False
            code = getattr(orig, "sqlite_errorcode", None)  # None: ours ("database is locked")
            return isinstance(code, int) and code & 0xFF not in _SQLITE_NOT_OUTAGE
        state = _sqlstate(orig)
        return state is not None and state.startswith(_PG_OUTAGE_STATES)
    if isinstance(error, OSError):
        return any(
            str(frame.f_globals.get("__name__", "")).startswith(_DRIVERS)
            for frame, _ in traceback.walk_tb(error.__traceback__)
        )
    return False


def _sqlstate(orig: BaseException | None) -> str | None:
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state if isinstance(state, str) else None


def _code(error: BaseException) -> str:
    """A short code for the failure that holds nothing private: never its message."""
    orig = getattr(error, "orig", None)
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str):
        return name
    if (state := _sqlstate(orig)) is not None:
        return state
    if isinstance(error, OSError) and error.errno is not None:
        return errno.errorcode.get(error.errno, str(error.errno))
    return "-"


async def database_answers(engine: AsyncEngine, timeout: float = _PROBE_TIMEOUT_S) -> bool:
    """Whether the database answers a ``SELECT 1`` within ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        _log.debug("the database does not answer", exc_info=True)
        return False
    return True


async def report(
    application: Application[Any, Any, Any, Any, BotData, Any],
    error: BaseException,
    *,
    update: object = None,
    source: str = "job",
) -> bool:
    """If ``error`` means the database is unreachable, alert the ops chat directly (once
    per kind of failure and window) and watch for its return; False if it does not."""
    cause = unreachable(error)
    if cause is None:
        return False
    metrics.DATABASE_UNREACHABLE.inc()
    services = application.bot_data.services
    settings = services.settings
    now = services.clock.now()
    services.database_failed_at = monotonic()
    if services.database_down_since is None:  # a new episode
        services.database_down_since = now
        services.database_alerted = False
        _log.error("the database cannot be reached (%s %s)", type(cause).__name__, _code(cause))
        _probe_until_back(application)
    if settings.ops_chat_id is None:
        return True
    window = timedelta(minutes=settings.ops_alert_window_minutes)
    kind, code = type(cause).__name__, _code(cause)
    tr = translator(settings.default_locale, settings.default_locale)
    alert = tr(
        "ops.db_down",
        error_type=kind,
        code=code,
        update_id=update.update_id if isinstance(update, Update) else "-",
        update_type=update_type(update) if isinstance(update, Update) else source,
        minutes=f"{window.total_seconds() / 60:g}",
    )
    if await services.direct_alerts.send(
        application.bot,
        chat_id=settings.ops_chat_id,
        key=f"database:{kind}:{code}",
        text=alert,
        now=now,
        window=window,
    ):
        services.database_alerted = True
    return True


def _probe_until_back(application: Application[Any, Any, Any, Any, BotData, Any]) -> None:
    """Probe the database every outbox interval until it answers (one job, by id)."""
    job_queue = application.job_queue
    if job_queue is None:
        return
    job_queue.run_repeating(
        _probe,
        interval=application.bot_data.services.settings.outbox_interval_s,
        name=PROBE_JOB,
        job_kwargs={"id": PROBE_JOB, "replace_existing": True, "max_instances": 1},
    )


async def _probe(context: Any) -> None:
    """Once the database answers and no failure came for ``QUIET_S``: the episode ends,
    with one notice to the ops chat if it sent an alert, and the probing stops."""
    application: BotApplication = context.application
    services = application.bot_data.services
    since = services.database_down_since
    if since is not None:
        failed_at = services.database_failed_at
        if failed_at is not None and monotonic() - failed_at < QUIET_S:
            return
        if not await database_answers(services.engine):
            return
        if services.database_failed_at != failed_at:  # a failure while it was asked
            return
    context.job.schedule_removal()
    services.database_down_since = None
    services.database_failed_at = None
    alerted, services.database_alerted = services.database_alerted, False
    if since is None:
        return
    services.direct_alerts.forget("database:")  # a new episode alerts again (before any
    # await: one starting while the notice goes out keeps its key)
    now = services.clock.now()
    _log.warning("the database answers again (unreachable since %s)", since.isoformat())
    settings = services.settings
    window = timedelta(minutes=settings.ops_alert_window_minutes)
    if alerted and settings.ops_chat_id is not None:
        tr = translator(settings.default_locale, settings.default_locale)
        notice = tr(
            "ops.db_back",
            since=since.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M"),
            minutes=max(1, math.ceil((now - since).total_seconds() / 60)),
        )
        await services.direct_alerts.send(
            application.bot,
            chat_id=settings.ops_chat_id,
            key=_BACK_KEY,
            text=notice,
            now=now,
            window=window,
        )
