"""A young person's question: answered from the FAQ, suggestions offered, or handed on.

The matcher decides the band; this module records what happened (for the digest), learns
from the choices young people make, and opens a question for a person when needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.org import region_chain
from knowledge.index import EntryView, KnowledgeIndex
from knowledge.store import add_phrasing
from storage.base import utcnow
from storage.faq import SOURCE_SUGGESTION, MatchLog
from storage.models import User
from storage.questions import Question

# Below this confidence the nearest entry says nothing reliable about the topic.
_TOPIC_MIN_CONFIDENCE = 0.25

RESPONSE_SOLVED = "solved"
RESPONSE_ASK_PERSON = "ask_person"
RESPONSE_CHOSE = "chose"
RESPONSE_NONE = "none_of_these"
# Which band each response belongs to: a button of another band is forged.
_BAND_OF = {
    RESPONSE_SOLVED: "answer",
    RESPONSE_ASK_PERSON: "answer",
    RESPONSE_CHOSE: "suggest",
    RESPONSE_NONE: "suggest",
}


class NotYours(PermissionError):
    """The button belongs to another person's question, does not fit it, or is gone."""


class AlreadyAnswered(Exception):
    """The button was pressed before; its choice stands."""


@dataclass(frozen=True)
class TooLong:
    """The text is over the configured limit; it is kept, but not matched."""

    length: int
    limit: int


@dataclass(frozen=True)
class Answered:
    """The FAQ answers the question."""

    log_id: int
    entry: EntryView


@dataclass(frozen=True)
class Suggested:
    """Several entries may fit; the young person chooses."""

    log_id: int
    entries: list[EntryView]


@dataclass(frozen=True)
class Routed:
    """A person will answer."""

    question: Question


Outcome = TooLong | Answered | Suggested | Routed


async def ask(
    session: AsyncSession,
    *,
    user: User,
    text: str,
    index: KnowledgeIndex,
    max_length: int,
    update_id: int | None = None,
) -> Outcome:
    """Match ``text``; entries scoped to the user's region or a region above it apply."""
    if len(text) > max_length:
        return TooLong(len(text), max_length)
    regions = await region_chain(session, user.region_code)
    result = await index.match(session, text, regions=regions)
    hits = [(hit, entry) for hit in result.hits if (entry := index.entry(hit.entry_id))]
    top = hits[0] if hits else None
    answering = result.band == "answer" and top is not None
    suggesting = result.band == "suggest" and bool(hits)
    shown = [top[1]] if answering and top else [e for _, e in hits] if suggesting else []
    log = MatchLog(
        telegram_user_id=user.telegram_id,
        query=text,
        band="answer" if answering else "suggest" if suggesting else "route",
        entry_slug=top[1].slug if top else None,
        confidence=round(result.confidence, 4),
        offered=[entry.id for entry in shown],
    )
    session.add(log)
    await session.flush()
    if answering:
        return Answered(log.id, shown[0])
    if suggesting:
        return Suggested(log.id, shown)
    topic = top[1].topic if top and top[0].confidence >= _TOPIC_MIN_CONFIDENCE else None
    question = await _open_question(
        session,
        user=user,
        text=text,
        topic=topic,
        candidates=[{"slug": e.slug, "confidence": round(h.confidence, 4)} for h, e in hits],
        reason="unmatched",
        update_id=update_id,
    )
    return Routed(question)


async def _open_question(
    session: AsyncSession,
    *,
    user: User,
    text: str,
    topic: str | None,
    candidates: list[dict[str, object]],
    reason: str,
    update_id: int | None,
) -> Question:
    question = Question(
        user_id=user.id,
        text=text,
        region_code=user.region_code,
        topic=topic,
        candidates=candidates,
        reason=reason,
        inbound_update_id=update_id,
    )
    session.add(question)
    await session.flush()
    return question


async def _claim(
    session: AsyncSession, *, user: User, log_id: int, response: str, chosen: str | None = None
) -> MatchLog:
    """Record the response on the user's own log, once, even under concurrent presses."""
    log = await session.get(MatchLog, log_id)
    if log is None or log.telegram_user_id != user.telegram_id or log.band != _BAND_OF[response]:
        raise NotYours(log_id)
    # One conditional UPDATE decides between two presses arriving together.
    claimed = await session.execute(
        update(MatchLog)
        .where(MatchLog.id == log_id, MatchLog.response.is_(None))
        .values(response=response, chosen_slug=chosen, responded_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise AlreadyAnswered(log_id)
    await session.refresh(log)
    return log


async def solved(session: AsyncSession, *, user: User, log_id: int) -> None:
    """The young person says the automatic answer solved it."""
    await _claim(session, user=user, log_id=log_id, response=RESPONSE_SOLVED)


async def hand_over(
    session: AsyncSession, *, user: User, log_id: int, response: str, index: KnowledgeIndex
) -> Routed:
    """Hand the question to a person: the answer did not help, or no suggestion fits.

    Args:
        response: ``RESPONSE_ASK_PERSON`` (after an answer) or ``RESPONSE_NONE`` (after
            suggestions); it is also the question's recorded reason.
    """
    log = await _claim(session, user=user, log_id=log_id, response=response)
    entry = index.entry(log.entry_slug) if log.entry_slug else None
    question = await _open_question(
        session,
        user=user,
        text=log.query,
        topic=entry.topic if entry else None,
        candidates=[{"slug": entry.slug, "confidence": log.confidence}] if entry else [],
        reason=response,
        update_id=None,
    )
    return Routed(question)


async def choose(
    session: AsyncSession, *, user: User, log_id: int, entry_id: int, index: KnowledgeIndex
) -> Answered:
    """The young person chose a suggestion: answer with it and learn the phrasing."""
    log = await session.get(MatchLog, log_id)
    if log is None or entry_id not in (log.offered or []):
        raise NotYours(log_id)
    await index.refresh(session)
    entry = index.entry_by_id(entry_id)
    if entry is None:
        raise NotYours(entry_id)
    log = await _claim(
        session, user=user, log_id=log_id, response=RESPONSE_CHOSE, chosen=entry.slug
    )
    await add_phrasing(
        session,
        slug=entry.slug,
        text=log.query,
        source=SOURCE_SUGGESTION,
        created_by=f"user:{user.id}",
    )
    follow_up = MatchLog(
        telegram_user_id=user.telegram_id,
        query=log.query,
        band="answer",
        entry_slug=entry.slug,
        confidence=log.confidence,
        offered=[entry.id],
    )
    session.add(follow_up)
    await session.flush()
    return Answered(follow_up.id, entry)
