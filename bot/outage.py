"""The database out of reach: tell the ops chat straight through the Bot API, and again
once it answers.

Ops alerts normally go through the outbox, a table in the database, so an outage of the
database itself would reach nobody. An update or job failing because the database cannot
be reached is reported here instead, directly, once per kind of failure and
``VOY_OPS_ALERT_WINDOW_MINUTES`` (in memory: each instance for itself). The alert names
the error's type and a code (SQLite's error name, PostgreSQL's SQLSTATE, the socket's
errno), never its message, the database URL or what anybody wrote. From then on a job
probes the database every ``VOY_OUTBOX_INTERVAL_S`` and, when it answers, sends one
"reachable again" notice and stops.

"Unreachable" (:func:`unreachable`) means, anywhere in the error's chain of causes:

- a SQLAlchemy ``DBAPIError`` whose connection SQLAlchemy found dropped
  (``connection_invalidated``);
- on SQLite, an ``OperationalError`` other than ``SQLITE_ERROR``: the file cannot be
  opened, read or written (``CANTOPEN``, ``IOERR``, ``FULL``, ``READONLY``, ``BUSY`` /
  ``LOCKED`` past the wait, ``CORRUPT``, ``NOTADB``). ``SQLITE_ERROR`` is SQL the
  database rejects (a syntax error, a missing table): a bug or a missing migration;
- on PostgreSQL, a SQLSTATE of class 08 (connection), 53 (disk full, out of memory, too
  many connections), 57P (shut down, starting up) or 58 (I/O);
- an ``OSError`` raised inside the driver or SQLAlchemy's pool (asyncpg lets the socket's
  ``ConnectionRefusedError``, ``gaierror`` or ``TimeoutError`` through unwrapped).

Not counted: constraint violations and other SQL errors, and the pool's own timeout (all
connections in use: load, not an outage). Those go through the outbox as before.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import sqlite3
import traceback
from datetime import timedelta
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application

from bot import metrics
from bot.context import BotApplication, BotData
from bot.edge import update_type
from bot.i18n import translator

_log = logging.getLogger(__name__)

PROBE_JOB = "database_probe"
_PROBE_TIMEOUT_S = 3.0
_SQLITE_ERROR = 1  # the primary result code of SQL the database rejects
_PG_OUTAGE_CLASSES = ("08", "53", "57P", "58")
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
        if isinstance(orig, sqlite3.OperationalError):
            code = getattr(orig, "sqlite_errorcode", None)  # None: ours ("database is locked")
            return code is None or code & 0xFF != _SQLITE_ERROR
        state = _sqlstate(orig)
        return state is not None and state.startswith(_PG_OUTAGE_CLASSES)
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
    if services.database_down_since is None:
        services.database_down_since = now
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
    await services.direct_alerts.send(
        application.bot,
        chat_id=settings.ops_chat_id,
        key=f"database:{kind}:{code}",
        text=alert,
        now=now,
        window=window,
    )
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
    """Once the database answers: one notice to the ops chat, and the probing stops."""
    application: BotApplication = context.application
    services = application.bot_data.services
    since = services.database_down_since
    if since is not None and not await database_answers(services.engine):
        return
    context.job.schedule_removal()
    services.database_down_since = None
    if since is None:
        return
    now = services.clock.now()
    _log.warning("the database answers again (unreachable since %s)", since.isoformat())
    settings = services.settings
    if settings.ops_chat_id is None:
        return
    tr = translator(settings.default_locale, settings.default_locale)
    notice = tr(
        "ops.db_back",
        since=since.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M"),
        minutes=max(1, math.ceil((now - since).total_seconds() / 60)),
    )
    try:
        await application.bot.send_message(settings.ops_chat_id, notice)
    except Exception:
        _log.warning("could not tell the ops chat the database is back", exc_info=True)
