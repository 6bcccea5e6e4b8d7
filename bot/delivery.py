"""The deliverer: sends what is due in the outbox, once, and records how it went.

A repeating PTB job wakes :meth:`Deliverer.run_once`; the rows hold all the state, so a
restart loses nothing. Each run:

1. **Claims** due rows in one short transaction: pending rows due by now, and rows left
   ``sending`` whose lease ran out (their sender died). Claiming sets ``sending`` and a
   lease. PostgreSQL locks the candidates with ``SKIP LOCKED``; on both backends the
   claiming ``UPDATE`` re-checks that each row is still claimable, so two instances never
   claim the same row. Youth rows met inside quiet hours go back to pending, due when the
   quiet hours end.
2. **Sends** each claimed row, paced to ``rate_per_s`` (under Telegram's ~30/s), with no
   transaction open, and stops early rather than send on a lease about to run out.
3. **Records** each outcome in its own transaction right after the send: sent, retried
   later (``RetryAfter``, network errors with exponential backoff), unreachable (403, and
   the user is marked), or failed (400, or too many attempts).

What is guaranteed: a row is never sent twice by two instances, and a row committed to
the outbox is sent (or ends failed, unreachable or cancelled) whatever restarts happen.
What is not: delivery is at-least-once in two narrow windows. If the process dies after
Telegram accepted a message but before step 3 commits, the lease expires and the row is
sent again; and a send that times out may have reached Telegram, yet is retried.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Update, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardMarkup, InputFile, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter
from telegram.ext import Application, Job
from telegram.warnings import PTBDeprecationWarning

from bot import logs, metrics
from bot.clock import Clock
from bot.config import Settings
from bot.leases import database_now
from bot.services import users
from bot.services.broadcasts import OUTBOX_KIND as BROADCAST_KIND
from storage.db import unit_of_work
from storage.outbox import (
    AUDIENCE_YOUTH,
    METHOD_DOCUMENT,
    METHOD_PHOTO,
    STATE_FAILED,
    STATE_PENDING,
    STATE_SENDING,
    STATE_SENT,
    STATE_UNREACHABLE,
    OutboxMessage,
)

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliverySettings:
    """How often, how fast and when the deliverer sends."""

    interval_s: float = 2.0
    batch: int = 50
    max_attempts: int = 6
    base_backoff_s: float = 30
    max_backoff_s: float = 3600
    lease_s: float = 60
    rate_per_s: float = 20.0
    quiet_start: time = time(22, 0)
    quiet_end: time = time(8, 0)
    timezone: str = "Asia/Shanghai"


@dataclass
class DeliveryReport:
    """What one run did with the rows it claimed."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    unreachable: int = 0
    deferred: int = 0

    @property
    def total(self) -> int:
        """Rows handled in any way."""
        return sum(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True)
class Outcome:
    """What to do with a row whose send raised: its next state and when to try again."""

    state: str
    error: str
    attempts: int
    due_at: datetime | None = None
    chat_id: int | None = None  # the new id of a group that became a supergroup


def delivery_settings(settings: Settings) -> DeliverySettings:
    """The deliverer's settings from the application's."""
    return DeliverySettings(
        interval_s=settings.outbox_interval_s,
        rate_per_s=settings.outbox_rate_per_s,
        lease_s=settings.outbox_lease_s,
        quiet_start=settings.quiet_hours_start,
        quiet_end=settings.quiet_hours_end,
        timezone=settings.timezone,
    )


def quiet_length(settings: DeliverySettings) -> timedelta:
    """How long the quiet hours last (the window may wrap midnight)."""

    def seconds(moment: time) -> int:
        return moment.hour * 3600 + moment.minute * 60 + moment.second

    return timedelta(seconds=(seconds(settings.quiet_end) - seconds(settings.quiet_start)) % 86400)


def quiet_until(moment: datetime, settings: DeliverySettings) -> datetime | None:
    """Return when the quiet hours around ``moment`` end (UTC), or None outside them."""
    start, end = settings.quiet_start, settings.quiet_end
    if start == end:
        return None
    zone = ZoneInfo(settings.timezone)
    local = moment.astimezone(zone)
    clock = local.time()
    end_date = local.date()
    if start < end:
        inside = start <= clock < end
    else:  # the window wraps midnight
        inside = clock >= start or clock < end
        if clock >= start:
            end_date += timedelta(days=1)
    if not inside:
        return None
    return datetime.combine(end_date, end, tzinfo=zone).astimezone(UTC)


def classify(
    exc: Exception, *, attempts: int, now: datetime, settings: DeliverySettings
) -> Outcome:
    """Decide what a failed send means for its row (``attempts``: failures before this one)."""
    error = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, RetryAfter):
        return Outcome(STATE_PENDING, error, attempts, due_at=now + retry_wait(exc))
    if isinstance(exc, ChatMigrated):
        return Outcome(STATE_PENDING, error, attempts, due_at=now, chat_id=exc.new_chat_id)
    if isinstance(exc, Forbidden):
        return Outcome(STATE_UNREACHABLE, error, attempts)
    if isinstance(exc, BadRequest):  # before NetworkError: BadRequest is a subclass
        return Outcome(STATE_FAILED, error, attempts)
    # TimedOut, NetworkError and anything unexpected: back off, then give up.
    attempts += 1
    if attempts >= settings.max_attempts:
        return Outcome(STATE_FAILED, error, attempts)
    backoff = min(settings.base_backoff_s * 2 ** (attempts - 1), settings.max_backoff_s)
    return Outcome(STATE_PENDING, error, attempts, due_at=now + timedelta(seconds=backoff))


# Delivery outcomes as the metrics name them.
_OUTCOME_LABELS = {
    STATE_PENDING: "retried",
    STATE_UNREACHABLE: "unreachable",
    STATE_FAILED: "failed",
}


def retry_wait(exc: RetryAfter) -> timedelta:
    """How long Telegram's flood control asks to wait, whichever type PTB gives it in."""
    with warnings.catch_warnings():  # PTB 22 warns that this becomes a timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


class Deliverer:
    """Claims due outbox rows, sends them through the bot and records the outcome."""

    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: DeliverySettings,
        lease_clock: Callable[[AsyncSession], Awaitable[datetime]] | None = None,
    ) -> None:
        """Create a deliverer; it holds no session between runs. ``lease_clock`` stands
        in for the database's clock (tests)."""
        self._bot = bot
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        # Leases are taken and judged on one clock all instances share, the database's:
        # a host whose clock ran ahead would otherwise take over a row still being sent.
        self._lease_clock = lease_clock or database_now
        self._last_send = float("-inf")
        # When each of the last ``rate_per_s`` sends finished (see ``_pace``).
        self._finished: deque[float] = deque(maxlen=max(1, int(settings.rate_per_s)))

    async def run_once(self) -> DeliveryReport:
        """Claim, send and record one batch of due rows."""
        report = DeliveryReport()
        now = self._clock.now()
        rows, lease_until = await self._claim(now, report)
        # Stop while the lease still covers a slow send; another instance may then take over.
        lease = self._settings.lease_s
        stop_at = now + timedelta(seconds=lease - min(lease / 2, 30))
        for index, row in enumerate(rows):
            if self._clock.now() >= stop_at:
                await self._release(rows[index:], lease_until)
                break
            await self._pace()
            await self._deliver(row, lease_until, report)
        return report

    async def _claim(
        self, now: datetime, report: DeliveryReport
    ) -> tuple[list[OutboxMessage], datetime]:
        """Claim a batch of due rows (``now``: the application's clock, which says what is
        due); return them and the lease they were claimed until (the database's clock)."""
        async with unit_of_work(self._sessions) as session:
            leased_at = await self._lease_clock(session)
            lease_until = leased_at + timedelta(seconds=self._settings.lease_s)
            return await self._claim_in(session, now, leased_at, lease_until, report), lease_until

    async def _claim_in(
        self,
        session: AsyncSession,
        now: datetime,
        leased_at: datetime,
        lease_until: datetime,
        report: DeliveryReport,
    ) -> list[OutboxMessage]:
        claimable = or_(
            and_(OutboxMessage.state == STATE_PENDING, OutboxMessage.due_at <= now),
            and_(OutboxMessage.state == STATE_SENDING, OutboxMessage.lease_until <= leased_at),
        )
        # One statement, so the write lock (SQLite) or the row locks (PostgreSQL, skipping
        # rows another instance is claiming) come before the rows are read; the outer
        # condition re-checks each row, so a row claimed meanwhile is left alone.
        candidates = (
            select(OutboxMessage.id)
            .where(claimable)
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .limit(self._settings.batch)
            .with_for_update(skip_locked=True)
        )
        claimed = list(
            await session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(candidates), claimable)
                .values(state=STATE_SENDING, lease_until=lease_until)
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            )
        )
        if not claimed:
            return []
        rows = list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.id.in_(claimed))
                .order_by(OutboxMessage.due_at, OutboxMessage.id)
            )
        )
        quiet_end = quiet_until(now, self._settings)
        if quiet_end is None:
            return rows
        night = quiet_length(self._settings)
        sending = []
        for row in rows:
            if row.audience == AUDIENCE_YOUTH:
                # A broadcast keeps its pace: its rows move by the length of the night,
                # so those due from its start go out from its end at the send rate, and
                # a card or an answer due meanwhile is not stuck behind all of them.
                # Other rows, and a broadcast's backlog from before, go at its end.
                later = quiet_end
                if row.kind == BROADCAST_KIND:
                    later = max(quiet_end, row.due_at + night)
                row.state, row.due_at, row.lease_until = STATE_PENDING, later, None
                report.deferred += 1
            else:
                sending.append(row)
        return sending

    async def _pace(self) -> None:
        if self._settings.rate_per_s <= 0:
            return
        loop = asyncio.get_running_loop()
        wait = self._last_send + 1 / self._settings.rate_per_s - loop.time()
        # Even spacing alone lets network jitter squeeze rate+1 messages into one second
        # at Telegram's end. Starting only a second after the send `rate` places back
        # *finished* keeps any second at Telegram to at most `rate` messages.
        finished = self._finished
        if finished.maxlen is not None and len(finished) == finished.maxlen:
            wait = max(wait, finished[0] + 1.0 - loop.time())
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_send = loop.time()

    async def _deliver(
        self, row: OutboxMessage, lease_until: datetime, report: DeliveryReport
    ) -> None:
        try:
            message = await self._send(row)
        except Exception as exc:
            self._finished.append(asyncio.get_running_loop().time())
            outcome = classify(
                exc, attempts=row.attempts, now=self._clock.now(), settings=self._settings
            )
            await self._record_failure(row, outcome, lease_until, report)
        else:
            self._finished.append(asyncio.get_running_loop().time())
            await self._record_sent(row, message, lease_until, report)

    async def _send(self, row: OutboxMessage) -> Message:
        markup = (
            InlineKeyboardMarkup.de_json(row.reply_markup, self._bot) if row.reply_markup else None
        )
        caption = row.text or None
        if row.method == METHOD_PHOTO:
            return await self._bot.send_photo(
                row.chat_id,
                row.file_id or InputFile(row.attachment or b"", filename=row.attachment_name),
                caption=caption,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
        if row.method == METHOD_DOCUMENT:
            return await self._bot.send_document(
                row.chat_id,
                row.file_id or InputFile(row.attachment or b"", filename=row.attachment_name),
                caption=caption,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
        return await self._bot.send_message(
            row.chat_id, row.text, parse_mode=ParseMode.HTML, reply_markup=markup
        )

    async def _record_sent(
        self, row: OutboxMessage, message: Message, lease_until: datetime, report: DeliveryReport
    ) -> None:
        sent = {
            "state": STATE_SENT,
            "lease_until": None,
            "sent_at": self._clock.now(),
            "sent_message_id": message.message_id,
        }
        async with unit_of_work(self._sessions) as session:
            if not await _update_if_ours(session, row.id, lease_until, sent):
                # It went out either way, so record it; but someone else may send it too.
                _log.warning("outbox %s: lease lost while sending; may be sent twice", row.id)
                await session.execute(_update(row.id, sent))
        report.sent += 1
        metrics.DELIVERIES.labels("sent").inc()

    async def _record_failure(
        self, row: OutboxMessage, outcome: Outcome, lease_until: datetime, report: DeliveryReport
    ) -> None:
        changes: dict[str, Any] = {
            "state": outcome.state,
            "attempts": outcome.attempts,
            "last_error": outcome.error,
            "lease_until": None,
        }
        if outcome.due_at is not None:
            changes["due_at"] = outcome.due_at
        if outcome.chat_id is not None:
            changes["chat_id"] = outcome.chat_id
        async with unit_of_work(self._sessions) as session:
            if not await _update_if_ours(session, row.id, lease_until, changes):
                _log.warning("outbox %s: lease lost while sending; leaving it", row.id)
                return
            if outcome.state == STATE_UNREACHABLE and row.recipient_user_id is not None:
                await users.mark_unreachable(session, telegram_id=row.recipient_user_id)
        metrics.DELIVERIES.labels(_OUTCOME_LABELS.get(outcome.state, outcome.state)).inc()
        if outcome.state == STATE_PENDING:
            report.retried += 1
            _log.warning("outbox %s retried at %s: %s", row.id, outcome.due_at, outcome.error)
        elif outcome.state == STATE_UNREACHABLE:
            report.unreachable += 1
            _log.info(
                "outbox %s: chat %s unreachable: %s", row.id, logs.who(row.chat_id), outcome.error
            )
        else:
            report.failed += 1
            _log.error("outbox %s (%s) failed for good: %s", row.id, row.kind, outcome.error)

    async def _release(self, rows: list[OutboxMessage], lease_until: datetime) -> None:
        async with unit_of_work(self._sessions) as session:
            for row in rows:
                await _update_if_ours(
                    session, row.id, lease_until, {"state": STATE_PENDING, "lease_until": None}
                )


def _update(row_id: int, values: dict[str, Any]) -> Update:
    return (
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def _update_if_ours(
    session: AsyncSession, row_id: int, lease_until: datetime, values: dict[str, Any]
) -> bool:
    """Update a row this run claimed, unless its lease expired and someone reclaimed it."""
    result = await session.execute(
        _update(row_id, values).where(
            OutboxMessage.state == STATE_SENDING, OutboxMessage.lease_until == lease_until
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def register(
    application: Application[Any, Any, Any, Any, Any, Any],
    deliverer: Deliverer,
    settings: DeliverySettings,
) -> Job[Any]:
    """Wake ``deliverer`` every ``settings.interval_s`` from the application's job queue.

    The job has a fixed id and replaces any earlier one and never overlaps itself. A run
    that fails reaches the application's error handler (logged, the ops chat alerted
    once per error and window); the next tick retries.
    """
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("the job queue is missing: install python-telegram-bot[job-queue]")

    async def deliver_due(_context: Any) -> None:
        """Send what is due; a failure goes to the error handler, the next tick retries."""
        report = await deliverer.run_once()
        if report.total:
            _log.info("outbox: %s", report)

    job: Job[Any] = job_queue.run_repeating(
        deliver_due,
        interval=settings.interval_s,
        first=0.5,
        name="outbox",
        job_kwargs={
            "id": "outbox",
            "replace_existing": True,
            "max_instances": 1,
            "coalesce": True,
        },
    )
    return job
