"""Alerts to the ops chat: one per error signature per time window, through the outbox.

An alert names the exception type and where it was raised, never the exception's
message or the update's content: both can carry a young person's text. The full trace
is in the log, tagged with the update id.

What the outbox cannot carry (the database is down: the outbox is one of its tables)
goes through :class:`DirectAlerts`, straight to the Bot API, remembered in memory.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram.error import TelegramError

from bot.i18n import translator
from bot.services import outbox
from storage.outbox import AUDIENCE_STAFF

_log = logging.getLogger(__name__)

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
    digest, _ = signature(error)
    row = await outbox.enqueue(
        session,
        kind="ops_alert",
        chat_id=chat_id,
        text=_text(error, update_id, update_type, window, locale),
        due_at=now,
        dedupe_key=f"ops_alert:{digest}:{_slot(now, window)}",
        audience=AUDIENCE_STAFF,
    )
    return row is not None


async def send_alert(
    alerts: DirectAlerts,
    bot: Bot,
    *,
    chat_id: int,
    error: BaseException,
    update_id: int | None,
    update_type: str,
    now: datetime,
    window: timedelta,
    locale: str,
) -> bool:
    """The alert of :func:`enqueue_alert`, sent straight through the Bot API (the outbox
    could not take it), once per error signature and window; True if sent."""
    digest, _ = signature(error)
    return await alerts.send(
        bot,
        chat_id=chat_id,
        key=f"ops_alert:{digest}",
        text=_text(error, update_id, update_type, window, locale),
        now=now,
        window=window,
    )


def _text(
    error: BaseException,
    update_id: int | None,
    update_type: str,
    window: timedelta,
    locale: str,
) -> str:
    seconds = max(int(window.total_seconds()), 1)
    return translator(locale, locale)(
        "ops.alert",
        error_type=type(error).__name__,
        where=signature(error)[1],
        update_id="-" if update_id is None else str(update_id),
        update_type=update_type,
        minutes=f"{seconds / 60:g}",
    )


def _slot(now: datetime, window: timedelta) -> int:
    return int(now.timestamp()) // max(int(window.total_seconds()), 1)


class DirectAlerts:
    """Alerts sent straight through the Bot API, once per key and window, for when the
    outbox cannot take them. Remembered in this process only: each instance alerts once
    per window for itself."""

    def __init__(self) -> None:
        """Start with nothing sent."""
        self._sent: dict[str, int] = {}  # key -> the window slot it was last sent in

    def due(self, key: str, *, now: datetime, window: timedelta) -> bool:
        """Whether ``key`` has no alert in this window yet; if so, it has one from now."""
        slot = _slot(now, window)
        if self._sent.get(key) == slot:
            return False
        self._sent = {k: s for k, s in self._sent.items() if s == slot}  # forget old ones
        self._sent[key] = slot
        return True

    def forget(self, prefix: str) -> None:
        """Forget the alerts whose key starts with ``prefix``: the next one is sent."""
        self._sent = {k: s for k, s in self._sent.items() if not k.startswith(prefix)}

    async def send(
        self, bot: Bot, *, chat_id: int, key: str, text: str, now: datetime, window: timedelta
    ) -> bool:
        """Send ``text`` to ``chat_id`` unless ``key`` was sent this window; True if sent.

        Counted as sent before the call, so failures arriving together send one alert; a
        send that fails is not tried again in this window (Telegram may be down too).
        """
        if not self.due(key, now=now, window=window):
            return False
        try:
            await bot.send_message(chat_id, text)
        except TelegramError:
            _log.warning("could not send the ops alert %s", key, exc_info=True)
            return False
        return True
