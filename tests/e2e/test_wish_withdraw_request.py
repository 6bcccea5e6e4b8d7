"""A young person's "withdraw" on a wish someone already took on, through the sandbox: it
asks the claimer (who may have bought it already) instead of withdrawing it; the claimer
agrees (withdrawn) or keeps it, and the young person hears either way and sees it in /my.
A second press sends no second card; forged or stale answers are refused in words; a
claim released while the request waits withdraws the wish as asked."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import func, select

from bot.services import wish_lifecycle as life
from bot.sweeper import sweep
from storage.outbox import OutboxMessage
from storage.privacy import PersonalDataAccess
from storage.wishes import Wish
from tests.e2e.test_wishes import (
    DONOR,
    LI,
    _approve,
    _staff,
    _submit,
    _wait,
)
from tests.support import XIAOMING, BotHarness, buttons, texts

YOUTH_CHAT = cast(int, XIAOMING["id"])
# The wish's text carries a phone number: the claimer's card must not show it.
TEXT = "想要一辆自行车上学，有事打13812345678"
POPUP_MAX = 200


def _popup(answer: dict[str, Any]) -> str:
    assert answer["show_alert"], answer
    assert len(answer["text"]) <= POPUP_MAX, answer["text"]
    return str(answer["text"])


async def _claimed(harness: BotHarness) -> tuple[Wish, dict[str, Any]]:
    """小明's wish, approved and taken on by 李老师; and the "published" notice 小明 got,
    with its withdraw button."""
    await _staff(harness)
    await harness.send(XIAOMING, "/start")
    seq = await harness.client.last_seq()
    wish = await _submit(harness, text=TEXT)
    await _approve(harness, wish, seq)
    published = await _wait(harness, YOUTH_CHAT, seq, "已通过审核并公开")
    replies = await harness.send(LI, "/wishes")
    (listing,) = [m for m in replies if f"认领 W{wish.id}" in str(m.get("reply_markup"))]
    await harness.press(LI, listing, f"认领 W{wish.id}")
    assert (await _load(harness, wish.id)).status == life.CLAIMED
    return wish, published


async def _load(harness: BotHarness, wish_id: int) -> Wish:
    async with harness.sessions() as session:
        wish = await session.get(Wish, wish_id)
    assert wish is not None
    return wish


async def _ask(harness: BotHarness, wish: Wish, published: dict[str, Any]) -> dict[str, Any]:
    """小明 presses "withdraw"; return the card 李老师 gets."""
    seq = await harness.client.last_seq()
    answer = await harness.press(XIAOMING, published, "撤回")
    assert not answer.get("show_alert"), answer
    return await _wait(harness, LI["id"], seq, f"心愿 W{wish.id} 的主人申请撤回")


async def _cards(harness: BotHarness, wish: Wish) -> int:
    """How many request cards were ever scheduled for ``wish``."""
    async with harness.sessions() as session:
        return int(
            await session.scalar(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.dedupe_key.like(f"wish_withdraw_request:{wish.id}:%")
                )
            )
            or 0
        )


async def _my_detail(harness: BotHarness, wish: Wish) -> dict[str, Any]:
    """The wish's story, opened from /my (notices about the wish may arrive around it)."""
    listing = [m for m in await harness.send(XIAOMING, "/my") if "我的微心愿" in m["text"]][-1]
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, listing, f"W{wish.id}")
    return await _wait(harness, YOUTH_CHAT, seq, "提交时间")


async def test_withdraw_on_a_claimed_wish_asks_the_claimer(harness: BotHarness) -> None:
    wish, published = await _claimed(harness)
    seq = await harness.client.last_seq()
    card = await _ask(harness, wish, published)
    # The young person is told whom we asked (by role: the one who took it on).
    told = await _wait(harness, YOUTH_CHAT, seq, "询问认领人")
    assert f"W{wish.id}" in told["text"] and "/my" in told["text"]
    # The card names the wish, masked, and not the young person; it has both answers.
    assert "自行车" in card["text"] and "13812345678" not in card["text"]
    assert "小明" not in card["text"]
    assert [b["text"] for b in buttons(card)] == ["✅ 同意撤回", "📦 继续准备（已购买或在路上）"]
    after = await _load(harness, wish.id)
    assert after.status == life.CLAIMED
    assert [e.trigger for e in after.events][-1] == "ask_withdraw"
    async with harness.sessions() as session:
        shown = await session.scalar(
            select(func.count(PersonalDataAccess.id)).where(
                PersonalDataAccess.purpose == "wish_withdraw_request"
            )
        )
    assert shown == 1  # the card showed the (masked) wish to the claimer: logged
    # /my says a request waits, in the list and in the wish's story.
    mine = texts(await harness.send(XIAOMING, "/my"))
    assert f"W{wish.id} 🙋 已被认领 · 已申请撤回" in mine, mine
    detail = await _my_detail(harness, wish)
    assert "正在等认领人回复" in detail["text"] and not buttons(detail)


async def test_the_claimer_agrees_and_the_wish_is_withdrawn(harness: BotHarness) -> None:
    wish, published = await _claimed(harness)
    card = await _ask(harness, wish, published)
    seq = await harness.client.last_seq()
    answer = await harness.press(LI, card, "同意撤回")
    assert not answer.get("show_alert"), answer
    after = await _load(harness, wish.id)
    assert after.status == life.WITHDRAWN
    last = after.events[-1]
    li = await harness.user(LI["id"])
    assert li is not None
    assert (last.trigger, last.actor, last.note) == (
        "agree_withdraw",
        f"user:{li.id}",
        life.WITHDRAWN_ASKED,
    )
    notice = await _wait(harness, YOUTH_CHAT, seq, "认领人同意了你的申请")
    assert f"W{wish.id}" in notice["text"]
    assert not buttons(await harness.message(LI["id"], card["message_id"]))  # answered
    # The claimer's claims no longer count it.
    (listing,) = await harness.send(LI, "/wishes")
    assert f"W{wish.id}" not in listing["text"]
    mine = texts(await harness.send(XIAOMING, "/my"))
    assert f"W{wish.id} 🗑 已撤回" in mine, mine


async def test_the_claimer_keeps_it_and_a_second_request_sends_nothing(
    harness: BotHarness,
) -> None:
    wish, published = await _claimed(harness)
    card = await _ask(harness, wish, published)
    seq = await harness.client.last_seq()
    await harness.press(LI, card, "继续准备")
    kept = await _load(harness, wish.id)
    assert kept.status == life.CLAIMED and kept.events[-1].trigger == "keep"
    notice = await _wait(harness, YOUTH_CHAT, seq, "选择继续准备")
    assert f"W{wish.id}" in notice["text"]
    # The claimer is reminded how to go on, with the "fulfilled" button.
    ok = await _wait(harness, LI["id"], seq, f"你继续准备心愿 W{wish.id}")
    assert any("已实现" in b["text"] for b in buttons(ok))
    # Pressing "withdraw" again says what the answer was; no new card.
    text = _popup(await harness.press(XIAOMING, published, "撤回"))
    assert f"W{wish.id}" in text and "继续为你准备" in text, text
    assert await _cards(harness, wish) == 1
    detail = await _my_detail(harness, wish)
    assert "继续为你准备" in detail["text"] and not buttons(detail)
    # The old card's other answer is stale now.
    text = _popup(await harness.press(LI, card, "同意撤回"))
    assert f"W{wish.id}" in text and "/wishes" in text, text
    assert (await _load(harness, wish.id)).status == life.CLAIMED


async def test_a_second_press_while_the_request_waits_sends_no_second_card(
    harness: BotHarness,
) -> None:
    wish, _published = await _claimed(harness)
    # This time from /my: a claimed wish's story offers to ask.
    detail = await _my_detail(harness, wish)
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, detail, "申请撤回")
    await _wait(harness, LI["id"], seq, f"心愿 W{wish.id} 的主人申请撤回")
    text = _popup(await harness.press_data(XIAOMING, detail["message_id"], f"v1:wwd:{wish.id}"))
    assert f"W{wish.id}" in text and "不会重复通知" in text, text
    assert await _cards(harness, wish) == 1
    events = [e.trigger for e in (await _load(harness, wish.id)).events]
    assert events.count("ask_withdraw") == 1


async def test_forged_and_foreign_answers_are_refused_in_words(harness: BotHarness) -> None:
    wish, published = await _claimed(harness)
    card = await _ask(harness, wish, published)
    request_id = int(buttons(card)[0]["callback_data"].rsplit(":", 1)[1])
    # Another request id, a wish that does not exist: the stale-request refusal.
    for data in (f"v1:wwy:{wish.id}:{request_id + 1000}", f"v1:wwk:999999:{request_id}"):
        text = _popup(await harness.press_data(LI, card["message_id"], data))
        assert "/wishes" in text and "失效" in text, (data, text)
    # Data we never built: the project's catch-all refusal.
    text = _popup(await harness.press_data(LI, card["message_id"], "v1:wwy:abc"))
    assert "/help" in text, text
    # Someone who does not hold the wish cannot answer for its claimer.
    greeting = (await harness.send(DONOR, "/start"))[-1]
    text = _popup(
        await harness.press_data(DONOR, greeting["message_id"], f"v1:wwy:{wish.id}:{request_id}")
    )
    assert "不能" in text or "无法" in text, text
    after = await _load(harness, wish.id)
    assert after.status == life.CLAIMED and after.events[-1].trigger == "ask_withdraw"
    # The genuine button still works, once.
    await harness.press(LI, card, "同意撤回")
    assert (await _load(harness, wish.id)).status == life.WITHDRAWN
    text = _popup(await harness.press(LI, card, "同意撤回"))
    assert f"W{wish.id}" in text and "/wishes" in text, text


async def test_a_claim_released_while_the_request_waits_withdraws_the_wish(
    harness: BotHarness,
) -> None:
    wish, published = await _claimed(harness)
    await _ask(harness, wish, published)
    services = harness.app.bot_data.services
    services.clock.advance(days=11)  # past the idle claim's release
    seq = await harness.client.last_seq()
    assert (await sweep(services)).wishes_released == 1
    after = await _load(harness, wish.id)
    assert after.status == life.WITHDRAWN and after.claimer_user_id is None
    assert [(e.trigger, e.note) for e in after.events[-2:]] == [
        ("release", "no progress"),
        ("withdraw", life.WITHDRAWN_ASKED),
    ]
    notice = await _wait(harness, YOUTH_CHAT, seq, "按你之前的申请")
    assert f"W{wish.id}" in notice["text"]
    told = await _wait(harness, LI["id"], seq, "不会重新公开")
    assert f"W{wish.id}" in told["text"]


async def test_the_idle_claims_reminder_asks_for_the_answer_the_young_person_waits_for(
    harness: BotHarness,
) -> None:
    """A claimer who has not answered by the idle claim's reminder gets, instead of the
    plain reminder, one that asks for that answer, with the same two buttons."""
    wish, published = await _claimed(harness)
    await _ask(harness, wish, published)
    services = harness.app.bot_data.services
    services.clock.advance(days=8)  # past the reminder (7 days), before the release (10)
    seq = await harness.client.last_seq()
    await sweep(services)
    reminder = await _wait(harness, LI["id"], seq, "还在等你回复")
    assert f"W{wish.id}" in reminder["text"] and "3 天内" in reminder["text"], reminder["text"]
    assert "13812345678" not in reminder["text"] and "自行车" not in reminder["text"]
    async with harness.sessions() as session:  # no text shown: only the card's showing
        shown = await session.scalar(
            select(func.count(PersonalDataAccess.id)).where(
                PersonalDataAccess.purpose == "wish_withdraw_request"
            )
        )
    assert shown == 1
    labels = [b["text"] for b in buttons(reminder)]
    assert labels == ["✅ 同意撤回", "📦 继续准备（已购买或在路上）"], labels
    await harness.press(LI, reminder, "同意撤回")
    assert (await _load(harness, wish.id)).status == life.WITHDRAWN
    told = await _wait(harness, YOUTH_CHAT, seq, "认领人同意了你的申请")
    assert f"W{wish.id}" in told["text"]


async def test_still_working_on_it_asks_for_the_answer_while_the_request_waits(
    harness: BotHarness,
) -> None:
    """ "Still working on it" would restart the idle clock: pressed instead of answering
    the young person's request, the claim would never lapse and they would wait for
    ever. While the request waits it records nothing and asks for the answer."""
    wish, published = await _claimed(harness)
    with_buttons = [
        m
        for m in await harness.client.messages(LI["id"])
        if "还在准备中" in str(m.get("reply_markup"))
    ]
    await _ask(harness, wish, published)
    before = len((await _load(harness, wish.id)).events)
    seq = await harness.client.last_seq()
    await harness.press(LI, with_buttons[-1], "还在准备中")
    asked = await _wait(harness, LI["id"], seq, "没有记为进展")
    after = await _load(harness, wish.id)
    assert len(after.events) == before and after.events[-1].trigger == "ask_withdraw"
    await harness.press(LI, asked, "继续准备")
    assert (await _load(harness, wish.id)).events[-1].trigger == "keep"
    # Answered: "still working on it" records progress again.
    await harness.press(LI, with_buttons[-1], "还在准备中")
    assert (await _load(harness, wish.id)).events[-1].trigger == "progress"
