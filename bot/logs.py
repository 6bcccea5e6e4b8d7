"""Logging setup: plain text by default, or one JSON object per line for log collectors.

JSON lines carry ``time``, ``level``, ``logger``, ``message``, ``exc_info`` when there is
one, and ``update_id`` / ``user`` while an update is handled. People appear in logs only
as a keyed pseudonym (:func:`who`), callback data only by its shape
(:func:`callback_shape`): a log is read by more people than the database. Message texts
of users are never logged by the bot's own code; keep it that way.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from bot.callbacks import ACTIONS, VERSION
from bot.services.privacy import log_pseudonym

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_UPDATE: ContextVar[dict[str, Any] | None] = ContextVar("voy_log_update", default=None)
# Until the app sets the deployment's key, a random one: pseudonyms stay unguessable.
_PSEUDONYM_KEY = {"key": secrets.token_hex(16)}


def set_pseudonym_key(key: str) -> None:
    """Set the secret behind :func:`who` (``Settings.pseudonym_key()``; the app does)."""
    _PSEUDONYM_KEY["key"] = key


def who(telegram_id: int | None) -> str:
    """How a log names a Telegram user: ``u:`` and the keyed log pseudonym, never the id
    (nor the code staff cards show)."""
    if telegram_id is None:
        return "-"
    return f"u:{log_pseudonym(telegram_id, _PSEUDONYM_KEY['key'])}"


def callback_shape(data: str | None) -> str:
    """Describe client-controlled callback data without its content: action and size.

    The action is shown only when it is one we define; anything else is ``?``.
    """
    if data is None:
        return "none"
    version, _, rest = data.partition(":")
    action = rest.split(":", 1)[0]
    known = version == VERSION and action in ACTIONS
    return f"{f'{version}:{action}' if known else '?'} ({len(data.encode())} bytes)"


@contextmanager
def update_context(update_id: int, user: int | None) -> Iterator[None]:
    """Tag every log record written inside the block with the update and its sender.

    ``user`` is the sender's Telegram id; records carry its pseudonym (:func:`who`).
    """
    token = _UPDATE.set({"update_id": update_id, "user": None if user is None else who(user)})
    try:
        yield
    finally:
        _UPDATE.reset(token)


class UpdateContextFilter(logging.Filter):
    """Copies the current update's id and sender onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add ``update_id`` and ``user`` (None outside update handling)."""
        current = _UPDATE.get() or {}
        record.update_id = current.get("update_id")
        record.user = current.get("user")
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise ``record``."""
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("update_id", "user"):
            value = getattr(record, key, None)
            if value is not None:
                data[key] = value
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exc_info"] = record.exc_text
        if record.stack_info:
            data["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def setup(level: str, fmt: str = "text") -> None:
    """Configure the root logger: level, format and the update context filter.

    Like ``logging.basicConfig``, it adds no handler when the root logger has one
    already (pytest's, or an embedding program's).
    """
    handler = logging.StreamHandler()
    handler.addFilter(UpdateContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # httpx logs every request at INFO, which drowns the bot's own log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The outbox job runs every few seconds; its scheduler's INFO lines drown the rest.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters (people's messages) at DEBUG.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    # aiohttp's access log would log every webhook request.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
