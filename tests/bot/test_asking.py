"""The asking service without Telegram: bands, logging, routing, choices and learning."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import asking, users
from knowledge import store
from knowledge.entries import read_entries
from knowledge.index import KnowledgeIndex
from knowledge.types import Thresholds
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.faq import MatchLog
from storage.models import User

MINI = Path(__file__).resolve().parents[1] / "data" / "mini_faq.yaml"


@pytest.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(sqlite_url)
    await migrate.upgrade(engine)
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as session:
        await store.import_entries(session, read_entries(MINI), changed_by="test")
    yield factory
    await engine.dispose()


async def _user(session: AsyncSession, telegram_id: int = 1) -> User:
    user, _ = await users.touch(
        session,
        telegram_id=telegram_id,
        first_name="x",
        language_code="zh",
        default_locale="zh-Hans",
    )
    return user


async def test_bands_and_log(sessions: async_sessionmaker[AsyncSession]) -> None:
    index = KnowledgeIndex()
    async with unit_of_work(sessions) as session:
        user = await _user(session)
        answered = await asking.ask(session, user=user, text="团费怎么交", index=index)
        assert isinstance(answered, asking.Answered)
        assert answered.entry.slug == "league-dues"
        routed = await asking.ask(session, user=user, text="明天会下雨吗", index=index)
        assert isinstance(routed, asking.Routed)
        assert routed.question.reason == "unmatched" and routed.question.topic is None
        logs = list(await session.scalars(select(MatchLog).order_by(MatchLog.id)))
        assert (logs[0].band, logs[0].entry_slug) == ("answer", "league-dues")
        assert logs[1].band == "route"


async def test_suggestion_choice_learns_once_and_is_owned(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    index = KnowledgeIndex(Thresholds(answer=1.0, suggest=0.05))
    async with unit_of_work(sessions) as session:
        user = await _user(session)
        other = await _user(session, telegram_id=2)
        outcome = await asking.ask(session, user=user, text="团关系咋转", index=index)
        assert isinstance(outcome, asking.Suggested)
        assert outcome.entries[0].slug == "league-transfer"
        with pytest.raises(asking.NotYours):
            await asking.choose(
                session, user=other, log_id=outcome.log_id, slug="league-transfer", index=index
            )
        chosen = await asking.choose(
            session, user=user, log_id=outcome.log_id, slug="league-transfer", index=index
        )
        assert chosen.entry.slug == "league-transfer"
        with pytest.raises(asking.AlreadyAnswered):
            await asking.none_of_these(session, user=user, log_id=outcome.log_id, index=index)
    async with sessions() as session:
        entry = await store.get_entry(session, "league-transfer")
        assert entry is not None and entry.phrasings[-1].text == "团关系咋转"
    # The learned phrasing is matched by the rebuilt index at once.
    async with unit_of_work(sessions) as session:
        user = await _user(session)
        sure = KnowledgeIndex()
        again = await asking.ask(session, user=user, text="团关系咋转", index=sure)
        assert isinstance(again, asking.Answered) and again.entry.slug == "league-transfer"


async def test_ask_person_keeps_the_topic(sessions: async_sessionmaker[AsyncSession]) -> None:
    index = KnowledgeIndex()
    async with unit_of_work(sessions) as session:
        user = await _user(session)
        answered = await asking.ask(session, user=user, text="西部计划怎么报名", index=index)
        assert isinstance(answered, asking.Answered)
        routed = await asking.ask_person(session, user=user, log_id=answered.log_id, index=index)
        assert routed.question.topic == "volunteer" and routed.question.reason == "ask_person"
