"""The outbox and its deliverer: scheduling, quiet hours, errors, crashes and two instances.

The deliverer sends through a real ``telegram.Bot`` to a real sandbox over HTTP; the clock
is moved instead of sleeping.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CallbackContext
from telegram.warnings import PTBDeprecationWarning

from bot.clock import Clock
from bot.delivery import (
    Deliverer,
    DeliveryReport,
    DeliverySettings,
    classify,
    quiet_until,
    register,
)
from bot.services import outbox, users
from sandbox import SandboxClient, SandboxServer
from storage import migrate
from storage.base import Base
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.outbox import OutboxMessage
from tests.support import TOKEN, XIAOMING

YOUTH_ID = cast(int, XIAOMING["id"])
SHANGHAI = ZoneInfo("Asia/Shanghai")
GROUP = -1001000000077
SETTINGS = DeliverySettings(interval_s=0.1, rate_per_s=1000.0)

Sessions = async_sessionmaker[AsyncSession]


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in March 2026, Shanghai time, as aware UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture(
    params=[
        pytest.param(
            "sqlite", marks=pytest.mark.sqlite_only("its postgres parameter covers this run")
        ),
        "postgres",
    ]
)
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh database on each backend (PostgreSQL only when configured)."""
    return str(
        request.getfixturevalue("sqlite_file_url" if request.param == "sqlite" else "postgres_url")
    )


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[Sessions]:
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def bot(sandbox: SandboxServer) -> AsyncIterator[Bot]:
    telegram_bot = Bot(token=TOKEN, base_url=sandbox.base_url)
    await telegram_bot.initialize()
    yield telegram_bot
    await telegram_bot.shutdown()


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox.url) as sandbox_client:
        await sandbox_client.set_chat(GROUP, title="团委工作群")
        yield sandbox_client


@pytest.fixture
def clock() -> Clock:
    moment = Clock()
    moment.set(local(2, 10))  # a Monday morning
    return moment


async def schedule(sessions: Sessions, key: str, **fields: Any) -> OutboxMessage | None:
    values: dict[str, Any] = {
        "kind": "test",
        "chat_id": GROUP,
        "text": f"<b>{key}</b>",
        "audience": "staff",
        "due_at": datetime.now(UTC) - timedelta(days=365),
    }
    values.update(fields)
    async with unit_of_work(sessions) as session:
        return await outbox.enqueue(session, dedupe_key=key, **values)


async def row(sessions: Sessions, key: str) -> OutboxMessage:
    async with sessions() as session:
        found = await session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
    assert found is not None
    return found


async def bot_texts(client: SandboxClient, chat_id: int) -> list[str]:
    return [
        m.get("text") or m.get("caption") or ""
        for m in await client.messages(chat_id)
        if m["from_bot"]
    ]


def deliverer(bot: Bot, sessions: Sessions, clock: Clock, **overrides: Any) -> Deliverer:
    """A deliverer whose leases run on the test's clock too (in production: the
    database's; test_audit_outbox_skew shows why)."""
    settings = DeliverySettings(**{**SETTINGS.__dict__, **overrides})

    async def lease_clock(_session: object) -> datetime:
        return Clock.now(clock)  # a look at it, which a SlowClock does not count

    return Deliverer(bot, sessions, clock, settings, lease_clock=lease_clock)


# --- the service -------------------------------------------------------------------


async def test_enqueue_twice_with_one_key_schedules_once(sessions: Sessions) -> None:
    first = await schedule(sessions, "sla:question:1:1", ref=("question", 1))
    assert first is not None and first.id and first.state == "pending"
    assert first.ref_type == "question" and first.ref_id == 1 and first.reply_markup is None
    assert await schedule(sessions, "sla:question:1:1", text="other") is None
    async with sessions() as session:
        assert await outbox.pending_count(session) == 1


async def test_enqueue_does_not_commit_for_the_caller(sessions: Sessions) -> None:
    async with sessions() as session:
        await outbox.enqueue(
            session,
            kind="test",
            chat_id=1,
            text="x",
            due_at=datetime.now(UTC),
            dedupe_key="rolled-back",
            audience="staff",
        )
        await session.rollback()
    async with sessions() as session:
        assert await outbox.pending_count(session) == 0


async def test_racing_producers_schedule_once(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await migrate.upgrade(engine)
        sessions = create_session_factory(engine)
        fields: dict[str, Any] = {
            "kind": "test",
            "chat_id": 1,
            "text": "x",
            "due_at": datetime.now(UTC),
            "dedupe_key": "race",
            "audience": "staff",
        }
        async with sessions() as first, sessions() as second:
            assert await outbox.enqueue(first, **fields) is not None
            # The second insert waits for the first transaction, then yields to it.
            racing = asyncio.create_task(outbox.enqueue(second, **fields))
            await asyncio.sleep(0.1)
            await first.commit()
            assert await racing is None
            await second.commit()
        async with sessions() as session:
            assert await outbox.pending_count(session) == 1
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"due_at": datetime(2026, 3, 2, 10)}, "aware"),
        ({"method": "photo"}, "attachment"),
        ({"method": "photo", "attachment": b"x", "file_id": "AgAD"}, "not both"),
        ({"method": "photo", "file_id": "x" * 256}, "file_id"),
        ({"file_id": "AgAD"}, "no attachment"),
        ({"audience": "everyone"}, "audience"),
        ({"text": " "}, "needs text"),
        ({"method": "document", "attachment": b"x" * (5 * 1024 * 1024 + 1)}, "bytes"),
    ],
)
async def test_enqueue_refuses_unsendable_messages(
    sessions: Sessions, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await schedule(sessions, "bad", **fields)


async def test_cancel_touches_only_pending_rows_of_the_item(sessions: Sessions) -> None:
    await schedule(sessions, "a", kind="sla_reminder", ref=("question", 7))
    await schedule(sessions, "b", kind="escalation", ref=("question", 7))
    await schedule(sessions, "c", kind="sla_reminder", ref=("question", 8))
    await schedule(sessions, "d", kind="sla_reminder", ref=("question", 7))
    async with unit_of_work(sessions) as session:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.dedupe_key == "d").values(state="sent")
        )
    async with unit_of_work(sessions) as session:
        assert await outbox.cancel(session, ref_type="question", ref_id=7, kinds=["x"]) == 0
        assert (
            await outbox.cancel(session, ref_type="question", ref_id=7, kinds=["sla_reminder"])
            == 1
        )
        assert await outbox.cancel(session, ref_type="question", ref_id=7) == 1
    states = {key: (await row(sessions, key)).state for key in "abcd"}
    assert states == {"a": "cancelled", "b": "cancelled", "c": "pending", "d": "sent"}


async def test_pending_count_and_oldest_lag(sessions: Sessions, clock: Clock) -> None:
    now = clock.now()
    async with sessions() as session:
        assert await outbox.oldest_due_lag(session, now) is None
    await schedule(sessions, "late", due_at=now - timedelta(minutes=5))
    await schedule(sessions, "later", due_at=now - timedelta(minutes=1))
    await schedule(sessions, "future", due_at=now + timedelta(hours=1))
    async with sessions() as session:
        assert await outbox.pending_count(session) == 3
        lag = await outbox.oldest_due_lag(session, now)
    assert lag is not None and timedelta(minutes=5) <= lag < timedelta(minutes=5, seconds=1)


# --- the decisions -----------------------------------------------------------------


def test_quiet_hours_wrap_midnight() -> None:
    assert quiet_until(local(2, 21, 59), SETTINGS) is None
    assert quiet_until(local(2, 22), SETTINGS) == local(3, 8)
    assert quiet_until(local(2, 23), SETTINGS) == local(3, 8)
    assert quiet_until(local(3, 1, 30), SETTINGS) == local(3, 8)
    assert quiet_until(local(3, 7, 59), SETTINGS) == local(3, 8)
    assert quiet_until(local(3, 8), SETTINGS) is None
    daytime = DeliverySettings(quiet_start=time(12), quiet_end=time(14))
    assert quiet_until(local(2, 13), daytime) == local(2, 14)
    assert quiet_until(local(2, 23), daytime) is None
    assert (
        quiet_until(local(2, 23), DeliverySettings(quiet_start=time(0), quiet_end=time(0))) is None
    )


def retry_after(seconds: int) -> RetryAfter:
    with warnings.catch_warnings():  # PTB 22 warns on building one, about a future type
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return RetryAfter(seconds)


def test_classify_errors() -> None:
    now = datetime(2026, 3, 2, 2, tzinfo=UTC)
    settings = DeliverySettings(base_backoff_s=30, max_attempts=6)

    flood = classify(retry_after(42), attempts=2, now=now, settings=settings)
    assert (flood.state, flood.attempts, flood.due_at) == (
        "pending",
        2,
        now + timedelta(seconds=42),
    )

    first = classify(TimedOut(), attempts=0, now=now, settings=settings)
    assert (first.state, first.attempts, first.due_at) == (
        "pending",
        1,
        now + timedelta(seconds=30),
    )
    third = classify(NetworkError("reset"), attempts=2, now=now, settings=settings)
    assert (third.attempts, third.due_at) == (3, now + timedelta(seconds=120))
    capped = classify(
        TimedOut(), attempts=3, now=now, settings=DeliverySettings(base_backoff_s=900)
    )
    assert capped.due_at == now + timedelta(hours=1)
    last = classify(TimedOut(), attempts=5, now=now, settings=settings)
    assert (last.state, last.attempts) == ("failed", 6)

    bad = classify(BadRequest("Chat not found"), attempts=0, now=now, settings=settings)
    assert bad.state == "failed" and "Chat not found" in bad.error
    blocked = classify(Forbidden("bot was blocked"), attempts=0, now=now, settings=settings)
    assert blocked.state == "unreachable"
    moved = classify(ChatMigrated(-1009), attempts=1, now=now, settings=settings)
    assert (moved.state, moved.chat_id, moved.attempts, moved.due_at) == ("pending", -1009, 1, now)
    odd = classify(RuntimeError("bug"), attempts=0, now=now, settings=settings)
    assert (odd.state, odd.attempts) == ("pending", 1)


# --- the deliverer -----------------------------------------------------------------


async def test_sends_what_is_due_and_only_that(
    sessions: Sessions, bot: Bot, client: SandboxClient, clock: Clock
) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("好的", callback_data="v1:ok:1")]])
    await schedule(sessions, "now", due_at=clock.now(), reply_markup=markup.to_dict())
    await schedule(sessions, "soon", due_at=clock.now() + timedelta(hours=1))
    sender = deliverer(bot, sessions, clock)

    assert await sender.run_once() == DeliveryReport(sent=1)
    assert await bot_texts(client, GROUP) == ["now"]
    (message,) = await client.messages(GROUP)
    assert message["html"] == "<b>now</b>"
    assert message["reply_markup"] == [[{"text": "好的", "callback_data": "v1:ok:1"}]]
    sent = await row(sessions, "now")
    assert sent.state == "sent" and sent.sent_message_id == message["message_id"]
    assert sent.sent_at is not None and sent.lease_until is None

    assert await sender.run_once() == DeliveryReport()
    clock.advance(hours=1)
    assert await sender.run_once() == DeliveryReport(sent=1)
    assert await bot_texts(client, GROUP) == ["now", "soon"]


async def test_quiet_hours_hold_youth_until_morning(
    sessions: Sessions, bot: Bot, client: SandboxClient, clock: Clock
) -> None:
    await client.send_text(XIAOMING, "你好")  # opens the private chat
    youth = YOUTH_ID
    await schedule(sessions, "night", chat_id=youth, audience="youth", due_at=local(2, 23))
    await schedule(sessions, "small", chat_id=youth, audience="youth", due_at=local(3, 1, 30))
    await schedule(sessions, "staff", audience="staff", due_at=local(2, 23))
    sender = deliverer(bot, sessions, clock)

    clock.set(local(2, 23))
    assert await sender.run_once() == DeliveryReport(sent=1, deferred=1)
    assert await bot_texts(client, GROUP) == ["staff"]
    held = await row(sessions, "night")
    assert (held.state, held.due_at, held.lease_until) == ("pending", local(3, 8), None)

    clock.set(local(3, 1, 30))  # after midnight, still quiet
    assert await sender.run_once() == DeliveryReport(deferred=1)
    assert (await row(sessions, "small")).due_at == local(3, 8)
    clock.set(local(3, 7, 59))
    assert await sender.run_once() == DeliveryReport()
    assert await bot_texts(client, youth) == []

    clock.set(local(3, 8))
    assert await sender.run_once() == DeliveryReport(sent=2)
    assert await bot_texts(client, youth) == ["night", "small"]


async def test_a_broadcast_running_into_the_night_keeps_its_pace_in_the_morning(
    sessions: Sessions, bot: Bot, client: SandboxClient, clock: Clock
) -> None:
    """Its rows move by the night's length (10 h), so they go out from 08:00 at the rate
    they were spaced at and an answer due at 08:00:01 is not stuck behind all of them;
    a row left from before the night, and any other youth row, goes at 08:00."""
    await client.send_text(XIAOMING, "你好")
    youth = YOUTH_ID
    due = [local(2, 21, 59), local(2, 22), local(2, 22) + timedelta(seconds=1)]
    for n, when in enumerate(due):
        await schedule(
            sessions, f"b{n}", chat_id=youth, audience="youth", kind="broadcast", due_at=when
        )
    await schedule(sessions, "answer", chat_id=youth, audience="youth", due_at=local(2, 23))
    sender = deliverer(bot, sessions, clock)

    clock.set(local(2, 23))
    assert await sender.run_once() == DeliveryReport(deferred=4)
    morning = local(3, 8)
    assert [(await row(sessions, key)).due_at for key in ("b0", "b1", "b2", "answer")] == [
        morning,  # the backlog from before the night
        morning,
        morning + timedelta(seconds=1),
        morning,
    ]
    clock.set(morning)
    assert await sender.run_once() == DeliveryReport(sent=3)
    assert (await row(sessions, "b2")).state == "pending"


async def test_blocked_user_is_marked_unreachable(
    sessions: Sessions, bot: Bot, client: SandboxClient, clock: Clock
) -> None:
    youth = YOUTH_ID
    async with unit_of_work(sessions) as session:
        await users.touch(
            session,
            telegram_id=youth,
            first_name="小明",
            language_code="zh-hans",
            default_locale="zh-Hans",
        )
    await client.send_text(XIAOMING, "你好")
    await client.block(youth)
    await schedule(sessions, "blocked", chat_id=youth, recipient_user_id=youth, audience="youth")

    assert await deliverer(bot, sessions, clock).run_once() == DeliveryReport(unreachable=1)
    stored = await row(sessions, "blocked")
    assert stored.state == "unreachable" and "blocked" in (stored.last_error or "")
    async with sessions() as session:
        user = await users.get_by_telegram_id(session, youth)
    assert user is not None and user.unreachable_at is not None


async def test_chat_not_found_fails_for_good(
    sessions: Sessions, bot: Bot, client: SandboxClient, clock: Clock
) -> None:
    await schedule(sessions, "nowhere", chat_id=424242)
    assert await deliverer(bot, sessions, clock).run_once() == DeliveryReport(failed=1)
    stored = await row(sessions, "nowhere")
    assert stored.state == "failed" and "chat not found" in (stored.last_error or "").lower()
    # The sandbox counts it as a mistake, as it is one; it was made on purpose here.
    (violation,) = await client.violations()
    assert "chat not found" in violation["description"]
    await client.clear_violations()


async def test_row_left_sending_by_a_crash_is_delivered_once(
    sessions: Sessions, bot: Bot, client: SandboxClient, clock: Clock
) -> None:
    await schedule(sessions, "crashed")
    await schedule(sessions, "in-flight")
    async with unit_of_work(sessions) as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == "crashed")
            .values(state="sending", lease_until=clock.now() - timedelta(seconds=1))
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == "in-flight")
            .values(state="sending", lease_until=clock.now() + timedelta(seconds=60))
        )
    sender = deliverer(bot, sessions, clock)

    assert await sender.run_once() == DeliveryReport(sent=1)
    assert await sender.run_once() == DeliveryReport()
    assert await bot_texts(client, GROUP) == ["crashed"]
    # A live lease is another sender's; only once it expires is the row taken over.
    clock.advance(seconds=61)
    assert await sender.run_once() == DeliveryReport(sent=1)
    assert await sender.run_once() == DeliveryReport()
    assert await bot_texts(client, GROUP) == ["crashed", "in-flight"]


class SlowClock(Clock):
    """Twenty seconds pass whenever someone looks: sends that take ages."""

    def now(self) -> datetime:
        moment = super().now()
        self.set(moment + timedelta(seconds=20))
        return moment


async def test_stops_before_the_lease_runs_out(
    sessions: Sessions, bot: Bot, client: SandboxClient, clock: Clock
) -> None:
    for key in ("one", "two", "three"):
        await schedule(sessions, key, due_at=clock.now())
    slow = SlowClock()
    slow.set(clock.now())
    # Lease 60 s, so sending stops 30 s in: the claim at 0 s, one send checked at 20 s,
    # its record at 40 s, the next check at 60 s gives the rest back.
    assert await deliverer(bot, sessions, slow, lease_s=60).run_once() == DeliveryReport(sent=1)
    assert await bot_texts(client, GROUP) == ["one"]
    for key in ("two", "three"):
        given_back = await row(sessions, key)
        assert (given_back.state, given_back.lease_until) == ("pending", None)
    assert await deliverer(bot, sessions, clock).run_once() == DeliveryReport(sent=2)
    assert await bot_texts(client, GROUP) == ["one", "two", "three"]


async def test_two_deliverers_send_each_row_once(
    db_url: str, bot: Bot, client: SandboxClient, clock: Clock
) -> None:
    engines = [create_engine(db_url) for _ in range(2)]
    try:
        await migrate.upgrade(engines[0])
        first, second = (create_session_factory(engine) for engine in engines)
        for number in range(30):
            await schedule(first, f"m{number:02}", due_at=clock.now())
        senders = [deliverer(bot, factory, clock, batch=4) for factory in (first, second)]
        total = 0
        for _ in range(20):
            reports = await asyncio.gather(*(sender.run_once() for sender in senders))
            total += sum(report.sent for report in reports)
            if not any(report.total for report in reports):
                break
        texts = await bot_texts(client, GROUP)
        assert total == 30
        assert sorted(texts) == [f"m{number:02}" for number in range(30)]
    finally:
        for engine in engines:
            await engine.dispose()


async def test_photo_and_document_arrive_with_their_names(
    sessions: Sessions, bot: Bot, client: SandboxClient, clock: Clock
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    await schedule(
        sessions,
        "chart",
        method="photo",
        text="本周<b>图表</b>",
        attachment=png,
        attachment_name="chart.png",
    )
    await schedule(
        sessions,
        "report",
        method="document",
        text="",
        attachment=b"week,questions\n12,40\n",
        attachment_name="digest.csv",
    )
    assert await deliverer(bot, sessions, clock).run_once() == DeliveryReport(sent=2)
    photo, document = [m for m in await client.messages(GROUP) if m["from_bot"]]
    assert photo["photo"]["file_name"] == "chart.png" and photo["caption"] == "本周图表"
    assert document["document"]["file_name"] == "digest.csv"
    assert document["document"]["size"] == len(b"week,questions\n12,40\n")


async def test_job_is_registered_once_and_failures_reach_the_error_handler(
    sandbox: SandboxServer, database_url: str, clock: Clock
) -> None:
    application = ApplicationBuilder().token(TOKEN).base_url(sandbox.base_url).build()
    assert application.job_queue is not None
    engine = create_engine(database_url)  # never migrated: every run fails
    errors: list[object] = []

    async def on_error(_update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
        errors.append(context.error)

    application.add_error_handler(on_error)
    try:
        broken = Deliverer(application.bot, create_session_factory(engine), clock, SETTINGS)
        # As from post_init, before the job queue starts; a second call replaces the first.
        register(application, broken, SETTINGS)
        register(application, broken, SETTINGS)
        async with application:
            await application.start()
            try:
                (only,) = application.job_queue.jobs()
                assert only.job.id == "outbox" and only.name == "outbox"
                assert (only.job.max_instances, only.job.coalesce) == (1, True)
                errors.clear()  # the scheduled first tick may have failed already
                await only.run(application)
                for _ in range(100):
                    if errors:
                        break
                    await asyncio.sleep(0.02)
            finally:
                await application.stop()
        # The failure reached the error handler (which logs it and alerts the ops chat).
        assert errors and all(isinstance(e, DBAPIError) for e in errors)
    finally:
        await engine.dispose()


async def test_migration_round_trip(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await migrate.upgrade(engine)

        def outbox_diff(connection: Connection) -> list[Any]:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            return [change for change in diff if "outbox" in repr(change)]

        def tables(connection: Connection) -> set[str]:
            return set(inspect(connection).get_table_names())

        async with engine.connect() as connection:
            assert await connection.run_sync(outbox_diff) == []
        await migrate.downgrade(engine, "0002")
        async with engine.connect() as connection:
            assert "outbox" not in await connection.run_sync(tables)
        await migrate.upgrade(engine)
        sessions = create_session_factory(engine)
        assert await schedule(sessions, "after-round-trip") is not None
        async with sessions() as session:
            stored_null = await session.scalar(
                select(OutboxMessage.id).where(OutboxMessage.reply_markup.is_(None))
            )
        assert stored_null is not None  # SQL NULL, not JSON null
    finally:
        await engine.dispose()
