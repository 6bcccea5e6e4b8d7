"""Accountability for personal data: who among staff was shown whose data, and why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, utcnow


class PersonalDataAccess(Base):
    """One showing of a young person's personal data to staff (a card, a review).

    Holds ids only, never the data itself, so the log can be kept after the person is
    forgotten: the committee's data protection officer reads it with
    ``voy privacy access-log``.
    """

    __tablename__ = "personal_data_access"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The staff member shown the data; None when it went to a group (the committee's pool).
    viewer_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # Where it was shown: the staff member's private chat or the committee's group.
    viewer_chat_id: Mapped[int] = mapped_column(BigInteger)
    subject_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # What: "question" or "wish", and its id (the ticket or wish number).
    item_kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(Integer)
    # Why or where, e.g. "identity_shared_card", "wish_review", "wish_claim".
    purpose: Mapped[str] = mapped_column(String(32))
    # Which personal fields were shown, e.g. ["first_name"] or ["wish_text_masked"].
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Erasure(Base):
    """Someone who used ``/forget``, as a keyed hash of their Telegram id (never the id).

    Restoring a backup taken before an erasure brings the person back;
    ``voy privacy erasures reapply`` finds them by this key and erases them again. The
    table is restored with the rest, so a copy must live outside the database: each
    erasure's key is also logged, and ``voy privacy erasures export`` lists them.
    """

    __tablename__ = "erasures"

    # HMAC-SHA256 of the Telegram id under the deployment's pseudonym secret, in hex.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    forgotten_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Which secret the key was made under (bot.services.data_forget.secret_check).
    secret_check: Mapped[str] = mapped_column(String(8))
