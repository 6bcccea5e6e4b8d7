"""Micro-wishes through the sandbox: submit, review, claim, fulfil, confirm, and the ways
off that path (return and resubmit, reject, withdraw, the claim limit, idle claims, a
child's wish without consent, a restart in the middle of writing one)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.services import cadres
from bot.services import wish_lifecycle as life
from bot.sweeper import sweep
from sandbox import SandboxServer
from storage.db import unit_of_work
from storage.models import User
from storage.privacy import PersonalDataAccess
from storage.questions import Conversation, Question
from storage.wishes import Wish
from tests.conftest import run_harness
from tests.support import COMMITTEE_CHAT, XIAOMING, BotHarness, button_data, buttons

LI = {"id": 2002, "first_name": "李老师", "language_code": "zh-hans"}  # a cadre
ZHANG = {"id": 2003, "first_name": "张老师", "language_code": "zh-hans"}  # a reviewer
DONOR = {"id": 3001, "first_name": "爱心人士", "language_code": "zh-hans"}


async def _last(harness: BotHarness, user: dict[str, Any]) -> dict[str, Any]:
    return [m for m in await harness.client.messages(user["id"]) if m["from_bot"]][-1]


async def _wait(harness: BotHarness, chat: int, seq: int, text: str) -> dict[str, Any]:
    return await harness.client.wait_for_bot_message(
        chat, after_seq=seq, timeout=10, predicate=lambda m: text in (m.get("text") or "")
    )


async def _staff(harness: BotHarness) -> None:
    for person in (LI, ZHANG, DONOR, {"id": 2001, "first_name": "王老师"}):
        # Settled one by one: a greeting still on its way would be taken for the reply to
        # whatever the test sends next (it made `(listing,) = …` fail once on PostgreSQL).
        await harness.send(person, "/start")


async def _write(
    harness: BotHarness,
    text: str = "想要一辆自行车上学",
    *,
    age: str = "14–17 岁",
    consent: str | None = None,
    value: str = "300",
) -> dict[str, Any]:
    """Go through the submission conversation up to the review screen."""
    await _reply(harness, "/wish", "描述你的心愿")
    photo = await _reply(harness, text, "照片")
    await harness.press(XIAOMING, photo, "跳过")
    await harness.press(XIAOMING, await _prompt(harness, "哪一类"), "生活用品")
    await harness.press(XIAOMING, await _prompt(harness, "为谁许的"), "我自己")
    await harness.press(XIAOMING, await _prompt(harness, "年龄段"), age)
    if consent is not None:
        await harness.press(XIAOMING, await _prompt(harness, "监护人"), consent)
    await harness.press(XIAOMING, await _prompt(harness, "哪个区域"), "高新区")
    await _reply(harness, "西山社区", "价值")
    return await _reply(harness, value, "请确认你的心愿")


async def _prompt(harness: BotHarness, containing: str) -> dict[str, Any]:
    """The young person's newest bot message containing ``containing``."""
    found = [
        m
        for m in await harness.client.messages(XIAOMING["id"])
        if m["from_bot"] and containing in (m.get("text") or "")
    ]
    assert found, f"no message with {containing!r}"
    return found[-1]


async def _reply(harness: BotHarness, text: str, expected: str) -> dict[str, Any]:
    """Send ``text`` as the young person; return the reply containing ``expected``
    (pushes about earlier wishes may arrive in between)."""
    replies = await harness.send(XIAOMING, text)
    matching = [m for m in replies if expected in (m.get("text") or "")]
    assert matching, [m.get("text", "")[:60] for m in replies]
    return matching[-1]


async def _command(
    harness: BotHarness, person: dict[str, Any], command: str, expected: str
) -> dict[str, Any]:
    """Send a staff member's command; return the reply containing ``expected`` (review
    cards and other pushes may arrive in between)."""
    replies = await harness.send(person, command)
    matching = [m for m in replies if expected in (m.get("text") or "")]
    assert len(matching) == 1, [m.get("text", "")[:60] for m in replies]
    return matching[0]


async def _submit(harness: BotHarness, **kwargs: Any) -> Wish:
    review = await _write(harness, **kwargs)
    await harness.press(XIAOMING, review, "提交")
    assert "心愿已提交" in (await _last(harness, XIAOMING))["text"]
    return await _wish(harness)


async def _wish(harness: BotHarness) -> Wish:
    async with harness.sessions() as session:
        wish = await session.scalar(select(Wish).order_by(Wish.id.desc()))
    assert wish is not None
    return wish


async def _approve(harness: BotHarness, wish: Wish, seq: int) -> None:
    card = await _wait(harness, ZHANG["id"], seq, f"W{wish.id}")
    await harness.press(ZHANG, card, "通过并公开")


async def test_from_wish_to_confirmed_receipt(harness: BotHarness) -> None:
    await _staff(harness)
    await harness.send(XIAOMING, "/start")
    seq = await harness.client.last_seq()
    wish = await _submit(harness)
    card = await _wait(harness, ZHANG["id"], seq, f"W{wish.id}")
    assert "✅ 公开内容不含个人信息" in card["text"] and "✅ 在价值上限之内" in card["text"]
    # Not "guardian agreed", which a 14–17-year-old was never asked.
    assert "✅ 14 岁及以上：无需监护人同意" in card["text"] and "监护人已同意" not in card["text"]
    await harness.press(ZHANG, card, "通过并公开")
    await _wait(harness, XIAOMING["id"], seq, "已通过审核并公开")

    (listing,) = await harness.send(LI, "/wishes")
    assert f"W{wish.id}" in listing["text"] and "自行车" in listing["text"]
    seq = await harness.client.last_seq()
    await harness.press(LI, listing, f"认领 W{wish.id}")
    claimed = await _last(harness, LI)
    assert "1/5" in claimed["text"]
    await _wait(harness, XIAOMING["id"], seq, "已被认领")

    await harness.press(LI, claimed, "已实现")
    seq = await harness.client.last_seq()
    (thanks,) = await harness.send(LI, "自行车已经送到学校了")
    assert "已通知心愿主人" in thanks["text"]
    fulfilled = await _wait(harness, XIAOMING["id"], seq, "已经实现啦")
    assert "送到学校" in fulfilled["text"]
    await harness.press(XIAOMING, fulfilled, "收到了")
    done = await _wish(harness)
    assert done.status == life.CLOSED
    triggers = [e.trigger for e in done.events]
    assert triggers == ["submit", "approve", "claim", "fulfil", "confirm", "close"]
    (mine,) = await harness.send(XIAOMING, "/my")
    assert "我的微心愿" in mine["text"] and "已完成" in mine["text"]


async def _caption(harness: BotHarness, chat: int, seq: int, text: str) -> dict[str, Any]:
    return await harness.client.wait_for_bot_message(
        chat, after_seq=seq, timeout=10, predicate=lambda m: text in (m.get("caption") or "")
    )


async def _proof_sent(harness: BotHarness, caption: str) -> tuple[Wish, int]:
    """李老师 claims the wish, presses "已实现" and sends the proof photo with ``caption``;
    return the wish and the sandbox's sequence number before the photo."""
    await _staff(harness)
    wish, claimed = await _claimed(harness)
    await harness.press(LI, claimed, "已实现")
    seq = await harness.client.last_seq()
    await harness.client.send_photo(LI, caption=caption, file_name="bike-delivered.jpg")
    return wish, seq


async def _fulfilled(harness: BotHarness, note: str = "已寄出") -> tuple[Wish, dict[str, Any]]:
    """李老师 claims 小明's wish and reports it fulfilled with ``note``; return the wish
    and the notice 小明 got, with the receipt buttons."""
    wish, claimed = await _claimed(harness)
    await harness.press(LI, claimed, "已实现")
    seq = await harness.client.last_seq()
    await harness.send(LI, note)
    return wish, await _wait(harness, XIAOMING["id"], seq, "已经实现啦")


async def test_the_proof_photo_reaches_the_young_person_with_the_receipt_question(
    harness: BotHarness,
) -> None:
    wish, seq = await _proof_sent(harness, "车已送到")

    # One message: that very photo, the note as its caption, and the buttons.
    fulfilled = await _caption(harness, XIAOMING["id"], seq, "已经实现啦")
    assert fulfilled["photo"]["file_name"] == "bike-delivered.jpg"
    assert f"W{wish.id}" in fulfilled["caption"]
    assert "\n对方留言：车已送到\n" in fulfilled["caption"]  # its own line, said whose
    assert [b["text"] for b in buttons(fulfilled)] == ["✅ 收到了", "❓ 还没收到"]
    assert "已通知心愿主人" in (await _last(harness, LI))["text"]
    await harness.press(XIAOMING, fulfilled, "收到了")
    done = await _wish(harness)
    assert done.status == life.CLOSED and done.proof_file_id is not None


async def test_a_proof_photo_with_a_long_note_comes_first_then_the_note(
    harness: BotHarness,
) -> None:
    note = "车已送到学校门卫处，" + "请留意。" * 250  # too long for a caption with the rest
    wish, seq = await _proof_sent(harness, note)
    fulfilled = await _wait(harness, XIAOMING["id"], seq, "已经实现啦")
    photos = [
        m
        for m in await harness.client.messages(XIAOMING["id"])
        if m["from_bot"] and "photo" in m and m["message_id"] < fulfilled["message_id"]
    ]
    assert [p["photo"]["file_name"] for p in photos] == ["bike-delivered.jpg"]
    assert f"W{wish.id}" in photos[0]["caption"] and "完成照片" in photos[0]["caption"]
    assert buttons(fulfilled) and "请留意" in fulfilled["text"]


async def test_a_proof_sent_long_after_the_button_is_not_taken(harness: BotHarness) -> None:
    await _staff(harness)
    wish, claimed = await _claimed(harness)
    await harness.press(LI, claimed, "已实现")
    harness.app.bot_data.services.clock.advance(minutes=61)
    seq = await harness.client.last_seq()
    await harness.client.send_photo(LI, caption="车已送到", file_name="bike-delivered.jpg")
    notice = await _wait(harness, LI["id"], seq, "没有发出")
    assert f"提交心愿 W{wish.id} 的完成凭证" in notice["text"]
    assert "卡片" not in notice["text"]  # a proof cannot be given by replying to anything
    assert (await _wish(harness)).status == life.CLAIMED
    # Pressed again, the proof is taken.
    await harness.press(LI, claimed, "已实现")
    await harness.client.send_photo(LI, caption="车已送到", file_name="bike-delivered.jpg")
    await _caption(harness, XIAOMING["id"], seq, "已经实现啦")
    assert (await _wish(harness)).status == life.FULFILLED


async def _returned(harness: BotHarness) -> tuple[Wish, dict[str, Any]]:
    """小明's wish, submitted and returned by 张老师 with a reason; and the notice."""
    seq = await harness.client.last_seq()
    wish = await _submit(harness)
    card = await _wait(harness, ZHANG["id"], seq, f"W{wish.id}")
    await harness.press(ZHANG, card, "退回修改")
    seq = await harness.client.last_seq()
    await harness.send(ZHANG, "请写清楚需要哪种自行车")
    return wish, await _wait(harness, XIAOMING["id"], seq, "需要修改后重新提交")


async def test_returned_edited_resubmitted_then_rejected_and_withdrawn(
    harness: BotHarness,
) -> None:
    await _staff(harness)
    wish, returned = await _returned(harness)
    assert "哪种自行车" in returned["text"]
    # /my shows the reason too, with the same buttons.
    mine = await _reply(harness, "/my", "我的微心愿")
    await harness.press(XIAOMING, mine, f"W{wish.id}")
    detail = await _prompt(harness, f"心愿 W{wish.id}")
    assert "需要修改" in detail["text"] and "原因：请写清楚需要哪种自行车" in detail["text"]
    assert [b["text"] for b in buttons(detail)] == ["✏️ 修改并重新提交", "🗑 撤回心愿"]
    await harness.press(XIAOMING, detail, "修改并重新提交")
    review = await _last(harness, XIAOMING)
    await harness.press(XIAOMING, review, "修改")
    await harness.press(XIAOMING, await _last(harness, XIAOMING), "心愿内容")
    (again,) = await harness.send(XIAOMING, "想要一辆 24 寸的山地自行车上学")
    assert "请确认你的心愿" in again["text"] and "24 寸" in again["text"]
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, again, "提交")
    resubmitted = await _wish(harness)
    assert resubmitted.id == wish.id and resubmitted.status == life.SUBMITTED
    card = await _wait(harness, ZHANG["id"], seq, f"W{wish.id}")
    await harness.press(ZHANG, card, "不予通过")
    seq = await harness.client.last_seq()
    await harness.send(ZHANG, "超出本次活动范围")
    rejected = await _wait(harness, XIAOMING["id"], seq, "未通过审核")
    assert "超出本次活动范围" in rejected["text"]
    assert (await _wish(harness)).status == life.REJECTED

    # A second wish is withdrawn before anyone claims it.
    seq = await harness.client.last_seq()
    second = await _submit(harness, text="想要一套课外书")
    await _approve(harness, second, seq)
    approved = await _wait(harness, XIAOMING["id"], seq, f"W{second.id} 已通过")
    await harness.press(XIAOMING, approved, "撤回心愿")
    assert (await _wish(harness)).status == life.WITHDRAWN


async def test_a_childs_wish_waits_for_guardian_consent(harness: BotHarness) -> None:
    await _staff(harness)
    review = await _write(harness, age="10–13 岁", consent="暂不同意")
    await harness.press(XIAOMING, review, "提交")
    assert "监护人同意" in (await _last(harness, XIAOMING))["text"]
    async with harness.sessions() as session:
        assert await session.scalar(select(Wish)) is None  # nothing was submitted
    await harness.press(XIAOMING, await _last(harness, XIAOMING), "修改")
    await harness.press(XIAOMING, await _last(harness, XIAOMING), "年龄段")
    await harness.press(XIAOMING, await _last(harness, XIAOMING), "10–13 岁")
    await harness.press(XIAOMING, await _last(harness, XIAOMING), "我是监护人")
    review = await _last(harness, XIAOMING)
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, review, "提交")
    wish = await _wish(harness)
    assert wish.guardian_consent and wish.status == life.SUBMITTED
    card = await _wait(harness, ZHANG["id"], seq, f"W{wish.id}")
    assert "✅ 未满 14 岁：监护人已同意" in card["text"]


async def test_wrong_input_re_asks_and_cancel_works(harness: BotHarness) -> None:
    await harness.send(XIAOMING, "/wish")
    (again,) = await harness.send(XIAOMING, "x")
    assert "2 到 300 个字" in again["text"]
    (photo,) = await harness.send(XIAOMING, "想要一个篮球")
    (still,) = await harness.send(XIAOMING, "不要照片")  # text where a button is expected
    assert "照片" in still["text"] and buttons(still)
    (cancelled,) = await harness.send(XIAOMING, "/cancel")
    assert "已取消" in cancelled["text"]
    (again,) = await harness.send(XIAOMING, "/cancel")  # not "cancelled" again
    assert again["text"] == "现在没有需要取消的操作。"
    del photo


async def test_a_question_typed_mid_draft_can_be_asked_and_the_draft_waits(
    harness: BotHarness,
) -> None:
    """A text where a button is expected is not taken silently: the young person is told,
    and one press asks it as a question while the draft waits at its step."""
    await harness.send(XIAOMING, "/wish")
    (photo,) = await harness.send(XIAOMING, "想要一个篮球")
    await harness.press(XIAOMING, photo, "跳过")
    (first,) = await harness.send(XIAOMING, "这个要多久能审核完？")
    (still,) = await harness.send(XIAOMING, "请问几岁能入团啊？")  # the newest is kept
    assert "没有记入心愿" in still["text"] and "哪一类" in still["text"]
    assert any("问这个问题" in b["text"] for b in buttons(still))
    stale = await harness.press(XIAOMING, first, "问这个问题")  # the older text's button
    del stale
    async with harness.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Question)) == 0
    await harness.press(XIAOMING, still, "问这个问题")
    replies = [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]]
    assert any("年满十四周岁" in (m.get("text") or "") for m in replies[-2:])  # answered
    assert "哪一类" in replies[-1]["text"]  # and the draft goes on where it was
    async with harness.sessions() as session:
        (question,) = await session.scalars(select(Question))
        assert question.text == "请问几岁能入团啊？"
        draft = await session.get(Conversation, XIAOMING["id"])
        assert draft is not None and "aside" not in draft.data["fields"]
    wish = await _submit_from_category(harness)
    assert wish.text == "想要一个篮球"


async def _submit_from_category(harness: BotHarness) -> Wish:
    """Finish a draft waiting at the category step with default answers."""
    for label in ("学习用品", "我自己", "14–17 岁"):
        await harness.press(XIAOMING, await _last(harness, XIAOMING), label)
    await harness.press(XIAOMING, await _last(harness, XIAOMING), "不指定")
    await harness.press(XIAOMING, await _last(harness, XIAOMING), "跳过")
    await harness.send(XIAOMING, "100")
    await harness.press(XIAOMING, await _last(harness, XIAOMING), "提交")
    return await _wish(harness)


async def test_a_caption_at_the_photo_step_joins_the_wish(harness: BotHarness) -> None:
    await harness.send(XIAOMING, "/wish")
    await harness.send(XIAOMING, "想要一个新书包")
    mark = await harness.inbound_mark()
    sent = await harness.client.send_photo(XIAOMING, caption="要" + "蓝" * 300)
    await harness.settled(sent["update_id"], after=mark)
    assert "超过了 300 个字" in (await _last(harness, XIAOMING))["text"]  # nothing cut
    mark = await harness.inbound_mark()
    sent = await harness.client.send_photo(XIAOMING, caption="要蓝色的，能装A4课本")
    await harness.settled(sent["update_id"], after=mark)
    async with harness.sessions() as session:
        draft = await session.get(Conversation, XIAOMING["id"])
    assert draft is not None
    assert draft.data["fields"]["text"] == "想要一个新书包\n要蓝色的，能装A4课本"
    assert draft.data["fields"]["photo_file_id"]


async def test_the_sixth_claim_is_refused_and_the_pool_is_masked(harness: BotHarness) -> None:
    await _staff(harness)
    for n in range(6):
        seq = await harness.client.last_seq()
        wish = await _submit(harness, text=f"第{n}个心愿，联系电话13812345678")
        await _approve(harness, wish, seq)
    replies = await harness.send(LI, "/wishes")
    assert len(replies) == 1, [m["text"][:80] for m in replies]
    listing = replies[0]
    assert "13812345678" not in listing["text"] and "手机号已隐藏" in listing["text"]
    ids = [b["text"].split("W")[-1] for b in buttons(listing) if "认领" in b["text"]]
    for wish_id in ids[:5]:
        await harness.press(LI, listing, f"认领 W{wish_id}")
    answer = await harness.press(LI, listing, f"认领 W{ids[5]}")
    assert answer["show_alert"] and "5 个未完成的认领" in answer["text"]


async def test_two_claims_at_once_have_one_winner(harness: BotHarness) -> None:
    await _staff(harness)
    seq = await harness.client.last_seq()
    wish = await _submit(harness)
    await _approve(harness, wish, seq)
    (li_list,) = await harness.send(LI, "/wishes")
    (donor_list,) = await harness.send(DONOR, "/wishes")
    answers = await asyncio.gather(
        harness.press(LI, li_list, f"认领 W{wish.id}"),
        harness.press(DONOR, donor_list, f"认领 W{wish.id}"),
    )
    refused = [a for a in answers if a.get("show_alert")]
    assert len(refused) == 1 and "别人认领" in refused[0]["text"]
    assert (await _wish(harness)).status == life.CLAIMED


async def test_an_idle_claim_is_reminded_then_released(harness: BotHarness) -> None:
    await _staff(harness)
    seq = await harness.client.last_seq()
    wish = await _submit(harness)
    await _approve(harness, wish, seq)
    (listing,) = await harness.send(LI, "/wishes")
    await harness.press(LI, listing, f"认领 W{wish.id}")
    services = harness.app.bot_data.services
    seq = await harness.client.last_seq()
    services.clock.advance(days=8)
    await sweep(services)
    await _wait(harness, LI["id"], seq, "还没有进展")
    services.clock.advance(days=3)
    assert (await sweep(services)).wishes_released == 1
    await _wait(harness, XIAOMING["id"], seq, "重新公开")
    assert (await _wish(harness)).status == life.APPROVED


async def test_a_wish_nobody_reviewed_comes_back_to_the_reviewers_once(
    harness: BotHarness,
) -> None:
    await _staff(harness)
    wish = await _submit(harness)
    services = harness.app.bot_data.services
    seq = await harness.client.last_seq()
    services.clock.advance(hours=47)
    assert (await sweep(services)).wishes_review_reminded == 0
    services.clock.advance(hours=2)
    assert (await sweep(services)).wishes_review_reminded == 1
    reminder = await _wait(harness, ZHANG["id"], seq, "已等待审核 49 小时")
    assert f"W{wish.id}" in reminder["text"] and "✅ 在价值上限之内" in reminder["text"]
    assert "自行车" in reminder["text"]
    await _wait(harness, 2001, seq, "已等待审核 49 小时")  # the admin reviews too
    services.clock.advance(hours=48)
    assert (await sweep(services)).wishes_review_reminded == 0
    # The committee's digest counts it while it waits.
    summary = (await harness.send({"id": 2001, "first_name": "王老师"}, "/digest"))[0]
    assert "超时待审核 1" in summary["text"]
    # The reminder's buttons decide, as the first card's do.
    await harness.press(ZHANG, reminder, "通过并公开")
    await _wait(harness, XIAOMING["id"], seq, "已通过审核并公开")
    assert (await _wish(harness)).status == life.APPROVED


async def test_review_lists_waiting_wishes_and_opens_their_cards(harness: BotHarness) -> None:
    await _staff(harness)
    bicycle = await _submit(harness)
    books = await _submit(harness, text="想要一套课外书")
    harness.app.bot_data.services.clock.advance(hours=5)
    listing = await _command(harness, ZHANG, "/review", "待审核的心愿")
    assert "待审核的心愿：共 2 个" in listing["text"]
    lines = listing["text"].splitlines()
    first, second = (
        next(n for n, line in enumerate(lines) if line.startswith(f"W{w.id} "))
        for w in (bicycle, books)
    )
    assert first < second and "已等待 5 小时" in lines[first]  # longest-waiting first
    assert "自行车" not in listing["text"]  # the list names wishes; the card shows them
    labels = [b["text"] for b in buttons(listing)]
    assert labels == [f"📝 审核 W{bicycle.id}", f"📝 审核 W{books.id}"]
    # A cadre who is not a reviewer is refused.
    await _command(harness, LI, "/review", "只有心愿审核员和管理员")

    async with harness.sessions() as session:
        logged = await session.scalar(select(func.count(PersonalDataAccess.id)))
    seq = await harness.client.last_seq()
    await harness.press(ZHANG, listing, f"审核 W{bicycle.id}")
    card = await _wait(harness, ZHANG["id"], seq, f"待审核心愿 W{bicycle.id}")
    assert "自行车" in card["text"] and "✅ 在价值上限之内" in card["text"]
    async with harness.sessions() as session:  # the showing is logged
        assert await session.scalar(select(func.count(PersonalDataAccess.id))) == logged + 1
    await harness.press(ZHANG, card, "通过并公开")
    await _wait(harness, XIAOMING["id"], seq, "已通过审核并公开")

    listing_after = await _command(harness, ZHANG, "/review", "待审核的心愿")
    assert "共 1 个" in listing_after["text"] and f"W{bicycle.id} " not in listing_after["text"]
    # The old list's button for the decided wish, and a forged one, are refused.
    stale = await harness.press(ZHANG, listing, f"审核 W{bicycle.id}")
    assert stale["show_alert"] and "已公开" in stale["text"]
    forged = await harness.press_data(ZHANG, listing["message_id"], "v1:wro:999999")
    assert forged["show_alert"] and "不能处理" in forged["text"]
    # Once every wish is decided the list says so.
    await harness.press(ZHANG, listing_after, f"审核 W{books.id}")
    books_card = await _wait(harness, ZHANG["id"], seq, f"待审核心愿 W{books.id}")
    await harness.press(ZHANG, books_card, "通过并公开")
    await _wait(harness, XIAOMING["id"], seq, f"W{books.id} 已通过审核")
    await _command(harness, ZHANG, "/review", "现在没有待审核的心愿")


async def test_with_nobody_to_review_the_committee_is_told(harness: BotHarness) -> None:
    await _staff(harness)
    wish = await _submit(harness)
    async with harness.sessions() as session:
        staff = select(User).where(User.telegram_id.in_([2001, 2003]))
        for person in await session.scalars(staff):
            person.roles = [r for r in person.roles if r not in ("reviewer", "admin")]
        await session.commit()
    services = harness.app.bot_data.services
    seq = await harness.client.last_seq()
    services.clock.advance(hours=49)
    await sweep(services)
    notice = await _wait(harness, COMMITTEE_CHAT, seq, f"W{wish.id}")
    assert "没有人担任审核员" in notice["text"]
    assert "自行车" not in notice["text"]  # the wish is named, not shown


async def test_a_restart_in_the_middle_of_writing_resumes(
    sandbox: SandboxServer, database_url: str
) -> None:
    async for harness in run_harness(sandbox, database_url):
        await harness.send(XIAOMING, "/wish")
        (photo,) = await harness.send(XIAOMING, "想要一个足球")
        await harness.press(XIAOMING, photo, "跳过")
        category = await _last(harness, XIAOMING)
        assert "哪一类" in category["text"]
    # A new Application on the same database: the draft is where it was.
    async for harness in run_harness(sandbox, database_url):
        await harness.press(XIAOMING, category, "体育用品")
        assert "为谁许的" in (await _last(harness, XIAOMING))["text"]


async def test_receipt_is_chased_once_then_closed_unconfirmed(harness: BotHarness) -> None:
    await _staff(harness)
    seq = await harness.client.last_seq()
    wish = await _submit(harness)
    await _approve(harness, wish, seq)
    (listing,) = await harness.send(LI, "/wishes")
    await harness.press(LI, listing, f"认领 W{wish.id}")
    await harness.press(LI, await _last(harness, LI), "已实现")
    seq = await harness.client.last_seq()
    await harness.send(LI, "已送到")
    # The fulfilment push also asks "收到了吗": let it arrive before looking for the reminder.
    await _wait(harness, XIAOMING["id"], seq, "已经实现啦")
    services = harness.app.bot_data.services
    seq = await harness.client.last_seq()
    services.clock.advance(days=4)
    await sweep(services)
    reminder = await _wait(harness, XIAOMING["id"], seq, f"心愿 W{wish.id} 收到了吗")
    assert [b["text"] for b in buttons(reminder)] == ["✅ 收到了", "❓ 还没收到"]
    services.clock.advance(days=11)
    assert (await sweep(services)).wishes_closed == 1
    closed = await _wish(harness)
    assert closed.status == life.CLOSED and closed.events[-1].note == "unconfirmed"


async def test_an_abandoned_draft_is_reminded_then_deleted(harness: BotHarness) -> None:
    await harness.send(XIAOMING, "/wish")
    services = harness.app.bot_data.services
    seq = await harness.client.last_seq()
    services.clock.advance(hours=25)
    await sweep(services)
    await _wait(harness, XIAOMING["id"], seq, "还没写完")
    services.clock.advance(hours=48)
    assert (await sweep(services)).drafts_expired == 1
    await _wait(harness, XIAOMING["id"], seq, "草稿因长时间未完成已删除")
    (answer,) = await harness.send(XIAOMING, "请问几岁可以入团")  # an ordinary question again
    assert "十四周岁" in answer["text"]


async def test_the_pool_filters_by_area_and_kind_and_flags_old_wishes(harness: BotHarness) -> None:
    from bot.services import wishes as wish_service

    await _staff(harness)
    seq = await harness.client.last_seq()
    wish = await _submit(harness)
    await _approve(harness, wish, seq)
    (listing,) = await harness.send(LI, "/wishes")
    await harness.press(LI, listing, "西城区")
    filtered = await harness.message(LI["id"], listing["message_id"])
    assert "没有待认领的心愿" in filtered["text"]
    await harness.press(LI, filtered, "高新区")
    await harness.press(LI, await harness.message(LI["id"], listing["message_id"]), "生活用品")
    shown = await harness.message(LI["id"], listing["message_id"])
    assert f"W{wish.id}" in shown["text"]
    # The filter already shown, pressed again: nothing changes, and nothing goes wrong.
    await harness.press(LI, shown, "生活用品")
    assert await harness.message(LI["id"], listing["message_id"]) == shown
    texts_now = [m.get("text") or "" for m in await harness.client.messages(LI["id"])]
    assert not any("出了点问题" in text for text in texts_now)
    now = harness.app.bot_data.services.clock.now()
    async with harness.sessions() as session:
        old = await wish_service.unclaimed_for_too_long(
            session, now=now + timedelta(days=15), after=timedelta(days=14)
        )
        assert [w.id for w in old] == [wish.id]
        assert (
            await wish_service.unclaimed_for_too_long(session, now=now, after=timedelta(days=14))
            == []
        )


async def _claimed(
    harness: BotHarness, text: str = "想要一辆自行车上学"
) -> tuple[Wish, dict[str, Any]]:
    seq = await harness.client.last_seq()
    wish = await _submit(harness, text=text)
    await _approve(harness, wish, seq)
    (listing,) = await harness.send(LI, "/wishes")
    await harness.press(LI, listing, f"认领 W{wish.id}")
    return wish, await _last(harness, LI)


async def test_wishes_lists_my_claims_first_with_their_fulfilled_buttons(
    harness: BotHarness,
) -> None:
    await _staff(harness)
    bicycle, _claimed_message = await _claimed(harness)
    seq = await harness.client.last_seq()
    books = await _submit(harness, text="想要一套课外书")
    await _approve(harness, books, seq)
    (listing,) = await harness.send(LI, "/wishes")
    assert "你正在认领的心愿（1/5）" in listing["text"]
    assert f"W{bicycle.id} 🙋 已被认领" in listing["text"]
    assert "待认领的心愿：共 1 个" in listing["text"]
    labels = [b["text"] for b in buttons(listing)]
    assert labels[:2] == [f"🎉 W{bicycle.id} 已实现", f"🙋 认领 W{books.id}"]
    # Another claimer does not see 李老师's claims.
    (theirs,) = await harness.send(DONOR, "/wishes")
    assert "你正在认领" not in theirs["text"]
    # The button starts the proof, as under the claim confirmation.
    await harness.press(LI, listing, f"W{bicycle.id} 已实现")
    seq = await harness.client.last_seq()
    await harness.send(LI, "已送到学校")
    await _wait(harness, XIAOMING["id"], seq, "已经实现啦")
    assert (await _wish(harness)).status == life.APPROVED  # the newest, books, still open
    async with harness.sessions() as session:
        done = await session.get(Wish, bicycle.id)
        assert done is not None and done.status == life.FULFILLED


async def test_not_received_tells_the_claimer_and_can_still_be_confirmed(
    harness: BotHarness,
) -> None:
    await _staff(harness)
    _wish_row, fulfilled = await _fulfilled(harness)
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, fulfilled, "还没收到")
    await _wait(harness, LI["id"], seq, "说还没收到")
    disputed = await _prompt(harness, "尽快核实")
    await harness.press(XIAOMING, disputed, "收到了")  # it arrived after all
    assert (await _wish(harness)).status == life.CLOSED


async def test_not_received_then_delivered_again_asks_for_receipt_again(
    harness: BotHarness,
) -> None:
    await _staff(harness)
    wish, claimed = await _claimed(harness)
    await harness.press(LI, claimed, "已实现")
    seq = await harness.client.last_seq()
    await harness.send(LI, "已寄出")
    fulfilled = await _wait(harness, XIAOMING["id"], seq, "已经实现啦")
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, fulfilled, "还没收到")
    # The claimer is asked to check, with buttons that work now; the committee is told,
    # by the wish's number only.
    asked = await _wait(harness, LI["id"], seq, "说还没收到")
    committee = await _wait(harness, COMMITTEE_CHAT, seq, f"W{wish.id} 的主人说还没收到")
    assert "自行车" not in committee["text"]
    await harness.press(LI, asked, "还在准备中")
    assert (await _wish(harness)).status == life.DISPUTED
    await harness.press(LI, asked, "已实现")
    seq = await harness.client.last_seq()
    await harness.send(LI, "重新寄出了，快递单号已发团委")
    again = await _wait(harness, XIAOMING["id"], seq, "重新寄出了")
    assert (await _wish(harness)).status == life.FULFILLED
    await harness.press(XIAOMING, again, "收到了")
    assert (await _wish(harness)).status == life.CLOSED


async def test_an_unsettled_dispute_is_closed_with_notice(harness: BotHarness) -> None:
    await _staff(harness)
    wish, claimed = await _claimed(harness)
    await harness.press(LI, claimed, "已实现")
    seq = await harness.client.last_seq()
    await harness.send(LI, "已寄出")
    fulfilled = await _wait(harness, XIAOMING["id"], seq, "已经实现啦")
    services = harness.app.bot_data.services
    services.clock.advance(days=13)  # "not received" late: the 14 days count from then
    await harness.press(XIAOMING, fulfilled, "还没收到")
    services.clock.advance(days=2)
    assert (await sweep(services)).wishes_closed == 0
    seq = await harness.client.last_seq()
    services.clock.advance(days=13)
    assert (await sweep(services)).wishes_closed == 1
    owner = await _wait(harness, XIAOMING["id"], seq, "已关闭")
    assert "核实没有在期限内完成" in owner["text"]  # not "receipt was not confirmed"
    await _wait(harness, LI["id"], seq, f"W{wish.id} 的主人没有确认收到")
    await _wait(harness, COMMITTEE_CHAT, seq, "期限内没有解决，已自动关闭")
    assert (await _wish(harness)).status == life.CLOSED


async def test_progress_keeps_a_claim_and_a_release_tells_the_claimer(harness: BotHarness) -> None:
    await _staff(harness)
    _wish_row, claimed = await _claimed(harness)
    services = harness.app.bot_data.services
    services.clock.advance(days=8)
    await harness.press(LI, claimed, "还在准备中")
    services.clock.advance(days=3)  # 11 days after the claim, 3 after the progress
    assert (await sweep(services)).wishes_released == 0
    services.clock.advance(days=5)  # 8 days after the progress: a reminder, no release
    seq = await harness.client.last_seq()
    assert (await sweep(services)).wishes_released == 0
    services.clock.advance(days=3)  # 11 days after the progress
    assert (await sweep(services)).wishes_released == 1
    await _wait(harness, LI["id"], seq, "你的认领已取消")


async def test_editing_from_an_old_keyboard_and_stray_input_re_ask(harness: BotHarness) -> None:
    review = await _write(harness)
    await harness.press(XIAOMING, review, "修改")
    fields = await _last(harness, XIAOMING)
    await harness.press(XIAOMING, fields, "年龄段")
    await harness.press(XIAOMING, fields, "估计价值")  # the same, now stale, keyboard
    assert "年龄段" in (await _last(harness, XIAOMING))["text"]
    await harness.press(XIAOMING, review, "提交")  # an old review screen mid-edit
    assert "年龄段" in (await _last(harness, XIAOMING))["text"]
    sent = await harness.client.send_sticker(XIAOMING)
    await harness.settled(sent["update_id"])
    assert "年龄段" in (await _last(harness, XIAOMING))["text"]


async def test_amounts_with_multipliers_and_forged_areas_are_refused(harness: BotHarness) -> None:
    await harness.send(XIAOMING, "/wish")
    photo = await _reply(harness, "想要一辆自行车", "照片")
    await harness.press(XIAOMING, photo, "跳过")
    await harness.press(XIAOMING, await _prompt(harness, "哪一类"), "生活用品")
    await harness.press(XIAOMING, await _prompt(harness, "为谁许的"), "我自己")
    await harness.press(XIAOMING, await _prompt(harness, "年龄段"), "14–17 岁")
    region = await _prompt(harness, "哪个区域")
    assert "不指定区域" in [b["text"] for b in buttons(region)]
    await harness.press_data(XIAOMING, region["message_id"], "v1:wd:region:" + "x" * 40)
    assert "哪个区域" in (await _last(harness, XIAOMING))["text"]  # asked again
    await harness.press(XIAOMING, region, "不指定区域")
    await _reply(harness, "跳过学校", "价值")
    refused = await _reply(harness, "5千", "1 到 500")
    assert "价值" not in refused["text"] or "整数" in refused["text"]
    review = await _reply(harness, "400元", "请确认你的心愿")
    assert "400 元" in review["text"]


async def test_an_amount_in_chinese_numerals_is_taken(harness: BotHarness) -> None:
    """Typed "大概一百块吧", a young person was asked for "a whole amount, e.g. 300"; words
    that give no amount still are."""
    await _reply(harness, "/wish", "描述你的心愿")
    await harness.press(XIAOMING, await _reply(harness, "想要一套课外书", "照片"), "跳过")
    await harness.press(XIAOMING, await _prompt(harness, "哪一类"), "图书")
    await harness.press(XIAOMING, await _prompt(harness, "为谁许的"), "我自己")
    await harness.press(XIAOMING, await _prompt(harness, "年龄段"), "14–17 岁")
    await harness.press(XIAOMING, await _prompt(harness, "哪个区域"), "高新区")
    await _reply(harness, "西山社区", "价值")
    await _reply(harness, "不太清楚，挺贵的", "1 到 500")  # no amount: asked again
    review = await _reply(harness, "大概一百块吧", "请确认你的心愿")
    assert "估计价值：100 元" in review["text"], review["text"]
    await harness.press(XIAOMING, review, "提交")
    assert (await _wish(harness)).value_yuan == 100


async def test_the_pool_masks_names_and_details_before_cutting(harness: BotHarness) -> None:
    await _staff(harness)
    text = "我叫张小明，" + "想" * 100 + "电话13812345678"
    seq = await harness.client.last_seq()
    wish = await _submit(harness, text=text)
    card = await _wait(harness, ZHANG["id"], seq, f"W{wish.id}")
    assert "个人信息" in card["text"] and "⚠️" in card["text"]
    await harness.press(ZHANG, card, "通过并公开")
    (listing,) = await harness.send(LI, "/wishes")
    assert "张小明" not in listing["text"] and "1381234" not in listing["text"]
    # Filtering by the district finds the wish made in one of its streets.
    await harness.press(LI, listing, "高新区")
    assert f"W{wish.id}" in (await harness.message(LI["id"], listing["message_id"]))["text"]


async def test_my_with_many_wishes_stays_valid_html(harness: BotHarness) -> None:
    # One more than /my lists; "&" grows fivefold in HTML, so not all ten fit either.
    for n in range(11):
        await _submit(harness, text=f"第{n}个心愿" + "&" * 78)
    (mine,) = await harness.send(XIAOMING, "/my")  # the sandbox checks the HTML
    assert "我的微心愿" in mine["text"] and len(mine["text"]) < 4096
    # Whole entries only, each with its button, and where to find the rest.
    shown = len(buttons(mine))
    assert 5 < shown < 10 and f"只列出了最近的 {shown} 项" in mine["text"]
    assert mine["text"].count("心愿") == shown + 1


async def test_a_question_typed_into_a_wish_by_mistake_is_answered_from_the_photo_step(
    harness: BotHarness,
) -> None:
    """Someone taps "make a wish" by mistake and types a question: the next step offers
    to ask it instead. The FAQ answers it, the draft is gone, and the next text is a
    question again, not part of a wish."""
    await _reply(harness, "/wish", "描述你的心愿")
    first_photo = await _reply(harness, "团费怎么交？", "照片")
    assert [b["text"] for b in buttons(first_photo)] == ["跳过", "↩️ 其实我是想提问"]
    await harness.press(XIAOMING, first_photo, "其实我是想提问")
    await _prompt(harness, "团费按月缴纳")  # the FAQ's answer
    async with harness.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Wish)) == 0
        asked = await session.scalar(select(Question.text).order_by(Question.id.desc()))
    assert asked == "团费怎么交？"
    await _reply(harness, "多大年龄可以申请入团？", "年满十四周岁")
    # The button of a draft that has gone on (or of an older draft) does nothing new.
    await _reply(harness, "/wish", "描述你的心愿")
    photo = await _reply(harness, "想要一辆自行车上学", "照片")
    old_button = button_data(first_photo, "其实我是想提问")
    await harness.press_data(XIAOMING, first_photo["message_id"], old_button)
    async with harness.sessions() as session:  # shown for another text: nothing asked
        assert await session.scalar(select(func.count()).select_from(Question)) == 2
        draft = await session.get(Conversation, XIAOMING["id"])
    assert draft is not None and draft.data["fields"]["text"] == "想要一辆自行车上学"
    await harness.press(XIAOMING, photo, "跳过")
    before = len(await harness.client.messages(XIAOMING["id"]))
    await harness.press(XIAOMING, photo, "其实我是想提问")
    latest = (await harness.client.messages(XIAOMING["id"]))[before:]
    assert [m["text"] for m in latest if m["from_bot"]] == [
        (await _prompt(harness, "哪一类"))["text"]
    ]  # the current step again, and nothing asked
    async with harness.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Question)) == 2


async def test_a_removed_cadres_claim_comes_back_and_the_young_person_is_told(
    harness: BotHarness,
) -> None:
    await _staff(harness)
    wish, progress = await _claimed(harness)
    async with unit_of_work(harness.sessions) as session:  # voy cadre remove 2002
        await cadres.remove(session, telegram_id=LI["id"])
    refused = await harness.press(LI, progress, "还在准备中")
    assert refused["show_alert"]
    seq = await harness.client.last_seq()
    await sweep(harness.app.bot_data.services)
    notice = await _wait(harness, XIAOMING["id"], seq, "不再负责")  # not an earlier notice
    assert f"W{wish.id}" in notice["text"]
    async with harness.sessions() as session:
        back = await session.get(Wish, wish.id)
    assert back is not None and back.status == life.APPROVED


async def test_a_long_text_asked_from_a_draft_is_refused_whole_not_cut(
    harness: BotHarness,
) -> None:
    await harness.send(XIAOMING, "/wish")
    (photo,) = await harness.send(XIAOMING, "想要一个篮球")
    await harness.press(XIAOMING, photo, "跳过")
    long = "请问" + "团" * harness.settings.max_text_length
    (kept,) = await harness.send(XIAOMING, long)
    await harness.press(XIAOMING, kept, "问这个问题")
    replies = [m["text"] for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]]
    assert any("超过了" in text for text in replies[-2:])  # told, as any long question
    async with harness.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Question)) == 0


async def test_changing_the_photo_adds_its_caption_once(harness: BotHarness) -> None:
    await harness.send(XIAOMING, "/wish")
    await harness.send(XIAOMING, "想要一个新书包")
    mark = await harness.inbound_mark()
    sent = await harness.client.send_photo(XIAOMING, caption="蓝色的")
    await harness.settled(sent["update_id"], after=mark)
    for label in ("学习用品", "我自己", "14–17 岁", "不指定", "跳过"):
        await harness.press(XIAOMING, await _last(harness, XIAOMING), label)
    await harness.send(XIAOMING, "100")
    await harness.press(XIAOMING, await _last(harness, XIAOMING), "修改")
    await harness.press(XIAOMING, await _last(harness, XIAOMING), "照片")
    mark = await harness.inbound_mark()
    sent = await harness.client.send_photo(XIAOMING, caption="蓝色的")
    await harness.settled(sent["update_id"], after=mark)
    async with harness.sessions() as session:
        draft = await session.get(Conversation, XIAOMING["id"])
    assert draft is not None and draft.data["step"] == "review"
    assert draft.data["fields"]["text"] == "想要一个新书包\n蓝色的"
