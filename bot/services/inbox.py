"""The inbound log: every update is stored on arrival, before anything can fail."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update

from storage.base import utcnow
from storage.models import INBOUND_FAILED, INBOUND_HANDLED, InboundMessage

_log = logging.getLogger(__name__)

# Message attributes, most specific first, that name what kind of message arrived.
_MESSAGE_KINDS = (
    "photo",
    "sticker",
    "voice",
    "video",
    "video_note",
    "audio",
    "document",
    "animation",
    "location",
    "contact",
    "poll",
)


def message_kind(message: Message) -> str:
    """Classify a message as command, text, photo, sticker, … or other."""
    if message.text is not None:
        return "command" if message.text.startswith("/") else "text"
    return next((kind for kind in _MESSAGE_KINDS if getattr(message, kind, None)), "other")


def describe(update: Update) -> tuple[str, str | None]:
    """Return the kind of an update and the text it carries, if any."""
    if update.callback_query is not None:
        return "callback", update.callback_query.data
    message = update.effective_message
    if message is not None:
        return message_kind(message), message.text if message.text is not None else message.caption
    return "other", None


def fingerprint(update: Update) -> str:
    """Identify a delivery of ``update``: the same for a redelivery, new for a new update.

    The message's date (or the callback query's id) tells a redelivered update from a new
    one that reuses an old update id.
    """
    message = update.effective_message
    chat = update.effective_chat.id if update.effective_chat else ""
    date = int(message.date.timestamp()) if message is not None and message.date else ""
    query = update.callback_query.id if update.callback_query else ""
    message_id = message.message_id if message is not None else ""
    return f"{update.update_id}:{chat}:{message_id}:{date}:{query}"[:96]


async def record(session: AsyncSession, update: Update) -> InboundMessage | None:
    """Store ``update``; return None if this very delivery was stored before."""
    key = fingerprint(update)
    if await session.scalar(select(InboundMessage.id).where(InboundMessage.fingerprint == key)):
        return None
    kind, text = describe(update)
    message = update.effective_message
    payload: dict[str, Any] = update.to_dict()
    inbound = InboundMessage(
        update_id=update.update_id,
        fingerprint=key,
        telegram_user_id=update.effective_user.id if update.effective_user else None,
        chat_id=update.effective_chat.id if update.effective_chat else None,
        message_id=message.message_id if message else None,
        kind=kind,
        text=text,
        payload=payload,
    )
    session.add(inbound)
    try:
        await session.flush()
    except IntegrityError:
        # Another instance stored the same update between our check and insert.
        await session.rollback()
        return None
    return inbound


async def mark_done(session: AsyncSession, *, inbound_id: int, error: str | None = None) -> None:
    """Mark an inbound update handled, or failed with ``error``."""
    inbound = await session.get(InboundMessage, inbound_id)
    if inbound is None:  # pragma: no cover - the row was committed before handling
        _log.error("inbound message %s vanished", inbound_id)
        return
    inbound.status = INBOUND_FAILED if error else INBOUND_HANDLED
    inbound.error = error
    inbound.handled_at = utcnow()
