"""The weekly digest's report and its delivery to the committee chat through the outbox.

A repeating job asks every few minutes (by the application's clock) whether last week's
digest is due and not yet scheduled; if so it computes it and enqueues the summary, the
chart and the CSV in one unit of work. The outbox's unique ``dedupe_key``
(``digest:2026-W47:summary`` …) makes that once per week, across restarts and across
instances racing for it; a bot that was down at the set time catches up when it is back,
up to ``CATCH_UP_WEEKS`` weeks, oldest first. A week in which nobody asked or wished
anything (before the bot was deployed) is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import leases
from bot.config import Settings
from bot.context import Services
from bot.digest_render import chart, csv_bytes, summary
from bot.i18n import Html, Translator, translator
from bot.services import org, outbox
from bot.services.digest import DIGEST_KIND, compute, has_activity
from bot.services.digest_rows import week_rows
from bot.services.digest_week import Week
from storage.db import unit_of_work
from storage.outbox import (
    AUDIENCE_STAFF,
    MAX_ATTACHMENT_BYTES,
    METHOD_DOCUMENT,
    METHOD_PHOTO,
    STATE_FAILED,
    STATE_PENDING,
    STATE_UNREACHABLE,
    OutboxMessage,
)

_log = logging.getLogger(__name__)
KIND = DIGEST_KIND
# How many weeks back a bot that was down looks for digests it missed.
CATCH_UP_WEEKS = 4
# The three messages of a week's digest, in the order they are posted.
PARTS = ("summary", "chart", "csv")


@dataclass(frozen=True)
class Report:
    """The digest of one week, ready to send or to write to files."""

    week: Week
    summary: Html
    chart: bytes
    csv: bytes
    chart_caption: str
    csv_caption: str

    @property
    def chart_name(self) -> str:
        """The chart's file name."""
        return f"digest-{self.week.label}.png"

    @property
    def csv_name(self) -> str:
        """The CSV's file name."""
        return f"digest-{self.week.label}.csv"


async def build_report(
    session: AsyncSession, *, week: Week, now: datetime, settings: Settings, tr: Translator
) -> Report:
    """Compute ``week``'s digest as of ``now`` and render it in ``tr``'s language."""
    digest = await compute(session, week=week, now=now, settings=settings)
    rows = await week_rows(session, start=digest.start, end=digest.end, tz=settings.tz)
    data = csv_bytes(rows)
    if len(data) > MAX_ATTACHMENT_BYTES:  # pragma: no cover - about 80,000 items in a week
        data = data[: data.rfind(b"\n", 0, MAX_ATTACHMENT_BYTES) + 1]
    return Report(
        week=week,
        summary=summary(digest, tr, settings.tz),
        # matplotlib is CPU work (a good part of a second): off the event loop.
        chart=await asyncio.to_thread(chart, digest, tr),
        csv=data,
        chart_caption=tr("digest.caption_chart", week=week.label),
        csv_caption=tr("digest.caption_csv", week=week.label),
    )


def dedupe_key(week: Week, part: str) -> str:
    """The outbox key of one part (summary, chart, csv) of a week's digest."""
    return f"digest:{week.label}:{part}"


async def enqueue_report(
    session: AsyncSession, report: Report, *, chat_id: int, now: datetime
) -> int:
    """Put the report's three messages in the outbox; return how many were new (0 to 3)."""
    parts = (
        ("summary", {"text": report.summary}),
        (
            "chart",
            {
                "text": report.chart_caption,
                "method": METHOD_PHOTO,
                "attachment": report.chart,
                "attachment_name": report.chart_name,
            },
        ),
        (
            "csv",
            {
                "text": report.csv_caption,
                "method": METHOD_DOCUMENT,
                "attachment": report.csv,
                "attachment_name": report.csv_name,
            },
        ),
    )
    created = 0
    for part, values in parts:
        row = await outbox.enqueue(
            session,
            kind=KIND,
            chat_id=chat_id,
            due_at=now,
            dedupe_key=dedupe_key(report.week, part),
            audience=AUDIENCE_STAFF,
            **values,
        )
        created += row is not None
    return created


async def send_failed_again(
    session: AsyncSession, week: Week, *, chat_id: int, now: datetime
) -> int:
    """Queue again the parts of ``week``'s digest that could not be delivered (a wrong
    committee chat, the bot not a member), to ``chat_id``; return how many. Their keys
    are taken, so scheduling the week anew would not send them."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.dedupe_key.in_([dedupe_key(week, part) for part in PARTS]),
            # Still pending too: addressed to the old chat, they would fail as well.
            OutboxMessage.state.in_((STATE_FAILED, STATE_UNREACHABLE, STATE_PENDING)),
        )
        .values(state=STATE_PENDING, chat_id=chat_id, due_at=now, attempts=0, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def due_week(now: datetime, settings: Settings) -> Week | None:
    """Last week, once this week's posting time (weekday and time, local) has passed."""
    tz = settings.tz
    this = Week.of(now, tz)
    posting = datetime.combine(
        this.monday + timedelta(days=settings.digest_weekday - 1), settings.digest_time, tz
    )
    return this.previous() if now >= posting else None


async def scheduled(session: AsyncSession, week: Week) -> bool:
    """Whether ``week``'s digest summary is already in the outbox (sent or not)."""
    key = dedupe_key(week, "summary")
    return (
        await session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key))
    ) is not None


def latest_due(now: datetime, settings: Settings) -> Week:
    """The newest week whose digest is due at ``now``."""
    return due_week(now, settings) or Week.of(now, settings.tz).previous().previous()


async def week_to_post(session: AsyncSession, *, now: datetime, settings: Settings) -> Week | None:
    """The week whose digest to post now, or None.

    Normally the latest due week, if not posted yet and anything happened in it. A bot
    that was down over a posting time posts the weeks it missed since the last one it
    posted, oldest first, one a check, if that one is at most ``CATCH_UP_WEEKS`` weeks
    back; never a week older than one already posted, and never weeks from before the
    first digest (a pilot before the committee's chat was set up).
    """
    missed = []
    week = latest_due(now, settings)
    for _ in range(CATCH_UP_WEEKS + 1):
        if await scheduled(session, week):
            break
        missed.append(week)
        week = week.previous()
    else:  # none posted lately: only the latest
        missed = missed[:1]
    for week in reversed(missed):
        if await has_activity(session, week=week, tz=settings.tz):
            return week
    return None


async def post_if_due(services: Services) -> int:
    """Schedule a due digest not scheduled yet (:func:`week_to_post`); return rows made."""
    settings, now = services.settings, services.clock.now()
    async with services.report_sessions()() as reading:
        week = await week_to_post(reading, now=now, settings=settings)
        if week is None:
            return 0
        chat_id = await org.get_setting(reading, "committee_chat_id")
        if chat_id is None:
            _log.warning("no committee chat configured: the %s digest is not posted", week.label)
            return 0
        tr = translator(settings.default_locale, settings.default_locale)
        # The long read, apart from the write: on SQLite it runs off the event loop.
        report = await build_report(reading, week=week, now=now, settings=settings, tr=tr)
    async with unit_of_work(services.sessions) as session:
        # Idempotent by the rows' dedupe keys, should another run have been quicker.
        created = await enqueue_report(session, report, chat_id=int(chat_id), now=now)
    _log.info("weekly digest %s scheduled for chat %s (%d new rows)", week.label, chat_id, created)
    return created


def register(application: object, services: Services) -> None:
    """Check for a due digest on the JobQueue (one job id, so a restart never doubles it)."""
    from telegram.ext import Application

    assert isinstance(application, Application)
    assert application.job_queue is not None
    if not services.settings.digest_enabled:
        return

    async def job(_context: object) -> None:
        # Several instances: one computes it; the outbox keys would stop a second post.
        # A failure reaches the error handler (logged, ops chat alerted once per window);
        # nothing was enqueued, so the next check tries the week again.
        await leases.run_exclusive(
            services,
            "weekly_digest",
            lambda: post_if_due(services),
            ttl=timedelta(seconds=max(60.0, 3 * services.settings.digest_check_interval_s)),
        )

    application.job_queue.run_repeating(
        job,
        interval=services.settings.digest_check_interval_s,
        first=1.0,
        name="weekly_digest",
        job_kwargs={"id": "weekly_digest", "replace_existing": True, "max_instances": 1},
    )
