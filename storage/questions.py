"""Questions young people raised that the FAQ did not settle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, TimestampMixin, UTCDateTime, utcnow

QUESTION_OPEN = "open"


class Question(TimestampMixin, Base):
    """A question handed to a person; the question loop takes it from here."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    region_code: Mapped[str | None] = mapped_column(String(32))
    topic: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24), default=QUESTION_OPEN, index=True)
    # The matcher's nearest entries when the question was asked: [{slug, confidence}].
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Why it reached a person: "unmatched", "none_of_these" or "ask_person".
    reason: Mapped[str] = mapped_column(String(24))
    inbound_update_id: Mapped[int | None] = mapped_column(BigInteger)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
