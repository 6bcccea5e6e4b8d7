"""Two sweeps at once (the job, and a second one) move an overdue question once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import Clock
from bot.context import Services
from bot.services import lifecycle, users
from bot.sweeper import sweep
from knowledge.index import KnowledgeIndex
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import Cadre
from storage.questions import Question
from tests.conftest import make_settings, prepare


@pytest.fixture
async def services(db_url: str) -> AsyncIterator[Services]:
    url = db_url
    await prepare(url)
    settings = make_settings(url)
    engine = create_engine(url)
    running = Services(
        settings=settings,
        engine=engine,
        sessions=create_session_factory(engine),
        knowledge=KnowledgeIndex(settings.thresholds()),
        clock=Clock(),
    )
    yield running
    await engine.dispose()


async def test_concurrent_sweeps_escalate_an_overdue_question_once(services: Services) -> None:
    now = services.clock.now()
    async with unit_of_work(services.sessions) as session:
        youth, _ = await users.touch(
            session,
            telegram_id=1001,
            first_name="小明",
            language_code="zh-hans",
            default_locale="zh-Hans",
        )
        li = await session.scalar(select(Cadre).where(Cadre.telegram_id == 2002))
        assert li is not None
        session.add(
            Question(
                user_id=youth.id,
                text="高新区哪里有大学生实习岗位",
                region_code="district-c",
                status=lifecycle.ASSIGNED,
                assigned_cadre_id=li.id,
                assigned_at=now - timedelta(hours=49),
                events=[],
                thread=[],
            )
        )

    first, second = await asyncio.gather(sweep(services), sweep(services))

    # Without the write lock taken before reading, both sweeps read the question as
    # overdue on SQLite (FOR UPDATE is ignored there) and both moved it: the later one
    # wrote its stale copy over the other's.
    assert first.escalated + second.escalated == 1
    async with services.sessions() as session:
        question = await session.scalar(select(Question))
    assert question is not None and question.escalations == 1
    assert [e.trigger for e in question.events].count("unassign") == 1
