"""The rules of a young person's "withdraw" on a claimed wish, without Telegram: it is a
request to the claimer (once per claim), answered by whoever holds the wish, and a claim
released while the request waits withdraws the wish as asked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.data import DEMO_ORG
from bot.services import cadres, org, wishes
from bot.services import wish_lifecycle as life
from storage import migrate
from storage.db import create_engine, create_session_factory, lock_for_writing, unit_of_work
from storage.models import User
from tests.bot.test_wishes import NOW, SWEEP_AFTER, _approved_and_claimed, _person

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as session:
        await org.load_org(session, org.parse_org_file(DEMO_ORG), default_locale="zh-Hans")
    yield factory
    await engine.dispose()


async def _people(session: AsyncSession) -> tuple[User, User]:
    """The young person (1001) and the cadre who claimed their wishes (2002)."""
    return await _person(session, 1001), await _person(session, 2002)


def test_only_a_claimed_wish_is_asked_for_agreed_or_kept() -> None:
    for state in (life.SUBMITTED, life.APPROVED, life.FULFILLED, life.DISPUTED, life.CLOSED):
        wish = wishes.Wish(id=1, status=state, events=[])
        for trigger in ("ask_withdraw", "agree_withdraw", "keep"):
            with pytest.raises(life.IllegalWishTransition):
                life.fire(wish, trigger, actor="x", now=NOW)
    wish = wishes.Wish(id=1, status=life.CLAIMED, events=[])
    with pytest.raises(life.IllegalWishTransition):  # the young person alone: never
        life.fire(wish, "withdraw", actor="x", now=NOW)
    life.fire(wish, "ask_withdraw", actor="x", now=NOW)
    assert wish.status == life.CLAIMED
    life.fire(wish, "agree_withdraw", actor="y", now=NOW)
    assert wish.status == life.WITHDRAWN


def test_a_request_belongs_to_the_claim_it_was_made_under() -> None:
    wish = wishes.Wish(id=1, status=life.APPROVED, events=[])
    life.fire(wish, "claim", actor="a", now=NOW)
    assert life.withdraw_request(wish) is None
    life.fire(wish, "ask_withdraw", actor="y", now=NOW)
    request = life.withdraw_request(wish)
    assert request is not None and request.pending
    assert life.status_label(wish) == "claimed_withdraw_asked"
    life.fire(wish, "keep", actor="a", now=NOW)
    request = life.withdraw_request(wish)
    assert request is not None and not request.pending
    assert life.status_label(wish) == "claimed_kept"
    # Released and claimed again: the new claimer was never asked.
    life.fire(wish, "release", actor="system", now=NOW)
    assert life.withdraw_request(wish) is None
    life.fire(wish, "claim", actor="b", now=NOW)
    assert life.withdraw_request(wish) is None and life.status_label(wish) == life.CLAIMED


async def test_withdraw_before_a_claim_is_at_once_after_it_a_request(sessions: Sessions) -> None:
    first, second = await _approved_and_claimed(sessions, approved=2, claimed=1)
    async with unit_of_work(sessions) as session:
        youth, _ = await _people(session)
        done = await wishes.withdraw_or_ask(session, wish_id=second, user=youth, now=NOW)
        assert done.outcome == wishes.WITHDRAWN and done.wish.status == life.WITHDRAWN
        asked = await wishes.withdraw_or_ask(session, wish_id=first, user=youth, now=NOW)
        assert asked.outcome == wishes.ASKED and asked.wish.status == life.CLAIMED
        assert asked.request is not None and asked.request.asked.id is not None
        assert asked.request.asked.actor == wishes.actor(youth)
        # Pressed again: nothing new is recorded (and so no second card).
        again = await wishes.withdraw_or_ask(session, wish_id=first, user=youth, now=NOW)
        assert again.outcome == wishes.STILL_ASKED
        assert [e.trigger for e in again.wish.events].count("ask_withdraw") == 1


async def test_someone_elses_wish_cannot_be_asked_about(sessions: Sessions) -> None:
    (wish_id,) = await _approved_and_claimed(sessions, approved=1, claimed=1)
    async with unit_of_work(sessions) as session:
        stranger = await _person(session, 1002)
        with pytest.raises(wishes.WishNotAllowed):
            await wishes.withdraw_or_ask(session, wish_id=wish_id, user=stranger, now=NOW)


async def test_the_holder_agrees_and_the_wish_is_withdrawn_as_theirs(sessions: Sessions) -> None:
    (wish_id,) = await _approved_and_claimed(sessions, approved=1, claimed=1)
    async with unit_of_work(sessions) as session:
        youth, cadre = await _people(session)
        donor = await _person(session, 3001)  # may claim, but does not hold this one
        asked = await wishes.withdraw_or_ask(session, wish_id=wish_id, user=youth, now=NOW)
        assert asked.request is not None
        request_id = asked.request.asked.id
        for user in (youth, donor):
            with pytest.raises(wishes.WishNotAllowed):
                await wishes.answer_withdraw_request(
                    session, wish_id=wish_id, request_id=request_id, user=user, agree=True, now=NOW
                )
        with pytest.raises(wishes.RequestAnswered):  # not the request waiting
            await wishes.answer_withdraw_request(
                session,
                wish_id=wish_id,
                request_id=request_id + 1,
                user=cadre,
                agree=True,
                now=NOW,
            )
        with pytest.raises(wishes.WishGone):
            await wishes.answer_withdraw_request(
                session, wish_id=999999, request_id=request_id, user=cadre, agree=True, now=NOW
            )
        wish = await wishes.answer_withdraw_request(
            session, wish_id=wish_id, request_id=request_id, user=cadre, agree=True, now=NOW
        )
        assert wish.status == life.WITHDRAWN and wish.closed_at == NOW
        last = wish.events[-1]
        assert (last.trigger, last.actor, last.note) == (
            "agree_withdraw",
            wishes.actor(cadre),
            life.WITHDRAWN_ASKED,
        )
        assert await wishes.open_claims(session, cadre) == 0
        with pytest.raises(wishes.RequestAnswered):  # answered: a second answer is stale
            await wishes.answer_withdraw_request(
                session, wish_id=wish_id, request_id=request_id, user=cadre, agree=False, now=NOW
            )


async def test_kept_it_stays_claimed_and_is_not_asked_again(sessions: Sessions) -> None:
    (wish_id,) = await _approved_and_claimed(sessions, approved=1, claimed=1)
    later = NOW + timedelta(days=2)
    async with unit_of_work(sessions) as session:
        youth, cadre = await _people(session)
        asked = await wishes.withdraw_or_ask(session, wish_id=wish_id, user=youth, now=NOW)
        assert asked.request is not None
        wish = await wishes.answer_withdraw_request(
            session,
            wish_id=wish_id,
            request_id=asked.request.asked.id,
            user=cadre,
            agree=False,
            now=later,
        )
        assert wish.status == life.CLAIMED and wish.events[-1].trigger == "keep"
        assert wish.progress_at == later  # an answer is a sign of life: the idle clock restarts
        again = await wishes.withdraw_or_ask(session, wish_id=wish_id, user=youth, now=later)
        assert again.outcome == wishes.KEPT
        assert [e.trigger for e in again.wish.events].count("ask_withdraw") == 1


async def test_a_request_lapses_once_the_wish_is_delivered(sessions: Sessions) -> None:
    (wish_id,) = await _approved_and_claimed(sessions, approved=1, claimed=1)
    async with unit_of_work(sessions) as session:
        youth, cadre = await _people(session)
        asked = await wishes.withdraw_or_ask(session, wish_id=wish_id, user=youth, now=NOW)
        assert asked.request is not None
        await wishes.fulfil(
            session, wish_id=wish_id, user=cadre, proof_text="已送到", proof_file_id=None, now=NOW
        )
        with pytest.raises(wishes.RequestAnswered):
            await wishes.answer_withdraw_request(
                session,
                wish_id=wish_id,
                request_id=asked.request.asked.id,
                user=cadre,
                agree=True,
                now=NOW,
            )
        with pytest.raises(life.IllegalWishTransition):  # delivered: receipt, not withdrawal
            await wishes.withdraw_or_ask(session, wish_id=wish_id, user=youth, now=NOW)


async def test_a_claim_released_while_asked_withdraws_the_wish(sessions: Sessions) -> None:
    idle, other, kept = await _approved_and_claimed(sessions, approved=3, claimed=3)
    async with unit_of_work(sessions) as session:
        youth, cadre = await _people(session)
        for wish_id in (idle, other, kept):
            await wishes.withdraw_or_ask(session, wish_id=wish_id, user=youth, now=NOW)
        wish = await session.get(wishes.Wish, kept)
        assert wish is not None
        request = life.withdraw_request(wish)
        assert request is not None
        await wishes.answer_withdraw_request(
            session, wish_id=kept, request_id=request.asked.id, user=cadre, agree=False, now=NOW
        )
    # 11 days without progress: all three claims are released, and each is withdrawn as
    # asked: the kept one too (its claimer said "keep", then let the claim lapse; nobody
    # holds it to say otherwise, and its owner had said they no longer need it).
    async with unit_of_work(sessions) as session:
        found = await wishes.sweep(session, now=NOW + timedelta(days=11), **SWEEP_AFTER)
        assert sorted(w.id for w in found.withdrawn_as_asked) == sorted([idle, other, kept])
        assert found.released == []
        assert sorted(w.id for w, _ in found.released_from) == sorted([idle, other, kept])
        for wish_id in (idle, other, kept):
            wish = await session.get(wishes.Wish, wish_id)
            assert wish is not None and wish.status == life.WITHDRAWN
            assert [(e.trigger, e.actor, e.note) for e in wish.events[-2:]] == [
                ("release", "system", "no progress"),
                ("withdraw", "system", life.WITHDRAWN_ASKED),
            ]
            assert wish.claimer_user_id is None and life.status_label(wish) == life.WITHDRAWN


async def test_a_removed_cadres_asked_wish_is_withdrawn_not_offered(sessions: Sessions) -> None:
    (wish_id,) = await _approved_and_claimed(sessions, approved=1, claimed=1)
    async with unit_of_work(sessions) as session:
        youth, _ = await _people(session)
        await wishes.withdraw_or_ask(session, wish_id=wish_id, user=youth, now=NOW)
        await cadres.remove(session, telegram_id=2002)
    async with unit_of_work(sessions) as session:
        found = await wishes.sweep(session, now=NOW + timedelta(hours=1), **SWEEP_AFTER)
        assert [w.id for w in found.withdrawn_as_asked] == [wish_id]
        assert found.claimer_gone == []
        wish = await session.get(wishes.Wish, wish_id)
        assert wish is not None and wish.status == life.WITHDRAWN
        assert wish.events[-2].note == "claimer no longer a cadre"


async def test_a_withdraw_racing_the_sweeps_release_is_a_withdrawal_not_a_request(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep releases an idle claim while the young person presses "withdraw". Before,
    their press read the wish as claimed, the sweep published it again in between, and
    the press then recorded a request on a wish back on offer (to a claimer it no longer
    had). Now the press holds the database's write lock from its first read: the sweep,
    run in that moment, waits (here: gives up after a second), and runs after it."""
    (wish_id,) = await _approved_and_claimed(sessions, approved=1, claimed=1)
    later = NOW + timedelta(days=11)
    raced: list[str] = []
    read = wishes._locked

    async def read_then_sweep(session: AsyncSession, wanted: int) -> wishes.Wish | None:
        wish = await read(session, wanted)
        # The sweep, in its own transaction, between the press's read and its write.
        try:
            async with asyncio.timeout(1):
                async with unit_of_work(sessions) as other:
                    await lock_for_writing(other)
                    await wishes.sweep(other, now=later, **SWEEP_AFTER)
            raced.append("swept")
        except TimeoutError:
            raced.append("waited")
        return wish

    monkeypatch.setattr(wishes, "_locked", read_then_sweep)
    async with unit_of_work(sessions) as session:
        youth, _ = await _people(session)
        done = await wishes.withdraw_or_ask(session, wish_id=wish_id, user=youth, now=later)
    monkeypatch.undo()
    async with unit_of_work(sessions) as session:
        await wishes.sweep(session, now=later, **SWEEP_AFTER)
    async with sessions() as session:
        wish = await session.get(wishes.Wish, wish_id)
        assert wish is not None
        triggers = [e.trigger for e in wish.events]
    # Whichever came first, the wish ends withdrawn, never on offer with a request.
    assert wish.status == life.WITHDRAWN, (raced, done.outcome, triggers)
    assert "ask_withdraw" not in triggers or triggers.index("ask_withdraw") < triggers.index(
        "release"
    ), triggers


async def test_still_working_on_it_waits_for_the_answer_to_a_request(sessions: Sessions) -> None:
    (wish_id,) = await _approved_and_claimed(sessions, approved=1, claimed=1)
    async with unit_of_work(sessions) as session:
        youth, cadre = await _people(session)
        await wishes.progress(session, wish_id=wish_id, user=cadre, now=NOW)  # no request yet
        asked = await wishes.withdraw_or_ask(session, wish_id=wish_id, user=youth, now=NOW)
        assert asked.request is not None
        with pytest.raises(wishes.RequestWaiting) as waiting:
            await wishes.progress(session, wish_id=wish_id, user=cadre, now=NOW)
        assert waiting.value.request.asked.id == asked.request.asked.id
        await wishes.answer_withdraw_request(
            session,
            wish_id=wish_id,
            request_id=asked.request.asked.id,
            user=cadre,
            agree=False,
            now=NOW,
        )
        wish = await wishes.progress(session, wish_id=wish_id, user=cadre, now=NOW)
        assert [e.trigger for e in wish.events][-4:] == [
            "progress",
            "ask_withdraw",
            "keep",
            "progress",
        ]
