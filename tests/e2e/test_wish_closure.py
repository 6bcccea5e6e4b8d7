"""What the people around a wish hear at its end, and what the reviewer sees of it.

The claimer who delivered a wish hears that it arrived (or that it was closed without
the young person confirming); a dispute the committee was told of is announced settled
when the young person confirms after all; a reviewer sees the photo the young person
attached before publishing the wish.
"""

from __future__ import annotations

from typing import Any

from bot.services import wish_lifecycle as life
from bot.sweeper import sweep
from storage.wishes import Wish
from tests.e2e.test_wishes import (
    LI,
    ZHANG,
    _claimed,
    _fulfilled,
    _last,
    _prompt,
    _returned,
    _staff,
    _wait,
    _wish,
)
from tests.support import COMMITTEE_CHAT, XIAOMING, BotHarness, buttons


async def test_the_claimer_hears_that_the_wish_arrived(harness: BotHarness) -> None:
    await _staff(harness)
    wish, fulfilled = await _fulfilled(harness)
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, fulfilled, "收到了")
    told = await _wait(harness, LI["id"], seq, f"W{wish.id}")
    assert "确认收到" in told["text"]
    assert not buttons(told)  # nothing left to do: no "fulfilled" button
    assert "自行车" not in told["text"]  # named by its number, as the other notices
    assert (await _wish(harness)).status == life.CLOSED


async def test_a_dispute_settled_by_the_young_person_is_announced(harness: BotHarness) -> None:
    await _staff(harness)
    wish, fulfilled = await _fulfilled(harness)
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, fulfilled, "还没收到")
    await _wait(harness, COMMITTEE_CHAT, seq, f"W{wish.id} 的主人说还没收到")
    await _wait(harness, LI["id"], seq, "说还没收到")
    disputed = await _prompt(harness, "尽快核实")
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, disputed, "收到了")  # it arrived after all
    await _wait(harness, LI["id"], seq, "确认收到")
    settled = await _wait(harness, COMMITTEE_CHAT, seq, f"W{wish.id}")
    assert "确认收到" in settled["text"] and "自行车" not in settled["text"]


async def test_a_receipt_confirmed_without_a_dispute_does_not_trouble_the_committee(
    harness: BotHarness,
) -> None:
    await _staff(harness)
    wish, fulfilled = await _fulfilled(harness)
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, fulfilled, "收到了")
    await _wait(harness, LI["id"], seq, "确认收到")
    committee = [
        m
        for m in await harness.client.messages(COMMITTEE_CHAT)
        if m["from_bot"] and f"W{wish.id}" in (m.get("text") or "")
    ]
    assert committee == []


async def test_the_claimer_hears_when_a_wish_closes_unconfirmed(harness: BotHarness) -> None:
    await _staff(harness)
    wish, _fulfilled_notice = await _fulfilled(harness)
    services = harness.app.bot_data.services
    seq = await harness.client.last_seq()
    services.clock.advance(days=15)
    assert (await sweep(services)).wishes_closed == 1
    told = await _wait(harness, LI["id"], seq, f"W{wish.id}")
    assert "没有确认收到" in told["text"] and not buttons(told)


async def _write_with_photo(harness: BotHarness) -> dict[str, Any]:
    """A wish with a photo, up to the review screen."""
    await harness.send(XIAOMING, "/wish")
    await harness.send(XIAOMING, "想要一辆自行车上学")
    mark = await harness.inbound_mark()
    sent = await harness.client.send_photo(XIAOMING, file_name="old-bike.jpg")
    await harness.settled(sent["update_id"], after=mark)
    for label in ("生活用品", "我自己", "14–17 岁", "高新区", "跳过"):
        await harness.press(XIAOMING, await _last(harness, XIAOMING), label)
    await harness.send(XIAOMING, "300")
    return await _last(harness, XIAOMING)


def _card_photos(messages: list[dict[str, Any]], wish: Wish) -> list[dict[str, Any]]:
    return [
        m
        for m in messages
        if m["from_bot"] and "photo" in m and f"W{wish.id}" in (m.get("caption") or "")
    ]


async def test_the_reviewer_sees_the_photo_of_the_wish(harness: BotHarness) -> None:
    await _staff(harness)
    review = await _write_with_photo(harness)
    assert "请确认你的心愿" in review["text"]
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, review, "提交")
    wish = await _wish(harness)
    assert wish.photo_file_id

    # The card is the photo's caption, with the decision buttons: one message.
    card = await harness.client.wait_for_bot_message(
        ZHANG["id"],
        after_seq=seq,
        timeout=10,
        predicate=lambda m: f"待审核心愿 W{wish.id}" in (m.get("caption") or ""),
    )
    assert card["photo"]["file_name"] == "old-bike.jpg"
    assert "自行车" in card["caption"] and "照片" in card["caption"]
    assert "✅ 通过并公开" in [b["text"] for b in buttons(card)]

    # /review opens the same: the photo with the card.
    listing = next(
        m for m in await harness.send(ZHANG, "/review") if "待审核的心愿" in (m.get("text") or "")
    )
    seq = await harness.client.last_seq()
    await harness.press(ZHANG, listing, f"审核 W{wish.id}")
    opened = await harness.client.wait_for_bot_message(
        ZHANG["id"],
        after_seq=seq,
        timeout=10,
        predicate=lambda m: f"待审核心愿 W{wish.id}" in (m.get("caption") or ""),
    )
    assert opened["photo"]["file_name"] == "old-bike.jpg"
    await harness.press(ZHANG, opened, "通过并公开")
    await _wait(harness, XIAOMING["id"], seq, "已通过审核并公开")
    assert len(_card_photos(await harness.client.messages(ZHANG["id"]), wish)) == 2


async def test_a_wish_without_a_photo_keeps_a_text_card(harness: BotHarness) -> None:
    await _staff(harness)
    seq = await harness.client.last_seq()
    wish, _claimed_card = await _claimed(harness)
    card = await _wait(harness, ZHANG["id"], seq, f"待审核心愿 W{wish.id}")
    assert "photo" not in card
    assert (await _wish(harness)).status == life.CLAIMED


async def test_a_returned_wish_never_resubmitted_lapses_with_notice(harness: BotHarness) -> None:
    await _staff(harness)
    wish, returned = await _returned(harness)
    services = harness.app.bot_data.services
    services.clock.advance(days=29)
    await sweep(services)
    assert (await _wish(harness)).status == life.RETURNED  # not yet
    seq = await harness.client.last_seq()
    services.clock.advance(days=2)
    assert (await sweep(services)).wishes_lapsed == 1
    told = await _wait(harness, XIAOMING["id"], seq, f"W{wish.id}")
    assert "30 天" in told["text"] and "/wish" in told["text"]
    lapsed = await _wish(harness)
    assert lapsed.status == life.WITHDRAWN and lapsed.events[-1].actor == "system"
    # /my says why it was withdrawn; the old "change and resubmit" button is refused.
    (mine,) = await harness.send(XIAOMING, "/my")
    assert f"W{wish.id}" in mine["text"] and "未重新提交" in mine["text"]
    stale = await harness.press(XIAOMING, returned, "修改")
    assert stale["show_alert"] and "已撤回" in stale["text"]
    # It goes once: a later sweep finds nothing more to do.
    services.clock.advance(days=1)
    assert (await sweep(services)).wishes_lapsed == 0
