"""Micro-wishes without Telegram: the submission steps, the lifecycle, review, claims."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.data import DEMO_ORG
from bot.i18n import translator
from bot.services import cadres, org, users, wishes
from bot.services import wish_drafts as drafts
from bot.services import wish_lifecycle as life
from bot.wish_notify import review_cards
from handlers import wishes as wish_handlers
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import User
from storage.outbox import METHOD_MESSAGE, METHOD_PHOTO, OutboxMessage
from storage.privacy import PersonalDataAccess

NOW = datetime(2026, 11, 18, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
AREAS = frozenset({"a-street-1", "district-b"})
# The sweep's waiting times (the defaults of the settings).
SWEEP_AFTER = {
    "claim_reminder_after": timedelta(days=7),
    "claim_release_after": timedelta(days=10),
    "confirm_reminder_after": timedelta(days=3),
    "confirm_close_after": timedelta(days=14),
    "review_reminder_after": timedelta(hours=48),
    "returned_lapse_after": timedelta(days=30),
}


def _walk(draft: drafts.Draft, *, age: str = "14-17", consent: str | None = None) -> None:
    drafts.give_text(draft, "想要一辆自行车上学", max_value=500)
    assert draft.step == drafts.PHOTO
    drafts.choose(draft, drafts.PHOTO, "skip")
    drafts.choose(draft, drafts.CATEGORY, "daily")
    drafts.choose(draft, drafts.FOR_WHOM, "self")
    drafts.choose(draft, drafts.AGE, age)
    if consent is not None:
        assert draft.step == drafts.CONSENT
        drafts.choose(draft, drafts.CONSENT, consent)
    drafts.choose(draft, drafts.REGION, "a-street-1", known_regions=AREAS)
    drafts.choose(draft, drafts.PLACE, "skip")
    drafts.give_text(draft, "300", max_value=500)


def test_steps_in_order_and_wrong_input_re_asks() -> None:
    draft = drafts.Draft(1, drafts.WHAT, {})
    with pytest.raises(drafts.WrongInput):
        drafts.give_text(draft, "x", max_value=500)  # too short: same step again
    assert draft.step == drafts.WHAT
    drafts.give_text(draft, "想要一套课外书", max_value=500)
    with pytest.raises(drafts.WrongInput):
        drafts.choose(draft, drafts.CATEGORY, "books")  # a button of a later step
    drafts.choose(draft, drafts.PHOTO, "skip")
    with pytest.raises(drafts.WrongInput):
        drafts.give_text(draft, "books", max_value=500)  # text where a button is expected
    drafts.choose(draft, drafts.CATEGORY, "books")
    drafts.choose(draft, drafts.FOR_WHOM, "other")
    assert draft.step == drafts.RELATION
    drafts.give_text(draft, "弟弟", max_value=500)
    drafts.choose(draft, drafts.AGE, "18p")
    assert draft.step == drafts.REGION
    drafts.choose(draft, drafts.REGION, "district-b", known_regions=AREAS)
    drafts.give_text(draft, "西山社区", max_value=500)
    with pytest.raises(drafts.WrongInput) as wrong:
        drafts.give_text(draft, "800", max_value=500)
    assert wrong.value.key == "wish.value_out_of_range" and draft.step == drafts.VALUE
    drafts.give_text(draft, "120元", max_value=500)
    assert draft.step == drafts.REVIEW and drafts.ready(draft)


def test_a_child_needs_a_guardian_and_editing_returns_to_review() -> None:
    draft = drafts.Draft(1, drafts.WHAT, {})
    _walk(draft, age="10-13", consent="no")
    assert draft.step == drafts.REVIEW and not drafts.ready(draft)
    drafts.edit(draft, drafts.AGE)
    drafts.choose(draft, drafts.AGE, "u10")
    assert draft.step == drafts.CONSENT  # the change opens the consent step again
    drafts.choose(draft, drafts.CONSENT, "yes")
    assert draft.step == drafts.REVIEW and drafts.ready(draft)
    drafts.edit(draft, drafts.VALUE)
    drafts.give_text(draft, "200", max_value=500)
    assert draft.step == drafts.REVIEW and draft.fields["value_yuan"] == 200


def test_illegal_wish_moves_are_refused() -> None:
    wish = wishes.Wish(id=3, status=life.REJECTED, events=[])
    with pytest.raises(life.IllegalWishTransition, match="wish 3: cannot claim when rejected"):
        life.fire(wish, "claim", actor="x", now=NOW)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as session:
        await org.load_org(session, org.parse_org_file(DEMO_ORG), default_locale="zh-Hans")
    yield factory
    await engine.dispose()


async def _person(session: AsyncSession, telegram_id: int) -> User:
    user, _ = await users.touch(
        session,
        telegram_id=telegram_id,
        first_name="p",
        language_code="zh",
        default_locale="zh-Hans",
    )
    return user


async def _submitted(
    session: AsyncSession, youth: User, *, text: str = "想要一辆自行车上学"
) -> wishes.Wish:
    draft = drafts.Draft(youth.telegram_id, drafts.WHAT, {})
    _walk(draft)
    draft.fields["text"] = text
    return await wishes.submit(session, user=youth, draft=draft, now=NOW)


async def _approved_and_claimed(
    sessions: async_sessionmaker[AsyncSession], *, approved: int, claimed: int
) -> list[int]:
    """``approved`` wishes of young person 1001, the first ``claimed`` taken by cadre 2002."""
    async with unit_of_work(sessions) as session:
        youth = await _person(session, 1001)
        reviewer = await _person(session, 2003)
        cadre = await _person(session, 2002)
        ids = []
        for n in range(approved):
            wish = await _submitted(session, youth, text=f"心愿第{n}个")
            await wishes.review(
                session,
                wish_id=wish.id,
                reviewer=reviewer,
                decision="approve",
                reason=None,
                now=NOW,
            )
            ids.append(wish.id)
        for wish_id in ids[:claimed]:
            await wishes.claim(session, wish_id=wish_id, user=cadre, now=NOW, limit=5)
    return ids


async def test_review_claim_fulfil_confirm(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with unit_of_work(sessions) as session:
        youth = await _person(session, 1001)
        reviewer = await _person(session, 2003)  # a reviewer in the demo org
        cadre = await _person(session, 2002)
        wish = await _submitted(session, youth)
        check = await wishes.checklist(session, wish, value_cap=500)
        assert check.eligible and check.within_cap and check.personal_data == []
        with pytest.raises(wishes.WishNotAllowed):  # a young person cannot review
            await wishes.review(
                session, wish_id=wish.id, reviewer=youth, decision="approve", reason=None, now=NOW
            )
        await wishes.review(
            session, wish_id=wish.id, reviewer=reviewer, decision="approve", reason=None, now=NOW
        )
        await wishes.claim(session, wish_id=wish.id, user=cadre, now=NOW, limit=5)
        with pytest.raises(life.IllegalWishTransition):  # withdrawn only before a claim
            await wishes.withdraw(session, wish_id=wish.id, user=youth, now=NOW)
        await wishes.fulfil(
            session, wish_id=wish.id, user=cadre, proof_text="已送到", proof_file_id=None, now=NOW
        )
        done = await wishes.respond(session, wish_id=wish.id, user=youth, received=True, now=NOW)
        assert done.status == life.CLOSED
        assert [e.trigger for e in done.events] == [
            "submit",
            "approve",
            "claim",
            "fulfil",
            "confirm",
            "close",
        ]


async def test_checklist_flags_personal_data_and_duplicates(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        youth = await _person(session, 1001)
        first = await _submitted(session, youth)
        second = await _submitted(session, youth, text="想要一辆自行车上学，电话13812345678")
        third = await _submitted(session, youth)
        assert (await wishes.checklist(session, second, value_cap=500)).personal_data == ["phone"]
        assert (await wishes.checklist(session, third, value_cap=500)).duplicate_of == first.id


async def test_checklist_says_when_the_words_are_close_to_a_call_for_help(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Words the list lets through but the concern model flags are a line for the
    reviewer (the wish is submitted all the same); an ordinary wish's are not."""
    async with unit_of_work(sessions) as session:
        youth = await _person(session, 1001)
        close = await _submitted(session, youth, text="希望有人能陪我说说话，我每天都一个人哭")
        ordinary = await _submitted(session, youth)
        assert (await wishes.checklist(session, close, value_cap=500)).possible_concern
        assert not (await wishes.checklist(session, ordinary, value_cap=500)).possible_concern
        assert close.status == life.SUBMITTED


async def test_sixth_claim_is_refused_and_two_claims_at_once_have_one_winner(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _approved_and_claimed(sessions, approved=7, claimed=5)
    async with unit_of_work(sessions) as session:
        cadre = await _person(session, 2002)
        with pytest.raises(wishes.ClaimLimitReached):
            await wishes.claim(session, wish_id=ids[5], user=cadre, now=NOW, limit=5)

    async def attempt(telegram_id: int) -> str:
        async with unit_of_work(sessions) as session:
            user = await _person(session, telegram_id)
            try:
                await wishes.claim(session, wish_id=ids[6], user=user, now=NOW, limit=5)
            except life.IllegalWishTransition:
                return "lost"
            return "won"

    results = await asyncio.gather(attempt(2001), attempt(3001))  # a cadre and a donor
    assert sorted(results) == ["lost", "won"]


async def test_one_person_claiming_two_wishes_at_once_stays_within_the_limit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Four claims held, two more pressed at the same moment (two chats or instances)."""
    ids = await _approved_and_claimed(sessions, approved=6, claimed=4)
    both_counted = asyncio.Barrier(2)

    async def attempt(wish_id: int) -> str:
        async with unit_of_work(sessions) as session:
            user = await users.get_by_telegram_id(session, 2002)
            assert user is not None
            assert await wishes.open_claims(session, user) == 4
            await both_counted.wait()  # both have seen 4 of 5 before either claims
            try:
                await wishes.claim(session, wish_id=wish_id, user=user, now=NOW, limit=5)
            except wishes.ClaimLimitReached:
                return "limit"
            return "won"

    results = await asyncio.gather(attempt(ids[4]), attempt(ids[5]))
    assert sorted(results) == ["limit", "won"]
    async with unit_of_work(sessions) as session:
        user = await users.get_by_telegram_id(session, 2002)
        assert user is not None and await wishes.open_claims(session, user) == 5


async def test_idle_claim_reminded_then_released(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        youth = await _person(session, 1001)
        reviewer = await _person(session, 2003)
        cadre = await _person(session, 2002)
        wish = await _submitted(session, youth)
        await wishes.review(
            session, wish_id=wish.id, reviewer=reviewer, decision="approve", reason=None, now=NOW
        )
        await wishes.claim(session, wish_id=wish.id, user=cadre, now=NOW, limit=5)
    async with unit_of_work(sessions) as session:
        first = await wishes.sweep(session, now=NOW + timedelta(days=8), **SWEEP_AFTER)
        again = await wishes.sweep(session, now=NOW + timedelta(days=9), **SWEEP_AFTER)
        assert [w.id for w in first.claim_reminders] == [wish.id] and again.claim_reminders == []
        released = await wishes.sweep(session, now=NOW + timedelta(days=11), **SWEEP_AFTER)
        assert [w.id for w in released.released] == [wish.id]
        assert released.released[0].status == life.APPROVED


async def test_a_submission_waiting_for_review_is_reminded_once_per_submission(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        youth = await _person(session, 1001)
        reviewer = await _person(session, 2003)
        wish = await _submitted(session, youth)
        decided = await _submitted(session, youth, text="想要一套课外书")
        await wishes.review(
            session,
            wish_id=decided.id,
            reviewer=reviewer,
            decision="approve",
            reason=None,
            now=NOW,
        )
    async with unit_of_work(sessions) as session:
        early = await wishes.sweep(session, now=NOW + timedelta(hours=47), **SWEEP_AFTER)
        due = await wishes.sweep(session, now=NOW + timedelta(hours=48), **SWEEP_AFTER)
        again = await wishes.sweep(session, now=NOW + timedelta(hours=96), **SWEEP_AFTER)
        assert early.review_reminders == [] and again.review_reminders == []
        assert [w.id for w in due.review_reminders] == [wish.id]  # not the decided one
        await wishes.review(
            session,
            wish_id=wish.id,
            reviewer=reviewer,
            decision="return",
            reason="请补充学校",
            now=NOW + timedelta(hours=97),
        )
        draft = drafts.Draft(youth.telegram_id, drafts.WHAT, {})
        _walk(draft)
        draft.fields["wish_id"] = wish.id
        later = NOW + timedelta(hours=98)
        await wishes.submit(session, user=youth, draft=draft, now=later)
        # The resubmission waits anew, and is reminded of again.
        assert (
            await wishes.sweep(session, now=later + timedelta(hours=47), **SWEEP_AFTER)
        ).review_reminders == []
        resubmitted = await wishes.sweep(session, now=later + timedelta(hours=48), **SWEEP_AFTER)
        assert [w.id for w in resubmitted.review_reminders] == [wish.id]


async def test_with_role_finds_staff_only(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with unit_of_work(sessions) as session:
        await _person(session, 1001)  # a young person
        found = await users.with_role(session, "reviewer", "admin")
        # The demo org: 王老师 (2001) is the committee's admin and reviews, as 张老师 (2003).
        assert sorted(u.telegram_id for u in found) == [2001, 2003]
        assert [u.telegram_id for u in await users.with_role(session, "admin")] == [2001]
        assert [u.telegram_id for u in await users.with_role(session, "donor")] == [3001]
        assert await users.with_role(session, "nobody") == []


async def test_review_lists_the_longest_waiting_and_logs_each_card_opened(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        youth = await _person(session, 1001)
        reviewer = await _person(session, 2003)
        cadre = await _person(session, 2002)
        ids = [(await _submitted(session, youth, text=f"心愿第{n}个")).id for n in range(12)]
        await wishes.review(
            session, wish_id=ids[0], reviewer=reviewer, decision="approve", reason=None, now=NOW
        )
        found, total = await wishes.awaiting_review(session, reviewer=reviewer, limit=10)
        assert ([w.id for w in found], total) == (ids[1:11], 11)
        with pytest.raises(wishes.WishNotAllowed):
            await wishes.awaiting_review(session, reviewer=cadre, limit=10)

        before = await session.scalar(select(func.count(PersonalDataAccess.id)))
        wish, check = await wishes.open_for_review(
            session, wish_id=ids[1], reviewer=reviewer, chat_id=2003, value_cap=500, now=NOW
        )
        assert (wish.id, check.within_cap) == (ids[1], True)
        logged = await session.scalar(
            select(PersonalDataAccess).order_by(PersonalDataAccess.id.desc()).limit(1)
        )
        assert logged is not None
        assert (logged.viewer_user_id, logged.subject_user_id, logged.purpose) == (
            reviewer.id,
            youth.id,
            "wish_review",
        )
        assert await session.scalar(select(func.count(PersonalDataAccess.id))) == before + 1
        with pytest.raises(life.IllegalWishTransition):  # decided already
            await wishes.open_for_review(
                session, wish_id=ids[0], reviewer=reviewer, chat_id=2003, value_cap=500, now=NOW
            )
        with pytest.raises(wishes.WishNotAllowed):
            await wishes.open_for_review(
                session, wish_id=ids[1], reviewer=cadre, chat_id=2002, value_cap=500, now=NOW
            )
        with pytest.raises(wishes.WishNotAllowed):
            await wishes.open_for_review(
                session, wish_id=10**6, reviewer=reviewer, chat_id=2003, value_cap=500, now=NOW
            )
        # Nothing more was logged by the refusals.
        assert await session.scalar(select(func.count(PersonalDataAccess.id))) == before + 1


async def test_published_counts_all_and_claims_of_lists_open_claims_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _approved_and_claimed(sessions, approved=13, claimed=2)
    async with unit_of_work(sessions) as session:
        found, total = await wishes.published(session, limit=10)
        assert ([w.id for w in found], total) == (ids[2:12], 11)
        assert (await wishes.published(session, category="books"))[1] == 0
        cadre = await _person(session, 2002)
        assert [w.id for w in await wishes.claims_of(session, cadre)] == ids[:2]
        await wishes.fulfil(
            session, wish_id=ids[0], user=cadre, proof_text="ok", proof_file_id=None, now=NOW
        )
        assert [w.id for w in await wishes.claims_of(session, cadre)] == ids[1:2]
        assert await wishes.claims_of(session, await _person(session, 3001)) == []


async def test_a_dispute_closes_counted_from_the_dispute_or_the_claimers_last_progress(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    (wish_id,) = await _approved_and_claimed(sessions, approved=1, claimed=1)
    day = timedelta(days=1)
    async with unit_of_work(sessions) as session:
        youth, cadre = await _person(session, 1001), await _person(session, 2002)
        await wishes.fulfil(
            session, wish_id=wish_id, user=cadre, proof_text="ok", proof_file_id=None, now=NOW
        )
        await wishes.respond(
            session, wish_id=wish_id, user=youth, received=False, now=NOW + 10 * day
        )
        await wishes.progress(session, wish_id=wish_id, user=cadre, now=NOW + 20 * day)
        # 14 days after the dispute, but only 10 after "still working on it": open.
        found = await wishes.sweep(session, now=NOW + 30 * day, **SWEEP_AFTER)
        assert found.disputes_closed == []
        found = await wishes.sweep(session, now=NOW + 34 * day, **SWEEP_AFTER)
        assert [w.id for w in found.disputes_closed] == [wish_id]


async def test_two_reviewers_deciding_at_once_one_wins(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        youth = await _person(session, 1001)
        await _person(session, 2001)
        await _person(session, 2003)
        wish = await _submitted(session, youth)

    async def decide(telegram_id: int, decision: str) -> str:
        try:
            async with unit_of_work(sessions) as session:
                reviewer = await _person(session, telegram_id)
                await wishes.review(
                    session,
                    wish_id=wish.id,
                    reviewer=reviewer,
                    decision=decision,
                    reason="r",
                    now=NOW,
                )
        except life.IllegalWishTransition:
            return "refused"
        return decision

    results = await asyncio.gather(decide(2001, "approve"), decide(2003, "reject"))
    assert sorted(results).count("refused") == 1
    async with sessions() as session:
        final = await session.get(wishes.Wish, wish.id)
        assert final is not None and final.status in (life.APPROVED, life.REJECTED)
        assert len(final.events) == 2  # submit and exactly one decision


async def test_a_removed_cadres_claims_go_back_on_offer(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """``voy cadre remove``: the former cadre can neither extend nor fulfil a claim, and
    the next sweep puts it back on offer; a colleague's claim stays."""
    removed_ones, kept = await _approved_and_claimed(sessions, approved=2, claimed=1)
    async with unit_of_work(sessions) as session:
        colleague = await _person(session, 2001)
        await wishes.claim(session, wish_id=kept, user=colleague, now=NOW, limit=5)
        await cadres.remove(session, telegram_id=2002)
    async with sessions() as session:
        former = await _person(session, 2002)
        with pytest.raises(wishes.WishNotAllowed):
            await wishes.progress(session, wish_id=removed_ones, user=former, now=NOW)
        with pytest.raises(wishes.WishNotAllowed):
            await wishes.fulfil(
                session,
                wish_id=removed_ones,
                user=former,
                proof_text="到校门口来拿",
                proof_file_id=None,
                now=NOW,
            )
        with pytest.raises(wishes.WishNotAllowed):
            await wishes.claim(session, wish_id=removed_ones, user=former, now=NOW, limit=5)
    async with unit_of_work(sessions) as session:
        found = await wishes.sweep(session, now=NOW + timedelta(minutes=5), **SWEEP_AFTER)
        assert [w.id for w in found.claimer_gone] == [removed_ones] and not found.released
    async with sessions() as session:
        back = await session.get(wishes.Wish, removed_ones)
        assert back is not None and (back.status, back.claimer_user_id) == (life.APPROVED, None)
        assert back.events[-1].trigger == "release"
        still = await session.get(wishes.Wish, kept)
        assert still is not None and still.status == life.CLAIMED


LOCALES = ("zh-Hans", "zh-Hant", "en")


async def test_a_withdrawal_racing_a_claim_is_refused_in_words(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The claim is written first; the young person's withdrawal, loaded before it,
    loses on the version check, and the refusal renders (it once raised KeyError)."""
    (wish_id,) = await _approved_and_claimed(sessions, approved=1, claimed=0)
    async with sessions() as one, sessions() as two:
        cadre = await _person(one, 2002)
        youth = await _person(two, 1001)
        await wishes.claim(one, wish_id=wish_id, user=cadre, now=NOW, limit=5)
        await one.flush()
        loaded = await wishes.own(two, wish_id=wish_id, user=youth)  # still published here
        assert loaded.status == life.APPROVED

        async def withdraw() -> life.IllegalWishTransition | None:
            try:
                await wishes.withdraw(two, wish_id=wish_id, user=youth, now=NOW)
            except life.IllegalWishTransition as refused:
                await two.rollback()
                return refused
            return None

        task = asyncio.create_task(withdraw())
        await asyncio.sleep(0.3)
        await one.commit()
        refused = await task
    assert refused is not None and refused.state == life.CHANGED_MEANWHILE
    async with sessions() as session:
        final = await session.get(wishes.Wish, wish_id)
        assert final is not None and final.status == life.CLAIMED
    for locale in LOCALES:
        text = wish_handlers._refusal(translator(locale), refused, wish_id)
        assert f"W{wish_id}" in text and "wish_status" not in text


@pytest.mark.parametrize("locale", LOCALES)
def test_every_refusal_a_wish_service_can_raise_has_words(locale: str) -> None:
    tr = translator(locale)
    for state in (*life.STATES, life.CHANGED_MEANWHILE):
        assert tr.plain("wish.not_allowed") != wish_handlers._refusal(
            tr, life.IllegalWishTransition(3, state, "claim"), 3
        )


def test_multipliers_multiply() -> None:
    """5千 is 5000 (over the cap), not 5; 3百元 is 300."""
    draft = drafts.Draft(1, drafts.VALUE, {})
    for text in ("5千", "2万"):
        with pytest.raises(drafts.WrongInput):
            drafts.give_text(draft, text, max_value=500)
    drafts.give_text(draft, "3百元", max_value=500)
    assert draft.fields["value_yuan"] == 300


async def test_a_review_card_too_long_for_a_caption_follows_the_photo(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        youth = await _person(session, 1001)
        reviewer = await _person(session, 2003)
        # A text longer than the steps allow (an older limit, say): the card cannot be
        # the photo's caption.
        wish = await _submitted(session, youth, text="想要一辆自行车上学。" * 120)
        wish.photo_file_id = "photo-of-the-old-bike"
        check = await wishes.checklist(session, wish, value_cap=500)
        settings = Settings(default_locale="zh-Hans")
        assert await review_cards(session, wish, check=check, settings=settings, now=NOW)
        rows = list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.chat_id == reviewer.telegram_id)
                .order_by(OutboxMessage.id)
            )
        )
    photo, card = rows
    assert (photo.method, photo.file_id, photo.reply_markup) == (
        METHOD_PHOTO,
        "photo-of-the-old-bike",
        None,
    )
    assert f"W{wish.id}" in photo.text and "下一条消息" in photo.text
    assert card.method == METHOD_MESSAGE and card.reply_markup is not None
    assert f"待审核心愿 W{wish.id}" in card.text and "附有照片" in card.text
