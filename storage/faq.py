"""The FAQ store: entries, their phrasings, their revision history, and button feedback."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, TimestampMixin, UTCDateTime, utcnow

if TYPE_CHECKING:
    from storage.questions import Question

# Where a phrasing came from.
SOURCE_IMPORT = "import"
SOURCE_SUGGESTION = "suggestion"  # a young person chose it from "did you mean"
SOURCE_CADRE = "cadre"  # a cadre promoted a routed question


class FaqEntry(TimestampMixin, Base):
    """One FAQ entry: a standard question, its answer and how it is routed."""

    __tablename__ = "faq_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stable public id, e.g. "league-join-age"; the unit of import, export and evaluation.
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)  # Telegram HTML
    # Topic and region are codes from the org file; not foreign keys, so a KB can be
    # imported before (or without) the org that uses it.
    topic: Mapped[str | None] = mapped_column(String(32))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    region: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(128), default="")

    phrasings: Mapped[list[FaqPhrasing]] = relationship(
        back_populates="entry",
        cascade="all, delete-orphan",
        order_by="FaqPhrasing.id",
        lazy="selectin",
    )

    def snapshot(self) -> dict[str, Any]:
        """The entry's content as stored in its revision history."""
        return {
            "question": self.question,
            "alt_questions": [p.text for p in self.phrasings],
            "answer": self.answer,
            "topic": self.topic,
            "tags": list(self.tags or []),
            "region": self.region,
            "active": self.active,
        }


class FaqPhrasing(Base):
    """An alternative way of asking an entry's question."""

    __tablename__ = "faq_phrasings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("faq_entries.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default=SOURCE_IMPORT)
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    entry: Mapped[FaqEntry] = relationship(back_populates="phrasings")


class FaqRevision(Base):
    """Who changed an entry, when, and what it looked like afterwards."""

    __tablename__ = "faq_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("faq_entries.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_by: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(String(256), default="")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MatchLog(Base):
    """One question matched against the FAQ, and what the young person did next.

    The digest counts these: answered and confirmed, suggestions chosen, handed on.
    """

    __tablename__ = "match_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    query: Mapped[str] = mapped_column(Text)
    band: Mapped[str] = mapped_column(String(16))  # answer, suggest or route
    entry_slug: Mapped[str | None] = mapped_column(String(64))  # the top hit
    confidence: Mapped[float] = mapped_column(default=0.0)
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    # Lets a new question and its log be written in one flush (bot/services/asking.py).
    question: Mapped[Question | None] = relationship(lazy="raise")
    # Database ids of the entries shown (the answer, or the suggestions): only these
    # may be chosen, so forged button data cannot teach an arbitrary entry.
    offered: Mapped[list[int]] = mapped_column(JSON, default=list)
    # solved, ask_person, chose or none_of_these; None until a button is pressed; no_choice
    # when the suggestions were left unchosen and the question went to a person.
    response: Mapped[str | None] = mapped_column(String(16))
    chosen_slug: Mapped[str | None] = mapped_column(String(64))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
