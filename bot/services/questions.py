"""Tickets after the matcher: routing, answers, follow-ups, hand-offs, and who may do what.

Every change goes through ``lifecycle.fire`` (audit log); every function takes ``now``
so tests can move the clock. Nothing here knows Telegram: callers render and notify.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import concern_model, lifecycle, org, routing, safeguarding
from bot.services.lifecycle import IllegalTransition
from bot.services.safeguarding import Concern
from storage.db import lock_for_writing
from storage.models import ROLE_ADMIN, ROLE_CADRE, Cadre, InboundMessage, User
from storage.questions import Question, QuestionMessage

__all__ = ["ColleagueFull", "IllegalTransition", "NotAllowed", "PassLimit"]


class NotAllowed(PermissionError):
    """The person may not act on this question (not theirs, not their region, gone)."""


class PassLimit(Exception):
    """A pass refused: the question was passed on ``passes`` times without an answer, and
    escalated to the committee. ``newly``: by this refusal (the committee is to be told);
    a later attempt finds it escalated already."""

    def __init__(
        self,
        question: Question,
        passes: int,
        *,
        newly: bool,
        committee: bool = True,
        yours: bool = True,
    ) -> None:
        """Describe the refused pass; ``committee``: False when no committee group is
        set up to be asked (nothing is escalated then); ``yours``: whether the cadre
        refused holds the question (not when pressed on an old card of it)."""
        super().__init__(f"question {question.id}: passed {passes} times, not again")
        self.question, self.passes, self.newly = question, passes, newly
        self.committee, self.yours = committee, yours


class ColleagueFull(Exception):
    """A pass refused: the colleague holds as many open questions as they may."""

    def __init__(self, cadre: Cadre, load: int) -> None:
        """Describe the refused pass."""
        super().__init__(f"cadre {cadre.id} holds {load} of {cadre.capacity}")
        self.cadre, self.load = cadre, load


@dataclass(frozen=True)
class Colleague:
    """A colleague who covers a question, with their open load."""

    cadre: Cadre
    load: int
    # May be passed the question: under capacity, or it is a call for help (which goes to
    # a person whatever their load, as routing does), or the committee passes it on.
    may_take: bool

    @property
    def full(self) -> bool:
        """At capacity (or over it: a call for help, or a capacity lowered since)."""
        return self.load >= self.cadre.capacity


@dataclass(frozen=True)
class Assignment:
    """Where a question went: a cadre, or the committee's pool (``cadre`` None)."""

    question: Question
    cadre: Cadre | None
    # True when the question (re)entered routing: the cadre needs the whole card.
    fresh: bool = False
    # Set when the text that moved it suggests danger (safeguarding).
    concern: Concern | None = None
    # A follow-up the list let through but the concern model finds close to a call for
    # help (:data:`POSSIBLE_CONCERN`): its card asks the cadre to read it with care.
    possible_concern: bool = False


def actor_of(user: User | None = None, cadre: Cadre | None = None) -> str:
    """The audit log's name for whoever acts."""
    if cadre is not None:
        return f"cadre:{cadre.id}"
    return f"user:{user.id}" if user is not None else "system"


async def create(
    session: AsyncSession,
    *,
    user: User,
    text: str,
    now: datetime,
    topic: str | None = None,
    candidates: list[dict[str, object]] | None = None,
    update_id: int | None = None,
    flush: bool = True,
    forwarded: bool = False,
) -> Question:
    """Record a new question (state ``new``) with its first message.

    ``flush=False`` leaves it pending, for a caller that moves it on and writes it all
    in one flush (its id is None until then). ``forwarded``: the young person forwarded
    the message (staff are told it is someone else's words).
    """
    question = Question(
        user_id=user.id,
        text=text,
        region_code=user.region_code,
        topic=topic,
        status=lifecycle.NEW,  # set here, not by the column default: a pending one moves
        candidates=candidates or [],
        inbound_update_id=update_id,
        asked_at=now,
        last_activity_at=now,
        thread=[QuestionMessage(author="youth", text=text, forwarded=forwarded, created_at=now)],
        events=[],  # loaded (empty), so the first transition does no lazy load
    )
    session.add(question)
    if flush:
        await session.flush()
    return question


async def route(
    session: AsyncSession,
    question: Question,
    *,
    reason: str,
    now: datetime,
    tz: ZoneInfo,
    actor: str = "system",
    exclude: frozenset[int] = frozenset(),
) -> Assignment:
    """Hand the question to a person: the best cadre, or the committee's pool."""
    if question.status != lifecycle.ROUTED:
        lifecycle.fire(question, "route", actor=actor, now=now, note=reason)
    question.reason = question.reason or reason
    cadre = await routing.choose_cadre(
        session,
        region_code=question.region_code,
        topic=question.topic,
        now=now,
        tz=tz,
        exclude=exclude,
        urgent=question.urgent,
    )
    if cadre is not None:
        _assign(question, cadre, actor=actor, now=now)
    await session.flush()
    return Assignment(question, cadre, fresh=True)


def _assign(
    question: Question, cadre: Cadre, *, actor: str, now: datetime, note: str = ""
) -> None:
    lifecycle.fire(question, "assign", actor=actor, now=now, note=note or f"to cadre:{cadre.id}")
    question.assigned_cadre_id = cadre.id
    question.assigned_at = now


async def get(session: AsyncSession, question_id: int) -> Question:
    """Return a question, held for this session's changes, or raise :class:`NotAllowed`.

    Whoever loads a question here goes on to change it (claim, answer, pass, resolve,
    follow up, …), so it is locked first: the row (``FOR UPDATE``) on PostgreSQL, the
    database's write lock on SQLite (:func:`storage.db.lock_for_writing`). Two people
    acting on one question at once (two cadres tapping "claim" on two instances) take
    turns, and the second sees the first's work (and is refused, or builds on it)
    instead of writing a stale copy over it while both are told they succeeded.
    """
    await lock_for_writing(session)
    question = await session.get(
        Question, question_id, with_for_update=True, populate_existing=True
    )
    if question is None:
        raise NotAllowed(question_id)
    return question


async def get_cadre(session: AsyncSession, user: User) -> Cadre | None:
    """The active cadre record of ``user``, if they are one."""
    return await session.scalar(
        select(Cadre).where(Cadre.telegram_id == user.telegram_id, Cadre.active.is_(True))
    )


async def _staff_question(
    session: AsyncSession, *, question_id: int, user: User, now: datetime
) -> tuple[Question, Cadre | None]:
    """The question, if ``user`` may act on it: its cadre, an admin, or (for a question in
    the pool) a cadre who covers it."""
    question = await get(session, question_id)
    cadre = await get_cadre(session, user)
    if user.has_role(ROLE_ADMIN):
        return question, cadre
    if cadre is None:
        raise NotAllowed(question_id)
    if question.assigned_cadre_id == cadre.id:
        return question, cadre
    if question.assigned_cadre_id is None and question.status == lifecycle.ROUTED:
        eligible = await routing.eligible_cadres(
            session, region_code=question.region_code, topic=question.topic, now=now
        )
        if any(c.id == cadre.id for c in eligible):
            return question, cadre
    raise NotAllowed(question_id)


async def staff_question(
    session: AsyncSession, *, question_id: int, user: User, now: datetime
) -> Question:
    """The question, if ``user`` may act on it as staff; else :class:`NotAllowed`."""
    question, _ = await _staff_question(session, question_id=question_id, user=user, now=now)
    return question


async def claim(session: AsyncSession, *, question_id: int, user: User, now: datetime) -> Question:
    """A cadre takes a question from the pool (not from a colleague who holds it: an
    admin's old pool card in the committee's group included)."""
    question, cadre = await _staff_question(session, question_id=question_id, user=user, now=now)
    if cadre is None:
        raise NotAllowed(question_id)
    if question.assigned_cadre_id not in (None, cadre.id):
        raise NotAllowed(question_id)
    if question.assigned_cadre_id != cadre.id:
        _assign(
            question,
            cadre,
            actor=actor_of(cadre=cadre),
            now=now,
            note=f"claimed by cadre:{cadre.id}",
        )
    return question


async def answer(
    session: AsyncSession, *, question_id: int, user: User, text: str, now: datetime
) -> Question:
    """A cadre (or admin) answers; a question still in the pool is claimed by answering."""
    question, cadre = await _staff_question(session, question_id=question_id, user=user, now=now)
    if cadre is not None and question.assigned_cadre_id is None:
        _assign(
            question,
            cadre,
            actor=actor_of(cadre=cadre),
            now=now,
            note=f"claimed by cadre:{cadre.id}",
        )
    lifecycle.fire(question, "answer", actor=actor_of(user, cadre), now=now)
    question.answered_at = now
    question.first_answered_at = question.first_answered_at or now
    question.thread.append(
        QuestionMessage(
            author="cadre", cadre_id=cadre.id if cadre else None, text=text, created_at=now
        )
    )
    await session.flush()
    return question


async def own(session: AsyncSession, *, question_id: int, user: User) -> Question:
    """The user's own question, or :class:`NotAllowed`."""
    question = await get(session, question_id)
    if question.user_id != user.id:
        raise NotAllowed(question_id)
    return question


async def resolve(
    session: AsyncSession, *, question_id: int, user: User | None, now: datetime
) -> Question:
    """The young person (or, after the waiting time, the system) closes the question."""
    question = (
        await own(session, question_id=question_id, user=user)
        if user is not None
        else await get(session, question_id)
    )
    lifecycle.fire(question, "resolve", actor=actor_of(user), now=now)
    question.resolved_at = now
    return question


# The reason a question went to a person when the safeguarding list did not raise the
# alarm but the concern model (:mod:`bot.services.concern_model`) found its words close to
# a call for help: the FAQ is skipped and its cards ask the cadre to read it with care.
POSSIBLE_CONCERN = "possible_concern"
# A young person's follow-up the list let through but the model flagged: the note of
# their move in the audit log (``follow_up``, or ``reopen``) is :data:`POSSIBLE_CONCERN`.
FOLLOW_UP_MOVES = ("follow_up", "reopen")


def follow_up_flagged(question: Question) -> bool:
    """Whether the concern model flagged one of the young person's follow-ups on
    ``question`` (as its audit log records it; see :func:`follow_up`)."""
    return any(
        event.trigger in FOLLOW_UP_MOVES and event.note == POSSIBLE_CONCERN
        for event in question.events
    )


def raise_alert(question: Question, *, now: datetime, category: str = "") -> None:
    """Flag ``question`` urgent: a call for help (``category``, see
    :mod:`bot.services.safeguarding`) was raised now, in it or in a follow-up (the audit
    log's ``alert``: the digest counts it in the week it was raised)."""
    question.urgent = True
    lifecycle.fire(question, "alert", actor="system", now=now, note=category)


def alert_category(question: Question) -> str:
    """What the latest call for help on ``question`` was about, for a card when the
    question changes hands: as recorded, else as its words read now, else ``other``."""
    for event in reversed(question.events):
        if event.trigger == "alert" and event.note:
            return event.note
    for text in [question.text, *(m.text for m in question.thread if m.author == "youth")]:
        concern = safeguarding.assess(text)
        if concern is not None:
            return concern.category
    return "other"


async def follow_up(
    session: AsyncSession,
    *,
    question_id: int,
    user: User,
    text: str,
    now: datetime,
    tz: ZoneInfo,
    forwarded: bool = False,
) -> Assignment:
    """A follow-up goes back to the same cadre, as part of the same ticket; if that cadre is
    away or unreachable, the ticket is routed again (``Assignment.fresh``). On a ticket
    waiting in the pool it joins the ticket there (``Assignment.cadre`` None).
    ``forwarded``: the young person forwarded it."""
    question = await own(session, question_id=question_id, user=user)
    # Checked first: a refused follow-up must leave the ticket untouched.
    if not lifecycle.allowed(question.status, "follow_up"):
        raise IllegalTransition(question.id, question.status, "follow_up")
    question.thread.append(
        QuestionMessage(author="youth", text=text, forwarded=forwarded, created_at=now)
    )
    concern = safeguarding.assess(text)
    if concern is not None:
        raise_alert(question, now=now, category=concern.category)
    # The second layer only where the list is silent: no alarm, a line on the card, and
    # the young person's move notes it (the digest counts it, later cards show it).
    possible = concern is None and concern_model.possible(text)
    note = POSSIBLE_CONCERN if possible else ""
    if question.status == lifecycle.ROUTED:  # waiting in the pool: the words go with it
        lifecycle.fire(question, "follow_up", actor=actor_of(user), now=now, note=note)
        return Assignment(question, None, concern=concern, possible_concern=possible)
    cadre = (
        await session.get(Cadre, question.assigned_cadre_id)
        if question.assigned_cadre_id
        else None
    )
    reachable = await routing.reachable(session, [cadre.telegram_id] if cadre else [])
    if cadre is not None and routing.available(cadre, now) and cadre.telegram_id in reachable:
        asks_again = question.status in lifecycle.ASKS_AGAIN
        lifecycle.fire(question, "follow_up", actor=actor_of(user), now=now, note=note)
        if asks_again:  # the cadre's time to answer starts again; a nudge does not reset it
            question.assigned_at = now
        return Assignment(question, cadre, concern=concern, possible_concern=possible)
    if question.status == lifecycle.RESOLVED:
        lifecycle.fire(question, "reopen", actor=actor_of(user), now=now, note=note)
    else:
        lifecycle.fire(question, "follow_up", actor=actor_of(user), now=now, note=note)
        lifecycle.fire(question, "unassign", actor="system", now=now, note="cadre unavailable")
    question.assigned_cadre_id = None
    assignment = await route(session, question, reason="follow_up", now=now, tz=tz)
    return replace(assignment, concern=concern, possible_concern=possible)


async def pass_on(
    session: AsyncSession,
    *,
    question_id: int,
    user: User,
    to_cadre_id: int,
    now: datetime,
    max_passes: int,
) -> Assignment:
    """Hand the question to a colleague who covers it; refuse a pass over ``max_passes``
    (:class:`PassLimit`, see :func:`_check_passes`), or to a colleague at capacity
    (:class:`ColleagueFull`) unless it is a call for help or an admin passes it (the
    committee may decide to give a full cadre one more)."""
    question, cadre = await _staff_question(session, question_id=question_id, user=user, now=now)
    await _check_passes(session, question, user=user, cadre=cadre, max_passes=max_passes, now=now)
    colleagues = await colleagues_for(session, question=question, now=now)
    target = next((c for c in colleagues if c.id == to_cadre_id), None)
    if target is None or (cadre is not None and target.id == cadre.id):
        raise NotAllowed(to_cadre_id)
    # Checked here too, not only left off the buttons: a list shown earlier, or forged
    # data, may name a colleague who has filled up since.
    if not question.urgent and not is_admin(user):  # the committee may decide so
        load = (await routing.open_loads(session)).get(target.id, 0)
        if load >= target.capacity:
            raise ColleagueFull(target, load)
    # The committee decides when an admin passes on a question someone else holds, or
    # one it was asked about; an admin passing on their own question (王老师 is a cadre
    # too) passes like any cadre, or two could pass it back and forth for ever.
    holds = cadre is not None and question.assigned_cadre_id == cadre.id
    deciding = is_admin(user) and (not holds or lifecycle.escalated(question))
    _assign(
        question,
        target,
        actor=actor_of(user, cadre),
        now=now,
        note=f"{lifecycle.COMMITTEE_PASS_NOTE if deciding else lifecycle.PASS_NOTE}{target.id}",
    )
    return Assignment(question, target)


async def _check_passes(
    session: AsyncSession,
    question: Question,
    *,
    user: User,
    cadre: Cadre | None,
    max_passes: int,
    now: datetime,
) -> None:
    """Refuse another pass of a question passed on ``max_passes`` times since its last
    answer: two cadres could otherwise pass it back and forth for ever while the young
    person waits. The refusal escalates it (the audit log's ``escalate``, once per run of
    passes; the caller tells the committee and commits) and the holder keeps it: it stays
    with a person, reminded and escalated by the SLA as before, until the committee
    decides. An admin is not limited: passing it on is how the committee decides, and
    starts a new run. Without a committee group nobody could decide: nothing is
    escalated, and the holder is asked to answer it."""
    if not lifecycle.allowed(question.status, "assign"):
        raise IllegalTransition(question.id, question.status, "assign")
    passes = lifecycle.passes(question)
    if passes < max_passes or is_admin(user):
        return
    yours = cadre is not None and question.assigned_cadre_id == cadre.id
    if await org.get_setting(session, "committee_chat_id") is None:
        raise PassLimit(question, passes, newly=False, committee=False, yours=yours)
    newly = not lifecycle.escalated(question)
    if newly:
        lifecycle.fire(
            question,
            "escalate",
            actor=actor_of(user, cadre),
            now=now,
            note=f"passed {passes} times",
        )
    raise PassLimit(question, passes, newly=newly, yours=yours)


async def colleagues_for(
    session: AsyncSession, *, question: Question, now: datetime
) -> list[Cadre]:
    """Other cadres who could take ``question`` (region and topic)."""
    eligible = await routing.eligible_cadres(
        session, region_code=question.region_code, topic=question.topic, now=now
    )
    return [c for c in eligible if c.id != question.assigned_cadre_id]


async def forward(
    session: AsyncSession, *, question_id: int, user: User, department: str, now: datetime
) -> Question:
    """Forward the question to a department (named), which answers outside the bot."""
    question, cadre = await _staff_question(session, question_id=question_id, user=user, now=now)
    lifecycle.fire(question, "forward", actor=actor_of(user, cadre), now=now, note=department)
    question.department = department.strip()[:128]
    return question


async def mark_key(
    session: AsyncSession, *, question_id: int, user: User, now: datetime
) -> tuple[Question, bool]:
    """Mark the question a key suggestion (重点建议) for the committee; return it and
    whether it is newly marked (a second press, by anyone, changes nothing)."""
    question, cadre = await _staff_question(session, question_id=question_id, user=user, now=now)
    if question.key_suggestion:
        return question, False
    lifecycle.fire(question, "mark_key", actor=actor_of(user, cadre), now=now)
    question.key_suggestion = True
    return question, True


async def close_spam(
    session: AsyncSession, *, question_id: int, user: User, now: datetime
) -> Question:
    """Close the question as spam."""
    question, cadre = await _staff_question(session, question_id=question_id, user=user, now=now)
    lifecycle.fire(question, "close_spam", actor=actor_of(user, cadre), now=now)
    return question


async def share_identity(
    session: AsyncSession, *, question_id: int, user: User, now: datetime
) -> Question:
    """The young person lets cadres see their name on this ticket."""
    question = await own(session, question_id=question_id, user=user)
    lifecycle.fire(question, "share_identity", actor=actor_of(user), now=now)
    question.identity_shared = True
    return question


async def of_user(session: AsyncSession, user: User, limit: int = 20) -> list[Question]:
    """Everything a young person raised, newest first."""
    return list(
        await session.scalars(
            select(Question)
            .where(Question.user_id == user.id)
            .order_by(Question.asked_at.desc(), Question.id.desc())
            .limit(limit)
        )
    )


async def queue_of(session: AsyncSession, cadre: Cadre) -> list[Question]:
    """A cadre's open questions, oldest first."""
    return list(
        await session.scalars(
            select(Question)
            .where(Question.assigned_cadre_id == cadre.id, Question.status == lifecycle.ASSIGNED)
            .order_by(Question.assigned_at)
        )
    )


async def pool_for(session: AsyncSession, cadre: Cadre | None, now: datetime) -> list[Question]:
    """Unassigned questions a cadre could claim (all of them for the committee)."""
    waiting = list(
        await session.scalars(
            select(Question)
            .where(Question.status == lifecycle.ROUTED, Question.assigned_cadre_id.is_(None))
            .order_by(Question.asked_at)
        )
    )
    if cadre is None:
        return waiting
    result = []
    for question in waiting:
        eligible = await routing.eligible_cadres(
            session, region_code=question.region_code, topic=question.topic, now=now
        )
        if any(c.id == cadre.id for c in eligible):
            result.append(question)
    return result


async def overdue(
    session: AsyncSession, *, now: datetime, after: timedelta, cadre: Cadre | None = None
) -> list[Question]:
    """Questions waiting for a person longer than ``after``, oldest first (since they
    started waiting for staff, as the digest counts them: a nudge does not hide one)."""
    query = select(Question).where(
        Question.status.in_(lifecycle.OPEN_FOR_STAFF), Question.waiting_since <= now - after
    )
    if cadre is not None:
        query = query.where(Question.assigned_cadre_id == cadre.id)
    return list(await session.scalars(query.order_by(Question.waiting_since, Question.id)))


def is_admin(user: User) -> bool:
    """Committee admins may act on every question."""
    return user.has_role(ROLE_ADMIN)


async def claim_or_check(
    session: AsyncSession, *, question_id: int, user: User, now: datetime
) -> tuple[Question, Cadre | None]:
    """Make sure ``user`` may work on the question, taking it from the pool if needed;
    return it, and the cadre who took it from the pool now (None if nobody did)."""
    question, cadre = await _staff_question(session, question_id=question_id, user=user, now=now)
    if question.status not in (lifecycle.ROUTED, lifecycle.ASSIGNED, lifecycle.ANSWERED):
        raise IllegalTransition(question.id, question.status, "answer")
    if cadre is not None and question.assigned_cadre_id is None:
        _assign(
            question,
            cadre,
            actor=actor_of(cadre=cadre),
            now=now,
            note=f"claimed by cadre:{cadre.id}",
        )
        return question, cadre
    return question, None


async def colleagues_of(
    session: AsyncSession, *, question_id: int, user: User, now: datetime, max_passes: int
) -> list[Colleague]:
    """The colleagues who cover the question, with their loads and whether ``user`` may
    pass it to them; :class:`PassLimit` if it may not be passed again (asked when the
    cadre starts to pass it, so they learn it at once)."""
    question, cadre = await _staff_question(session, question_id=question_id, user=user, now=now)
    await _check_passes(session, question, user=user, cadre=cadre, max_passes=max_passes, now=now)
    loads = await routing.open_loads(session)
    found = []
    for colleague in await colleagues_for(session, question=question, now=now):
        load = loads.get(colleague.id, 0)
        found.append(
            Colleague(
                colleague,
                load,
                may_take=question.urgent or is_admin(user) or load < colleague.capacity,
            )
        )
    return found


async def asked_in(
    session: AsyncSession, *, user: User, chat_id: int, message_id: int
) -> int | None:
    """The question ``user`` asked with that message, if it opened one."""
    return await session.scalar(
        select(Question.id)
        .join(InboundMessage, InboundMessage.update_id == Question.inbound_update_id)
        .where(
            Question.user_id == user.id,
            InboundMessage.chat_id == chat_id,
            InboundMessage.message_id == message_id,
        )
        .order_by(Question.id)
        .limit(1)
    )


# Kinds of message (as the inbound log names them) that carry a file under a caption.
# Anything else asked a question with words only: a text, or a button press (a question
# typed in a wish draft is asked by its "❓" button).
_WITH_FILE = frozenset({"photo", "voice", "video", "audio", "document", "animation"})


async def asked_with_file(session: AsyncSession, question: Question) -> str | None:
    """The kind of message ``question`` was asked in the caption of ("photo", "document",
    "video", … as the inbound log names it; the file itself went to nobody), or None if
    it was typed (or is not known to have come with a file).

    Read from the inbound log's row of the update that asked it (a row keeps its kind
    when its text is purged), so that every card of the question can say so.
    """
    if question.inbound_update_id is None:
        return None
    kind = await session.scalar(
        select(InboundMessage.kind)
        .join(User, User.telegram_id == InboundMessage.telegram_user_id)
        .where(
            InboundMessage.update_id == question.inbound_update_id,
            User.id == question.user_id,
        )
        .order_by(InboundMessage.id.desc())  # update ids restart (a new token): the newest
        .limit(1)
    )
    return kind if kind in _WITH_FILE else None


async def named_in_copy(
    session: AsyncSession, *, user: User, ticket: int
) -> tuple[int, str] | None:
    """A reply to a copy of a push whose record was lost (the process died between
    Telegram accepting it and the commit, and it was sent again): the question the copy
    names (``ticket``), as a young person's answer to follow up if it is theirs, else as
    a staff card to answer (the answer is checked as any other)."""
    question = await session.get(Question, ticket)
    if question is None:
        return None
    if question.user_id == user.id:
        return question.id, "answer"
    if user.has_role(ROLE_CADRE) or user.has_role(ROLE_ADMIN):
        return question.id, "card"
    return None  # someone else's ticket, named in a text a young person replied to


async def replied_message(
    session: AsyncSession, *, chat_id: int, message_id: int
) -> tuple[int, str] | None:
    """The question and the kind of push (card, answer, …) a replied-to message was."""
    from storage.outbox import OutboxMessage

    row = await session.execute(
        select(OutboxMessage.ref_id, OutboxMessage.kind).where(
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.sent_message_id == message_id,
            OutboxMessage.ref_type == "question",
        )
    )
    found = row.first()
    return (int(found[0]), str(found[1])) if found is not None and found[0] is not None else None


def previous_cadres(question: Question) -> frozenset[int]:
    """Every cadre who has held the question (from its audit log)."""
    held = set()
    for event in question.events:
        if event.trigger == "assign":
            _, _, tail = event.note.rpartition("cadre:")
            if tail.isdigit():
                held.add(int(tail))
    if question.assigned_cadre_id is not None:
        held.add(question.assigned_cadre_id)
    return frozenset(held)
