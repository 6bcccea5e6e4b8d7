"""What counts as the database out of reach (real driver errors), the in-memory alert
window, and the count of getUpdates conflicts."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from telegram import Update
from telegram.error import Conflict, NetworkError

from bot import outage, polling_watch, runner
from bot.edge import SessionUpdateProcessor
from bot.ops_alerts import DirectAlerts
from bot.polling_watch import PollingWatch
from storage.db import create_engine
from tests.conftest import prepare


def _text_update(update_id: int, user_id: int, name: str) -> Update:
    """A private "hi" from ``user_id``, as Telegram sends it."""
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": 1,
                "date": 1795000000,
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": user_id, "is_bot": False, "first_name": name},
                "text": "hi",
            },
        },
        None,
    )


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


async def test_a_busy_or_locked_sqlite_database_is_load_not_an_outage(tmp_path: Path) -> None:
    """Another writer holds the lock past the wait (SQLITE_BUSY), or this process waited
    too long for its own write lock (storage.inline_sqlite's "database is locked", no
    code): the database answers, it is busy."""
    path = tmp_path / "voy.sqlite3"
    holder = sqlite3.connect(path)
    holder.execute("CREATE TABLE t (a INT)")
    holder.commit()
    holder.execute("BEGIN IMMEDIATE")
    try:
        busy = await _error_of(
            f"sqlite+aiosqlite:///{path}?timeout=0.05", "INSERT INTO t VALUES (1)"
        )
    finally:
        holder.rollback()
        holder.close()
    assert outage._code(busy) == "SQLITE_BUSY"
    assert outage.unreachable(busy) is None
    ours = sa_exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert outage.unreachable(ours) is None


async def test_a_file_that_is_not_a_database_is_an_outage(tmp_path: Path) -> None:
    """sqlite3 raises DatabaseError, not OperationalError, for NOTADB and CORRUPT."""
    path = tmp_path / "voy.sqlite3"
    path.write_bytes(b"not a database, just bytes " * 200)
    error = await _error_of(f"sqlite+aiosqlite:///{path}", "SELECT * FROM sqlite_master")
    assert isinstance(error, sa_exc.DatabaseError)
    assert not isinstance(error, sa_exc.OperationalError)
    assert outage.unreachable(error) is error
    assert outage._code(error) == "SQLITE_NOTADB"


@pytest.mark.parametrize(
    ("refusal", "code"),
    [
        (asyncpg.exceptions.InvalidPasswordError, "28P01"),
        (asyncpg.exceptions.InvalidAuthorizationSpecificationError, "28000"),  # pg_hba
        (asyncpg.exceptions.InvalidCatalogNameError, "3D000"),  # no such database
    ],
)
async def test_postgresql_refusing_the_login_or_missing_the_database_is_an_outage(
    refusal: type[Exception], code: str
) -> None:
    """The server answers, but refuses this bot: nothing works until ops fix it."""

    async def connect() -> Any:
        raise refusal("refused by the server")

    engine = create_async_engine("postgresql+asyncpg://voy:pw@db/voy", async_creator=connect)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except sa_exc.DBAPIError as exc:
        error: Exception = exc
    else:
        raise AssertionError("no error")
    finally:
        await engine.dispose()
    assert outage.unreachable(error) is error
    assert outage._code(error) == code


async def test_a_missing_postgresql_database_is_an_outage(postgres_url: str) -> None:
    error = await _error_of(postgres_url.rsplit("/", 1)[0] + "/voy_no_such_database")
    assert outage.unreachable(error) is error
    assert outage._code(error) == "3D000"


class _Bot:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_message(self, chat_id: int, text: str, **_: object) -> None:
        self.sent.append(text)


class _Episode:
    """``report`` and the probe job run by hand, with the monotonic clock in hand."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seconds = 1000.0
        monkeypatch.setattr(outage, "monotonic", lambda: self.seconds, raising=False)
        self.now = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
        self.good = tmp_path / "good.sqlite3"
        sqlite3.connect(self.good).close()
        self.away = tmp_path / "away.sqlite3"
        self.away.mkdir()  # a folder: SQLite cannot open it
        settings = SimpleNamespace(
            ops_chat_id=-100,
            ops_alert_window_minutes=15,
            default_locale="en",
            tz=UTC,
            outbox_interval_s=2.0,
        )
        self.services = SimpleNamespace(
            settings=settings,
            clock=SimpleNamespace(now=lambda: self.now),
            direct_alerts=DirectAlerts(),
            database_down_since=None,
            database_failed_at=None,
            database_alerted=False,
            engine=create_engine(f"sqlite+aiosqlite:///{self.away}"),
        )
        self.bot = _Bot()
        self.app = SimpleNamespace(
            bot_data=SimpleNamespace(services=self.services), bot=self.bot, job_queue=None
        )
        self.probing = True

    def stop_probing(self) -> None:
        self.probing = False

    async def answering(self, url: str) -> None:
        await self.services.engine.dispose()
        self.services.engine = create_engine(url)

    def wait(self, seconds: float) -> None:
        self.seconds += seconds
        self.now += timedelta(seconds=seconds)

    async def report(self, error: Exception) -> None:
        assert await outage.report(self.app, error)  # type: ignore[arg-type]
        self.probing = True

    async def probe(self) -> None:
        if self.probing:
            context = SimpleNamespace(
                application=self.app, job=SimpleNamespace(schedule_removal=self.stop_probing)
            )
            await outage._probe(context)

    def texts(self) -> list[str]:
        return [text[0] for text in self.bot.sent]

    async def close(self) -> None:
        await self.services.engine.dispose()


async def test_an_outage_again_after_the_database_came_back_is_alerted_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    episode = _Episode(tmp_path, monkeypatch)
    try:
        error = await _error_of(f"sqlite+aiosqlite:///{episode.away}")
        for _ in range(2):  # two outages within one alert window (15 min)
            await episode.answering(f"sqlite+aiosqlite:///{episode.away}")
            await episode.report(error)
            episode.wait(2)
            await episode.probe()  # still away
            await episode.answering(f"sqlite+aiosqlite:///{episode.good}")
            for _ in range(40):  # it answers again; nothing fails any more
                episode.wait(2)
                await episode.probe()
        assert episode.texts() == ["🔴", "🟢", "🔴", "🟢"], episode.bot.sent
    finally:
        await episode.close()


async def test_failures_while_select_1_answers_give_one_alert_and_no_all_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only or full database answers SELECT 1 while every write fails: it is not
    back until the writes stop failing for a while."""
    episode = _Episode(tmp_path, monkeypatch)
    try:
        url = f"sqlite+aiosqlite:///{episode.good}"
        read_only = await _error_of(
            url, "CREATE TABLE t (a INT)", "PRAGMA query_only = 1", "INSERT INTO t VALUES (1)"
        )
        assert outage._code(read_only) == "SQLITE_READONLY"
        await episode.answering(url)
        for second in range(120):  # a write fails every second; the probe runs every 2 s
            await episode.report(read_only)
            episode.wait(1)
            if second % 2:
                await episode.probe()
        assert episode.texts() == ["🔴"]
        for _ in range(int(outage.QUIET_S) // 2 + 2):  # the writes stop failing
            episode.wait(2)
            await episode.probe()
        assert episode.texts() == ["🔴", "🟢"]
    finally:
        await episode.close()


async def test_no_all_clear_without_an_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outage that sent no alert (here: no ops chat then) sends no notice of its end."""
    episode = _Episode(tmp_path, monkeypatch)
    try:
        episode.services.settings.ops_chat_id = None
        error = await _error_of(f"sqlite+aiosqlite:///{episode.away}")
        await episode.report(error)
        await episode.answering(f"sqlite+aiosqlite:///{episode.good}")
        episode.services.settings.ops_chat_id = -100
        for _ in range(40):
            episode.wait(2)
            await episode.probe()
        assert episode.bot.sent == [] and episode.services.database_down_since is None
    finally:
        await episode.close()


class _Conflicted:
    """``runner._polling_error`` fed by hand, with a bot whose first sends can fail."""

    def __init__(self, failures: int = 0) -> None:
        self.seconds = 0.0
        self.failures = failures
        self.sent: list[str] = []
        settings = SimpleNamespace(
            ops_chat_id=-100, ops_alert_window_minutes=15, default_locale="en", instance_id="a"
        )
        self.services = SimpleNamespace(
            settings=settings,
            clock=SimpleNamespace(now=lambda: datetime(2026, 11, 18, 2, 0, tzinfo=UTC)),
            direct_alerts=DirectAlerts(),
            polling=PollingWatch(clock=lambda: self.seconds),
        )
        self.tasks: list[asyncio.Task[Any]] = []
        self.app = SimpleNamespace(
            bot_data=SimpleNamespace(services=self.services),
            bot=SimpleNamespace(send_message=self._send),
            create_task=lambda coroutine, name=None: self.tasks.append(
                asyncio.ensure_future(coroutine)
            ),
        )

    async def _send(self, chat_id: int, text: str, **_: object) -> None:
        if self.failures:
            self.failures -= 1
            raise NetworkError("Telegram is out of reach too")
        self.sent.append(text)

    async def conflicts(self, count: int, message: str) -> None:
        for _ in range(count):
            self.seconds += 1
            runner._polling_error(self.app, Conflict(message))  # type: ignore[arg-type]
            await asyncio.gather(*self.tasks)


_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


async def test_a_conflict_alert_that_could_not_be_sent_is_tried_on_the_next_409() -> None:
    conflicted = _Conflicted(failures=1)
    await conflicted.conflicts(3, _OTHER_POLL)
    assert conflicted.sent == []  # the send failed
    await conflicted.conflicts(3, _OTHER_POLL)
    assert len(conflicted.sent) == 1 and "Another instance" in conflicted.sent[0]


async def test_a_webhook_set_is_told_apart_from_another_instance_polling() -> None:
    conflicted = _Conflicted()
    await conflicted.conflicts(5, _WEBHOOK)
    assert conflicted.services.polling.problem() == "webhook_set"
    (alert,) = conflicted.sent
    assert "webhook" in alert and "Another instance" not in alert


async def test_a_conflict_whose_reason_changes_is_reported_again() -> None:
    """Another instance polled, then set a webhook: the 409s never stopped, but ops
    hears of the webhook too (/healthz already said so)."""
    conflicted = _Conflicted()
    await conflicted.conflicts(4, _OTHER_POLL)
    await conflicted.conflicts(3, _WEBHOOK)
    assert conflicted.services.polling.problem() == "webhook_set"
    assert len(conflicted.sent) == 2 and "webhook" in conflicted.sent[1], conflicted.sent


async def test_a_failed_commit_whose_rollback_fails_too_is_reported_once(sqlite_url: str) -> None:
    """The commit fails (told), then the rollback raises: the same failure, not told
    again (it would count twice in voy_database_unreachable_total)."""
    await prepare(sqlite_url)
    failing = [False]

    class FailingSession(AsyncSession):
        async def commit(self) -> None:
            if failing[0]:
                raise OSError("the disk went away")
            await super().commit()

        async def rollback(self) -> None:
            if failing[0]:
                raise OSError("the disk went away")
            await super().rollback()

    engine = create_engine(sqlite_url)
    told: list[BaseException] = []

    async def failed(update: Update, error: Exception) -> None:
        told.append(error)

    async def handlers() -> None:
        failing[0] = True

    async def rerun(update: Update) -> None:
        raise AssertionError("not tried again")

    processor = SessionUpdateProcessor(
        async_sessionmaker(engine, class_=FailingSession, expire_on_commit=False),
        default_locale="en",
    )
    processor.bind(rerun, failed=failed)
    update = _text_update(7, 1001, "小明")
    try:
        await processor.do_process_update(update, handlers())
    finally:
        await engine.dispose()
    assert len(told) == 1


# The "handled" mark refused (a constraint: no outage), then the "failed" mark refused
# otherwise (SQLite: SQL the database rejects; PostgreSQL: a connection failure, 08006).
_MARKS_REFUSED_SQLITE = (
    "CREATE TRIGGER refuse_handled BEFORE UPDATE ON inbound_messages "
    "WHEN NEW.status = 'handled' BEGIN SELECT RAISE(ABORT, 'boom'); END",
    "CREATE TRIGGER refuse_failed BEFORE UPDATE ON inbound_messages "
    "WHEN NEW.status = 'failed' BEGIN SELECT json('bang'); END",
)
_MARKS_REFUSED_POSTGRES = (
    "CREATE FUNCTION refuse_marks() RETURNS trigger AS $$ BEGIN "
    "IF NEW.status = 'handled' THEN RAISE EXCEPTION 'boom'; END IF; "
    "IF NEW.status = 'failed' THEN RAISE EXCEPTION 'bang' USING ERRCODE = '08006'; END IF; "
    "RETURN NEW; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER refuse_marks BEFORE UPDATE ON inbound_messages "
    "FOR EACH ROW EXECUTE FUNCTION refuse_marks()",
)


async def test_a_different_error_after_a_failed_commit_is_reported_too(db_url: str) -> None:
    """The "handled" mark fails (told: no outage), then storing the update as failed
    fails with another error: that one is told too (it may be the outage the first was
    not); it was not, the update's failure counting as told already."""
    await prepare(db_url)
    engine = create_engine(db_url)
    postgres = engine.dialect.name == "postgresql"
    told: list[BaseException] = []

    async def failed(update: Update, error: Exception) -> None:
        told.append(error)

    async def handlers() -> None:
        pass

    async def rerun(update: Update) -> None:
        raise AssertionError("not tried again")

    processor = SessionUpdateProcessor(
        async_sessionmaker(engine, expire_on_commit=False), default_locale="en"
    )
    processor.bind(rerun, failed=failed)
    async with engine.begin() as connection:
        for statement in _MARKS_REFUSED_POSTGRES if postgres else _MARKS_REFUSED_SQLITE:
            await connection.execute(text(statement))
    update = _text_update(8, 1002, "小红")
    try:
        await processor.do_process_update(update, handlers())
    finally:
        await engine.dispose()
    second = "bang" if postgres else "malformed JSON"
    assert [("boom" in str(e), second in str(e)) for e in told] == [(True, False), (False, True)]
    # On PostgreSQL the second is a connection failure: the outage the first was not.
    assert outage.unreachable(told[0]) is None
    assert (outage.unreachable(told[1]) is not None) is postgres
