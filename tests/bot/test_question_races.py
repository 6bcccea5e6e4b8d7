"""Two people acting on one question at the same moment take turns (both backends).

Each case holds the first person's change uncommitted while the second acts in a
session of its own, as two instances (or two concurrent updates) would, then commits
the first and checks that the second saw it instead of writing over it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.services import data_forget, lifecycle, questions, users
from bot.services.data_rights import PURGED
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import Cadre, User
from storage.questions import Question
from tests.conftest import prepare

# How long the first change stays uncommitted while the second waits or goes ahead.
_HOLD_S = 0.3


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await prepare(db_url)
    engine = create_engine(db_url)
    yield create_session_factory(engine)
    await engine.dispose()


async def _question(
    sessions: async_sessionmaker[AsyncSession], now: datetime, **values: object
) -> int:
    """A young person's question in district-c about employment (李老师 and 张老师 cover it)."""
    async with unit_of_work(sessions) as session:
        youth, _ = await users.touch(
            session,
            telegram_id=1001,
            first_name="小明",
            language_code="zh-hans",
            default_locale="zh-Hans",
        )
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
