"""The tables of the walking skeleton: people, the organisation, and the inbound log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, TimestampMixin, UTCDateTime, utcnow

# Roles a person can hold; a person without any is a young person.
ROLE_CADRE = "cadre"
ROLE_REVIEWER = "reviewer"
ROLE_ADMIN = "admin"
ROLE_DONOR = "donor"


# ``users.language_code`` of a row made for someone before they ever wrote (staff from
# the org file): their first update sets their language as anyone new gets it.
NOT_YET_SEEN = "-"


class User(TimestampMixin, Base):
    """Anyone who has written to the bot, identified by their Telegram id."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    first_name: Mapped[str] = mapped_column(String(128), default="")
    language_code: Mapped[str | None] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(8))
    region_code: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("regions.code", ondelete="SET NULL")
    )
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Set when Telegram answers 403: the user blocked the bot or deleted the account.
    unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Since when the bot can write to them in private. None for someone who has only
    # written in a group (the committee's): Telegram refuses a bot's first private message,
    # so a broadcast leaves them out. Rows made otherwise count as reachable.
    private_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
    # Set when the person asked to be forgotten (/forget): the row is an anonymous
    # placeholder from then on, kept so anonymous counts of their items still add up.
    forgotten_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def has_role(self, role: str) -> bool:
        """Return whether the user holds ``role``."""
        return role in (self.roles or [])


class Region(Base):
    """A cell of the grid (青情地图): a city, district, street or community."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("regions.code", ondelete="SET NULL")
    )
    # Display names per locale, e.g. {"zh-Hans": "南山区", "en": "Nanshan"}.
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Topic(Base):
    """A subject questions are routed by (joining the League, volunteering, …)."""

    __tablename__ = "topics"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)


cadre_regions = Table(
    "cadre_regions",
    Base.metadata,
    Column("cadre_id", ForeignKey("cadres.id", ondelete="CASCADE"), primary_key=True),
    Column("region_code", ForeignKey("regions.code", ondelete="CASCADE"), primary_key=True),
)

cadre_topics = Table(
    "cadre_topics",
    Base.metadata,
    Column("cadre_id", ForeignKey("cadres.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_code", ForeignKey("topics.code", ondelete="CASCADE"), primary_key=True),
)


class Cadre(TimestampMixin, Base):
    """A league cadre (团干部) who answers routed questions and claims wishes."""

    __tablename__ = "cadres"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(128))
    # ISO weekdays (1 = Monday) on which this cadre is on duty (接访日).
    duty_days: Mapped[list[int]] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(Integer, default=10)
    away_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Where the cadre came from: "org" (the org file), "cli" or "invite". Loading an org
    # file deactivates only the cadres it manages.
    source: Mapped[str] = mapped_column(String(8), default="org", server_default="org")

    regions: Mapped[list[Region]] = relationship(secondary=cadre_regions, lazy="selectin")
    topics: Mapped[list[Topic]] = relationship(secondary=cadre_topics, lazy="selectin")


class CadreInvite(Base):
    """A one-time invitation for a cadre to join by pressing a deep link."""

    __tablename__ = "cadre_invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    duty_days: Mapped[list[int]] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(Integer, default=10)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OrgSetting(Base):
    """Organisation-wide values from the org file, such as the committee chat id."""

    __tablename__ = "org_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


# Inbound message states: stored on arrival, then marked once handling has finished.
INBOUND_RECEIVED = "received"
INBOUND_HANDLED = "handled"
INBOUND_FAILED = "failed"
# A failed update an operator queued to be handled again (`voy updates retry`); a running
# instance takes it back to "received" and handles it.
INBOUND_REQUEUED = "requeued"
# The rows still to be handled: few at any time, looked for at start-up and every minute.
_UNFINISHED = text("status IN ('received', 'requeued')")


class InboundMessage(Base):
    """Every update a person sent, stored before it is handled so nothing is lost."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        # Partial: a handled row leaves it, so it stays small however long the log grows.
        Index(
            "ix_inbound_messages_unfinished",
            "status",
            sqlite_where=_UNFINISHED,
            postgresql_where=_UNFINISHED,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # Unique, so an update delivered twice is handled once. The update id alone is not
    # enough: Telegram restarts its numbering after a quiet week or for a new token.
    fingerprint: Mapped[str] = mapped_column(String(96), unique=True)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # Indexed for /mydata and /forget, which look a person's rows up by chat too.
    chat_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=INBOUND_RECEIVED)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A failed update: what its chat was in the middle of when it failed (the
    # conversation's kind and last change, bot.services.conversations.stamp).
    context: Mapped[str | None] = mapped_column(String(64))
    # When an instance last took it to handle again after an operator requeued it.
    requeued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
