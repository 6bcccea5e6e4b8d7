"""Putting a confirmed broadcast in the outbox, and telling its author when it is done.

Every recipient gets one outbox row (audience "youth", so quiet hours apply, and the
deliverer paces them to the global rate); the rows are inserted in bulk, not one by one.
The rows fall due one after another at that rate rather than all at once: the deliverer
sends in due order, so a question card or an answer scheduled during a long broadcast
goes out next instead of waiting behind thousands of announcements.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcast_keyboards import announcement, unsubscribe_keyboard
from bot.config import Settings
from bot.context import Services
from bot.delivery import delivery_settings, quiet_until
from bot.i18n import translator
from bot.services import broadcasts, outbox
from storage.broadcasts import Broadcast
from storage.db import unit_of_work
from storage.models import User
from storage.outbox import AUDIENCE_STAFF, AUDIENCE_YOUTH

_log = logging.getLogger(__name__)


async def enqueue(
    session: AsyncSession,
    broadcast: Broadcast,
    recipients: Sequence[broadcasts.Recipient],
    *,
    settings: Settings,
    now: datetime,
) -> int:
    """One outbox row per recipient, each in their own language; return how many.

    Confirmed during quiet hours, the rows fall due from their end, at the send rate.
    """
    rendered: dict[str, tuple[str, dict[str, Any]]] = {}
    rows = []
    spacing = 1 / settings.outbox_rate_per_s if settings.outbox_rate_per_s > 0 else 0.0
    start = quiet_until(now, delivery_settings(settings)) or now
    for position, recipient in enumerate(recipients):
        if recipient.locale not in rendered:
            tr = translator(recipient.locale, settings.default_locale)
            rendered[recipient.locale] = (
                announcement(tr, broadcast.text),
                unsubscribe_keyboard(tr, broadcast.id).to_dict(),
            )
        text, markup = rendered[recipient.locale]
        rows.append(
            {
                "kind": broadcasts.OUTBOX_KIND,
                "chat_id": recipient.telegram_id,
                "recipient_user_id": recipient.telegram_id,
                "text": text,
                "reply_markup": markup,
                "due_at": start + timedelta(seconds=position * spacing),
                "dedupe_key": f"broadcast:{broadcast.id}:{recipient.user_id}",
                "audience": AUDIENCE_YOUTH,
                "ref": (broadcasts.REF_TYPE, broadcast.id),
            }
        )
    await outbox.enqueue_many(session, rows)
    return len(rows)


async def report_finished(services: Services) -> int:
    """Tell each author once that their broadcast finished; return how many finished."""
    settings, now = services.settings, services.clock.now()
    async with unit_of_work(services.sessions) as session:
        finished = await broadcasts.finish_delivered(session, now=now)
        if not finished:
            return 0
        tally = await broadcasts.counts(session, [b.id for b in finished])
        for broadcast in finished:
            author = (
                await session.get(User, broadcast.author_user_id)
                if broadcast.author_user_id
                else None
            )
            if author is None:
                continue
            tr = translator(author.locale, settings.default_locale)
            counts = tally[broadcast.id]
            await outbox.enqueue(
                session,
                kind="broadcast_done",
                chat_id=author.telegram_id,
                recipient_user_id=author.telegram_id,
                text=tr(
                    "broadcast.finished",
                    ref=broadcast.id,
                    sent=counts.sent,
                    blocked=counts.blocked,
                    failed=counts.failed,
                ),
                due_at=now,
                dedupe_key=f"broadcast_done:{broadcast.id}",
                audience=AUDIENCE_STAFF,
                ref=("broadcast_done", broadcast.id),
            )
    return len(finished)


def register(application: object, services: Services) -> None:
    """Check for finished broadcasts on the JobQueue (one job id, never doubled)."""
    from telegram.ext import Application

    assert isinstance(application, Application)
    assert application.job_queue is not None

    async def job(_context: object) -> None:
        try:
            await report_finished(services)
        except Exception:
            _log.exception("the broadcast check failed; it runs again next interval")

    application.job_queue.run_repeating(
        job,
        interval=services.settings.broadcast_check_interval_s,
        first=2.0,
        name="broadcasts",
        job_kwargs={"id": "broadcasts", "replace_existing": True, "max_instances": 1},
    )
