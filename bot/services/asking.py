"""A young person's question: answered from the FAQ, suggestions offered, or handed on.

The matcher decides the band; this module records what happened (for the digest), learns
from the choices young people make, and opens a question for a person when needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

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


class NotYours(PermissionError):
    """The button belongs to another person's question, or no longer exists."""


class AlreadyAnswered(Exception):
    """The button was pressed before; its choice stands."""


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


Outcome = Answered | Suggested | Routed


async def ask(
    session: AsyncSession,
    *,
    user: User,
    text: str,
    index: KnowledgeIndex,
    update_id: int | None = None,
) -> Outcome:
    """Match ``text`` and act on the band; every question is logged."""
    result = await index.match(session, text, region=user.region_code)
    hits = [(hit, entry) for hit in result.hits if (entry := index.entry(hit.entry_id))]
    top = hits[0] if hits else None
    log = MatchLog(
        telegram_user_id=user.telegram_id,
        query=text,
        band=result.band,
        entry_slug=top[1].slug if top else None,
        confidence=round(result.confidence, 4),
    )
    session.add(log)
    await session.flush()
    if result.band == "answer" and top:
        return Answered(log.id, top[1])
    if result.band == "suggest" and hits:
        return Suggested(log.id, [entry for _, entry in hits])
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


async def _own_log(session: AsyncSession, *, user: User, log_id: int) -> MatchLog:
    log = await session.get(MatchLog, log_id)
    if log is None or log.telegram_user_id != user.telegram_id:
        raise NotYours(log_id)
    if log.response is not None:
        raise AlreadyAnswered(log_id)
    return log


def _respond(log: MatchLog, response: str, chosen: str | None = None) -> None:
    log.response, log.chosen_slug, log.responded_at = response, chosen, utcnow()


async def solved(session: AsyncSession, *, user: User, log_id: int) -> None:
    """The young person says the automatic answer solved it."""
    _respond(await _own_log(session, user=user, log_id=log_id), RESPONSE_SOLVED)


async def ask_person(
    session: AsyncSession, *, user: User, log_id: int, index: KnowledgeIndex
) -> Routed:
    """The automatic answer did not help: hand the question to a person."""
    log = await _own_log(session, user=user, log_id=log_id)
    _respond(log, RESPONSE_ASK_PERSON)
    entry = index.entry(log.entry_slug) if log.entry_slug else None
    question = await _open_question(
        session,
        user=user,
        text=log.query,
        topic=entry.topic if entry else None,
        candidates=[{"slug": log.entry_slug, "confidence": log.confidence}] if entry else [],
        reason="ask_person",
        update_id=None,
    )
    return Routed(question)


async def choose(
    session: AsyncSession, *, user: User, log_id: int, slug: str, index: KnowledgeIndex
) -> Answered:
    """The young person chose a suggestion: answer with it and learn the phrasing."""
    log = await _own_log(session, user=user, log_id=log_id)
    await index.refresh(session)
    entry = index.entry(slug)
    if entry is None:
        raise NotYours(slug)
    _respond(log, RESPONSE_CHOSE, slug)
    await add_phrasing(
        session,
        slug=slug,
        text=log.query,
        source=SOURCE_SUGGESTION,
        created_by=f"user:{user.id}",
    )
    follow_up = MatchLog(
        telegram_user_id=user.telegram_id,
        query=log.query,
        band="answer",
        entry_slug=slug,
        confidence=log.confidence,
    )
    session.add(follow_up)
    await session.flush()
    return Answered(follow_up.id, entry)


async def none_of_these(
    session: AsyncSession, *, user: User, log_id: int, index: KnowledgeIndex
) -> Routed:
    """No suggestion fits: hand the question to a person."""
    log = await _own_log(session, user=user, log_id=log_id)
    _respond(log, RESPONSE_NONE)
    entry = index.entry(log.entry_slug) if log.entry_slug else None
    question = await _open_question(
        session,
        user=user,
        text=log.query,
        topic=None if entry is None else entry.topic,
        candidates=[{"slug": log.entry_slug, "confidence": log.confidence}] if entry else [],
        reason="none_of_these",
        update_id=None,
    )
    return Routed(question)
