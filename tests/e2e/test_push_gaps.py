"""Scheduled pushes in the cases an audit found wrong, through the sandbox and the real
bot: a question held by a cadre who cannot answer (blocked the bot, removed), reminders
for urgent questions and for ones taken from the pool with ✍️, a key suggestion pressed
twice, a broadcast at night, people who used /forget; and what a review of those fixes
found (a call for help handed on as an ordinary card, a question handed back to the
cadre it was escalated from, a requeued answer dropped as a copy of another). Each
docstring says what went wrong before the fix; each test failed then."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from telegram.ext import MessageHandler, filters

from bot.services import cadres, lifecycle
from bot.sweeper import sweep
from storage.db import unit_of_work
from storage.models import INBOUND_FAILED, Cadre, InboundMessage
from storage.outbox import OutboxMessage
from storage.questions import Question
from tests.support import XIAOMING, BotHarness

TZ = ZoneInfo("Asia/Shanghai")
WANG = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}
LI = {"id": 2002, "first_name": "李老师", "language_code": "zh-hans"}
ZHANG = {"id": 2003, "first_name": "张老师", "language_code": "zh-hans"}
COMMITTEE = -1001000000001
# Employment in the Hi-Tech Zone: 李老师 (district-c) and 张老师 (the city) cover it; on a
# Wednesday neither is on duty, both have no load, so 李老师 (lower id) gets it.
QUESTION = "高新区哪里有大学生实习岗位"


async def _setup(harness: BotHarness) -> None:
    for cadre in (WANG, LI, ZHANG):
        await harness.client.send_text(cadre, "/start")
    picker = (await harness.send(XIAOMING, "/start"))[-1]
    await harness.press(XIAOMING, picker, "高新区")


async def _question(harness: BotHarness, question_id: int | None = None) -> Question:
    async with harness.sessions() as session:
        if question_id is not None:
            question = await session.get(Question, question_id)
        else:
            question = await session.scalar(select(Question).order_by(Question.id.desc()))
    assert question is not None
    return question


async def _holder(harness: BotHarness) -> int | None:
    """The Telegram id of the cadre the newest question is assigned to."""
    question = await _question(harness)
    if question.assigned_cadre_id is None:
        return None
    async with harness.sessions() as session:
        cadre = await session.get(Cadre, question.assigned_cadre_id)
    assert cadre is not None
    return cadre.telegram_id


async def _wait(harness: BotHarness, chat: int, seq: int, text: str) -> dict[str, Any]:
    return await harness.client.wait_for_bot_message(
        chat, after_seq=seq, timeout=10, predicate=lambda m: text in (m.get("text") or "")
    )


async def _rows(harness: BotHarness, **where: Any) -> list[OutboxMessage]:
    async with harness.sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(await session.scalars(query))


async def _settle_outbox(harness: BotHarness, timeout: float = 10.0) -> None:
    """Wait until nothing due is left pending or sending."""
    async with asyncio.timeout(timeout):
        while True:
            now = harness.app.bot_data.services.clock.now()
            rows = await _rows(harness)
            if not [r for r in rows if r.state in ("pending", "sending") and r.due_at <= now]:
                return
            await asyncio.sleep(0.05)


async def _texts_to(harness: BotHarness, chat: int) -> list[str]:
    return [m.get("text") or "" for m in await harness.client.messages(chat) if m["from_bot"]]


async def test_a_question_held_by_a_cadre_who_blocked_the_bot_goes_to_another(
    harness: BotHarness,
) -> None:
    """李老师 blocked the bot (left the job, lost the phone). The bot learns it only when
    the card bounces with 403: it marks him unreachable, but the question stays assigned
    to him. Nobody who can act ever sees it until the SLA escalation 48 hours later:
    not 张老师 (who also covers it), not the committee's pool; the 24-hour reminder
    bounces too. A follow-up from the young person would re-route it at once
    (questions.follow_up checks reachability), so the code knows such a ticket must
    move; the bounce itself does not move it."""
    await _setup(harness)
    services = harness.app.bot_data.services
    await harness.client.block(LI["id"])
    await harness.send(XIAOMING, QUESTION)
    assert await _holder(harness) == LI["id"]
    await _settle_outbox(harness)
    (card_row,) = await _rows(harness, kind="card", chat_id=LI["id"])
    assert card_row.state == "unreachable"  # the bot knows the card reached nobody

    # A day later (reminder time) and a sweep: the question should be with someone
    # who can see it by now.
    services.clock.advance(hours=25)
    await sweep(services)
    await _settle_outbox(harness)
    reminders = [(r.chat_id, r.state) for r in await _rows(harness, kind="sla_reminder")]
    zhang_saw = any(QUESTION in t for t in await _texts_to(harness, ZHANG["id"]))
    committee_saw = any(QUESTION in t for t in await _texts_to(harness, COMMITTEE))
    assert zhang_saw or committee_saw, (
        f"25 h after asking, question still held by unreachable cadre "
        f"{await _holder(harness)}; nobody who can answer has seen it "
        f"(reminder rows: {reminders})"
    )


async def test_a_removed_cadres_question_moves_on_without_his_reminder(
    harness: BotHarness,
) -> None:
    """`voy cadre remove 2002` (or an org reload without him): wishes he claimed are
    released at the next sweep (README), but his open questions stay assigned to him.
    The 24-hour SLA reminder still goes to the former cadre, who can no longer answer
    (the answer is refused as he is no longer an active cadre), and the question moves
    only at the 48-hour escalation."""
    await _setup(harness)
    services = harness.app.bot_data.services
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, QUESTION)
    await _wait(harness, LI["id"], seq, "问题 #")
    async with unit_of_work(harness.sessions) as session:
        await cadres.remove(session, telegram_id=LI["id"])

    services.clock.advance(minutes=5)
    await sweep(services)  # the next sweep, as for his wishes
    services.clock.advance(hours=25)
    await _settle_outbox(harness)
    reminders_to_li = [t for t in await _texts_to(harness, LI["id"]) if "提醒" in t]
    holder = await _holder(harness)
    assert not reminders_to_li and holder != LI["id"], (
        f"removed cadre still holds the question ({holder=}) and was sent "
        f"{len(reminders_to_li)} SLA reminder(s): {reminders_to_li}"
    )


async def test_a_key_suggestion_pressed_twice_tells_the_young_person_once(
    harness: BotHarness,
) -> None:
    """⭐ stays on the card after it is pressed; a second press (the cadre again, or an
    admin from /overdue) fires another mark_key event, and the notice's dedupe key
    (notice:{id}:{key}:{len(events)}) is new, so the young person is told twice."""
    await _setup(harness)
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, QUESTION)
    card = await _wait(harness, LI["id"], seq, "问题 #")
    await harness.press(LI, card, "重点建议")
    await _wait(harness, XIAOMING["id"], seq, "重点建议")
    await harness.press(LI, card, "重点建议")
    await asyncio.sleep(0.5)
    await _settle_outbox(harness)
    notices = [t for t in await _texts_to(harness, XIAOMING["id"]) if "重点建议" in t]
    assert len(notices) == 1, notices


async def test_a_night_broadcast_keeps_its_pace_and_an_urgent_card_goes_first(
    sandbox: Any, database_url: str
) -> None:
    """A broadcast's rows are spaced at the send rate so that a card or an answer
    scheduled meanwhile "goes out next instead of waiting behind thousands of
    announcements" (bot/broadcast_notify.py). Quiet hours defeat that: every youth row
    met inside them gets due_at = the end of quiet hours, the same instant for all.
    At 08:00 the whole backlog is due at once, ahead of any card made after 08:00,
    including an urgent (safeguarding) card to the committee: with a city-sized
    broadcast (50,000 rows at 20/s) that card waits some 40 minutes. Here at a small
    scale: 40 recipients, 10 sends a second."""
    from bot import broadcast_notify
    from bot.services import broadcasts
    from storage.broadcasts import Broadcast
    from storage.models import User
    from tests.conftest import run_harness

    rate = 10.0
    async for harness in run_harness(sandbox, database_url, outbox_rate_per_s=rate):
        services = harness.app.bot_data.services
        await _setup(harness)
        youths = [
            {"id": 5000 + i, "first_name": f"青年{i}", "language_code": "zh-hans"}
            for i in range(40)
        ]
        for youth in youths:
            await harness.send(youth, "/start")
        await _settle_outbox(harness)
        # 23:00: an admin's broadcast to everyone.
        services.clock.set(datetime(2026, 11, 18, 23, 0, tzinfo=TZ))
        async with unit_of_work(harness.sessions) as session:
            admin = await session.scalar(select(User).where(User.telegram_id == WANG["id"]))
            assert admin is not None
            draft = Broadcast(
                author_user_id=admin.id,
                text="本周六青年之家开放日",
                region_codes=[],
                topic_codes=[],
                state=broadcasts.DRAFT,
            )
            session.add(draft)
            await session.flush()
            found = await broadcasts.confirm(session, broadcast=draft, now=services.clock.now())
            assert len(found) >= 40
            await broadcast_notify.enqueue(
                session, draft, found, settings=services.settings, now=services.clock.now()
            )
        spread = {r.due_at for r in await _rows(harness, kind="broadcast")}
        assert len(spread) == len(found)  # spaced at the rate, as designed
        # The deliverer meets them inside quiet hours and defers them.
        async with asyncio.timeout(15):
            while any(  # noqa: ASYNC110 - polling the database
                r.due_at < datetime(2026, 11, 19, 8, 0, tzinfo=TZ)
                for r in await _rows(harness, kind="broadcast")
            ):
                await asyncio.sleep(0.05)
        deferred = {r.due_at for r in await _rows(harness, kind="broadcast")}
        # 08:00:01: a young person writes words that raise an urgent card to the committee.
        services.clock.set(datetime(2026, 11, 19, 8, 0, 1, tzinfo=TZ))
        seq = await harness.client.last_seq()
        await harness.send(XIAOMING, "我不想活了")
        urgent = await _wait(harness, COMMITTEE, seq, "紧急关注")
        sent_before = [r for r in await _rows(harness, kind="broadcast", state="sent")]
        assert len(deferred) > 1 and len(sent_before) < len(found) // 2, (
            f"all {len(found)} announcements deferred to the same instant "
            f"({sorted(deferred)}); the urgent card reached the committee only after "
            f"{len(sent_before)} of them ({len(sent_before) / rate:.0f} s at {rate:g}/s)"
        )
        del urgent


async def test_an_urgent_question_gets_the_sla_reminder(harness: BotHarness) -> None:
    """A call for help is routed to a cadre like any question, and the urgent card goes
    to that cadre and the committee (notify.urgent). But only notify.card and
    notify.follow_up_card schedule the 24-hour SLA reminder: an ordinary question's
    cadre is reminded after a day, an urgent one's never (it only escalates at 48 h)."""
    await _setup(harness)
    services = harness.app.bot_data.services
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "我不想活了，每天都很痛苦")
    holder = await _holder(harness)
    assert holder is not None
    await _wait(harness, holder, seq, "紧急关注")
    services.clock.advance(hours=25)
    await _settle_outbox(harness)
    reminders = [t for t in await _texts_to(harness, holder) if "提醒" in t]
    assert reminders, (
        f"urgent question held by {holder}, unanswered for 25 h: no reminder scheduled "
        f"(outbox kinds: {[r.kind for r in await _rows(harness)]})"
    )


async def test_a_broadcast_leaves_out_people_who_used_forget(
    harness: BotHarness,
) -> None:
    """/forget keeps the user row with a placeholder Telegram id (-(2**62) + id), an
    empty region and unreachable_at cleared. broadcasts.recipients() for "all regions"
    filters on neither, so every forgotten person is counted in the preview's number of
    recipients and gets an outbox row addressed to the placeholder id: Telegram answers
    400 "chat not found", and the author's "finished" report counts each as failed."""
    from bot.services import broadcasts
    from bot.services.data_rights import forgotten_telegram_id

    await _setup(harness)
    replies = await harness.send(XIAOMING, "/forget")
    explain = next(m for m in replies if "删除我的数据" in (m.get("text") or ""))
    await harness.press(XIAOMING, explain, "确认删除")
    async with harness.sessions() as session:
        found = await broadcasts.recipients(session, region_codes=[], topic_codes=[])
    ghosts = [r for r in found if r.telegram_id < 0]
    assert not ghosts, (
        f"forgotten people among the recipients of an all-regions broadcast: {ghosts} "
        f"(placeholder of user 1 would be {forgotten_telegram_id(1)})"
    )


async def test_taking_a_pool_question_with_the_answer_button_schedules_its_reminder(
    harness: BotHarness,
) -> None:
    """In the committee's group a covering cadre presses ✍️ on a pool card: the bot asks
    in private and claim_or_check() assigns the question to him (it leaves /pool). The
    "claim" button would send him the card and schedule the 24-hour reminder
    (notify.card); ✍️ does neither. If he gets distracted, the ✍️ wait lapses after
    VOY_PENDING_STEP_MINUTES and nothing reminds him; the question sits assigned, out
    of the pool, until the 48-hour escalation."""
    from datetime import timedelta

    from sqlalchemy import update

    await _setup(harness)
    services = harness.app.bot_data.services
    now = services.clock.now()
    async with unit_of_work(harness.sessions) as session:
        await session.execute(update(Cadre).values(away_until=now + timedelta(days=7)))
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, QUESTION)
    pool = await _wait(harness, COMMITTEE, seq, "待领取")
    async with unit_of_work(harness.sessions) as session:  # 李老师 is back
        await session.execute(
            update(Cadre).where(Cadre.telegram_id == LI["id"]).values(away_until=None)
        )
    seq = await harness.client.last_seq()
    await harness.press(LI, pool, "✍️ 答复", chat_id=COMMITTEE)
    await _wait(harness, LI["id"], seq, "请直接写下")
    assert await _holder(harness) == LI["id"]
    services.clock.advance(hours=25)
    await _settle_outbox(harness)
    reminders = [t for t in await _texts_to(harness, LI["id"]) if "提醒" in t]
    assert reminders, (
        "question taken with ✍️ from the pool, unanswered for 25 h, no reminder "
        f"(outbox kinds: {[r.kind for r in await _rows(harness)]})"
    )


async def test_a_question_escalated_away_from_a_cadre_is_not_rerouted_back_to_him(
    harness: BotHarness,
) -> None:
    """李老师 let the question lapse for 48 hours; the escalation moved it to 张老师
    (excluding everyone who held it, as the pool's re-offer does: "not back to who let
    it go"). 张老师 is then removed from the org file. The new `_unheld` sweep routes it
    again *without* that exclusion, so it lands straight back with 李老师, who ignored
    it for two days, instead of the committee's pool; the escalation counter does not
    move either, so the question can cycle between the two."""
    await _setup(harness)
    services = harness.app.bot_data.services
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, QUESTION)
    await _wait(harness, LI["id"], seq, "问题 #")
    services.clock.advance(hours=49)
    assert (await sweep(services)).escalated == 1
    assert await _holder(harness) == ZHANG["id"]

    async with unit_of_work(harness.sessions) as session:
        await cadres.remove(session, telegram_id=ZHANG["id"])
    services.clock.advance(minutes=5)
    report = await sweep(services)
    assert report.rerouted == 1
    holder = await _holder(harness)
    assert holder != LI["id"], (
        "the question went back to 李老师, the cadre the SLA escalation took it from"
    )


async def test_an_urgent_question_rerouted_from_a_removed_cadre_stays_urgent(
    harness: BotHarness,
) -> None:
    """A call for help goes to a cadre with the urgent card (紧急关注, the category, the
    words that raised it). When that cadre is removed, the next cadre must get it as a
    call for help too (it once came as an ordinary 📨 card)."""
    await _setup(harness)
    services = harness.app.bot_data.services
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "我真的不想活了，每天都很痛苦")
    first = await _wait(harness, LI["id"], seq, "紧急关注")
    assert first is not None and (await _question(harness)).urgent

    async with unit_of_work(harness.sessions) as session:
        await cadres.remove(session, telegram_id=LI["id"])
    before = max(m["message_id"] for m in await harness.client.messages(ZHANG["id"]))
    services.clock.advance(minutes=5)
    assert (await sweep(services)).rerouted == 1
    assert await _holder(harness) == ZHANG["id"]
    await _settle_outbox(harness)
    to_zhang = [
        m.get("text") or ""
        for m in await harness.client.messages(ZHANG["id"])
        if m["from_bot"] and m["message_id"] > before
    ]
    assert to_zhang, "张老师 got nothing"
    assert any("紧急关注" in t for t in to_zhang), (
        f"the new holder of a call for help got an ordinary card: {to_zhang}"
    )


async def test_a_requeued_answer_to_one_card_is_not_dropped_for_the_same_words_on_another(
    sandbox: Any, database_url: str
) -> None:
    """A cadre's answer to card A fails (a bug); the cadre then answers card B with the
    same standard reply. Requeued after the fix, the answer to A is no copy of the one
    to B (it replied to another card) and answers A; it was once dropped as one."""
    from tests.conftest import run_harness

    async for harness in run_harness(sandbox, database_url, requeue_interval_s=0.2):
        await _requeued_answer(harness)


async def _requeued_answer(harness: BotHarness) -> None:
    from datetime import timedelta

    from tests.e2e.test_requeue import _break, _explode

    await _setup(harness)
    now = harness.app.bot_data.services.clock.now()
    async with unit_of_work(harness.sessions) as session:  # both questions go to 李老师
        await session.execute(
            update(Cadre)
            .where(Cadre.telegram_id == ZHANG["id"])
            .values(away_until=now + timedelta(days=7))
        )
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, QUESTION)
    card_a = await _wait(harness, LI["id"], seq, "问题 #")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "高新区的青年创业沙龙怎么报名")
    card_b = await _wait(harness, LI["id"], seq, "问题 #")
    async with harness.sessions() as session:
        ids = list(await session.scalars(select(Question.id).order_by(Question.id)))
    a_id, b_id = ids[-2], ids[-1]
    assert card_a["message_id"] != card_b["message_id"]

    canned = "请到高新区青年之家咨询，电话 12355。"
    bug = _break(harness, MessageHandler(filters.REPLY & filters.Regex("青年之家"), _explode))
    sent = await harness.client.send_text(LI, canned, reply_to=card_a["message_id"])
    assert (await harness.settled(sent["update_id"])).status == INBOUND_FAILED
    harness.app.remove_handler(bug, group=-1)  # the fix is deployed

    await harness.send(LI, canned, reply_to=card_b["message_id"])  # answers question B
    assert (await _question(harness, b_id)).status == lifecycle.ANSWERED

    # The operator requeues the failed update (as `voy updates retry` does).
    from bot.services import inbox

    async with unit_of_work(harness.sessions) as session:
        row = await session.scalar(
            select(InboundMessage).where(InboundMessage.update_id == sent["update_id"])
        )
        assert row is not None
        queued = await inbox.requeue(session, ids=[row.id])
    assert queued.requeued == [row.id]
    for _ in range(250):
        async with harness.sessions() as session:
            row = await session.scalar(
                select(InboundMessage).where(InboundMessage.update_id == sent["update_id"])
            )
        assert row is not None
        if row.status == "handled":
            break
        await asyncio.sleep(0.02)
    assert row.status == "handled", row.status
    await _settle_outbox(harness)
    await asyncio.sleep(0.5)
    assert (await _question(harness, a_id)).status == lifecycle.ANSWERED, (
        "the requeued answer to question A was dropped as a copy of the answer to B"
    )
