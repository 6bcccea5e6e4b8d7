"""The weekly digest: what the channel showed the committee in one ISO week.

Everything is counted in SQL over the week's rows (the audit logs and the indexed time
columns); only lists that belong to the week itself are fetched (first-answer times,
a sample of texts for keywords, the routed texts for FAQ gaps). Definitions:

- A week is local Monday 00:00 to the next Monday 00:00 in ``settings.timezone``; the
  current week ends at ``now`` (``partial``).
- *new*: questions asked in the week. *FAQ answered* / *routed* / *cadre answered* /
  *resolved* / *forwarded* / *key suggestions*: distinct questions with an
  ``auto_answer`` / ``route`` / ``answer`` / ``resolve`` / ``forward`` / ``mark_key``
  event in the week. *FAQ solved*: a ``resolve`` from ``auto_answered``. *reopened*:
  distinct questions moved out of ``resolved`` in the week (a ``reopen``, or a
  ``follow_up`` that goes back to the cadre).
- *routed at*: a question's ``route`` event, when it was first handed to a person (the
  matcher's suggestions may have been shown long before).
- *still open*: asked in the week and, when computed, in a state where the young person
  still waits (``lifecycle.OPEN``). *overdue*: waiting for staff (routed or assigned)
  for ``sla_reminder_hours`` or more since ``waiting_since`` (routed, assigned,
  escalated, reopened, or followed up after an answer; a nudge, a shared name or a pass
  to a colleague does not restart it), as of ``now``, oldest first.
- *time to first answer*: for questions first answered in the week, first answer minus
  routed at; median and 90th percentile by linear interpolation between ranks.
- *SLA breach*: a question handed to a person whose deadline (routed at +
  ``sla_reminder_hours``) fell in the week, unanswered at that deadline; not spam, and
  not withdrawn or forwarded before the deadline (a later /forget or forward leaves the
  breach counted).
- per cadre: *assigned*: distinct questions handed to them in the week; *answered*:
  distinct questions they answered in the week; *median* and *resolved share*: over the
  questions first answered in the week, credited to the cadre who gave that first answer.
- *safeguarding*: distinct questions with an ``alert`` (a call for help, in the question
  or in a follow-up) in the week (counts only).
- *possible concern*: distinct questions whose words the safeguarding list let through but
  the concern model flagged in the week: a ``route`` to a person for that reason (the
  first message), or a young person's ``follow_up`` / ``reopen`` noted so (counts only;
  not alerts, and not added to them).
- wishes: distinct wishes with a ``submit`` / ``approve`` / ``claim`` / ``fulfil`` /
  ``confirm`` event in the week; *stalled*: claimed, no progress for
  ``wish_claim_reminder_days``; *unclaimed too long*: published for
  ``wish_unclaimed_days`` without a claim, counted from publication or from the last
  release of a claim (as ``wishes.unclaimed_for_too_long``), now;
  *waiting for review too long*: submitted ``wish_review_reminder_hours`` ago or more
  and not yet decided on (as ``wishes.review_overdue``), now.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import Settings
from bot.i18n import Translator
from bot.services import lifecycle, questions, wishes
from bot.services import wish_lifecycle as wl
from bot.services.digest_text import Keyword, blank_personal, gap_groups, keywords
from bot.services.digest_week import Week
from bot.services.privacy import MASK_KINDS, mask_personal_data
from bot.services.promotion import PROMOTED_PREFIX
from storage.faq import SOURCE_CADRE, FaqEntry, FaqPhrasing
from storage.models import Cadre, Region, Topic
from storage.questions import Question, QuestionEvent
from storage.wishes import Wish, WishEvent

# Texts read for keywords per week at most (every k-th question by id beyond that).
KEYWORD_SAMPLE = 2000
# Routed questions grouped into FAQ gaps per week at most (the newest).
GAP_SAMPLE = 1500
# How a question that no FAQ entry answered reached a person.
GAP_REASONS = ("unmatched", "none_of_these", "ask_person", "no_choice")
# A gap's example is quoted in the summary cut to this many characters.
GAP_EXAMPLE_CUT = 40
# The digest's outbox rows (bot.digest_job): /forget looks for the person's words there.
DIGEST_KIND = "weekly_digest"
# Example texts in the digest hide personal data behind this neutral mark.
EXAMPLE_LABELS = dict.fromkeys(MASK_KINDS, "[***]")
WISH_STEPS = ("submit", "approve", "claim", "fulfil", "confirm")
# Triggers that take a question out of "resolved" (reopen, follow_up), from the machine;
# filtering on them keeps the count within the (created_at, trigger, from_state) index.
REOPENING = tuple(
    sorted(
        trigger
        for trigger in lifecycle.MACHINE.get_triggers(lifecycle.RESOLVED)
        if any(
            t.dest not in (None, lifecycle.RESOLVED)
            for t in lifecycle.MACHINE.get_transitions(trigger=trigger, source=lifecycle.RESOLVED)
        )
    )
)
# The moves whose note says the concern model flagged the words (the list did not): the
# route of a first message, a young person's follow-up (bot.services.questions).
FLAGGED_MOVES = ("route", *questions.FOLLOW_UP_MOVES)
# Questions nobody waits for an answer to any more: closed as spam, withdrawn (/forget).
UNWANTED = (lifecycle.CLOSED_SPAM, lifecycle.WITHDRAWN)
# Moves that end the wait for a cadre's answer: a routed question that made one before its
# deadline cannot breach the SLA; one made after the deadline does not undo the breach.
# (Spam never breaches: nobody was waiting.)
ENDS_WAIT = ("withdraw", "forward")


async def has_activity(session: AsyncSession, *, week: Week, tz: ZoneInfo) -> bool:
    """Whether anyone asked a question or submitted a wish in ``week`` (an empty week,
    such as the one before the bot was deployed, gets no digest)."""
    start, end = week.bounds(tz)
    for column in (Question.asked_at, Wish.submitted_at):
        found = await session.scalar(select(column).where(_in(column, start, end)).limit(1))
        if found is not None:
            return True
    return False


def quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Period:
    """The question figures of one week."""

    new: int = 0
    faq_answered: int = 0
    faq_solved: int = 0
    routed: int = 0
    cadre_answered: int = 0
    resolved: int = 0
    reopened: int = 0
    forwarded: int = 0
    key_marked: int = 0
    still_open: int = 0
    safeguarding: int = 0
    possible_concern: int = 0
    sla_breaches: int = 0
    first_answer_hours: list[float] = field(default_factory=list)
    wishes: dict[str, int] = field(default_factory=dict)

    @property
    def median_hours(self) -> float | None:
        """Median time to first answer."""
        return quantile(self.first_answer_hours, 0.5)

    @property
    def p90_hours(self) -> float | None:
        """90th percentile of the time to first answer."""
        return quantile(self.first_answer_hours, 0.9)


@dataclass(frozen=True)
class OverdueItem:
    """A question waiting for staff too long."""

    question_id: int
    waiting_hours: float
    region_code: str | None
    cadre_id: int | None


@dataclass
class CadreRow:
    """One cadre's week."""

    cadre_id: int
    name: str
    assigned: int = 0
    answered: int = 0
    overdue: int = 0
    hours: list[float] = field(default_factory=list)
    resolved: int = 0

    @property
    def median_hours(self) -> float | None:
        """Median time to first answer of the questions the cadre first answered."""
        return quantile(self.hours, 0.5)

    @property
    def resolved_share(self) -> float | None:
        """Of the questions first answered in the week, the share resolved by now."""
        return self.resolved / len(self.hours) if self.hours else None


@dataclass(frozen=True)
class Counted:
    """A region or topic with its names, its count this week, and one more figure."""

    code: str | None
    names: dict[str, str]
    count: int
    other: int  # regions: still open; topics: last week's count


@dataclass(frozen=True)
class Gap:
    """A group of similar questions no FAQ entry answered, with two masked examples.

    ``learned``: how many of them a cadre has since taught the FAQ (a new entry or a
    phrasing of one), so the committee can tell a gap still open from one being filled.
    """

    size: int
    examples: list[str]
    learned: int = 0


@dataclass(frozen=True)
class Item:
    """A key suggestion or a forwarded question and where it stands."""

    question_id: int
    status: str
    department: str | None


@dataclass
class Digest:
    """Everything the weekly digest shows."""

    week: Week
    start: datetime
    end: datetime
    now: datetime
    partial: bool
    this: Period
    last: Period
    daily: list[int]
    overdue_total: int
    overdue: list[OverdueItem]
    cadres: list[CadreRow]
    regions: list[Counted]
    topics: list[Counted]
    keywords: list[Keyword]
    gaps: list[Gap]
    key_items: list[Item]
    forwarded_items: list[Item]
    wishes_stalled: int
    wishes_unclaimed: int
    wishes_unclaimed_oldest: list[int]
    wishes_review_overdue: int
    sla_hours: float
    region_names: dict[str, dict[str, str]]

    def region_name(self, tr: Translator, code: str | None) -> str:
        """A region's display name in the reader's language."""
        if not code:
            return tr.plain("digest.unknown_region")
        return tr.name_of(self.region_names.get(code, {}), code)


async def compute(
    session: AsyncSession, *, week: Week, now: datetime, settings: Settings
) -> Digest:
    """Compute the digest of ``week`` with last week beside it, as of ``now``."""
    tz = settings.tz
    start, end = week.bounds(tz)
    partial = end > now
    end = min(end, now)
    last_start, last_end = week.previous().bounds(tz)
    sla = timedelta(hours=settings.sla_reminder_hours)
    groups = await _groups(session, start, end)
    last_groups = await _groups(session, last_start, last_end)
    this = await _period(session, start, end, sla, groups)
    last = await _period(session, last_start, last_end, sla, last_groups)
    first = await _first_answers(session, start, end)
    this.first_answer_hours = [hours for _, hours, _ in first]
    last.first_answer_hours = [
        h for _, h, _ in await _first_answers(session, last_start, last_end)
    ]
    overdue_total, overdue, overdue_by_cadre = await _overdue(session, now - sla, now)
    region_names = await _names(session, Region)
    texts, askers, stride = await _keyword_texts(session, start, end, this.new)
    previous, _, last_stride = await _keyword_texts(session, last_start, last_end, last.new)
    return Digest(
        week=week,
        start=start,
        end=end,
        now=now,
        partial=partial,
        this=this,
        last=last,
        daily=await _daily(session, week, tz),
        overdue_total=overdue_total,
        overdue=overdue,
        cadres=await _cadres(session, start, end, first, overdue_by_cadre),
        regions=_regions(groups, region_names),
        topics=_topics(groups, last_groups, await _names(session, Topic)),
        # jieba is CPU work (and loads its dictionary once): off the event loop.
        keywords=await asyncio.to_thread(
            _keywords, texts, askers, previous, (stride, last_stride)
        ),
        gaps=await _gaps(session, start, end),
        key_items=await _items(session, start, end, "mark_key"),
        forwarded_items=await _items(session, start, end, "forward"),
        wishes_stalled=await _count(
            session,
            (Wish.status == wl.CLAIMED)
            & (
                func.coalesce(Wish.progress_at, Wish.claimed_at)
                <= now - timedelta(days=settings.wish_claim_reminder_days)
            ),
        ),
        wishes_unclaimed=await _count(session, _unclaimed(now, settings)),
        wishes_review_overdue=await _count(
            session,
            wishes.review_overdue(now, timedelta(hours=settings.wish_review_reminder_hours)),
        ),
        sla_hours=settings.sla_reminder_hours,
        region_names=region_names,
        wishes_unclaimed_oldest=list(
            await session.scalars(
                select(Wish.id)
                .where(_unclaimed(now, settings))
                .order_by(Wish.published_at)
                .limit(5)
            )
        ),
    )


def _keywords(
    texts: list[str], askers: list[int], previous: list[str], scale: tuple[int, int]
) -> list[Keyword]:
    return keywords(blank_personal(texts), blank_personal(previous), askers=askers, scale=scale)


def _unclaimed(now: datetime, settings: Settings):  # type: ignore[no-untyped-def]
    return wishes.unclaimed(now, timedelta(days=settings.wish_unclaimed_days))


async def _count(session: AsyncSession, condition) -> int:  # type: ignore[no-untyped-def]
    return int(await session.scalar(select(func.count(Wish.id)).where(condition)) or 0)


def _in(column, start: datetime, end: datetime):  # type: ignore[no-untyped-def]
    return (column >= start) & (column < end)


@dataclass(frozen=True)
class _Group:
    region: str | None
    topic: str | None
    status: str
    urgent: bool
    count: int


async def _groups(session: AsyncSession, start: datetime, end: datetime) -> list[_Group]:
    """The week's questions counted by region, topic, state and urgency: one pass."""
    rows = await session.execute(
        select(
            Question.region_code,
            Question.topic,
            Question.status,
            Question.urgent,
            func.count(Question.id),
        )
        .where(_in(Question.asked_at, start, end))
        .group_by(Question.region_code, Question.topic, Question.status, Question.urgent)
    )
    return [_Group(r, t, s, bool(u), int(n)) for r, t, s, u, n in rows]


def _hours(session: AsyncSession, later, earlier):  # type: ignore[no-untyped-def]
    """``later - earlier`` in hours, computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier) / 3600.0
    # SQLite keeps timestamps as ISO text in UTC, which julianday() reads.
    return (func.julianday(later) - func.julianday(earlier)) * 24.0


async def _period(
    session: AsyncSession, start: datetime, end: datetime, sla: timedelta, groups: list[_Group]
) -> Period:
    period = Period()
    period.new = sum(g.count for g in groups)
    period.still_open = sum(g.count for g in groups if g.status in lifecycle.OPEN)
    from_faq = case(
        (QuestionEvent.from_state == lifecycle.AUTO_ANSWERED, QuestionEvent.question_id)
    )
    events = await session.execute(
        select(
            QuestionEvent.trigger,
            func.count(distinct(QuestionEvent.question_id)),
            func.count(distinct(from_faq)),
        )
        .where(_in(QuestionEvent.created_at, start, end))
        .group_by(QuestionEvent.trigger)
    )
    counts = {trigger: (int(n), int(faq)) for trigger, n, faq in events}
    period.safeguarding = counts.get("alert", (0, 0))[0]
    period.faq_answered = counts.get("auto_answer", (0, 0))[0]
    period.routed = counts.get("route", (0, 0))[0]
    period.cadre_answered = counts.get("answer", (0, 0))[0]
    period.resolved, period.faq_solved = counts.get("resolve", (0, 0))
    # Any move out of "resolved" reopens it: a "reopen" to the pool, or a follow-up that
    # goes back to the cadre (marks such as mark_key leave it resolved).
    period.reopened = int(
        await session.scalar(
            select(func.count(distinct(QuestionEvent.question_id))).where(
                _in(QuestionEvent.created_at, start, end),
                QuestionEvent.trigger.in_(REOPENING),
                QuestionEvent.from_state == lifecycle.RESOLVED,
            )
        )
        or 0
    )
    period.possible_concern = int(
        await session.scalar(
            select(func.count(distinct(QuestionEvent.question_id))).where(
                _in(QuestionEvent.created_at, start, end),
                QuestionEvent.trigger.in_(FLAGGED_MOVES),
                QuestionEvent.note == questions.POSSIBLE_CONCERN,
            )
        )
        or 0
    )
    period.forwarded = counts.get("forward", (0, 0))[0]
    period.key_marked = counts.get("mark_key", (0, 0))[0]
    # The deadline (routed + SLA) falls in the week: routed in the week shifted back by SLA.
    # A question is routed ("route") once; later hand-offs are "assign" events.
    answered = Question.first_answered_at
    # A second's tolerance: julianday() arithmetic is floating point.
    sla_hours = (sla.total_seconds() + 1) / 3600
    late = answered.is_(None) | (_hours(session, answered, QuestionEvent.created_at) > sla_hours)
    # Judged as things stood at the deadline, so a later /forget or forward keeps it.
    ended = aliased(QuestionEvent)
    ended_in_time = (
        select(ended.id)
        .where(
            ended.question_id == QuestionEvent.question_id,
            ended.trigger.in_(ENDS_WAIT),
            _hours(session, ended.created_at, QuestionEvent.created_at) <= sla_hours,
        )
        .exists()
    )
    period.sla_breaches = int(
        await session.scalar(
            select(func.count(distinct(Question.id)))
            .select_from(QuestionEvent)
            .join(Question, Question.id == QuestionEvent.question_id)
            .where(
                _in(QuestionEvent.created_at, start - sla, end - sla),
                QuestionEvent.trigger == "route",
                Question.status != lifecycle.CLOSED_SPAM,
                ~ended_in_time,
                late,
            )
        )
        or 0
    )
    wish_events = await session.execute(
        select(WishEvent.trigger, func.count(distinct(WishEvent.wish_id)))
        .where(_in(WishEvent.created_at, start, end), WishEvent.trigger.in_(WISH_STEPS))
        .group_by(WishEvent.trigger)
    )
    period.wishes = {step: 0 for step in WISH_STEPS} | {t: int(n) for t, n in wish_events}
    return period


async def _first_answers(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[int | None, float, bool]]:
    """(cadre who gave the first answer, hours from routing to it, resolved now) for the
    questions first answered then."""
    mine = QuestionEvent.question_id == Question.id
    routed = (
        select(func.min(QuestionEvent.created_at))
        .where(mine, QuestionEvent.trigger == "route")
        .correlate(Question)
        .scalar_subquery()
    )
    answerer = (
        select(QuestionEvent.actor)
        .where(mine, QuestionEvent.trigger == "answer")
        .order_by(QuestionEvent.created_at, QuestionEvent.id)
        .limit(1)
        .correlate(Question)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            answerer,
            _hours(session, Question.first_answered_at, func.coalesce(routed, Question.asked_at)),
            Question.status,
        ).where(_in(Question.first_answered_at, start, end))
    )
    return [
        (_cadre_of(actor or ""), round(float(hours), 4), status == lifecycle.RESOLVED)
        for actor, hours, status in rows
    ]


async def _overdue(
    session: AsyncSession, limit: datetime, now: datetime
) -> tuple[int, list[OverdueItem], dict[int, int]]:
    # From when it started waiting for staff: a nudge from the young person is no answer.
    waiting = Question.status.in_(lifecycle.OPEN_FOR_STAFF) & (Question.waiting_since <= limit)
    # Counted here, not by GROUP BY: SQLite would then walk the whole table in cadre order.
    by_cadre = Counter(await session.scalars(select(Question.assigned_cadre_id).where(waiting)))
    oldest = await session.execute(
        select(
            Question.id,
            Question.waiting_since,
            Question.region_code,
            Question.assigned_cadre_id,
        )
        .where(waiting)
        .order_by(Question.waiting_since, Question.id)
        .limit(10)
    )
    items = [
        OverdueItem(qid, (now - since).total_seconds() / 3600, region, cadre)
        for qid, since, region, cadre in oldest
        if since is not None  # the WHERE clause rules NULL out
    ]
    total = sum(by_cadre.values())
    return total, items, {k: v for k, v in by_cadre.items() if k is not None}


def _cadre_of(text: str) -> int | None:
    """The cadre an audit note or actor names ("cadre:3", "passed to cadre:3")."""
    _, _, tail = text.rpartition("cadre:")
    return int(tail) if tail.isdigit() else None


async def _cadres(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    first: list[tuple[int | None, float, bool]],
    overdue_by_cadre: dict[int, int],
) -> list[CadreRow]:
    rows: dict[int, CadreRow] = {}

    def row(cadre_id: int) -> CadreRow:
        return rows.setdefault(cadre_id, CadreRow(cadre_id, ""))

    in_week = _in(QuestionEvent.created_at, start, end)
    # Assignment notes name the cadre ("to cadre:3", "claimed by cadre:3", "passed to …");
    # a question counts once per cadre however often it came back to them.
    assigned = await session.execute(
        select(QuestionEvent.note, QuestionEvent.question_id)
        .where(in_week, QuestionEvent.trigger == "assign")
        .distinct()
    )
    held = {(cadre_id, qid) for note, qid in assigned if (cadre_id := _cadre_of(note)) is not None}
    for cadre_id, _ in held:
        row(cadre_id).assigned += 1
    answered = await session.execute(
        select(QuestionEvent.actor, func.count(distinct(QuestionEvent.question_id)))
        .where(in_week, QuestionEvent.trigger == "answer")
        .group_by(QuestionEvent.actor)
    )
    for actor, n in answered:
        if actor.startswith("cadre:") and (cadre_id := _cadre_of(actor)) is not None:
            row(cadre_id).answered += int(n)
    for cadre_id, hours, resolved in first:
        if cadre_id is not None:
            row(cadre_id).hours.append(hours)
            row(cadre_id).resolved += int(resolved)
    for cadre_id, n in overdue_by_cadre.items():
        row(cadre_id).overdue = n
    if rows:
        names = await session.execute(select(Cadre.id, Cadre.name).where(Cadre.id.in_(rows)))
        for cadre_id, name in names:
            rows[cadre_id].name = name
    return sorted(rows.values(), key=lambda r: (-r.assigned, -r.answered, r.cadre_id))


async def _names(session: AsyncSession, model: type[Region] | type[Topic]) -> dict[str, dict]:
    return {code: names for code, names in await session.execute(select(model.code, model.names))}


def _regions(groups: list[_Group], names: dict[str, dict[str, str]]) -> list[Counted]:
    count: Counter[str | None] = Counter()
    still_open: Counter[str | None] = Counter()
    for g in groups:
        count[g.region] += g.count
        if g.status in lifecycle.OPEN:
            still_open[g.region] += g.count
    found = [Counted(c, names.get(c or "", {}), n, still_open[c]) for c, n in count.items()]
    return sorted(found, key=lambda c: (-c.count, c.code or ""))


def _topics(
    groups: list[_Group], last_groups: list[_Group], names: dict[str, dict[str, str]]
) -> list[Counted]:
    count: Counter[str | None] = Counter()
    before: Counter[str | None] = Counter()
    for g in groups:
        count[g.topic] += g.count
    for g in last_groups:
        before[g.topic] += g.count
    found = [Counted(c, names.get(c or "", {}), n, before[c]) for c, n in count.items()]
    return sorted(found, key=lambda c: (-c.count, c.code or ""))


async def _daily(session: AsyncSession, week: Week, tz: ZoneInfo) -> list[int]:
    """Questions asked on each local day, Monday to Sunday, in one query."""
    columns = []
    for day in week.days():
        lo = datetime.combine(day, time(0), tz).astimezone(UTC)
        hi = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)
        columns.append(func.sum(case((_in(Question.asked_at, lo, hi), 1), else_=0)))
    start, end = week.bounds(tz)
    row = (await session.execute(select(*columns).where(_in(Question.asked_at, start, end)))).one()
    return [int(v or 0) for v in row]


async def _keyword_texts(
    session: AsyncSession, start: datetime, end: datetime, total: int
) -> tuple[list[str], list[int], int]:
    """The week's question texts (every k-th by id past the sample size; never urgent
    ones), who asked each, and k."""
    query = select(Question.text, Question.user_id).where(
        _in(Question.asked_at, start, end), Question.urgent.is_(False)
    )
    stride = max(1, math.ceil(total / KEYWORD_SAMPLE))
    if stride > 1:
        query = query.where(Question.id % stride == 0)
    rows = list(await session.execute(query.order_by(Question.id)))
    return [text for text, _ in rows], [user for _, user in rows], stride


async def _gaps(session: AsyncSession, start: datetime, end: datetime) -> list[Gap]:
    rows = list(
        await session.execute(
            select(Question.id, Question.text)
            .where(
                _in(Question.asked_at, start, end),
                Question.reason.in_(GAP_REASONS),
                Question.urgent.is_(False),
                # Spam closed, or withdrawn by its asker (/forget): no gap in the FAQ.
                Question.status.not_in(UNWANTED),
            )
            .order_by(Question.id.desc())
            .limit(GAP_SAMPLE)
        )
    )
    rows.reverse()  # oldest first, so a group's examples are its first askers
    # Grouped on masked text, so a phone number neither splits nor joins a group.
    shown = [mask_personal_data(text, EXAMPLE_LABELS) for _, text in rows]
    groups = [g for g in await asyncio.to_thread(gap_groups, shown) if g.size >= 2][:5]
    learned = await _learned({rows[i][0] for g in groups for i in g.members}, session)
    return [
        Gap(
            g.size,
            [shown[i] for i in g.examples],
            sum(1 for i in g.members if rows[i][0] in learned),
        )
        for g in groups
    ]


async def _learned(question_ids: set[int], session: AsyncSession) -> set[int]:
    """Those of ``question_ids`` a cadre has taught the FAQ: an entry made from the
    question (slug ``cadre-qN``) or a phrasing added from it (``created_by`` ``…:qN``)."""
    if not question_ids:
        return set()
    # Only what the FAQ still answers with: an entry switched off has unlearned it.
    named = list(
        await session.scalars(
            select(FaqEntry.slug).where(
                FaqEntry.slug.startswith(PROMOTED_PREFIX), FaqEntry.active.is_(True)
            )
        )
    )
    named += list(
        await session.scalars(
            select(FaqPhrasing.created_by)
            .join(FaqEntry, FaqEntry.id == FaqPhrasing.entry_id)
            .where(FaqPhrasing.source == SOURCE_CADRE, FaqEntry.active.is_(True))
        )
    )
    found = set()
    for name in named:
        tail = name.rpartition(":q")[2] if ":q" in name else name[len(PROMOTED_PREFIX) :]
        if tail.isdigit() and int(tail) in question_ids:
            found.add(int(tail))
    return found


async def _items(
    session: AsyncSession, start: datetime, end: datetime, trigger: str
) -> list[Item]:
    rows = await session.execute(
        select(Question.id, Question.status, Question.department)
        .join(QuestionEvent, QuestionEvent.question_id == Question.id)
        .where(_in(QuestionEvent.created_at, start, end), QuestionEvent.trigger == trigger)
        .distinct()
        .order_by(Question.id)
        .limit(500)
    )
    return [Item(qid, status, department) for qid, status, department in rows]


def status_counts(items: Sequence[Item]) -> dict[str, int]:
    """How many items stand in each state."""
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item.status] += 1
    return dict(counts)
