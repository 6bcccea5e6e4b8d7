"""Alerts to the ops chat: one per error signature per time window, through the outbox.

An alert names the exception type and where it was raised, never the exception's
message or the update's content: both can carry a young person's text. The full trace
is in the log, tagged with the update id.
"""

from __future__ import annotations

import hashlib
import traceback
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import translator
from bot.services import outbox
from storage.outbox import AUDIENCE_STAFF

_MAX_WHERE = 120


def signature(error: BaseException) -> tuple[str, str]:
    """Return a short hash identifying the error's kind and origin, and that origin."""
    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
    last = frames[-1] if frames else None
    where = f"{Path(last.filename).name}:{last.lineno} {last.name}" if last else "unknown"
    kind = f"{type(error).__module__}.{type(error).__qualname__}"
    digest = hashlib.sha256(f"{kind}|{where}".encode()).hexdigest()[:16]
    return digest, where[:_MAX_WHERE]


async def enqueue_alert(
    session: AsyncSession,
    *,
    chat_id: int,
    error: BaseException,
    update_id: int | None,
    update_type: str,
    now: datetime,
    window: timedelta,
    locale: str,
) -> bool:
    """Schedule an alert about ``error``; False when this window already has one for it."""
    digest, where = signature(error)
    seconds = max(int(window.total_seconds()), 1)
    slot = int(now.timestamp()) // seconds
    tr = translator(locale, locale)
    row = await outbox.enqueue(
        session,
        kind="ops_alert",
        chat_id=chat_id,
        text=tr(
            "ops.alert",
            error_type=type(error).__name__,
            where=where,
            update_id="-" if update_id is None else str(update_id),
            update_type=update_type,
            minutes=f"{seconds / 60:g}",
        ),
        due_at=now,
        dedupe_key=f"ops_alert:{digest}:{slot}",
        audience=AUDIENCE_STAFF,
    )
    return row is not None
