"""Micro-wishes (微心愿): the wish, its audit log, and the claims on it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, TimestampMixin, UTCDateTime, utcnow


class Wish(TimestampMixin, Base):
    """One wish; ``status`` is driven by ``bot.services.wish_lifecycle``."""

    __tablename__ = "wishes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    text: Mapped[str] = mapped_column(Text)  # what is wished for, as the young person wrote it
    photo_file_id: Mapped[str | None] = mapped_column(String(256))
    category: Mapped[str] = mapped_column(String(16))
    beneficiary: Mapped[str] = mapped_column(String(8))  # self, child or other
    relation: Mapped[str | None] = mapped_column(String(64))
    age_band: Mapped[str] = mapped_column(String(8))
    guardian_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    region_code: Mapped[str | None] = mapped_column(String(32), index=True)
    place: Mapped[str | None] = mapped_column(String(128))  # school or community, optional
    value_yuan: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(500))  # why returned or rejected
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The reviewers were reminded of this submission (reset when it is resubmitted).
    review_reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    claimer_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last sign of life from the claimer; a claim idle too long is released.
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    proof_text: Mapped[str | None] = mapped_column(Text)
    proof_file_id: Mapped[str | None] = mapped_column(String(256))
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirm_reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Optimistic locking: two people changing one wish at once cannot both succeed.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own dict

    events: Mapped[list[WishEvent]] = relationship(
        cascade="all, delete-orphan", order_by="WishEvent.id", lazy="selectin"
    )


class WishEvent(Base):
    """The audit log of a wish: every transition, who made it, when, from and to."""

    __tablename__ = "wish_events"
    # The weekly digest counts a week's events by trigger.
    __table_args__ = (Index("ix_wish_events_created_at_trigger", "created_at", "trigger"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wish_id: Mapped[int] = mapped_column(ForeignKey("wishes.id", ondelete="CASCADE"), index=True)
    trigger: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger)
