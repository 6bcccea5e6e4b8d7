"""Broadcast services: recipient selection, subscriptions, the draft machine, enqueueing
in bulk, delivery counts and finishing, on hand-built users with hand-written answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.broadcast_notify import enqueue
from bot.config import Settings
from bot.data import DEMO_ORG
from bot.services import broadcast_drafts as drafts
from bot.services import broadcasts, org, subscriptions
from storage import migrate
from storage.broadcasts import AnnouncementPreference, Subscription
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import User
from storage.outbox import STATE_SENT, STATE_UNREACHABLE, OutboxMessage

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)

# telegram id: (region, topics followed, opted out, unreachable, roles)
PEOPLE: dict[int, tuple[str | None, list[str], bool | None, bool, list[str]]] = {
    101: ("a-street-1", [], None, False, []),
    102: ("district-a", ["volunteer"], None, False, []),
    103: ("b-street-1", ["volunteer", "league"], None, False, []),
    104: ("district-c", ["employment"], None, False, []),
    105: ("a-street-2", ["volunteer"], True, False, []),  # turned announcements off
    106: ("a-street-1", ["volunteer"], None, True, []),  # blocked the bot
    107: ("a-street-1", ["volunteer"], None, False, ["cadre"]),  # staff
    108: (None, [], None, False, []),  # never chose a region
    109: ("district-b", ["league"], False, False, []),  # turned them off, then on again
}


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The demo org and the people above."""
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as session:
        await org.load_org(session, org.parse_org_file(DEMO_ORG), default_locale="zh-Hans")
    async with unit_of_work(factory) as session:
        for telegram_id, (region, topics, opted_out, unreachable, roles) in PEOPLE.items():
            user = User(
                telegram_id=telegram_id,
                first_name=f"u{telegram_id}",
                locale="en" if telegram_id == 103 else "zh-Hans",
                region_code=region,
                roles=roles,
                unreachable_at=NOW if unreachable else None,
            )
            session.add(user)
            await session.flush()
            session.add_all(Subscription(user_id=user.id, topic_code=t) for t in topics)
            if opted_out is not None:
                session.add(AnnouncementPreference(user_id=user.id, opted_out=opted_out))
    yield factory
    await engine.dispose()


async def _targets(
    sessions: async_sessionmaker[AsyncSession], regions: list[str], topics: list[str]
) -> set[int]:
    async with sessions() as session:
        found = await broadcasts.recipients(session, region_codes=regions, topic_codes=topics)
    return {r.telegram_id for r in found}


@pytest.mark.parametrize(
    ("regions", "topics", "expected"),
    [
        # Everyone reachable, not staff, not opted out; 108 without a region too.
        ([], [], {101, 102, 103, 104, 108, 109}),
        # A district covers its streets: 101 (a street) and 102 (the district itself).
        (["district-a"], [], {101, 102}),
        (["a-street-1"], [], {101}),
        (["district-a", "district-c"], [], {101, 102, 104}),
        # The city covers every region, but not someone who never chose one.
        (["city"], [], {101, 102, 103, 104, 109}),
        # Topic-targeted: only followers (101 and 108 never touched /subscribe).
        ([], ["volunteer"], {102, 103}),
        (["district-b"], ["league", "employment"], {103, 109}),
        ([], ["employment", "volunteer"], {102, 103, 104}),
        (["district-c"], ["volunteer"], set()),
    ],
)
async def test_recipients(
    sessions: async_sessionmaker[AsyncSession],
    regions: list[str],
    topics: list[str],
    expected: set[int],
) -> None:
    assert await _targets(sessions, regions, topics) == expected


async def _user(session: AsyncSession, telegram_id: int) -> User:
    user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
    assert user is not None
    return user


async def test_subscription_choices_change_who_is_reached(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        user = await _user(session, 101)
        choices = await subscriptions.set_topic(
            session, user=user, topic_code="safety", follow=True, now=NOW
        )
        assert choices.followed == {"safety"} and not choices.opted_out
        again = await subscriptions.set_topic(  # following twice is following
            session, user=user, topic_code="safety", follow=True, now=NOW
        )
        assert again.followed == {"safety"}
        with pytest.raises(subscriptions.UnknownTopic):
            await subscriptions.set_topic(
                session, user=user, topic_code="nope", follow=True, now=NOW
            )
    assert await _targets(sessions, [], ["safety"]) == {101}
    async with unit_of_work(sessions) as session:
        user = await _user(session, 101)
        choices = await subscriptions.set_opted_out(session, user=user, opted_out=True, now=NOW)
        assert choices.opted_out
    assert await _targets(sessions, [], ["safety"]) == set()
    assert 101 not in await _targets(sessions, [], [])
    async with unit_of_work(sessions) as session:
        user = await _user(session, 101)
        await subscriptions.set_opted_out(session, user=user, opted_out=False, now=NOW)
        choices = await subscriptions.set_topic(
            session, user=user, topic_code="safety", follow=False, now=NOW
        )
        assert choices.followed == set()
    assert await _targets(sessions, [], ["safety"]) == set()
    assert 101 in await _targets(sessions, [], [])


async def test_draft_machine_steps_and_refusals(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        youth = await _user(session, 101)
        with pytest.raises(broadcasts.NotAllowed):
            await drafts.start(session, user=youth, chat_id=101, now=NOW)
        admin = await _user(session, 2001)
        draft = await drafts.start(session, user=admin, chat_id=2001, now=NOW)
        assert draft.step == drafts.TEXT
        with pytest.raises(drafts.WrongInput, match="too_long"):
            drafts.give_text(draft, "长" * (drafts.MAX_TEXT_UNITS + 1))
        # Telegram counts UTF-16 units: an emoji is two.
        with pytest.raises(drafts.WrongInput, match="too_long"):
            drafts.give_text(draft, "😀" * (drafts.MAX_TEXT_UNITS // 2 + 1))
        with pytest.raises(drafts.WrongInput, match="ask_text"):
            drafts.give_text(draft, "   ")
        with pytest.raises(drafts.WrongInput, match="stale_step"):
            await drafts.toggle_region(session, draft, "district-a")
        drafts.give_text(draft, "周六 <志愿> 活动 & 报名")
        assert draft.step == drafts.REGIONS
        await drafts.toggle_region(session, draft, "district-a")
        await drafts.toggle_region(session, draft, "district-c")
        await drafts.toggle_region(session, draft, "district-a")
        assert draft.broadcast.region_codes == ["district-c"]
        with pytest.raises(drafts.WrongInput):
            await drafts.toggle_region(session, draft, "atlantis")
        with pytest.raises(drafts.WrongInput):
            drafts.next_step(draft, drafts.TOPICS)  # a button of a later step
        drafts.next_step(draft, drafts.REGIONS)
        await drafts.toggle_topic(session, draft, "employment")
        with pytest.raises(drafts.WrongInput):
            await drafts.toggle_topic(session, draft, "astrology")
        drafts.next_step(draft, drafts.TOPICS)
        assert draft.step == drafts.PREVIEW
        drafts.edit(draft)
        assert draft.step == drafts.TEXT
        assert draft.broadcast.topic_codes == ["employment"]  # choices are kept
        await drafts.save(session, draft, now=NOW)
        broadcast_id = draft.broadcast.id
    async with unit_of_work(sessions) as session:
        loaded = await drafts.load(session, 2001)
        assert loaded is not None and loaded.step == drafts.TEXT
        assert loaded.broadcast.id == broadcast_id
        assert await drafts.cancel(session, 2001)
        assert loaded.broadcast.state == broadcasts.CANCELLED
        assert await drafts.load(session, 2001) is None


async def test_region_options_list_the_grid_below_the_city(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        options = await drafts.region_options(session)
    assert [(r.code, depth) for r, depth in options] == [
        ("district-a", 0),
        ("a-street-1", 1),
        ("a-street-2", 1),
        ("district-b", 0),
        ("b-street-1", 1),
        ("b-street-2", 1),
        ("district-c", 0),
    ]


async def test_confirm_enqueues_in_bulk_then_counts_and_finishes_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    settings = Settings(default_locale="zh-Hans")
    async with unit_of_work(sessions) as session:
        admin = await _user(session, 2001)
        draft = await drafts.start(session, user=admin, chat_id=2001, now=NOW)
        drafts.give_text(draft, "A <b>bold</b> & plain call")
        drafts.next_step(draft, drafts.REGIONS)
        await drafts.toggle_topic(session, draft, "volunteer")
        drafts.next_step(draft, drafts.TOPICS)
        broadcast = draft.broadcast
        found = await broadcasts.confirm(session, broadcast=broadcast, now=NOW)
        assert {r.telegram_id for r in found} == {102, 103}
        assert await enqueue(session, broadcast, found, settings=settings, now=NOW) == 2
        # Enqueueing again (a retried job) adds nothing: the dedupe keys are taken.
        await enqueue(session, broadcast, found, settings=settings, now=NOW)
        with pytest.raises(broadcasts.IllegalBroadcastTransition):
            await broadcasts.confirm(session, broadcast=broadcast, now=NOW)
    async with sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.chat_id)))
        by_user = {u.telegram_id: u.id for u in await session.scalars(select(User))}
    assert [r.chat_id for r in rows] == [102, 103]
    assert {r.dedupe_key for r in rows} == {
        f"broadcast:{broadcast.id}:{by_user[102]}",
        f"broadcast:{broadcast.id}:{by_user[103]}",
    }
    assert all(r.audience == "youth" and r.ref_id == broadcast.id for r in rows)
    # Due one after another at the outbox rate (20/s by default): 50 ms apart.
    assert sorted(r.due_at for r in rows) == [NOW, NOW + timedelta(milliseconds=50)]
    # The admin's text is escaped; each recipient's footer is in their language.
    assert rows[0].text.startswith("A &lt;b&gt;bold&lt;/b&gt; &amp; plain call\n\n")
    assert "团委通知" in rows[0].text and "League committee" in rows[1].text
    assert rows[1].reply_markup is not None
    assert rows[1].reply_markup["inline_keyboard"][0][0]["callback_data"] == (
        f"v1:sbu:{broadcast.id}"
    )

    async with unit_of_work(sessions) as session:
        assert await broadcasts.finish_delivered(session, now=NOW) == []  # still pending
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.chat_id == 102).values(state=STATE_SENT)
        )
    async with sessions() as session:
        tally = (await broadcasts.counts(session, [broadcast.id]))[broadcast.id]
    assert (tally.sent, tally.blocked, tally.failed, tally.pending) == (1, 0, 0, 1)
    async with unit_of_work(sessions) as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.chat_id == 103)
            .values(state=STATE_UNREACHABLE)
        )
        finished = await broadcasts.finish_delivered(session, now=NOW)
        assert [b.id for b in finished] == [broadcast.id]
        assert await broadcasts.finish_delivered(session, now=NOW) == []
        tally = (await broadcasts.counts(session, [broadcast.id]))[broadcast.id]
        assert (tally.sent, tally.blocked, tally.failed, tally.pending) == (1, 1, 0, 0)
        assert [b.id for b in await broadcasts.recent(session)] == [broadcast.id]


async def test_bulk_enqueue_of_ten_thousand_rows(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    settings = Settings(default_locale="zh-Hans")
    async with unit_of_work(sessions) as session:
        session.add_all(
            User(
                telegram_id=500_000 + i,
                first_name="青年",
                locale="zh-Hans",
                region_code="district-c",
                roles=[],
            )
            for i in range(10_000)
        )
    async with unit_of_work(sessions) as session:
        admin = await _user(session, 2001)
        draft = await drafts.start(session, user=admin, chat_id=2001, now=NOW)
        drafts.give_text(draft, "全市青年志愿者招募")
        await drafts.toggle_region(session, draft, "district-c")
        found = await broadcasts.confirm(session, broadcast=draft.broadcast, now=NOW)
        assert len(found) == 10_001  # and 104, who lives there too
        await enqueue(session, draft.broadcast, found, settings=settings, now=NOW)
    async with sessions() as session:
        tally = (await broadcasts.counts(session, [draft.broadcast.id]))[draft.broadcast.id]
    assert tally.pending == 10_001
