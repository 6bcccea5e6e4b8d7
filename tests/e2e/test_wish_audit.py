"""What an audit of the micro-wish lifecycle found: each test here failed on the code
before its fix (the docstrings say what went wrong). Driven like
tests/e2e/test_wishes.py: the real Application, the sandbox over HTTP, a real database."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services import wish_lifecycle as life
from bot.sweeper import sweep
from storage.models import User
from storage.outbox import OutboxMessage
from storage.questions import Conversation, Question
from storage.wishes import Wish
from tests.e2e.test_wishes import (
    LI,
    ZHANG,
    _approve,
    _claimed,
    _fulfilled,
    _last,
    _prompt,
    _reply,
    _returned,
    _staff,
    _submit,
    _wait,
    _wish,
    _write,
)
from tests.support import XIAOMING, BotHarness, buttons

TZ = ZoneInfo("Asia/Shanghai")


async def test_a_question_typed_at_the_review_screen_is_not_lost(harness: BotHarness) -> None:
    """README: "A text typed in a wish draft where a button is expected is not taken
    silently either: the young person is told, and a '❓ Ask this' button asks it as a
    question while the draft waits at its step." The review screen expects a button
    (submit / change / cancel), but a text typed there is dropped: the reply says "use
    the buttons below" and carries no buttons at all, and the text cannot be asked."""
    await _write(harness)
    (reply,) = await harness.send(XIAOMING, "请问几岁能入团啊？")
    labels = [b["text"] for b in buttons(reply)]
    assert any("问这个问题" in label for label in labels), (reply["text"], labels)
    assert any("提交" in label for label in labels), labels  # the review's own buttons
    await harness.press(XIAOMING, reply, "问这个问题")
    async with harness.sessions() as session:
        asked = list(await session.scalars(select(Question.text)))
        draft = await session.get(Conversation, XIAOMING["id"])
    assert asked == ["请问几岁能入团啊？"]
    assert draft is not None and draft.data["step"] == "review"  # the draft waits


async def test_a_confirm_reminder_held_by_quiet_hours_is_not_sent_after_the_wish_closed(
    harness: BotHarness,
) -> None:
    """The confirm-receipt reminder, queued late in the evening, waits in the outbox for
    the end of the young person's quiet hours. If they confirm receipt meanwhile (the
    wish closes), the reminder still goes out in the morning, asking about a closed wish
    with receipt buttons that no longer work: nothing cancels a wish's pending pushes
    when it closes (bot/services/outbox.py `cancel` is never called for wishes)."""
    await _staff(harness)
    wish, fulfilled = await _fulfilled(harness, "自行车已经送到学校了")
    clock = harness.app.bot_data.services.clock
    clock.set(datetime(2026, 11, 21, 23, 0, tzinfo=TZ))  # 3.5 days later, in quiet hours
    await sweep(harness.app.bot_data.services)
    morning = datetime(2026, 11, 22, 8, 0, tzinfo=TZ)
    async with asyncio.timeout(10):  # the deliverer defers the reminder to the morning
        while True:
            async with harness.sessions() as session:
                row = await session.scalar(
                    select(OutboxMessage).where(
                        OutboxMessage.kind == "wish_prompt",
                        OutboxMessage.dedupe_key.like(f"wish_notice:{wish.id}:wish.confirm_%"),
                    )
                )
            if row is not None and row.due_at >= morning:
                break
            await asyncio.sleep(0.05)
    clock.set(datetime(2026, 11, 21, 23, 10, tzinfo=TZ))
    await harness.press(XIAOMING, fulfilled, "收到了")  # received: the wish closes
    assert (await _wish(harness)).status == life.CLOSED
    seq = await harness.client.last_seq()
    clock.set(datetime(2026, 11, 22, 8, 1, tzinfo=TZ))
    try:
        late = await _wait(harness, XIAOMING["id"], seq, "收到了吗")
    except (TimeoutError, AssertionError):
        # Nothing about the closed wish arrived, as it should be: the reminder was cancelled.
        async with harness.sessions() as session:
            kept = await session.get(OutboxMessage, row.id)
        assert kept is not None and kept.state == "cancelled", kept and kept.state
        return
    raise AssertionError(f"reminder sent for a closed wish: {late['text']!r} {buttons(late)}")


async def test_a_refused_resubmit_leaves_the_withdrawn_wish_unchanged(
    harness: BotHarness,
) -> None:
    """A returned wish is opened for changes ("修改并重新提交"), its text changed, then the
    wish is withdrawn (from /my) before the draft is submitted. Submitting the stale draft
    is refused ("callback.stale") but `wishes.submit` has already copied the draft's
    fields onto the withdrawn wish (bot/services/wishes.py:81-82, before `fire` raises at
    :83), and the update commits: a closed wish's text changes with no event."""
    await _staff(harness)
    wish, returned = await _returned(harness)
    await harness.press(XIAOMING, returned, "修改并重新提交")
    await harness.press(XIAOMING, await _last(harness, XIAOMING), "修改")
    await harness.press(XIAOMING, await _last(harness, XIAOMING), "心愿内容")
    (review,) = await harness.send(XIAOMING, "想要一台游戏机")
    assert "请确认你的心愿" in review["text"]
    await harness.press(XIAOMING, returned, "撤回心愿")  # the old notice's button
    assert (await _wish(harness)).status == life.WITHDRAWN
    await harness.press(XIAOMING, review, "提交")
    after = await _wish(harness)
    assert after.status == life.WITHDRAWN
    assert after.text == "想要一辆自行车上学", f"withdrawn wish changed to {after.text!r}"
    # The draft, which can never be submitted now, is gone, and the person is told why.
    told = await _last(harness, XIAOMING)
    assert f"W{wish.id}" in told["text"] and "撤回" in told["text"], told["text"]
    async with harness.sessions() as session:
        assert await session.get(Conversation, XIAOMING["id"]) is None


async def test_opening_a_returned_wish_does_not_silently_drop_a_draft_in_progress(
    harness: BotHarness,
) -> None:
    """A young person half-way through a new wish presses "修改并重新提交" on an older,
    returned one: handlers/wishes.py:411-428 (owner_button) saves a new draft over the
    chat's draft without a word, so the new wish being written is lost. Buttons that
    wait for a text refuse to replace a draft (common.expect_or_explain); this one does
    not."""
    await _staff(harness)
    _wish_row, returned = await _returned(harness)
    await _reply(harness, "/wish", "描述你的心愿")
    photo = await _reply(harness, "想要一套课外书，我特别喜欢科普", "照片")
    await harness.press(XIAOMING, photo, "跳过")
    await harness.press(XIAOMING, await _prompt(harness, "哪一类"), "图书")
    answer = await harness.press(XIAOMING, returned, "修改并重新提交")
    assert answer["show_alert"] and "没写完的心愿" in answer["text"], answer
    async with harness.sessions() as session:
        draft = await session.get(Conversation, XIAOMING["id"])
    assert draft is not None
    assert draft.data["fields"].get("text") == "想要一套课外书，我特别喜欢科普", (
        "the draft in progress was replaced without a word: " + repr(draft.data)
    )


async def test_a_fulfilled_button_from_someone_not_holding_the_wish_is_refused_at_once(
    harness: BotHarness,
) -> None:
    """Forged (or someone else's) "已实现" data: the press is not checked (handlers/
    wishes.py:543-551 only sets AWAIT_PROOF) and the presser is asked for proof; for a
    young person the next message, a question, is then taken as "proof", refused with
    "你不能处理这个心愿", and never asked."""
    await _staff(harness)
    seq = await harness.client.last_seq()
    wish = await _submit(harness)
    await _approve(harness, wish, seq)
    await _wait(harness, XIAOMING["id"], seq, "通过审核并公开")  # the push, before the rest
    (mine,) = await harness.send(XIAOMING, "/my")
    answer = await harness.press_data(XIAOMING, mine["message_id"], f"v1:wfl:{wish.id}")
    asked_proof = "凭证" in (await _last(harness, XIAOMING))["text"]
    replies = await harness.send(XIAOMING, "请问几岁能入团啊？")
    async with harness.sessions() as session:
        asked = list(await session.scalars(select(Question.text)))
    assert not asked_proof and asked == ["请问几岁能入团啊？"], (answer, replies, asked)


async def test_a_removed_cadres_disputed_wish_is_not_left_with_them(harness: BotHarness) -> None:
    """README: a removed cadre's claims are released at the next sweep "and the former
    cadre can no longer report progress or delivery". A claim whose delivery the young
    person disputes stays with the removed cadre (the sweep only releases CLAIMED,
    bot/services/wishes.py:421-433; the machine has no way out of DISPUTED but close):
    nobody can deliver again, the young person is not told, and the wish sits until the
    dispute closes as "not settled" 14 days later."""
    from bot.services import cadres
    from storage.db import unit_of_work

    await _staff(harness)
    wish, fulfilled = await _fulfilled(harness, "已寄出")
    await harness.press(XIAOMING, fulfilled, "还没收到")
    async with unit_of_work(harness.sessions) as session:  # voy cadre remove 2002
        await cadres.remove(session, telegram_id=LI["id"])
    seq = await harness.client.last_seq()
    await sweep(harness.app.bot_data.services)
    async with harness.sessions() as session:
        row = await session.get(Wish, wish.id)
        li = await session.scalar(select(User).where(User.telegram_id == LI["id"]))
    assert row is not None and li is not None
    stuck = row.status == life.DISPUTED and row.claimer_user_id == li.id
    told = [
        m.get("text")
        for m in await harness.client.messages(XIAOMING["id"])
        if m["from_bot"] and "不再负责" in (m.get("text") or "")
    ]
    assert not stuck or told, f"W{wish.id} {row.status}, still held by the removed cadre"
    # Back on offer for someone else to deliver, and the young person told so.
    assert row.status == life.APPROVED and row.claimer_user_id is None
    await _wait(harness, XIAOMING["id"], seq, "不再负责")


async def test_a_forged_claim_gets_a_true_refusal(harness: BotHarness) -> None:
    """Forged claim data: for a wish that does not exist a cadre is told "only cadres
    and registered donors can claim wishes" (they are a cadre); for one still waiting
    for review, "someone else just claimed it" (nobody did). handlers/wishes.py:520-525
    map every refusal of `wishes.claim` to those two texts."""
    await _staff(harness)
    wish = await _submit(harness)  # submitted, not yet published
    (listing,) = await harness.send(LI, "/wishes")
    missing = await harness.press_data(LI, listing["message_id"], "v1:wcl:999")
    unpublished = await harness.press_data(LI, listing["message_id"], f"v1:wcl:{wish.id}")
    assert "只有团干部" not in missing["text"] and "别人认领" not in unpublished["text"], (
        missing["text"],
        unpublished["text"],
    )
    assert "失效" in missing["text"] and f"W{wish.id}" in unpublished["text"]


async def test_a_long_proof_note_reaches_the_young_person_whole(harness: BotHarness) -> None:
    """The claimer's note is cut to 1,000 characters without a word
    (handlers/wishes.py:664 `message.text[:1000]`; a reviewer's reason likewise at :661
    `[:500]`), though the README promises a note too long for a caption follows the
    photo as its own message, and elsewhere a long text is "refused whole, not cut"."""
    await _staff(harness)
    _wish_row, claimed = await _claimed(harness)
    await harness.press(LI, claimed, "已实现")
    seq = await harness.client.last_seq()
    note = "自行车已经送到学校门卫处，" + "请留意。" * 300 + "最后一句：记得签收。"
    (refused,) = await harness.send(LI, note)
    assert "超过了 1024 字" in refused["text"], refused["text"]
    shorter = "自行车已经送到学校门卫处，" + "请留意。" * 200 + "最后一句：记得签收。"
    (thanks,) = await harness.send(LI, shorter)  # still the proof: the wait was kept
    fulfilled = await _wait(harness, XIAOMING["id"], seq, "已经实现啦")
    assert "最后一句：记得签收。" in fulfilled["text"], (len(fulfilled["text"]), thanks["text"])


async def test_my_does_not_call_an_unsettled_dispute_complete(harness: BotHarness) -> None:
    """The young person said "not received" and nobody settled it in time: the sweep
    closes the wish (note "dispute not settled"), and /my then lists it as "✅ 已完成",
    the same as a wish whose receipt they confirmed (my_views.py shows only
    `wish_status.{status}`; CLOSED has one label for received, unconfirmed and disputed)."""
    await _staff(harness)
    wish, fulfilled = await _fulfilled(harness, "已寄出")
    await harness.press(XIAOMING, fulfilled, "还没收到")
    services = harness.app.bot_data.services
    services.clock.advance(days=15)
    assert (await sweep(services)).wishes_closed == 1
    mine = await _reply(harness, "/my", "我的微心愿")
    line = next(x for x in mine["text"].splitlines() if x.startswith(f"W{wish.id} "))
    assert "已完成" not in line and "核实未果" in line, line
    await harness.press(XIAOMING, mine, f"W{wish.id}")
    detail = await _prompt(harness, f"心愿 W{wish.id}")
    assert "已完成" not in detail["text"], detail["text"]


async def test_an_old_review_screens_cancel_does_not_delete_a_new_draft(
    harness: BotHarness,
) -> None:
    """The draft buttons carry no draft identity (wish_keyboards.review_keyboard: bare
    "wcan"/"wsub"), so "❌ 取消" on the review screen of a wish submitted long ago deletes
    whatever draft is being written now (handlers/wishes.py:188-191), without asking."""
    await _staff(harness)
    old_review = await _write(harness)
    await harness.press(XIAOMING, old_review, "提交")
    await _reply(harness, "/wish", "描述你的心愿")
    photo = await _reply(harness, "想要一套课外书，我特别喜欢科普", "照片")
    await harness.press(XIAOMING, photo, "跳过")
    await harness.press(XIAOMING, old_review, "取消")  # the old, submitted wish's screen
    async with harness.sessions() as session:
        draft = await session.get(Conversation, XIAOMING["id"])
    assert draft is not None, "the draft being written was deleted by an old button"
    answer = await harness.press(XIAOMING, old_review, "提交")
    assert answer["show_alert"] and "失效" in answer["text"], answer
    async with harness.sessions() as session:
        assert len(list(await session.scalars(select(Wish)))) == 1


async def test_return_on_an_already_decided_wish_is_refused_before_the_reason(
    harness: BotHarness,
) -> None:
    """An old card's "退回修改" for a wish approved meanwhile: handlers/wishes.py:260-273
    checks only the role, asks for a reason, and refuses only after the reviewer typed
    it (the typed reason is thrown away)."""
    await _staff(harness)
    seq = await harness.client.last_seq()
    wish = await _submit(harness)
    card = await _wait(harness, ZHANG["id"], seq, f"W{wish.id}")
    await harness.press(ZHANG, card, "通过并公开")
    answer = await harness.press(ZHANG, card, "退回修改")  # the same, now old, card
    asked = "请输入退回或不通过的原因" in (await _last(harness, ZHANG))["text"]
    assert answer["show_alert"] and not asked, (answer, asked)


async def test_a_second_proof_photo_is_not_answered_as_a_young_persons_question(
    harness: BotHarness,
) -> None:
    """A claimer sends two photos of the delivery (an album arrives as one update per
    photo). The first is the proof; the second meets no pending step and no draft
    (handlers/wishes.py:158-161) and the cadre is told "我现在只能读懂文字消息…请用文字再
    描述一下你的问题", the young person's non-text reply; the photo reaches nobody."""
    await _staff(harness)
    _wish_row, claimed = await _claimed(harness)
    await harness.press(LI, claimed, "已实现")
    seq = await harness.client.last_seq()
    album = "13579246801234"
    await harness.client.send_photo(
        LI, caption="车已送到", file_name="one.jpg", media_group_id=album
    )
    await _wait(harness, LI["id"], seq, "已通知心愿主人")
    mark = await harness.inbound_mark()
    sent = await harness.client.send_photo(LI, file_name="two.jpg", media_group_id=album)
    await harness.settled(sent["update_id"], after=mark)
    reply = (await _last(harness, LI)).get("text") or ""
    assert "你的问题" not in reply, reply
    # The second photo reaches the young person too, after the first with its buttons.
    async with asyncio.timeout(10):
        while True:
            photos = [
                m
                for m in await harness.client.messages(XIAOMING["id"])
                if m["from_bot"] and m.get("photo")
            ]
            if len(photos) == 2:
                break
            await asyncio.sleep(0.05)
    assert buttons(photos[0]) and "完成照片" in (photos[1].get("caption") or ""), photos


async def test_a_long_return_reason_is_refused_whole_and_the_shorter_one_taken(
    harness: BotHarness,
) -> None:
    """A reviewer's reason was cut to 500 characters without a word: now a longer one is
    refused whole, the wait for the reason kept, and the shortened one reaches the young
    person whole."""
    await _staff(harness)
    seq = await harness.client.last_seq()
    wish = await _submit(harness)
    card = await _wait(harness, ZHANG["id"], seq, f"W{wish.id}")
    await harness.press(ZHANG, card, "退回修改")
    (refused,) = await harness.send(ZHANG, "请补充说明。" * 100)
    assert "超过了 500 字" in refused["text"], refused["text"]
    assert (await _wish(harness)).status == life.SUBMITTED
    seq = await harness.client.last_seq()
    reason = "请补充说明。" * 70 + "最后：写清楚尺寸。"
    await harness.send(ZHANG, reason)
    returned = await _wait(harness, XIAOMING["id"], seq, "需要修改后重新提交")
    assert "最后：写清楚尺寸。" in returned["text"]
    assert (await _wish(harness)).reason == reason


async def test_an_old_change_menu_does_not_move_a_newer_draft(harness: BotHarness) -> None:
    """The "change which field" menu names its draft too (a review found an old menu
    could send a newer draft back to one of its steps)."""
    await _staff(harness)
    old_review = await _write(harness)
    await harness.press(XIAOMING, old_review, "修改")
    old_menu = await _last(harness, XIAOMING)
    await harness.press(XIAOMING, old_review, "提交")
    await _write(harness, "想要一套课外书，我特别喜欢科普")
    answer = await harness.press(XIAOMING, old_menu, "心愿内容")
    assert answer["show_alert"] and "失效" in answer["text"], answer
    async with harness.sessions() as session:
        draft = await session.get(Conversation, XIAOMING["id"])
    assert draft is not None and draft.data["step"] == "review"
