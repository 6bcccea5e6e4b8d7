"""Committee broadcasts: who receives one, its lifecycle, and how its delivery went.

The lifecycle is one ``transitions`` machine (draft → confirmed → sending → done, or a
draft cancelled); the state lives in ``broadcasts.state``.

Recipients are young people (no staff role) who can be reached, have not turned
announcements off, live in one of the chosen regions or below it (every region, and
people who chose none, when no region is chosen), and, for a topic-targeted broadcast,
follow at least one of its topics. Someone who never opened /subscribe follows nothing,
so they get general announcements of their region only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from transitions import Machine

from bot.services import org
from storage.broadcasts import AnnouncementPreference, Broadcast, Subscription
from storage.models import ROLE_ADMIN, ROLE_CADRE, ROLE_DONOR, ROLE_REVIEWER, User
from storage.outbox import (
    STATE_CANCELLED,
    STATE_FAILED,
    STATE_PENDING,
    STATE_SENDING,
    STATE_SENT,
    STATE_UNREACHABLE,
    OutboxMessage,
)

DRAFT, CONFIRMED, SENDING, DONE, CANCELLED = "draft", "confirmed", "sending", "done", "cancelled"
STATES = (DRAFT, CONFIRMED, SENDING, DONE, CANCELLED)
_TRANSITIONS: list[Any] = [
    {"trigger": "confirm", "source": DRAFT, "dest": CONFIRMED},
    {"trigger": "send", "source": CONFIRMED, "dest": SENDING},
    {"trigger": "finish", "source": SENDING, "dest": DONE},
    {"trigger": "cancel", "source": DRAFT, "dest": CANCELLED},
]
MACHINE = Machine(
    model=None,
    states=list(STATES),
    transitions=_TRANSITIONS,
    initial=DRAFT,
    auto_transitions=False,
)

# The outbox rows of a broadcast carry this kind and ref type.
OUTBOX_KIND = "broadcast"
REF_TYPE = "broadcast"
# Anyone holding one of these is staff, never a recipient.
STAFF_ROLES = frozenset({ROLE_ADMIN, ROLE_CADRE, ROLE_DONOR, ROLE_REVIEWER})


class IllegalBroadcastTransition(RuntimeError):
    """The broadcast is not in a state that allows this."""


class NotAllowed(PermissionError):
    """The user may not act on this broadcast (not an admin, or not its author)."""


def fire(broadcast: Broadcast, trigger: str) -> None:
    """Move ``broadcast`` by ``trigger`` or raise :class:`IllegalBroadcastTransition`."""
    found = MACHINE.get_transitions(trigger=trigger, source=broadcast.state)
    if not found:
        raise IllegalBroadcastTransition(
            f"broadcast {broadcast.id}: {trigger} from {broadcast.state}"
        )
    broadcast.state = found[0].dest or broadcast.state


def is_admin(user: User) -> bool:
    """Only committee admins write broadcasts."""
    return user.has_role(ROLE_ADMIN)


@dataclass(frozen=True)
class Recipient:
    """One young person a broadcast goes to."""

    user_id: int
    telegram_id: int
    locale: str


async def recipients(
    session: AsyncSession, *, region_codes: Sequence[str], topic_codes: Sequence[str]
) -> list[Recipient]:
    """The young people a broadcast with this targeting reaches, ordered by user id."""
    statement = (
        select(User.id, User.telegram_id, User.locale, User.roles)
        .outerjoin(AnnouncementPreference, AnnouncementPreference.user_id == User.id)
        .where(
            User.unreachable_at.is_(None),
            User.forgotten_at.is_(None),  # /forget left only an anonymous row
            # Someone who only ever wrote in a group cannot be messaged in private.
            User.private_since.is_not(None),
            or_(AnnouncementPreference.opted_out.is_(None), ~AnnouncementPreference.opted_out),
        )
        .order_by(User.id)
    )
    if region_codes:
        covered: set[str] = set()
        for code in region_codes:
            covered |= await org.region_subtree(session, code)
        statement = statement.where(User.region_code.in_(sorted(covered)))
    if topic_codes:
        statement = statement.where(
            exists().where(
                Subscription.user_id == User.id, Subscription.topic_code.in_(list(topic_codes))
            )
        )
    # Roles are a JSON list; telling staff apart in Python keeps the query portable.
    return [
        Recipient(user_id, telegram_id, locale)
        for user_id, telegram_id, locale, roles in (await session.execute(statement)).all()
        if not STAFF_ROLES.intersection(roles or ())
    ]


async def get(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    """The broadcast with this id."""
    return await session.get(Broadcast, broadcast_id)


async def authored(session: AsyncSession, *, broadcast_id: int, user: User) -> Broadcast:
    """The broadcast, if ``user`` is an admin and wrote it; else raise :class:`NotAllowed`."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None or not is_admin(user) or broadcast.author_user_id != user.id:
        raise NotAllowed(broadcast_id)
    return broadcast


async def confirm(
    session: AsyncSession, *, broadcast: Broadcast, now: datetime
) -> list[Recipient]:
    """Confirm a draft and mark it sending; return its recipients (to be enqueued now).

    Raises:
        IllegalBroadcastTransition: it is not a draft (confirmed twice, or cancelled).
    """
    fire(broadcast, "confirm")
    broadcast.confirmed_at = now
    found = await recipients(
        session, region_codes=broadcast.region_codes, topic_codes=broadcast.topic_codes
    )
    broadcast.recipient_count = len(found)
    fire(broadcast, "send")
    await session.flush()
    return found


@dataclass
class Counts:
    """How the outbox rows of one broadcast stand."""

    sent: int = 0
    blocked: int = 0
    failed: int = 0
    pending: int = 0
    cancelled: int = 0


_BUCKET = {
    STATE_SENT: "sent",
    STATE_UNREACHABLE: "blocked",
    STATE_FAILED: "failed",
    STATE_PENDING: "pending",
    STATE_SENDING: "pending",
    STATE_CANCELLED: "cancelled",
}


async def counts(session: AsyncSession, broadcast_ids: Sequence[int]) -> dict[int, Counts]:
    """Delivery counts per broadcast, from its outbox rows."""
    found = {broadcast_id: Counts() for broadcast_id in broadcast_ids}
    if not found:
        return found
    rows = await session.execute(
        select(OutboxMessage.ref_id, OutboxMessage.state, func.count(OutboxMessage.id))
        .where(
            OutboxMessage.ref_type == REF_TYPE,
            OutboxMessage.kind == OUTBOX_KIND,
            OutboxMessage.ref_id.in_(list(found)),
        )
        .group_by(OutboxMessage.ref_id, OutboxMessage.state)
    )
    for ref_id, state, number in rows.all():
        bucket = _BUCKET.get(state)
        if ref_id in found and bucket is not None:
            setattr(found[ref_id], bucket, getattr(found[ref_id], bucket) + int(number))
    return found


async def recent(session: AsyncSession, *, limit: int = 10) -> list[Broadcast]:
    """The newest broadcasts that were confirmed (drafts and cancelled drafts left out)."""
    return list(
        await session.scalars(
            select(Broadcast)
            .where(Broadcast.state.in_((CONFIRMED, SENDING, DONE)))
            .order_by(Broadcast.id.desc())
            .limit(limit)
        )
    )


async def finish_delivered(session: AsyncSession, *, now: datetime) -> list[Broadcast]:
    """Mark done every sending broadcast with nothing left to send; return them.

    The conditional update makes each one finish once, even with two instances.
    """
    sending = list(await session.scalars(select(Broadcast).where(Broadcast.state == SENDING)))
    if not sending:
        return []
    left = await counts(session, [b.id for b in sending])
    finished = []
    for broadcast in sending:
        if left[broadcast.id].pending:
            continue
        result = await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast.id, Broadcast.state == SENDING)
            .values(state=DONE, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            broadcast.state, broadcast.finished_at = DONE, now
            finished.append(broadcast)
    await session.flush()
    return finished
