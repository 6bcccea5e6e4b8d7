"""Retention: personal text of closed items is blanked after a configurable age.

Each call purges at most ``batch`` items of each kind, so a first run on a large
database holds no long locks; the job calls again until a call finds less than a batch.
Purging is idempotent (blanked rows are skipped), so two instances may both run it.
Rows, states and timestamps stay: the digest's counts do not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import lifecycle
from bot.services import wish_lifecycle as wish_life
from bot.services.data_rights import PURGED
from storage.faq import MatchLog
from storage.models import InboundMessage
from storage.outbox import STATE_PENDING, STATE_SENDING, OutboxMessage
from storage.questions import Conversation, Question, QuestionMessage
from storage.wishes import Wish, WishEvent

# Questions nobody is waiting on any more. An automatic answer or a suggestion nobody
# followed for the whole retention period counts as closed too.
CLOSED_QUESTIONS = (
    lifecycle.RESOLVED,
    lifecycle.CLOSED_SPAM,
    lifecycle.WITHDRAWN,
    lifecycle.AUTO_ANSWERED,
    lifecycle.SUGGESTED,
)
CLOSED_WISHES = (wish_life.CLOSED, wish_life.WITHDRAWN, wish_life.REJECTED)
_QUIET = {"synchronize_session": False}


@dataclass
class Purged:
    """How many items of each kind one call blanked."""

    questions: int = 0
    wishes: int = 0
    inbound: int = 0
    outbox: int = 0
    conversations: int = 0

    @property
    def total(self) -> int:
        """Everything purged."""
        return self.questions + self.wishes + self.inbound + self.outbox + self.conversations

    def full(self, batch: int) -> bool:
        """Whether some kind filled its batch (so more may be waiting)."""
        return max(self.questions, self.wishes, self.inbound, self.outbox) >= batch


async def purge(session: AsyncSession, *, now: datetime, days: float, batch: int) -> Purged:
    """Blank the personal text of closed items last touched ``days`` or more ago.

    An item exactly ``days`` old is purged. ``days`` <= 0 keeps everything.
    """
    result = Purged()
    if days <= 0:
        return result
    cutoff = now - timedelta(days=days)
    result.questions = await _questions(session, cutoff, batch)
    result.wishes = await _wishes(session, cutoff, batch)
    result.inbound = await _inbound(session, cutoff, batch)
    result.outbox = await _outbox(session, cutoff, batch)
    gone = await session.execute(
        delete(Conversation).where(Conversation.updated_at <= cutoff).execution_options(**_QUIET)
    )
    result.conversations = int(gone.rowcount)  # type: ignore[attr-defined]
    return result


async def _ids(session: AsyncSession, query: object) -> list[int]:
    return list(await session.scalars(query))  # type: ignore[call-overload]


async def _questions(session: AsyncSession, cutoff: datetime, batch: int) -> int:
    ids = await _ids(
        session,
        select(Question.id)
        .where(
            Question.status.in_(CLOSED_QUESTIONS),
            Question.last_activity_at <= cutoff,
            Question.text != PURGED,
        )
        .order_by(Question.id)
        .limit(batch),
    )
    if not ids:
        return 0
    await session.execute(
        update(Question)
        .where(Question.id.in_(ids))
        .values(text=PURGED)
        .execution_options(**_QUIET)
    )
    await session.execute(
        update(QuestionMessage)
        .where(QuestionMessage.question_id.in_(ids))
        .values(text=PURGED)
        .execution_options(**_QUIET)
    )
    await session.execute(
        update(MatchLog)
        .where(MatchLog.question_id.in_(ids))
        .values(query=PURGED)
        .execution_options(**_QUIET)
    )
    return len(ids)


async def _wishes(session: AsyncSession, cutoff: datetime, batch: int) -> int:
    ids = await _ids(
        session,
        select(Wish.id)
        .where(
            Wish.status.in_(CLOSED_WISHES),
            func.coalesce(Wish.closed_at, Wish.updated_at) <= cutoff,
            Wish.text != PURGED,
        )
        .order_by(Wish.id)
        .limit(batch),
    )
    if not ids:
        return 0
    await session.execute(
        update(Wish)
        .where(Wish.id.in_(ids))
        .values(
            text=PURGED,
            photo_file_id=None,
            relation=None,
            place=None,
            reason=None,
            proof_text=None,
            proof_file_id=None,
            version=Wish.version + 1,
        )
        .execution_options(**_QUIET)
    )
    await session.execute(
        update(WishEvent)
        .where(
            WishEvent.wish_id.in_(ids),
            WishEvent.trigger.in_(("return_for_edits", "reject", "approve")),
            WishEvent.note != "",
        )
        .values(note=PURGED)
        .execution_options(**_QUIET)
    )
    return len(ids)


async def _inbound(session: AsyncSession, cutoff: datetime, batch: int) -> int:
    ids = await _ids(
        session,
        select(InboundMessage.id)
        # Any status: a row left "received" by a crash mid-update holds the text too.
        .where(
            InboundMessage.received_at <= cutoff,
            or_(
                InboundMessage.text.isnot(None),
                InboundMessage.error.isnot(None),
                cast(InboundMessage.payload, String) != "{}",
            ),
        )
        .order_by(InboundMessage.id)
        .limit(batch),
    )
    if ids:
        await session.execute(
            update(InboundMessage)
            .where(InboundMessage.id.in_(ids))
            .values(text=None, payload={}, error=None)
            .execution_options(**_QUIET)
        )
    return len(ids)


async def _outbox(session: AsyncSession, cutoff: datetime, batch: int) -> int:
    ids = await _ids(
        session,
        select(OutboxMessage.id)
        .where(
            OutboxMessage.state.notin_((STATE_PENDING, STATE_SENDING)),
            func.coalesce(OutboxMessage.sent_at, OutboxMessage.due_at) <= cutoff,
            OutboxMessage.text != PURGED,
        )
        .order_by(OutboxMessage.id)
        .limit(batch),
    )
    if ids:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(text=PURGED, reply_markup=None, attachment=None, file_id=None)
            .execution_options(**_QUIET)
        )
    return len(ids)
