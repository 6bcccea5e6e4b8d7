"""Scheduling messages: producers put rows in the outbox; the deliverer sends them.

Nothing here talks to Telegram or commits: the caller's unit of work commits the row
together with whatever made it due, so a message is scheduled exactly when its cause is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_for
from storage.outbox import (
    AUDIENCES,
    MAX_ATTACHMENT_BYTES,
    METHOD_MESSAGE,
    METHODS,
    STATE_CANCELLED,
    STATE_PENDING,
    STATE_SENDING,
    STATE_UNREACHABLE,
    OutboxMessage,
)


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    chat_id: int,
    text: str = "",
    due_at: datetime,
    dedupe_key: str,
    audience: str,
    recipient_user_id: int | None = None,
    reply_markup: dict[str, Any] | None = None,
    method: str = METHOD_MESSAGE,
    attachment: bytes | None = None,
    attachment_name: str | None = None,
    file_id: str | None = None,
    ref: tuple[str, int] | None = None,
) -> OutboxMessage | None:
    """Schedule a message; return the new row, or None if ``dedupe_key`` was used before.

    The key makes producers idempotent: a job that runs twice, or two instances racing,
    schedule one message. The key stays taken after the row is sent or cancelled.

    Args:
        session: the caller's session; it is flushed, not committed.
        kind: what produced the message, e.g. ``"sla_reminder"``.
        chat_id: where to send it.
        text: HTML text, or the caption of a photo or document.
        due_at: the earliest time to send it (aware).
        dedupe_key: unique per message ever scheduled, e.g. ``"sla:question:12:1"``.
        audience: ``"youth"`` (quiet hours apply) or ``"staff"``.
        recipient_user_id: the Telegram id behind ``chat_id``, to mark them unreachable.
        reply_markup: ``InlineKeyboardMarkup.to_dict()``.
        method: ``"message"``, ``"photo"`` or ``"document"``.
        attachment: the photo or document's bytes.
        attachment_name: the file name shown to the recipient.
        file_id: instead of ``attachment``, a file Telegram already holds.
        ref: the item this is about, e.g. ``("question", 12)``, so it can be cancelled.

    Raises:
        ValueError: if the arguments cannot make a sendable message.
    """
    _validate(
        method=method,
        audience=audience,
        due_at=due_at,
        dedupe_key=dedupe_key,
        text=text,
        attachment=attachment,
        file_id=file_id,
    )
    values: dict[str, Any] = {
        "kind": kind,
        "chat_id": chat_id,
        "recipient_user_id": recipient_user_id,
        "method": method,
        "text": text,
        "reply_markup": reply_markup,
        "attachment": attachment,
        "attachment_name": attachment_name,
        "file_id": file_id,
        "audience": audience,
        "due_at": due_at,
        "dedupe_key": dedupe_key,
        "state": STATE_PENDING,
        "attempts": 0,
        "ref_type": ref[0] if ref else None,
        "ref_id": ref[1] if ref else None,
    }
    # A concurrent producer's row wins quietly (see storage.db.insert_for).
    insert = insert_for(session)
    new_id = await session.scalar(
        insert(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key])
        .returning(OutboxMessage.id)
    )
    if new_id is None:
        return None
    return await session.get(OutboxMessage, new_id)


async def enqueue_many(session: AsyncSession, messages: Sequence[dict[str, Any]]) -> None:
    """Schedule many messages at once (a broadcast) in one executemany INSERT.

    Each item takes the keyword arguments of :func:`enqueue` except ``session``; keys
    used before are skipped quietly, as there. (A multi-row VALUES statement was ten
    times slower: SQLAlchemy compiles and binds it anew for every chunk.)
    """
    rows = []
    for message in messages:
        _validate(
            method=message.get("method", METHOD_MESSAGE),
            audience=message["audience"],
            due_at=message["due_at"],
            dedupe_key=message["dedupe_key"],
            text=message.get("text", ""),
            attachment=message.get("attachment"),
            file_id=message.get("file_id"),
        )
        ref = message.get("ref")
        rows.append(
            {
                "kind": message["kind"],
                "chat_id": message["chat_id"],
                "recipient_user_id": message.get("recipient_user_id"),
                "method": message.get("method", METHOD_MESSAGE),
                "text": message.get("text", ""),
                "reply_markup": message.get("reply_markup"),
                "attachment": message.get("attachment"),
                "attachment_name": message.get("attachment_name"),
                "file_id": message.get("file_id"),
                "audience": message["audience"],
                "due_at": message["due_at"],
                "dedupe_key": message["dedupe_key"],
                "state": STATE_PENDING,
                "attempts": 0,
                "ref_type": ref[0] if ref else None,
                "ref_id": ref[1] if ref else None,
            }
        )
    if not rows:
        return
    insert = insert_for(session)
    await session.execute(
        insert(OutboxMessage).on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key]),
        rows,
    )


async def cancel(
    session: AsyncSession,
    *,
    ref_type: str,
    ref_id: int,
    kinds: list[str] | tuple[str, ...] | None = None,
) -> int:
    """Cancel the pending messages about one item; return how many were cancelled.

    A message already being sent is past cancelling and goes out.
    """
    statement = (
        update(OutboxMessage)
        .where(
            OutboxMessage.state == STATE_PENDING,
            OutboxMessage.ref_type == ref_type,
            OutboxMessage.ref_id == ref_id,
        )
        .values(state=STATE_CANCELLED, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    if kinds is not None:
        statement = statement.where(OutboxMessage.kind.in_(list(kinds)))
    result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def cancel_to(session: AsyncSession, *, recipient: int, kinds: Sequence[str]) -> int:
    """Cancel the pending messages of ``kinds`` to one person (a Telegram id); return how
    many were cancelled. One already being sent goes out."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.state == STATE_PENDING,
            OutboxMessage.recipient_user_id == recipient,
            OutboxMessage.kind.in_(list(kinds)),
        )
        .values(state=STATE_CANCELLED, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def pending_count(session: AsyncSession) -> int:
    """Return how many messages are still to be sent (pending or being sent)."""
    count = await session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.state.in_((STATE_PENDING, STATE_SENDING))
        )
    )
    return int(count or 0)


async def oldest_due_lag(session: AsyncSession, now: datetime) -> timedelta | None:
    """Return how long the oldest due, unsent message has waited, or None if none waits."""
    oldest = await session.scalar(
        select(func.min(OutboxMessage.due_at)).where(
            OutboxMessage.state.in_((STATE_PENDING, STATE_SENDING)),
            OutboxMessage.due_at <= now,
        )
    )
    if oldest is None:
        return None
    return max(now - oldest, timedelta(0))


def _validate(
    *,
    method: str,
    audience: str,
    due_at: datetime,
    dedupe_key: str,
    text: str,
    attachment: bytes | None,
    file_id: str | None = None,
) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {METHODS}")
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}; use one of {AUDIENCES}")
    if due_at.tzinfo is None:
        raise ValueError("due_at must be timezone-aware")
    if not dedupe_key or len(dedupe_key) > 160:
        raise ValueError("dedupe_key must be 1-160 characters")
    if method == METHOD_MESSAGE:
        if not text.strip():
            raise ValueError("a text message needs text")
        if attachment is not None or file_id is not None:
            raise ValueError("a text message takes no attachment")
    else:
        if bool(attachment) == bool(file_id):
            raise ValueError(f"a {method} needs an attachment or a file_id, not both")
        if file_id is not None and not 0 < len(file_id) <= 255:
            raise ValueError("file_id must be 1-255 characters")
        if attachment and len(attachment) > MAX_ATTACHMENT_BYTES:
            raise ValueError(f"attachment over {MAX_ATTACHMENT_BYTES} bytes")


# What a young person back from blocking the bot still needs: answers and notices about
# what they raised (not broadcasts, reminders or checks, which are stale by then).
REVIVED_KINDS = ("answer", "notice", "wish_notice", "wish_prompt")
# How far back: a bounced message older than this is not sent any more.
REVIVE_WITHIN = timedelta(days=30)


async def revive(session: AsyncSession, *, chat_id: int, now: datetime) -> int:
    """Send again the answers and notices that bounced while ``chat_id`` had blocked the
    bot (it is back), those created since ``now`` less :data:`REVIVE_WITHIN`; return how
    many."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.state == STATE_UNREACHABLE,
            OutboxMessage.kind.in_(REVIVED_KINDS),
            OutboxMessage.created_at >= now - REVIVE_WITHIN,
        )
        # Due as they were (long past): the deliverer takes them at its next round.
        .values(state=STATE_PENDING, attempts=0, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
