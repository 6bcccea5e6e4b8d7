"""The outbox: every message the bot sends on its own initiative, as a row first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, LargeBinary, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, utcnow

# How a row is sent: sendMessage, sendPhoto or sendDocument.
METHOD_MESSAGE = "message"
METHOD_PHOTO = "photo"
METHOD_DOCUMENT = "document"
METHODS = (METHOD_MESSAGE, METHOD_PHOTO, METHOD_DOCUMENT)

# Quiet hours hold back messages to young people; staff get theirs at any hour.
AUDIENCE_YOUTH = "youth"
AUDIENCE_STAFF = "staff"
# To a young person, and never held back: a cadre's answer to a call for help.
AUDIENCE_URGENT = "urgent"
AUDIENCES = (AUDIENCE_YOUTH, AUDIENCE_STAFF, AUDIENCE_URGENT)

# Row states. Only pending rows are picked up (and sending rows whose lease ran out).
STATE_PENDING = "pending"
STATE_SENDING = "sending"
STATE_SENT = "sent"
STATE_FAILED = "failed"  # gave up: too many attempts, or Telegram refused it for good
STATE_UNREACHABLE = "unreachable"  # 403: the user blocked the bot or left
STATE_CANCELLED = "cancelled"
STATES = (
    STATE_PENDING,
    STATE_SENDING,
    STATE_SENT,
    STATE_FAILED,
    STATE_UNREACHABLE,
    STATE_CANCELLED,
)

# Photos and documents are kept in the row; the weekly digest needs far less than this.
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


class OutboxMessage(Base):
    """One message due at a time; the deliverer sends it once and records the outcome."""

    __tablename__ = "outbox"
    __table_args__ = (
        # The deliverer's query: pending rows in due order.
        Index("ix_outbox_state_due_at", "state", "due_at"),
        # Producers cancel the pending pushes of one item (a question answered early).
        Index("ix_outbox_ref_type_ref_id", "ref_type", "ref_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What produced it, e.g. "sla_reminder", "resolved_check", "weekly_digest".
    kind: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    # The person behind a private chat, so a 403 can mark them unreachable.
    recipient_user_id: Mapped[int | None] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(16), default=METHOD_MESSAGE)
    # HTML text, or the caption of a photo or document.
    text: Mapped[str] = mapped_column(Text, default="")
    # ``InlineKeyboardMarkup.to_dict()``, rebuilt when sending.
    reply_markup: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary)
    attachment_name: Mapped[str | None] = mapped_column(String(128))
    # Or, instead of the bytes, a file Telegram already holds (a claimer's proof photo).
    file_id: Mapped[str | None] = mapped_column(String(255))
    audience: Mapped[str] = mapped_column(String(8))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Unique: enqueuing the same key twice is a no-op, so producers may retry freely.
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=STATE_PENDING)
    # Transient failures so far; RetryAfter waits do not count.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # While sending, the claim holds until then; an expired lease means the sender died.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # The item this message is about, e.g. ("question", 12).
    ref_type: Mapped[str | None] = mapped_column(String(32))
    ref_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )

    def __repr__(self) -> str:
        """Identify the row in logs without dumping its payload."""
        return (
            f"<OutboxMessage {self.id} {self.kind} chat={self.chat_id} {self.state} "
            f"due={self.due_at}>"
        )
