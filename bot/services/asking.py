"""A young person's question: answered from the FAQ, suggestions offered, or handed on.

The matcher decides the band; this module records what happened (for the digest), learns
from the choices young people make, and opens a question for a person when needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.i18n import html_to_plain
from bot.services import concern_model, lifecycle, org, questions, safeguarding
from bot.services.data_rights import PURGED
from bot.services.org import region_chain
from bot.services.privacy import find_personal_data
from bot.services.safeguarding import Concern
from knowledge.index import EntryView, KnowledgeIndex
from knowledge.matcher import read_by_passages
from knowledge.normalize import normalize, small_talk
from knowledge.store import add_phrasing
from knowledge.types import Hit
from storage.base import utcnow
from storage.db import insert_for
from storage.faq import SOURCE_SUGGESTION, MatchLog
from storage.models import Cadre, OrgSetting, User
from storage.questions import Question

# Below this confidence the nearest entry says nothing reliable about the topic.
_TOPIC_MIN_CONFIDENCE = 0.25


def _topic_of(hits: list[tuple[Hit, EntryView]]) -> str | None:
    """The question's topic, when the nearest entry is fairly sure. An unsure guess is
    worse than none: a wrong topic can leave a question with nobody to answer it, while
    no topic routes it to whoever covers the asker's region."""
    if hits and hits[0][0].confidence >= _TOPIC_MIN_CONFIDENCE:
        return hits[0][1].topic
    return None


RESPONSE_SOLVED = "solved"
RESPONSE_ASK_PERSON = "ask_person"
RESPONSE_CHOSE = "chose"
RESPONSE_NONE = "none_of_these"
# Not a button: the young person neither chose a suggestion nor turned them down in time,
# so the question went to a person (:func:`route_unchosen`).
RESPONSE_NO_CHOICE = "no_choice"
# Not a button either: left without a choice, and asked again in the same words since, so
# the later question stands for it (withdrawn).
RESPONSE_SUPERSEDED = "superseded"
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


class HandedOn(AlreadyAnswered):
    """Suggestions nobody chose from in time: the question went to a person, so its
    buttons are done."""


class Superseded(AlreadyAnswered):
    """Suggestions nobody chose from in time, asked again since: the later question's
    buttons count, not these."""


class Erased(NotYours):
    """The question's words were erased (retention): nothing is left to hand over or to
    learn, so its buttons do nothing; the young person is asked to ask again."""


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
    """A person will answer: ``cadre`` got it, or (None) the committee's pool has it."""

    question: Question
    cadre: Cadre | None = None


@dataclass(frozen=True)
class Urgent:
    """The message suggests danger: help now, and a person at once (the FAQ is skipped)."""

    question: Question
    cadre: Cadre | None
    concern: Concern


@dataclass(frozen=True)
class SmallTalk:
    """A greeting, a thanks or an emoji, and nothing else: answered kindly, no ticket
    (``kind``: ``greeting`` or ``thanks``)."""

    kind: str


@dataclass(frozen=True)
class Repeated:
    """The same question as one of the sender's still waiting for a person: no second
    ticket (a second cadre would start on it from scratch); they are told it is open."""

    question_id: int


Outcome = TooLong | Answered | Suggested | Routed | Urgent | SmallTalk | Repeated

_OPEN_SAME = (
    select(Question.id, Question.text)
    .where(
        Question.user_id == bindparam("user_id"),
        Question.status.in_(lifecycle.OPEN_FOR_STAFF),
    )
    .order_by(Question.id)
)


async def _waiting_with_same_words(session: AsyncSession, user: User, text: str) -> int | None:
    """The sender's question still waiting for a person that says what ``text`` says
    (punctuation, width and script aside), if any."""
    wanted = normalize(text)
    for question_id, said in (await session.execute(_OPEN_SAME, {"user_id": user.id})).all():
        if normalize(said) == wanted:
            return int(question_id)
    return None


async def ask(
    session: AsyncSession,
    *,
    user: User,
    text: str,
    index: KnowledgeIndex,
    max_length: int,
    now: datetime,
    tz: ZoneInfo,
    update_id: int | None = None,
    forwarded: bool = False,
) -> Outcome:
    """Match ``text`` and open a ticket for it; scoped entries of the user's region (or a
    region above it) apply. ``forwarded``: the young person forwarded the message (asked
    all the same: what they forward is what they want to know about)."""
    # Safeguarding first: a cry for help is never lost to a length limit.
    concern = safeguarding.assess(text)
    if concern is not None:
        question = await questions.create(
            session, user=user, text=text, now=now, update_id=update_id, forwarded=forwarded
        )
        questions.raise_alert(question, now=now, category=concern.category)
        assignment = await questions.route(
            session, question, reason="safeguarding", now=now, tz=tz, actor="system"
        )
        return Urgent(question, assignment.cadre, concern)
    if (talk := small_talk(text)) is not None:
        return SmallTalk(talk)
    if concern_model.possible(text):
        # Words close to a call for help the list does not know: a person reads it (the
        # reply gives 110 and 12355 as for any question routed), not the FAQ.
        if waiting := await _waiting_with_same_words(session, user, text):
            return Repeated(waiting)
        question = await questions.create(
            session, user=user, text=text, now=now, update_id=update_id, forwarded=forwarded
        )
        reason = questions.POSSIBLE_CONCERN
        assignment = await questions.route(session, question, reason=reason, now=now, tz=tz)
        return Routed(question, assignment.cadre)
    if len(text) > max_length:
        return TooLong(len(text), max_length)
    regions = await region_chain(session, user.region_code)
    result = await index.match(session, text, regions=regions)
    hits = [(hit, entry) for hit in result.hits if (entry := index.entry(hit.entry_id))]
    top = hits[0] if hits else None
    answering = result.band == "answer" and top is not None
    suggesting = result.band == "suggest" and bool(hits)
    if not answering and (waiting := await _waiting_with_same_words(session, user, text)):
        # Asked again while a person has it (and the FAQ still cannot answer it).
        return Repeated(waiting)
    shown = [top[1]] if answering and top else [e for _, e in hits] if suggesting else []
    topic = _topic_of(hits)
    # The question, its first message, its first move and the match log go to the
    # database in one flush: one statement per row, no UPDATE for the move (the load
    # benchmark's hot path, bench/README.md).
    question = await questions.create(
        session,
        user=user,
        text=text,
        now=now,
        topic=topic,
        candidates=[{"slug": e.slug, "confidence": round(h.confidence, 4)} for h, e in hits],
        update_id=update_id,
        flush=False,
        forwarded=forwarded,
    )
    log = MatchLog(
        question=question,
        telegram_user_id=user.telegram_id,
        query=text,
        band="answer" if answering else "suggest" if suggesting else "route",
        entry_slug=top[1].slug if top else None,
        confidence=round(result.confidence, 4),
        offered=[entry.id for entry in shown],
    )
    session.add(log)
    metrics.MATCHES.labels(log.band).inc()
    actor = questions.actor_of(user)
    if answering:
        lifecycle.fire(question, "auto_answer", actor=actor, now=now, note=shown[0].slug)
        await session.flush()
        return Answered(log.id, shown[0])
    if suggesting:
        lifecycle.fire(question, "suggest", actor=actor, now=now)
        await session.flush()
        return Suggested(log.id, shown)
    assignment = await questions.route(session, question, reason="unmatched", now=now, tz=tz)
    return Routed(question, assignment.cadre)


async def faq_answer_of(
    session: AsyncSession, question: Question, index: KnowledgeIndex
) -> str | None:
    """The FAQ answer ``question`` got (its latest automatic answer's entry), if any and
    the entry still exists."""
    slug = next((e.note for e in reversed(question.events) if e.trigger == "auto_answer"), "")
    if not slug:
        return None
    await index.refresh(session)
    entry = index.entry(slug)
    return entry.answer if entry is not None else None


async def _claim(
    session: AsyncSession, *, user: User, log_id: int, response: str, chosen: str | None = None
) -> MatchLog:
    """Record the response on the user's own log, once, even under concurrent presses."""
    log = await session.get(MatchLog, log_id)
    if log is None or log.telegram_user_id != user.telegram_id or log.band != _BAND_OF[response]:
        raise NotYours(log_id)
    if log.query == PURGED:
        raise Erased(log_id)
    # One conditional UPDATE decides between two presses arriving together.
    claimed = await session.execute(
        update(MatchLog)
        .where(MatchLog.id == log_id, MatchLog.response.is_(None))
        .values(response=response, chosen_slug=chosen, responded_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await session.refresh(log)
        if log.response == RESPONSE_NO_CHOICE:
            raise HandedOn(log_id)
        if log.response == RESPONSE_SUPERSEDED:
            raise Superseded(log_id)
        raise AlreadyAnswered(log_id)
    await session.refresh(log)
    return log


async def solved(session: AsyncSession, *, user: User, log_id: int, now: datetime) -> None:
    """The young person says the automatic answer solved it."""
    log = await _claim(session, user=user, log_id=log_id, response=RESPONSE_SOLVED)
    if log.question_id is not None:
        await questions.resolve(session, question_id=log.question_id, user=user, now=now)


async def hand_over(
    session: AsyncSession,
    *,
    user: User,
    log_id: int,
    response: str,
    index: KnowledgeIndex,
    now: datetime,
    tz: ZoneInfo,
) -> Routed:
    """Hand the question to a person: the answer did not help, or no suggestion fits.

    Args:
        response: ``RESPONSE_ASK_PERSON`` (after an answer) or ``RESPONSE_NONE`` (after
            suggestions); it is also the question's recorded reason.
    """
    log = await _claim(session, user=user, log_id=log_id, response=response)
    entry = index.entry(log.entry_slug) if log.entry_slug else None
    if log.question_id is not None:
        question = await questions.get(session, log.question_id)
    else:  # pragma: no cover - every log of an answer or suggestion has its question
        question = await questions.create(session, user=user, text=log.query, now=now)
    # After "none of these" the suggestions were rejected: their topic is no guide.
    if question.topic is None and entry is not None and response == RESPONSE_ASK_PERSON:
        question.topic = entry.topic
    assignment = await questions.route(
        session, question, reason=response, now=now, tz=tz, actor=questions.actor_of(user)
    )
    return Routed(question, assignment.cadre)


async def choose(
    session: AsyncSession,
    *,
    user: User,
    log_id: int,
    entry_id: int,
    index: KnowledgeIndex,
    now: datetime,
) -> Answered:
    """The young person chose a suggestion: answer with it and learn the phrasing (not
    when it holds personal data: the knowledge base keeps no young person's details; nor
    a long message read by its passages: its context would be learned with it)."""
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
    if not find_personal_data(log.query) and not read_by_passages(log.query):
        await add_phrasing(
            session,
            slug=entry.slug,
            text=log.query,
            source=SOURCE_SUGGESTION,
            created_by=f"user:{user.id}",
        )
    if log.question_id is not None:
        question = await questions.get(session, log.question_id)
        lifecycle.fire(
            question, "auto_answer", actor=questions.actor_of(user), now=now, note=entry.slug
        )
    follow_up = MatchLog(
        question_id=log.question_id,
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


# Unchosen suggestions handed on per sweep at most (the rest in the next one).
UNCHOSEN_BATCH = 100
# Suggestions whose wait ran out this long before the rule first ran are left alone
# (retention closes them): only a first upgrade finds such a backlog.
UNCHOSEN_LATEST = timedelta(days=7)
# The org setting holding when the rule first ran (ISO 8601).
UNCHOSEN_SINCE = "unchosen_suggestions_since"


@dataclass
class Unchosen:
    """What :func:`route_unchosen` did: questions handed to a person, and older copies
    of a question asked again in the same words since (withdrawn, not handed on twice)."""

    routed: list[Routed] = field(default_factory=list)
    superseded: int = 0


async def route_unchosen(
    session: AsyncSession, *, now: datetime, after: timedelta, tz: ZoneInfo
) -> Unchosen:
    """Hand to a person every question whose suggestions the young person neither chose
    from nor turned down within ``after``: they saw only the entries' questions, never an
    answer, and every matter raised gets one. A question whose words were erased
    (retention) has nothing left to hand on and is withdrawn, as is one the young person
    asked again in the same words since: the later one stands for it. Waits that ran out
    more than :data:`UNCHOSEN_LATEST` before this rule first ran are left alone."""
    done = Unchosen()
    # Not a backlog from before this rule (a first upgrade): months-old questions reaching
    # cadres, and their askers, out of the blue. Fixed at the rule's first run, so a long
    # outage later leaves nothing behind.
    since = await org.get_setting(session, UNCHOSEN_SINCE)
    if since is None:  # the first run: two sweeps at once keep one moment (insert or ignore)
        await session.execute(
            insert_for(session)(OrgSetting)
            .values(key=UNCHOSEN_SINCE, value=now.isoformat())
            .on_conflict_do_nothing(index_elements=[OrgSetting.key])
        )
        since = await org.get_setting(session, UNCHOSEN_SINCE)
    oldest = datetime.fromisoformat(since) - UNCHOSEN_LATEST
    due = await session.scalars(
        select(Question)
        .where(
            Question.status == lifecycle.SUGGESTED,
            Question.last_activity_at <= now - after,
            Question.last_activity_at > oldest - after,
        )
        .order_by(Question.id)
        .limit(UNCHOSEN_BATCH)
        .with_for_update(skip_locked=True)
    )
    for question in list(due):
        # A press being handled holds its log (and then wants the question, which we
        # hold): skipped until the next sweep, never waited for (a deadlock otherwise).
        logs = list(
            await session.scalars(
                select(MatchLog.id)
                .where(MatchLog.question_id == question.id, MatchLog.band == "suggest")
                .with_for_update(skip_locked=True)
            )
        )
        if not logs:
            continue
        erased = question.text == PURGED
        superseded = not erased and await _asked_again(session, question)
        # The suggestions' buttons stop here: a press from now on is told where it went.
        await session.execute(
            update(MatchLog)
            .where(MatchLog.id.in_(logs), MatchLog.response.is_(None))
            .values(
                response=RESPONSE_SUPERSEDED if superseded else RESPONSE_NO_CHOICE,
                responded_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if erased or superseded:  # nothing left to hand on, or the later one stands for it
            note = lifecycle.WITHDRAWN_SUPERSEDED if superseded else PURGED
            lifecycle.fire(question, "withdraw", actor="system", now=now, note=note)
            done.superseded += 1
            continue
        assignment = await questions.route(
            session, question, reason=RESPONSE_NO_CHOICE, now=now, tz=tz
        )
        done.routed.append(Routed(question, assignment.cadre))
    return done


async def _asked_again(session: AsyncSession, question: Question) -> bool:
    """Whether the asker asked the same words again later (a question not withdrawn)."""
    later = await session.scalars(
        select(Question.text).where(
            Question.user_id == question.user_id,
            Question.id > question.id,
            Question.status.not_in((lifecycle.WITHDRAWN, lifecycle.CLOSED_SPAM)),
        )
    )
    wanted = normalize(question.text)
    return any(normalize(text) == wanted for text in later)


async def replaced_by_edit(
    session: AsyncSession, *, user: User, question_id: int, now: datetime
) -> bool:
    """The young person edited the message of a question no person has yet (the FAQ
    answered it, or it waits for their choice among suggestions): the edit is a new
    question, asked afresh; one still waiting for a choice is withdrawn, replaced by it.
    Return False for a question a person has: the edit joins it as a follow-up."""
    question = await questions.own(session, question_id=question_id, user=user)
    if question.status in (lifecycle.NEW, lifecycle.SUGGESTED):
        lifecycle.fire(
            question,
            "withdraw",
            actor=questions.actor_of(user),
            now=now,
            note=lifecycle.WITHDRAWN_EDITED,
        )
        return True
    return question.status == lifecycle.AUTO_ANSWERED


# How many of the young person's latest FAQ answers a reply is compared with.
_REPLY_LOOKBACK = 5


async def answer_replied_to(
    session: AsyncSession, *, user: User, replied_text: str, index: KnowledgeIndex
) -> int | None:
    """The match log of the FAQ answer the young person replied to (the bot's message
    reads ``replied_text``), among their latest ones they have not responded to yet."""
    logs = await session.scalars(
        select(MatchLog)
        .where(
            MatchLog.telegram_user_id == user.telegram_id,
            MatchLog.band == "answer",
            MatchLog.response.is_(None),
        )
        .order_by(MatchLog.id.desc())
        .limit(_REPLY_LOOKBACK)
    )
    for log in logs:
        entry = index.entry(log.entry_slug) if log.entry_slug else None
        if entry is not None and html_to_plain(entry.answer).strip()[:40] in replied_text:
            return log.id
    return None


async def ask_person_with(
    session: AsyncSession,
    *,
    user: User,
    log_id: int,
    text: str,
    index: KnowledgeIndex,
    now: datetime,
    tz: ZoneInfo,
) -> Routed | Urgent:
    """A reply to the FAQ's answer ("still unclear, …"): the question goes to a person as
    if 👎 were pressed, with the reply as its first follow-up, so the card shows both (a
    reply that is a call for help makes it an urgent one)."""
    routed = await hand_over(
        session,
        user=user,
        log_id=log_id,
        response=RESPONSE_ASK_PERSON,
        index=index,
        now=now,
        tz=tz,
    )
    followed = await questions.follow_up(
        session, question_id=routed.question.id, user=user, text=text, now=now, tz=tz
    )
    if followed.concern is not None:
        return Urgent(routed.question, routed.cadre, followed.concern)
    return routed
