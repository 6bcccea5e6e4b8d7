"""What counts as the database out of reach (real driver errors), the in-memory alert
window, and the count of getUpdates conflicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from telegram.error import NetworkError

from bot import outage, polling_watch
from bot.ops_alerts import DirectAlerts
from bot.polling_watch import PollingWatch
from storage.db import create_engine


async def _error_of(url: str, *statements: str) -> Exception:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements or ("SELECT 1",):
                await connection.execute(text(statement))
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("no error")


async def test_a_sqlite_file_that_cannot_be_opened_is_an_outage(tmp_path: Path) -> None:
    (tmp_path / "voy.sqlite3").mkdir()  # a folder where the file should be
    error = await _error_of(f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}")
    assert outage.unreachable(error) is error
    assert outage._code(error) == "SQLITE_CANTOPEN"


async def test_sql_the_database_rejects_is_not_an_outage(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}"
    missing = await _error_of(url, "SELECT * FROM nowhere")
    assert isinstance(missing, sa_exc.OperationalError)  # SQLite calls it operational
    assert outage.unreachable(missing) is None
    constraint = await _error_of(
        url, "CREATE TABLE t (a INT NOT NULL)", "INSERT INTO t VALUES (NULL)"
    )
    assert isinstance(constraint, sa_exc.IntegrityError)
    assert outage.unreachable(constraint) is None


async def test_a_refused_postgresql_connection_is_an_outage() -> None:
    """asyncpg lets the socket's error through unwrapped: an OSError from the driver."""
    error = await _error_of("postgresql+asyncpg://voy:s3cret-pw@127.0.0.1:1/voy")
    assert isinstance(error, OSError)
    assert outage.unreachable(error) is error
    assert outage._code(error) == "ECONNREFUSED"


def test_an_oserror_outside_the_driver_is_not_an_outage(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as raised:
        (tmp_path / "missing.yaml").read_text()
    assert outage.unreachable(raised.value) is None


async def test_the_cause_is_found_behind_ptbs_network_error(tmp_path: Path) -> None:
    """The intake's failed commit reaches the updater as PTB's NetworkError."""
    (tmp_path / "voy.sqlite3").mkdir()
    cause = await _error_of(f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}")
    with pytest.raises(NetworkError) as wrapped:
        raise NetworkError("Unknown error in HTTP implementation") from cause
    assert outage.unreachable(wrapped.value) is cause


def test_direct_alerts_once_per_key_and_window() -> None:
    alerts, window = DirectAlerts(), timedelta(minutes=15)
    start = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
    flood = [alerts.due("db", now=start + timedelta(seconds=i), window=window) for i in range(9)]
    assert flood == [True] + [False] * 8
    assert alerts.due("other", now=start, window=window)
    assert alerts.due("db", now=start + window, window=window)


def test_repeated_conflicts_make_a_conflict_until_none_came_for_the_window() -> None:
    now = [0.0]
    watch = PollingWatch(clock=lambda: now[0])
    assert [watch.conflict(), watch.conflict()] == [False, False]  # a restart's one or two
    assert watch.problem() is None
    now[0] = 1.0
    assert watch.conflict() is True and watch.problem() == polling_watch.REASON
    assert watch.conflict() is False  # reported once
    now[0] += polling_watch.CONFLICT_WINDOW_S / 2
    watch.answered()  # one poll got through between the other's: still a conflict
    assert watch.problem() == polling_watch.REASON
    now[0] += polling_watch.CONFLICT_WINDOW_S
    watch.answered()
    assert watch.problem() is None and not watch.conflicted
    now[0] += 100 * polling_watch.CONFLICT_WINDOW_S
    assert watch.conflict() is False  # the old conflicts no longer count
