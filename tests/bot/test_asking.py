"""The asking service without Telegram: bands, logging, routing, choices and learning."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from bot.services import asking, lifecycle, users
from knowledge import store
from knowledge.entries import read_entries
from knowledge.index import KnowledgeIndex
from knowledge.normalize import small_talk
from knowledge.types import Thresholds
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.faq import MatchLog
from storage.models import User
from storage.questions import Question

MINI = Path(__file__).resolve().parents[1] / "data" / "mini_faq.yaml"
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=TZ)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
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
        answered = await asking.ask(
            session, user=user, text="团费怎么交", index=index, max_length=100, now=NOW, tz=TZ
        )
        assert isinstance(answered, asking.Answered)
        assert answered.entry.slug == "league-dues"
        routed = await asking.ask(
            session, user=user, text="明天会下雨吗", index=index, max_length=100, now=NOW, tz=TZ
        )
        too_long = await asking.ask(
            session, user=user, text="长" * 101, index=index, max_length=100, now=NOW, tz=TZ
        )
        assert too_long == asking.TooLong(101, 100)
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
        outcome = await asking.ask(
            session, user=user, text="团关系咋转", index=index, max_length=100, now=NOW, tz=TZ
        )
        assert isinstance(outcome, asking.Suggested)
        assert outcome.entries[0].slug == "league-transfer"
        with pytest.raises(asking.NotYours):
            await asking.choose(
                session,
                user=other,
                log_id=outcome.log_id,
                entry_id=outcome.entries[0].id,
                index=index,
                now=NOW,
            )
        chosen = await asking.choose(
            session,
            user=user,
            log_id=outcome.log_id,
            entry_id=outcome.entries[0].id,
            index=index,
            now=NOW,
        )
        assert chosen.entry.slug == "league-transfer"
        with pytest.raises(asking.AlreadyAnswered):
            await asking.hand_over(
                session,
                user=user,
                log_id=outcome.log_id,
                response=asking.RESPONSE_NONE,
                index=index,
                now=NOW,
                tz=TZ,
            )
    async with sessions() as session:
        entry = await store.get_entry(session, "league-transfer")
        assert entry is not None and entry.phrasings[-1].text == "团关系咋转"
    # The same index picks the learned phrasing up at once: with default thresholds a
    # wording that was only suggested before is now answered.
    learned = "组织关系咋弄到新学校"
    sure = KnowledgeIndex()
    async with unit_of_work(sessions) as session:
        user = await _user(session)
        before = await asking.ask(
            session, user=user, text=learned, index=sure, max_length=100, now=NOW, tz=TZ
        )
        assert not isinstance(before, asking.Answered)
        assert await store.add_phrasing(
            session, slug="league-transfer", text=learned, source="test", created_by="t"
        )
    async with unit_of_work(sessions) as session:
        after = await asking.ask(
            session, user=user, text=learned, index=sure, max_length=100, now=NOW, tz=TZ
        )
        assert isinstance(after, asking.Answered) and after.entry.slug == "league-transfer"


async def test_a_long_message_chosen_from_suggestions_is_not_learned(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A long message read by its passages is answered with the entry chosen, but not
    learned as its phrasing: its context (毕业, 外地工作) would pull that entry ahead of
    others for any question sharing it."""
    index = KnowledgeIndex(Thresholds(answer=1.0, suggest=0.05))
    text = "你好，我是大三学生，马上要毕业去外地工作了，团关系咋转？单位那边说要接收"
    async with unit_of_work(sessions) as session:
        user = await _user(session)
        outcome = await asking.ask(
            session, user=user, text=text, index=index, max_length=100, now=NOW, tz=TZ
        )
        assert isinstance(outcome, asking.Suggested)
        chosen = outcome.entries[0]
        await asking.choose(
            session, user=user, log_id=outcome.log_id, entry_id=chosen.id, index=index, now=NOW
        )
    async with sessions() as session:
        entry = await store.get_entry(session, chosen.slug)
        assert entry is not None and text not in [p.text for p in entry.phrasings]


async def test_ask_person_keeps_the_topic(sessions: async_sessionmaker[AsyncSession]) -> None:
    index = KnowledgeIndex()
    async with unit_of_work(sessions) as session:
        user = await _user(session)
        answered = await asking.ask(
            session,
            user=user,
            text="西部计划怎么报名",
            index=index,
            max_length=100,
            now=NOW,
            tz=TZ,
        )
        assert isinstance(answered, asking.Answered)
        routed = await asking.hand_over(
            session,
            user=user,
            log_id=answered.log_id,
            response=asking.RESPONSE_ASK_PERSON,
            index=index,
            now=NOW,
            tz=TZ,
        )
        assert routed.question.topic == "volunteer" and routed.question.reason == "ask_person"


async def test_region_scoped_entries_reach_the_streets_below(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from bot.data import DEMO_ORG
    from bot.services import org
    from knowledge.entries import EntryData

    scoped = EntryData(
        id="youth-home-east",
        question="东城区青年之家在哪里？",
        alt_questions=("东城青年之家地址",),
        answer="东城区青年之家在东湖路 1 号。",
        topic="youth_home",
        region="district-a",
    )
    async with unit_of_work(sessions) as session:
        await org.load_org(session, org.parse_org_file(DEMO_ORG), default_locale="zh-Hans")
        await store.import_entries(session, [scoped], changed_by="test")
    index = KnowledgeIndex()
    for telegram_id, region, expected in (
        (11, "a-street-1", True),  # a street of district-a
        (12, "district-a", True),
        (13, "b-street-1", False),  # another district
        (14, None, False),  # no region chosen yet: unscoped entries only
    ):
        async with unit_of_work(sessions) as session:
            user = await _user(session, telegram_id)
            if region:
                await users.set_region(session, user=user, region_code=region)
            outcome = await asking.ask(
                session,
                user=user,
                text="东城区青年之家在哪里",
                index=index,
                max_length=100,
                now=NOW,
                tz=TZ,
            )
            shown = (
                [outcome.entry]
                if isinstance(outcome, asking.Answered)
                else outcome.entries
                if isinstance(outcome, asking.Suggested)
                else []
            )
            assert ("youth-home-east" in [e.slug for e in shown]) is expected, region


async def test_an_answered_question_is_written_in_one_flush_and_recorded_whole(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The hot path's saving (one INSERT per row, no UPDATE) keeps every record."""
    index = KnowledgeIndex()
    async with unit_of_work(sessions) as session:
        user = await _user(session)
        await index.refresh(session)  # the index is built before counting
        bind = session.bind
        statements: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            statements.append(statement.split()[0].upper())

        event.listen(bind.sync_engine, "before_cursor_execute", count)
        try:
            answered = await asking.ask(
                session, user=user, text="团费怎么交", index=index, max_length=100, now=NOW, tz=TZ
            )
        finally:
            event.remove(bind.sync_engine, "before_cursor_execute", count)
        assert isinstance(answered, asking.Answered)
        assert statements.count("UPDATE") == 0
        assert statements.count("INSERT") == 4  # question, message, event, match log
        question = await session.scalar(
            select(Question).options(selectinload(Question.events), selectinload(Question.thread))
        )
        assert question is not None and question.status == "auto_answered"
        assert [(e.trigger, e.from_state, e.to_state) for e in question.events] == [
            ("auto_answer", "new", "auto_answered")
        ]
        assert [m.text for m in question.thread] == ["团费怎么交"]
        log = await session.get(MatchLog, answered.log_id)
        assert log is not None and log.question_id == question.id


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("你好", "greeting"),
        ("老师好！", "greeting"),
        ("在吗？", "greeting"),
        ("hello 老师", "greeting"),
        ("。。。", "greeting"),
        ("谢谢", "thanks"),
        ("谢谢老师！！", "thanks"),
        ("好的，谢谢", "thanks"),
        ("Thank you!", "thanks"),
        ("嗯嗯", "thanks"),
        ("👍", "thanks"),
        ("你好，我想问怎么入团", None),
        ("谢谢，那团费怎么交", None),
        ("怎么入团", None),
        ("好", None),
    ],
)
def test_small_talk_is_a_whole_message_of_greetings_or_thanks(text: str, kind: str | None) -> None:
    assert small_talk(text) == kind


async def test_a_question_asked_again_while_a_person_has_it_opens_no_second_ticket(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    index = KnowledgeIndex()
    async with unit_of_work(sessions) as session:
        user = await _user(session)

        async def ask(text: str) -> asking.Outcome:
            return await asking.ask(
                session, user=user, text=text, index=index, max_length=100, now=NOW, tz=TZ
            )

        first = await ask("我们小区的路灯坏了能不能反映一下")
        assert isinstance(first, asking.Routed)
        # The same words (punctuation aside): told it is open, no second ticket.
        assert await ask("我们小区的路灯坏了，能不能反映一下？") == asking.Repeated(
            first.question.id
        )
        other = await ask("学校门口的路灯也坏了")
        assert isinstance(other, asking.Routed) and other.question.id != first.question.id
        # One the FAQ can answer is answered, whatever is open.
        assert isinstance(await ask("团费怎么交"), asking.Answered)


async def test_suggestions_left_without_a_choice_go_to_a_person(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Every matter is answered: suggestions nobody chose from or turned down go to a
    person after the wait, once; their buttons then say so; a copy asked again in the
    same words is withdrawn for the later one, not handed on twice."""
    index = KnowledgeIndex(Thresholds(answer=1.0, suggest=0.05))
    wait = timedelta(hours=12)
    async with unit_of_work(sessions) as session:
        user = await _user(session)
        first = await asking.ask(
            session, user=user, text="团关系咋转", index=index, max_length=100, now=NOW, tz=TZ
        )
        chosen = await asking.ask(
            session, user=user, text="团费咋交", index=index, max_length=100, now=NOW, tz=TZ
        )
        assert isinstance(first, asking.Suggested) and isinstance(chosen, asking.Suggested)
        await asking.choose(
            session,
            user=user,
            log_id=chosen.log_id,
            entry_id=chosen.entries[0].id,
            index=index,
            now=NOW,
        )
        # Not yet: the wait has not passed.
        early = await asking.route_unchosen(session, now=NOW + wait / 2, after=wait, tz=TZ)
        assert early.routed == [] and early.superseded == 0
        # Asked again in the same words (punctuation aside) an hour later.
        later = NOW + timedelta(hours=1)
        again = await asking.ask(
            session, user=user, text="团关系咋转？", index=index, max_length=100, now=later, tz=TZ
        )
        assert isinstance(again, asking.Suggested)
    async with unit_of_work(sessions) as session:
        done = await asking.route_unchosen(session, now=NOW + wait, after=wait, tz=TZ)
        assert done.routed == [] and done.superseded == 1  # the later copy stands for it
    async with unit_of_work(sessions) as session:
        done = await asking.route_unchosen(session, now=later + wait, after=wait, tz=TZ)
        (routed,) = done.routed
        assert routed.question.text == "团关系咋转？"
        assert routed.question.reason == asking.RESPONSE_NO_CHOICE
        assert routed.question.status in (lifecycle.ROUTED, lifecycle.ASSIGNED)
    async with unit_of_work(sessions) as session:
        again_done = await asking.route_unchosen(session, now=later + 2 * wait, after=wait, tz=TZ)
        assert again_done.routed == [] and again_done.superseded == 0  # once only
        rows = await session.execute(select(Question.text, Question.status))
        statuses = {text: status for text, status in rows}
        assert statuses["团关系咋转"] == lifecycle.WITHDRAWN
        assert statuses["团费咋交"] == lifecycle.AUTO_ANSWERED  # chosen: not touched
        user = await _user(session)
        # A press under the withdrawn copy points to the later one; under the later one,
        # says a person has it.
        for log_id, refusal in (
            (first.log_id, asking.Superseded),
            (again.log_id, asking.HandedOn),
        ):
            with pytest.raises(refusal):
                await asking.choose(
                    session,
                    user=user,
                    log_id=log_id,
                    entry_id=first.entries[0].id,
                    index=index,
                    now=later + 2 * wait,
                )


async def test_suggestions_left_long_before_this_rule_are_not_handed_on(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A first upgrade finds months of unchosen suggestions: they are not sent to cadres
    (nor their askers told) out of the blue; a recent one is."""
    index = KnowledgeIndex(Thresholds(answer=1.0, suggest=0.05))
    wait = timedelta(hours=12)
    async with unit_of_work(sessions) as session:
        user = await _user(session)
        for text, at in (("团关系咋转", NOW), ("团费咋交", NOW + timedelta(days=30))):
            shown = await asking.ask(
                session, user=user, text=text, index=index, max_length=100, now=at, tz=TZ
            )
            assert isinstance(shown, asking.Suggested)
    async with unit_of_work(sessions) as session:
        done = await asking.route_unchosen(
            session, now=NOW + timedelta(days=30) + wait, after=wait, tz=TZ
        )
        assert [r.question.text for r in done.routed] == ["团费咋交"]
    # The limit is fixed when the rule first runs: a sweeper down for weeks afterwards
    # leaves nothing behind.
    later = NOW + timedelta(days=31)
    async with unit_of_work(sessions) as session:
        user = await _user(session)
        shown = await asking.ask(
            session, user=user, text="团关系咋转", index=index, max_length=100, now=later, tz=TZ
        )
        assert isinstance(shown, asking.Suggested)
    async with unit_of_work(sessions) as session:
        done = await asking.route_unchosen(
            session, now=later + timedelta(days=20), after=wait, tz=TZ
        )
        assert [r.question.text for r in done.routed] == ["团关系咋转"]
