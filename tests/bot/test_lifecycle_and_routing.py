"""The question lifecycle (legal and illegal moves, audit log) and the routing rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.data import DEMO_ORG
from bot.services import lifecycle, org, questions, users
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import ROLE_ADMIN, Cadre, User
from storage.questions import Question

TZ = ZoneInfo("Asia/Shanghai")
WEDNESDAY = datetime(2026, 11, 18, 10, 0, tzinfo=TZ)  # 王老师 (Mon/Wed/Fri) on duty
TUESDAY = datetime(2026, 11, 17, 10, 0, tzinfo=TZ)  # 李老师 (Tue/Thu) on duty


def test_illegal_moves_are_refused_with_a_clear_message() -> None:
    question = Question(id=7, status=lifecycle.RESOLVED, events=[])
    with pytest.raises(
        lifecycle.IllegalTransition, match="question 7: cannot answer when resolved"
    ):
        lifecycle.fire(question, "answer", actor="cadre:1", now=WEDNESDAY)
    assert question.status == lifecycle.RESOLVED and question.events == []


def test_moves_are_logged_and_marks_keep_the_state() -> None:
    question = Question(id=8, status=lifecycle.NEW, events=[])
    for trigger in ("route", "assign", "mark_key", "answer", "resolve", "reopen"):
        lifecycle.fire(question, trigger, actor="system", now=WEDNESDAY)
    assert [(e.trigger, e.from_state, e.to_state) for e in question.events] == [
        ("route", "new", "routed"),
        ("assign", "routed", "assigned"),
        ("mark_key", "assigned", "assigned"),
        ("answer", "assigned", "answered"),
        ("resolve", "answered", "resolved"),
        ("reopen", "resolved", "routed"),
    ]
    assert not lifecycle.allowed(lifecycle.CLOSED_SPAM, "reopen")


def test_a_pass_does_not_restart_the_young_persons_wait() -> None:
    """Handed from one cadre to another, the question has not been answered: the young
    person waits on since it was first handed to a person (overdue lists, the digest)."""
    question = Question(id=9, status=lifecycle.NEW, events=[])
    lifecycle.fire(question, "route", actor="system", now=WEDNESDAY)
    lifecycle.fire(question, "assign", actor="system", now=WEDNESDAY, note="to cadre:2")
    later = WEDNESDAY + timedelta(hours=20)
    lifecycle.fire(question, "assign", actor="cadre:2", now=later, note="passed to cadre:3")
    assert question.waiting_since == WEDNESDAY and question.last_activity_at == later
    assert lifecycle.passes(question) == 1


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as session:
        await org.load_org(session, org.parse_org_file(DEMO_ORG), default_locale="zh-Hans")
    yield factory
    await engine.dispose()


async def _youth(session: AsyncSession, telegram_id: int, region: str | None) -> User:
    user, _ = await users.touch(
        session,
        telegram_id=telegram_id,
        first_name="y",
        language_code="zh",
        default_locale="zh-Hans",
    )
    if region:
        await users.set_region(session, user=user, region_code=region)
    return user


async def _route(
    session: AsyncSession, user: User, *, topic: str | None, now: datetime
) -> questions.Assignment:
    question = await questions.create(session, user=user, text="问题", now=now, topic=topic)
    return await questions.route(session, question, reason="unmatched", now=now, tz=TZ)


async def _name(assignment: questions.Assignment) -> str | None:
    return assignment.cadre.name if assignment.cadre else None


async def test_region_and_topic_decide_who_answers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        street_a = await _youth(session, 1, "a-street-1")
        zone_c = await _youth(session, 2, "district-c")
        # A street of district-a on League affairs: 王老师 covers district-a.
        assert (
            await _name(await _route(session, street_a, topic="league", now=WEDNESDAY)) == "王老师"
        )
        # Counselling anywhere: only 张老师 (the whole city) covers it.
        assert (
            await _name(await _route(session, zone_c, topic="counselling", now=WEDNESDAY))
            == "张老师"
        )
        # Nobody covers social events in district-a: the committee's pool.
        assert await _name(await _route(session, street_a, topic="social", now=WEDNESDAY)) is None


async def test_duty_day_first_then_load_then_rotation(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        zone_c = await _youth(session, 3, "district-c")
        # Employment in district-c: 李老师 (district-c) and 张老师 (city) both cover it.
        # Tuesday is 李老师's duty day, so he gets it although loads are equal.
        assert (
            await _name(await _route(session, zone_c, topic="employment", now=TUESDAY)) == "李老师"
        )
        # On Wednesday neither is on duty: the lower load wins (李老师 now has one).
        assert (
            await _name(await _route(session, zone_c, topic="employment", now=WEDNESDAY))
            == "张老师"
        )
        # Equal loads again (one each): whoever was given a question longest ago.
        later = WEDNESDAY + timedelta(minutes=5)
        assert (
            await _name(await _route(session, zone_c, topic="employment", now=later)) == "李老师"
        )


async def test_away_and_full_cadres_are_skipped(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        street = await _youth(session, 4, "a-street-2")
        await session.execute(
            update(Cadre)
            .where(Cadre.name == "王老师")
            .values(away_until=WEDNESDAY + timedelta(days=1))
        )
        # 王老师 away: League affairs in district-a has nobody else.
        assert await _name(await _route(session, street, topic="league", now=WEDNESDAY)) is None
        await session.execute(update(Cadre).values(away_until=None))
        await session.execute(update(Cadre).where(Cadre.name == "张老师").values(capacity=1))
        zone = await _youth(session, 5, "district-a")
        assert await _name(await _route(session, zone, topic="safety", now=WEDNESDAY)) == "张老师"
        # 张老师 is now at capacity: the next safety question waits in the pool.
        assert await _name(await _route(session, zone, topic="safety", now=WEDNESDAY)) is None
        # A call for help goes to a person now, whatever their load.
        urgent = await questions.create(
            session, user=zone, text="问题", now=WEDNESDAY, topic="safety"
        )
        urgent.urgent = True
        routed = await questions.route(
            session, urgent, reason="safeguarding", now=WEDNESDAY, tz=TZ
        )
        assert await _name(routed) == "张老师"


async def test_only_the_assigned_cadre_or_an_admin_may_answer(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        youth = await _youth(session, 6, "district-c")
        assignment = await _route(session, youth, topic="study", now=WEDNESDAY)
        assert await _name(assignment) == "李老师"
        zhang = await users.get_by_telegram_id(session, 2003)
        wang = await users.get_by_telegram_id(session, 2001)  # a committee admin
        assert zhang is not None and wang is not None
        with pytest.raises(questions.NotAllowed):
            await questions.answer(
                session, question_id=assignment.question.id, user=zhang, text="x", now=WEDNESDAY
            )
        with pytest.raises(questions.NotAllowed):  # the young person is not staff
            await questions.answer(
                session, question_id=assignment.question.id, user=youth, text="x", now=WEDNESDAY
            )
        answered = await questions.answer(
            session, question_id=assignment.question.id, user=wang, text="答复", now=WEDNESDAY
        )
        assert answered.status == lifecycle.ANSWERED
        with pytest.raises(questions.NotAllowed):  # someone else's question
            await questions.resolve(session, question_id=answered.id, user=zhang, now=WEDNESDAY)


async def test_a_call_for_help_goes_to_someone_with_room_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """On a Tuesday 李老师 is on duty for jobs in district-c, but full: a call for help
    goes to 张老师, who covers it and has room; once both are full, to the one on duty."""
    tuesday = WEDNESDAY - timedelta(days=1)
    async with unit_of_work(sessions) as session:
        youth = await _youth(session, 8, "district-c")
        assert await _name(await _route(session, youth, topic="employment", now=tuesday)) == (
            "李老师"
        )
        await session.execute(update(Cadre).where(Cadre.name == "李老师").values(capacity=1))

        async def call_for_help() -> str | None:
            question = await questions.create(
                session, user=youth, text="问题", now=tuesday, topic="employment"
            )
            question.urgent = True
            return await _name(
                await questions.route(session, question, reason="safeguarding", now=tuesday, tz=TZ)
            )

        assert await call_for_help() == "张老师"
        await session.execute(update(Cadre).where(Cadre.name == "张老师").values(capacity=1))
        assert await call_for_help() == "李老师"


@dataclass
class _Passing:
    """A question routed to 李老师, who covers it with 张老师 (王老师: an admin)."""

    session: AsyncSession
    youth: User
    qid: int
    ids: dict[str, int]
    cadres: dict[str, User]

    async def hand(
        self, by: str, to: str, *, at: datetime = WEDNESDAY, max_passes: int = 3
    ) -> None:
        await questions.pass_on(
            self.session,
            question_id=self.qid,
            user=self.cadres[by],
            to_cadre_id=self.ids[to],
            now=at,
            max_passes=max_passes,
        )


async def _passing(session: AsyncSession) -> _Passing:
    youth = await _youth(session, 7, "district-c")
    assignment = await _route(session, youth, topic="employment", now=WEDNESDAY)
    assert await _name(assignment) == "李老师"
    ids = {c.name: c.id for c in await session.scalars(select(Cadre))}
    cadres = {}
    for name, telegram_id in (("王老师", 2001), ("李老师", 2002), ("张老师", 2003)):
        found = await users.get_by_telegram_id(session, telegram_id)
        assert found is not None
        cadres[name] = found
    return _Passing(session, youth, assignment.question.id, ids, cadres)


async def test_passes_are_counted_until_an_answer(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The limit is on passes without an answer: a fourth is refused (the question is
    escalated once), the holder keeps it; once answered and followed up, it may be
    passed again."""
    async with unit_of_work(sessions) as session:
        p = await _passing(session)
        await p.hand("李老师", "张老师")
        await p.hand("张老师", "李老师")
        await p.hand("李老师", "张老师")
        for newly in (True, False):  # the committee is told once
            with pytest.raises(questions.PassLimit) as refused:
                await p.hand("张老师", "李老师")
            assert (refused.value.passes, refused.value.newly) == (3, newly)
        question = await questions.get(session, p.qid)
        assert question.assigned_cadre_id == p.ids["张老师"]
        assert [e.trigger for e in question.events].count("escalate") == 1
        zhang = p.cadres["张老师"]
        await questions.answer(session, question_id=p.qid, user=zhang, text="答复", now=WEDNESDAY)
        await questions.follow_up(
            session, question_id=p.qid, user=p.youth, text="还有一个问题", now=WEDNESDAY, tz=TZ
        )
        await p.hand("张老师", "李老师")
        assert (await questions.get(session, p.qid)).assigned_cadre_id == p.ids["李老师"]


async def test_the_committee_passing_it_on_starts_a_new_run_of_passes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Escalated after three passes, the question is passed on by a committee admin:
    that is the committee's decision, so the cadre it chose may pass it again (a new
    run) and a later limit tells the committee anew; asking the committee is no activity
    on the question (the sweeper's re-offer of idle pool questions keeps its time)."""
    async with unit_of_work(sessions) as session:
        p = await _passing(session)
        await p.hand("李老师", "张老师")
        await p.hand("张老师", "李老师")
        await p.hand("李老师", "张老师")
        question = await questions.get(session, p.qid)
        active = question.last_activity_at
        with pytest.raises(questions.PassLimit) as refused:
            await p.hand("张老师", "李老师", at=WEDNESDAY + timedelta(hours=1))
        assert refused.value.newly and refused.value.yours
        assert question.last_activity_at == active
        await p.hand("王老师", "李老师")  # the committee decides
        assert lifecycle.passes(question) == 0 and not lifecycle.escalated(question)
        await p.hand("李老师", "张老师")  # a new run: allowed
        assert question.assigned_cadre_id == p.ids["张老师"]


async def test_without_a_committee_group_the_limit_escalates_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Nobody could decide: the pass is refused as such (the holder is asked to answer),
    and no escalation is recorded, so once a committee group is set the next attempt
    tells it."""
    async with unit_of_work(sessions) as session:
        await org.set_setting(session, "committee_chat_id", None)
        p = await _passing(session)
        await p.hand("李老师", "张老师", max_passes=1)
        with pytest.raises(questions.PassLimit) as refused:
            await p.hand("张老师", "李老师", max_passes=1)
        assert not refused.value.committee and not refused.value.newly
        question = await questions.get(session, p.qid)
        assert "escalate" not in [e.trigger for e in question.events]
        await org.set_setting(session, "committee_chat_id", -100200)
        with pytest.raises(questions.PassLimit) as refused:
            await p.hand("张老师", "李老师", max_passes=1)
        assert refused.value.committee and refused.value.newly


async def test_an_admin_passing_their_own_question_passes_like_any_cadre(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """张老师 is an admin too (as 王老师 is in the demo): passing on a question he holds
    is no committee decision, so 李老师 and he cannot pass it back and forth for ever."""
    async with unit_of_work(sessions) as session:
        p = await _passing(session)
        zhang = p.cadres["张老师"]
        zhang.roles = [*zhang.roles, ROLE_ADMIN]
        await p.hand("李老师", "张老师")
        await p.hand("张老师", "李老师")
        await p.hand("李老师", "张老师")
        await p.hand("张老师", "李老师")  # an admin is never refused
        with pytest.raises(questions.PassLimit) as refused:
            await p.hand("李老师", "张老师")
        assert refused.value.passes == 4


async def test_the_committee_may_pass_a_question_to_a_full_colleague(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """张老师 is full: 李老师 cannot pass him the question, the committee (王老师, an
    admin) can: it is its decision to give him one more."""
    async with unit_of_work(sessions) as session:
        p = await _passing(session)
        await session.execute(update(Cadre).where(Cadre.name == "张老师").values(capacity=0))
        with pytest.raises(questions.ColleagueFull):
            await p.hand("李老师", "张老师")
        listed = await questions.colleagues_of(
            session, question_id=p.qid, user=p.cadres["王老师"], now=WEDNESDAY, max_passes=3
        )
        assert [c.may_take for c in listed if c.cadre.name == "张老师"] == [True]
        await p.hand("王老师", "张老师")
        assert (await questions.get(session, p.qid)).assigned_cadre_id == p.ids["张老师"]
