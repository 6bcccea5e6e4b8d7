"""Questions young people raised: the ticket, its thread, its audit log, its cards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, TimestampMixin, UTCDateTime, utcnow


class Question(TimestampMixin, Base):
    """One question (a ticket); ``status`` is driven by ``bot.services.lifecycle``."""

    __tablename__ = "questions"
    # The overdue list (/overdue, the sweeper, the digest): open states by last activity.
    __table_args__ = (
        Index(
            "ix_questions_status_last_activity_at",
            "status",
            "last_activity_at",
            "assigned_cadre_id",
        ),
        # The digest's overdue list: open states by how long they have waited for staff.
        Index(
            "ix_questions_status_waiting_since",
            "status",
            "waiting_since",
            "assigned_cadre_id",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    region_code: Mapped[str | None] = mapped_column(String(32))
    topic: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24), default="new", index=True)
    # The matcher's nearest entries when the question was asked: [{slug, confidence}].
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # How it reached a person: "unmatched", "none_of_these", "ask_person", "no_choice"
    # (suggestions left without a choice), "safeguarding".
    reason: Mapped[str | None] = mapped_column(String(24))
    inbound_update_id: Mapped[int | None] = mapped_column(BigInteger)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    assigned_cadre_id: Mapped[int | None] = mapped_column(
        ForeignKey("cadres.id", ondelete="SET NULL"), index=True
    )
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How many times the SLA moved it on to another cadre or the pool.
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    first_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Since when it waits for staff: set when routed, (re)assigned, escalated, reopened,
    # or followed up after an answer; a nudge, or a pass to a colleague, leaves it alone.
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    department: Mapped[str | None] = mapped_column(String(128))
    key_suggestion: Mapped[bool] = mapped_column(Boolean, default=False)
    # The young person agreed that cadres see their name on this ticket.
    identity_shared: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)

    events: Mapped[list[QuestionEvent]] = relationship(
        cascade="all, delete-orphan", order_by="QuestionEvent.id", lazy="selectin"
    )
    thread: Mapped[list[QuestionMessage]] = relationship(
        cascade="all, delete-orphan", order_by="QuestionMessage.id", lazy="selectin"
    )


class QuestionEvent(Base):
    """The audit log: every transition, who made it, when, from and to."""

    __tablename__ = "question_events"
    # The weekly digest counts a week's events by trigger from this index alone.
    __table_args__ = (
        Index(
            "ix_question_events_created_at_trigger",
            "created_at",
            "trigger",
            "from_state",
            "question_id",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    trigger: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64))  # "user:1", "cadre:3", "system"
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QuestionMessage(Base):
    """The conversation on a ticket: the question, follow-ups and answers."""

    __tablename__ = "question_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(8))  # "youth" or "cadre"
    cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadres.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    # The young person forwarded it (someone else's words, whose sender is not kept).
    forwarded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Conversation(Base):
    """What the bot is waiting for in a chat (e.g. a cadre's answer), kept across restarts."""

    __tablename__ = "conversations"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
