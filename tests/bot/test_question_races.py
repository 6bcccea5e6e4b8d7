"""Two people acting on one question at the same moment take turns (both backends).

Each case holds the first person's change uncommitted while the second acts in a
session of its own, as two instances (or two concurrent updates) would, then commits
the first and checks that the second saw it instead of writing over it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.services import asking, data_forget, lifecycle, questions, users
from bot.services.data_rights import PURGED
from knowledge.index import KnowledgeIndex
from knowledge.types import Thresholds
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import Cadre, User
from storage.privacy import Erasure
from storage.questions import Question
from tests.conftest import prepare

# How long the first change stays uncommitted while the second waits or goes ahead.
_HOLD_S = 0.3
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await prepare(db_url)
    engine = create_engine(db_url)
    yield create_session_factory(engine)
    await engine.dispose()


async def _xiaoming(session: AsyncSession) -> User:
    """The young person 1001, 小明."""
    youth, _ = await users.touch(
        session,
        telegram_id=1001,
        first_name="小明",
        language_code="zh-hans",
        default_locale="zh-Hans",
    )
    return youth


async def _question(
    sessions: async_sessionmaker[AsyncSession], now: datetime, **values: object
) -> int:
    """A young person's question in district-c about employment (李老师 and 张老师 cover it)."""
    async with unit_of_work(sessions) as session:
        youth = await _xiaoming(session)
        question = Question(
            user_id=youth.id,
            text="高新区哪里有大学生实习岗位",
            region_code="district-c",
            topic="employment",
            events=[],
            thread=[],
            **values,
        )
        session.add(question)
        await session.flush()
        return question.id


async def _assigned_to_li(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """The question, assigned to 李老师."""
    async with sessions() as session:
        li = await session.scalar(select(Cadre).where(Cadre.telegram_id == 2002))
        assert li is not None
    return await _question(
        sessions, now, status=lifecycle.ASSIGNED, assigned_cadre_id=li.id, assigned_at=now
    )


async def _staff(session: AsyncSession, telegram_id: int) -> User:
    """The user with ``telegram_id`` (staff, or the young person 1001), in ``session``."""
    user = await users.get_by_telegram_id(session, telegram_id)
    assert user is not None
    return user


async def _race(
    sessions: async_sessionmaker[AsyncSession],
    first: Callable[[AsyncSession], Awaitable[object]],
    second: Callable[[AsyncSession], Awaitable[object]],
) -> object:
    """Run ``first`` and hold it uncommitted while ``second`` runs; return what ``second``
    returned or raised once ``first`` has committed."""
    async with sessions() as one, sessions() as two:
        await first(one)
        await one.flush()

        async def act() -> object:
            try:
                result = await second(two)
                await two.commit()
                return result
            except Exception as exc:
                await two.rollback()
                return exc

        task = asyncio.create_task(act())
        await asyncio.sleep(_HOLD_S)
        await one.commit()
        return await task


async def _events(sessions: async_sessionmaker[AsyncSession], question_id: int) -> list[str]:
    async with sessions() as session:
        question = await session.scalar(select(Question).where(Question.id == question_id))
        assert question is not None
        return [event.trigger for event in question.events]


async def test_two_cadres_claiming_one_pool_question_at_once_one_gets_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = Clock().now()
    question_id = await _question(sessions, now, status=lifecycle.ROUTED)

    async def li_claims(session: AsyncSession) -> object:
        return await questions.claim(
            session, question_id=question_id, user=await _staff(session, 2002), now=now
        )

    async def zhang_claims(session: AsyncSession) -> object:
        return await questions.claim(
            session, question_id=question_id, user=await _staff(session, 2003), now=now
        )

    outcome = await _race(sessions, li_claims, zhang_claims)

    # Before questions were locked, 张老师 read the question as still in the pool, took
    # it too, and was told so: the later write won and 李老师's claim was lost.
    assert isinstance(outcome, questions.NotAllowed)
    async with sessions() as session:
        question = await session.get(Question, question_id)
        li = await session.scalar(select(Cadre).where(Cadre.telegram_id == 2002))
        assert question is not None and li is not None
        assert question.assigned_cadre_id == li.id
    assert (await _events(sessions, question_id)).count("assign") == 1


async def test_an_answer_after_a_spam_close_at_the_same_moment_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = Clock().now()
    question_id = await _assigned_to_li(sessions, now)

    async def admin_closes(session: AsyncSession) -> object:
        return await questions.close_spam(
            session, question_id=question_id, user=await _staff(session, 2001), now=now
        )

    async def li_answers(session: AsyncSession) -> object:
        return await questions.answer(
            session,
            question_id=question_id,
            user=await _staff(session, 2002),
            text="可以去区人社局的青年就业服务窗口看看",
            now=now,
        )

    outcome = await _race(sessions, admin_closes, li_answers)

    # Before, the answer was written over the closed question (status "answered",
    # an answer on a ticket the committee had closed) and 李老师 was told it went out.
    assert isinstance(outcome, questions.IllegalTransition)
    async with sessions() as session:
        question = await session.get(Question, question_id)
        assert question is not None
        assert question.status == lifecycle.CLOSED_SPAM
        assert question.answered_at is None
    assert await _events(sessions, question_id) == ["close_spam"]


async def test_forget_while_a_cadre_answers_erases_the_answer_too(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = Clock().now()
    question_id = await _assigned_to_li(sessions, now)

    async def li_answers(session: AsyncSession) -> object:
        return await questions.answer(
            session,
            question_id=question_id,
            user=await _staff(session, 2002),
            text="小明同学，你在高新区三中的情况我已了解",
            now=now,
        )

    async def youth_forgets(session: AsyncSession) -> object:
        return await data_forget.forget(
            session,
            user=await _staff(session, 1001),
            now=now,
            default_locale="zh-Hans",
            secret="s",
        )

    outcome = await _race(sessions, li_answers, youth_forgets)

    # Before, /forget read the ticket without the answer being written, erased what it
    # saw, and the answer (naming the young person and their school) was kept.
    assert isinstance(outcome, data_forget.ForgetReport), outcome
    async with sessions() as session:
        question = await session.get(Question, question_id)
        assert question is not None
        assert question.text == PURGED
        assert [m.text for m in question.thread] == [PURGED]


async def test_a_press_being_handled_is_not_overtaken_by_the_unchosen_sweep(
    postgres_url: str,
) -> None:
    """A choice pressed just as the suggestions' wait runs out: the press holds its log
    (and will want the question next); the sweep holds the question. The sweep waited
    for the log, so the two deadlocked, or, once the press went first, the sweep routed
    the question the press was answering. Now it leaves it for the next sweep."""
    await prepare(postgres_url)
    engine = create_engine(postgres_url)
    sessions = create_session_factory(engine)
    index = KnowledgeIndex(Thresholds(answer=1.0, suggest=0.05))
    now = Clock().now()
    try:
        async with unit_of_work(sessions) as session:
            youth = await _xiaoming(session)
            shown = await asking.ask(
                session, user=youth, text="团关系咋转", index=index, max_length=100, now=now, tz=TZ
            )
            assert isinstance(shown, asking.Suggested)

        async def press(session: AsyncSession) -> object:
            youth = await _staff(session, 1001)
            return await asking._claim(
                session, user=youth, log_id=shown.log_id, response=asking.RESPONSE_CHOSE
            )

        async def sweep(session: AsyncSession) -> object:
            return await asking.route_unchosen(
                session, now=now + timedelta(hours=13), after=timedelta(hours=12), tz=TZ
            )

        outcome = await _race(sessions, press, sweep)
        assert isinstance(outcome, asking.Unchosen), outcome
        assert outcome.routed == [] and outcome.superseded == 0
        async with sessions() as session:
            question = await session.scalar(select(Question))
            assert question is not None and question.status == lifecycle.SUGGESTED
    finally:
        await engine.dispose()


async def test_one_erasure_recorded_twice_at_once_is_kept_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """/forget pressed twice, each press on another instance: the second insert of the
    same key failed (a unique violation) and the second update with it."""
    now = Clock().now()
    key = data_forget.erasure_key(1001, "s")

    async def first(session: AsyncSession) -> object:
        return await data_forget._record(session, data_forget.Recorded(key, now, "c"))

    async def second(session: AsyncSession) -> object:
        later = now + timedelta(seconds=1)
        return await data_forget._record(session, data_forget.Recorded(key, later, "c"))

    outcome = await _race(sessions, first, second)
    assert outcome is False, outcome  # not new, and no error
    async with sessions() as session:
        (kept,) = list(await session.scalars(select(Erasure)))
        assert kept.key == key and kept.forgotten_at == now + timedelta(seconds=1)
