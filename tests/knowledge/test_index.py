"""The live index: when it reads the store's version again, and what a change does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import knowledge.index as index_module
from knowledge import store
from knowledge.entries import EntryData, read_entries
from knowledge.index import KnowledgeIndex
from storage.db import create_engine, create_session_factory, unit_of_work
from tests.conftest import MINI_FAQ, prepare

NEW = EntryData(
    id="lost-student-card",
    question="学生证丢了怎么补办？",
    answer="带上一寸照片到学校教务处申请补办。",
)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await prepare(database_url)
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


async def _top(sessions: async_sessionmaker[AsyncSession], index: KnowledgeIndex) -> str | None:
    async with unit_of_work(sessions) as session:
        result = await index.match(session, NEW.question)
    return result.hits[0].entry_id if result.band == "answer" else None


async def _add_new_entry(session: AsyncSession) -> None:
    await store.import_entries(session, [*read_entries(MINI_FAQ), NEW], changed_by="test")


async def test_a_change_made_in_this_process_applies_to_the_next_question(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    index = KnowledgeIndex()
    assert await _top(sessions, index) is None
    async with unit_of_work(sessions) as session:
        await _add_new_entry(session)  # promoted answers and /forget change the KB this way
    assert await _top(sessions, index) == NEW.id


async def test_a_change_from_another_process_applies_after_the_recheck_time(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seen from the index, the bumps below happen elsewhere (`voy kb import` in a shell).
    monkeypatch.setattr(index_module, "local_bumps", lambda: 0)
    monkeypatch.setattr(index_module, "VERSION_RECHECK_S", 3600.0)
    index = KnowledgeIndex()
    assert await _top(sessions, index) is None
    async with unit_of_work(sessions) as session:
        await _add_new_entry(session)
    assert await _top(sessions, index) is None, "the version was read again too soon"
    monkeypatch.setattr(index_module, "VERSION_RECHECK_S", 0.0)  # the time has passed
    assert await _top(sessions, index) == NEW.id


async def test_a_change_made_here_applies_at_once_even_if_read_before_its_commit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Another update (concurrent updates) matches while the change is not yet committed:
    it reads the old version; the next question after the commit still sees the change."""
    index = KnowledgeIndex()
    assert await _top(sessions, index) is None
    async with unit_of_work(sessions) as session:
        await _add_new_entry(session)
        assert await _top(sessions, index) is None  # another session: not committed yet
    assert await _top(sessions, index) == NEW.id
