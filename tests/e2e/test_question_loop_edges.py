"""Edge cases of the question loop found in review, each driven through the sandbox."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.services import lifecycle, questions
from bot.sweeper import sweep
from storage.db import unit_of_work
from storage.models import Cadre, InboundMessage, User
from storage.outbox import OutboxMessage
from storage.privacy import PersonalDataAccess
from storage.questions import Conversation, Question
from tests.support import XIAOMING, BotHarness, buttons, texts

WANG = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}
LI = {"id": 2002, "first_name": "李老师", "language_code": "zh-hans"}
ZHANG = {"id": 2003, "first_name": "张老师", "language_code": "zh-hans"}
COMMITTEE = -1001000000001


async def _setup(harness: BotHarness, region: tuple[str, ...] = ("高新区",)) -> None:
    for cadre in (WANG, LI, ZHANG):
        await harness.client.send_text(cadre, "/start")
    picker = (await harness.send(XIAOMING, "/start"))[-1]
    for label in region:
        await harness.press(XIAOMING, picker, label)
        picker = await harness.message(XIAOMING["id"], picker["message_id"])


async def _question(harness: BotHarness) -> Question:
    async with harness.sessions() as session:
        question = await session.scalar(select(Question).order_by(Question.id.desc()))
    assert question is not None
    return question


async def _wait(harness: BotHarness, chat: int, seq: int, text: str) -> dict[str, Any]:
    return await harness.client.wait_for_bot_message(
        chat, after_seq=seq, timeout=10, predicate=lambda m: text in (m.get("text") or "")
    )


def card_ref(card: dict[str, Any]) -> int:
    """The question id a card is about (its "问题 #N")."""
    found = re.search(r"问题 #(\d+)", card["text"])
    assert found is not None, card["text"]
    return int(found.group(1))


async def _bot_messages(harness: BotHarness, chat_id: int) -> int:
    return len([m for m in await harness.client.messages(chat_id) if m["from_bot"]])


async def _ask(harness: BotHarness, text: str, cadre: dict[str, Any] = LI) -> dict[str, Any]:
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, text)
    return await _wait(harness, cadre["id"], seq, "问题 #")


async def test_an_over_long_answer_is_refused_not_lost(harness: BotHarness) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    (reply,) = await harness.send(LI, "长" * 3500, reply_to=card["message_id"])
    assert "超过了 3000 字" in reply["text"]
    assert (await _question(harness)).status == lifecycle.ASSIGNED  # still waiting for an answer


async def test_safeguarding_comes_before_the_length_limit(harness: BotHarness) -> None:
    await _setup(harness)
    (reply,) = await harness.send(XIAOMING, "我真的不想活了。" + "很难受" * 900)
    assert "12355" in reply["text"]
    assert (await _question(harness)).urgent


async def test_a_follow_up_that_suggests_danger_raises_an_urgent_card(harness: BotHarness) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    seq = await harness.client.last_seq()
    await harness.send(LI, "在青年之家报名。", reply_to=card["message_id"])
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    await harness.press(XIAOMING, answer, "继续追问")
    seq = await harness.client.last_seq()
    replies = await harness.send(XIAOMING, "报不上名，我不想活了")
    assert any("12355" in m["text"] for m in replies)
    urgent = await _wait(harness, COMMITTEE, seq, "紧急关注")
    assert "我不想活了" in urgent["text"]  # the words that raised it, not only the question
    assert (await _question(harness)).urgent
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "真的撑不下去了，想自杀", reply_to=answer["message_id"])
    again = await _wait(harness, COMMITTEE, seq, "紧急关注")  # a second cry alerts again
    assert "想自杀" in again["text"]


async def test_staff_lists_mask_before_cutting(harness: BotHarness) -> None:
    await _setup(harness)
    await _ask(harness, "高新区的实习岗位在哪里报名？我的电话是13812345678")
    (listing,) = await harness.send(LI, "/queue")
    assert "138" not in listing["text"] and "手机号已隐藏" in listing["text"]


async def test_a_young_persons_reply_to_the_answer_is_a_follow_up(harness: BotHarness) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    seq = await harness.client.last_seq()
    await harness.send(LI, "在青年之家报名。", reply_to=card["message_id"])
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    seq = await harness.client.last_seq()
    replies = await harness.send(XIAOMING, "要带身份证吗？", reply_to=answer["message_id"])
    assert "追问已转给团干部" in replies[-1]["text"]
    follow = await _wait(harness, LI["id"], seq, "追问")
    assert "身份证" in follow["text"]
    # A second follow-up while the cadre is on it is accepted too.
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "几点开始？", reply_to=answer["message_id"])
    second = await _wait(harness, LI["id"], seq, "几点开始")
    assert "追问" in second["text"]
    assert [m.author for m in (await _question(harness)).thread] == [
        "youth",
        "cadre",
        "youth",
        "youth",
    ]


async def test_passing_on_drops_the_old_cadres_reminder(harness: BotHarness) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区哪里有大学生实习岗位")
    await harness.press(LI, card, "转给同事")
    choices = [m for m in await harness.client.messages(LI["id"]) if m["from_bot"]][-1]
    await harness.press(LI, choices, "张老师")
    question = await _question(harness)
    async with harness.sessions() as session:
        pending = list(
            await session.scalars(
                select(OutboxMessage.chat_id).where(
                    OutboxMessage.ref_id == question.id,
                    OutboxMessage.kind == "sla_reminder",
                    OutboxMessage.state == "pending",
                )
            )
        )
    assert pending == [ZHANG["id"]]


async def test_forwarded_questions_can_be_closed_and_auto_resolve(harness: BotHarness) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区哪里有大学生实习岗位")
    seq = await harness.client.last_seq()
    await harness.press(LI, card, "转交部门")
    await harness.send(LI, "区人社局")
    notice = await _wait(harness, XIAOMING["id"], seq, "转交")
    assert [b["text"] for b in buttons(notice)] == ["✅ 已解决", "❓ 继续追问"]
    harness.app.bot_data.services.clock.advance(days=8)
    assert (await sweep(harness.app.bot_data.services)).auto_resolved == 1
    assert (await _question(harness)).status == lifecycle.RESOLVED


async def test_a_committee_admin_answers_from_the_pool_without_being_a_cadre(
    harness: BotHarness,
) -> None:
    await _setup(harness, ("东城区", "新华街道"))
    now = harness.app.bot_data.services.clock.now()
    async with unit_of_work(harness.sessions) as session:
        await session.execute(update(Cadre).values(away_until=now + timedelta(days=7)))
        await session.execute(update(Cadre).where(Cadre.telegram_id == 2001).values(active=False))
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "我家楼下的路灯坏了好几天了")
    pool = await _wait(harness, COMMITTEE, seq, "待领取")
    # /pool gives the admin (not a cadre, so not one to take it) the card to answer.
    (listing,) = await harness.send(WANG, "/pool")
    assert [b["text"] for b in buttons(listing)] == [f"📨 #{card_ref(pool)}"]
    seq = await harness.client.last_seq()
    await harness.press(WANG, listing, f"#{card_ref(pool)}")
    private_card = await _wait(harness, WANG["id"], seq, f"问题 #{card_ref(pool)}")
    assert "✍️ 答复" in [b["text"] for b in buttons(private_card)]
    # Pressed in the group: the bot asks in the admin's private chat, where it reads text.
    seq = await harness.client.last_seq()
    pressed = await harness.press(WANG, pool, "✍️ 答复", chat_id=COMMITTEE)
    assert pressed["show_alert"] and "私聊" in pressed["text"]
    prompt = await _wait(harness, WANG["id"], seq, "请直接写下对问题")
    assert f"#{card_ref(pool)}" in prompt["text"]
    group_texts = [m.get("text") or "" for m in await harness.client.messages(COMMITTEE)]
    assert not any("请直接写下" in text for text in group_texts)
    seq = await harness.client.last_seq()
    await harness.send(WANG, "已经联系街道，这周修好。")
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    assert "这周修好" in answer["text"]


async def test_answer_pressed_in_the_group_by_someone_the_bot_cannot_reach(
    harness: BotHarness,
) -> None:
    await _setup(harness, ("东城区", "新华街道"))
    now = harness.app.bot_data.services.clock.now()
    async with unit_of_work(harness.sessions) as session:
        await session.execute(update(Cadre).values(away_until=now + timedelta(days=7)))
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "我家楼下的路灯坏了好几天了")
    pool = await _wait(harness, COMMITTEE, seq, "待领取")
    await harness.client.block(WANG["id"])
    pressed = await harness.press(WANG, pool, "✍️ 答复", chat_id=COMMITTEE)
    assert pressed["show_alert"] and "/start" in pressed["text"]
    async with harness.sessions() as session:  # nothing is left waiting in private
        assert await session.get(Conversation, WANG["id"]) is None


async def test_escalation_goes_to_a_new_cadre_then_to_the_pool(harness: BotHarness) -> None:
    await _setup(harness)
    await _ask(harness, "高新区哪里有大学生实习岗位")
    services = harness.app.bot_data.services
    seq = await harness.client.last_seq()
    services.clock.advance(hours=49)
    assert (await sweep(services)).escalated == 1
    escalated = await _wait(harness, ZHANG["id"], seq, "已转给你")
    assert "超过 48 小时" in escalated["text"]
    seq = await harness.client.last_seq()
    services.clock.advance(hours=49)
    assert (await sweep(services)).escalated == 1
    pooled = await _wait(harness, COMMITTEE, seq, "待领取")
    # The committee's group is told it is back in the pool, not that it is "yours".
    assert "已转入待领取池" in pooled["text"] and "已转给你" not in pooled["text"]
    question = await _question(harness)
    assert question.status == lifecycle.ROUTED and question.assigned_cadre_id is None
    assert (await sweep(services)).escalated == 0


async def test_nudges_do_not_hold_off_the_escalation(harness: BotHarness) -> None:
    """The cadre answered, was asked again, then went silent: the young person's "any
    news?" replies must not restart the cadre's 48 hours (they once did, forever)."""
    await _setup(harness)
    card = await _ask(harness, "高新区哪里有大学生实习岗位")
    seq = await harness.client.last_seq()
    await harness.send(LI, "可以看看区人社局的网站。", reply_to=card["message_id"])
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    await harness.send(XIAOMING, "网站上没找到，能具体点吗？", reply_to=answer["message_id"])
    assert (await _question(harness)).status == lifecycle.ASSIGNED  # asked again: 李老师
    services = harness.app.bot_data.services
    for _ in range(2):  # nudges at 30 h and 45 h: not overdue yet
        services.clock.advance(hours=15 if _ else 30)
        await harness.send(XIAOMING, "请问有消息了吗？", reply_to=answer["message_id"])
        assert (await sweep(services)).escalated == 0
    services.clock.advance(hours=4)  # 49 h since 李老师 was asked again
    assert (await sweep(services)).escalated == 1
    moved = await _question(harness)
    assert moved.escalations == 1
    async with harness.sessions() as session:
        holder = await session.get(Cadre, moved.assigned_cadre_id)
    assert holder is not None and holder.telegram_id != LI["id"]


async def test_a_nudge_does_not_put_off_the_cadres_reminder(harness: BotHarness) -> None:
    """ "Any news?", sent 20 h after the question reached 李老师 as a reply to the bot's
    "passed on to a cadre (问题编号 1)", follows that question up (it once became a new
    question), brings him the follow-up at once, and his reminder still comes 24 h
    after he got the question, not 24 h after the nudge (nudges once held it off
    until the escalation)."""
    await _setup(harness)
    seq = await harness.client.last_seq()
    routed = await harness.send(XIAOMING, "高新区哪里有大学生实习岗位")
    await _wait(harness, LI["id"], seq, "问题 #")
    question = await _question(harness)
    services = harness.app.bot_data.services
    services.clock.advance(hours=20)
    seq = await harness.client.last_seq()
    (sent,) = await harness.send(XIAOMING, "请问有消息了吗？", reply_to=routed[-1]["message_id"])
    assert sent["text"] == f"你的追问已转给团干部（问题 #{question.id}）。"
    await _wait(harness, LI["id"], seq, "请问有消息了吗")
    assert (await _question(harness)).id == question.id  # no new question
    services.clock.advance(hours=5)  # 25 h since 李老师 got it
    reminder = await _wait(harness, LI["id"], seq, "提醒")
    assert f"#{question.id}" in reminder["text"]


async def test_unreachable_cadres_are_not_routed_to(harness: BotHarness) -> None:
    await _setup(harness)
    async with unit_of_work(harness.sessions) as session:
        await session.execute(
            update(User)
            .where(User.telegram_id == LI["id"])
            .values(unreachable_at=harness.app.bot_data.services.clock.now())
        )
    await _ask(harness, "高新区哪里有大学生实习岗位", cadre=ZHANG)
    async with harness.sessions() as session:
        zhang = await session.scalar(select(Cadre).where(Cadre.telegram_id == ZHANG["id"]))
    assert zhang is not None and (await _question(harness)).assigned_cadre_id == zhang.id


async def test_a_refused_press_is_logged(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区哪里有大学生实习岗位")
    question = await _question(harness)
    with caplog.at_level(logging.WARNING):
        answer = await harness.press_data(
            ZHANG, card["message_id"], f"v1:qkey:{question.id}", chat_id=LI["id"]
        )
    assert answer["show_alert"]
    assert any("refused" in r.getMessage() and "qkey" in r.getMessage() for r in caplog.records)


async def test_an_answer_started_long_ago_is_not_sent_to_anyone(harness: BotHarness) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    await harness.press(LI, card, "✍️ 答复")
    harness.app.bot_data.services.clock.advance(minutes=61)
    seq = await harness.client.last_seq()
    before = await _bot_messages(harness, XIAOMING["id"])
    (notice,) = await harness.send(LI, "下周三截止，带上学生证。")
    assert f"答复问题 #{card_ref(card)}" in notice["text"] and "没有发出" in notice["text"]
    assert "直接回复问题卡片" in notice["text"]  # an answer can be given that way
    assert (await _question(harness)).status == lifecycle.ASSIGNED  # not answered
    await asyncio.sleep(0.5)  # the outbox runs every 0.1 s in tests
    assert await _bot_messages(harness, XIAOMING["id"]) == before
    async with harness.sessions() as session:  # the text itself is kept
        assert await session.scalar(
            select(InboundMessage.id).where(InboundMessage.text == "下周三截止，带上学生证。")
        )
    # Within the time, the button works as before.
    await harness.press(LI, card, "✍️ 答复")
    harness.app.bot_data.services.clock.advance(minutes=59)
    await harness.send(LI, "下周三截止，带上学生证。")
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    assert "学生证" in answer["text"]


async def test_a_reply_to_a_card_beats_the_answer_button_pressed_before(
    harness: BotHarness,
) -> None:
    await _setup(harness)
    now = harness.app.bot_data.services.clock.now()
    async with unit_of_work(harness.sessions) as session:  # both questions go to 李老师
        await session.execute(
            update(Cadre)
            .where(Cadre.telegram_id.in_([WANG["id"], ZHANG["id"]]))
            .values(away_until=now + timedelta(days=7))
        )
    first = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    first_id = (await _question(harness)).id
    second = await _ask(harness, "高新区的青年创业补贴怎么申请")
    second_id = (await _question(harness)).id
    await harness.press(LI, first, "✍️ 答复")  # pressed, then the cadre turns to the other
    seq = await harness.client.last_seq()
    await harness.send(LI, "创业补贴在区人社局网站申请。", reply_to=second["message_id"])
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    assert f"#{second_id}" in answer["text"] and "人社局" in answer["text"]
    async with harness.sessions() as session:
        statuses = {
            row.id: row.status
            for row in await session.execute(select(Question.id, Question.status))
        }
    assert statuses[first_id] == lifecycle.ASSIGNED and statuses[second_id] == lifecycle.ANSWERED
    # The first question's wait is gone: the cadre's next text is not its answer.
    async with harness.sessions() as session:
        assert await session.get(Conversation, LI["id"]) is None


async def test_a_shortened_answer_after_a_too_long_one_still_answers(harness: BotHarness) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    await harness.press(LI, card, "✍️ 答复")
    (refused,) = await harness.send(LI, "长" * 3500)
    assert "超过了 3000 字" in refused["text"]
    seq = await harness.client.last_seq()
    await harness.send(LI, "在青年之家报名，下周三截止。")
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    assert "下周三截止" in answer["text"]


async def test_a_late_follow_up_is_taken_as_a_new_message(harness: BotHarness) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    seq = await harness.client.last_seq()
    await harness.send(LI, "在青年之家报名。", reply_to=card["message_id"])
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    await harness.press(XIAOMING, answer, "继续追问")
    harness.app.bot_data.services.clock.advance(hours=3)
    replies = await harness.send(XIAOMING, "我们小区篮球场的灯坏了好几天，能不能帮忙反映一下？")
    assert "问题编号" in replies[-1]["text"]  # a new question, routed as any other
    newest = await _question(harness)
    assert newest.text.startswith("我们小区篮球场") and newest.id != card_ref(card)


async def test_pool_and_queue_lists_have_buttons_that_act(harness: BotHarness) -> None:
    await _setup(harness)
    now = harness.app.bot_data.services.clock.now()
    async with unit_of_work(harness.sessions) as session:  # nobody there: it goes to the pool
        await session.execute(update(Cadre).values(away_until=now + timedelta(days=7)))
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "高新区的青年创业沙龙怎么报名")
    await _wait(harness, COMMITTEE, seq, "待领取")
    question = await _question(harness)
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "高新区的创业补贴怎么申请")
    await _wait(harness, COMMITTEE, seq, "创业补贴")
    other = await _question(harness)
    async with unit_of_work(harness.sessions) as session:  # 李老师 is back
        await session.execute(
            update(Cadre).where(Cadre.telegram_id == LI["id"]).values(away_until=None)
        )
    (pool,) = await harness.send(LI, "/pool")
    assert [b["text"] for b in buttons(pool)] == [f"🙋 #{question.id}", f"🙋 #{other.id}"]
    seq = await harness.client.last_seq()
    claimed = await harness.press(LI, pool, f"#{question.id}")
    assert "领取" in claimed["text"]
    card = await _wait(harness, LI["id"], seq, f"问题 #{question.id}")
    async with harness.sessions() as session:
        taken = await session.get(Question, question.id)
        assert taken is not None and taken.status == lifecycle.ASSIGNED
    # The list keeps the other question's button; a card would lose all of its own.
    left = await harness.message(LI["id"], pool["message_id"])
    assert [b["text"] for b in buttons(left)] == [f"🙋 #{other.id}"]

    # /queue: the card again, through the outbox, so replying to it answers.
    (queue,) = await harness.send(LI, "/queue")
    assert [b["text"] for b in buttons(queue)] == [f"📨 #{question.id}"]  # not the other
    seq = await harness.client.last_seq()
    coming = await harness.press(LI, queue, f"#{question.id}")
    assert "马上发给你" in coming["text"]
    again = await _wait(harness, LI["id"], seq, f"问题 #{question.id}")
    assert again["message_id"] != card["message_id"] and buttons(again)[0]["text"] == "✍️ 答复"
    seq = await harness.client.last_seq()
    await harness.send(LI, "在青年之家报名。", reply_to=again["message_id"])
    await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    # Someone who may not act on it is refused.
    (zhang_queue,) = await harness.send(ZHANG, "/queue")
    forged = f"v1:qopen:{question.id}"
    refused = await harness.press_data(ZHANG, zhang_queue["message_id"], forged)
    assert refused["show_alert"]


async def test_a_too_long_answer_with_a_draft_open_asks_for_a_reply_to_the_card(
    harness: BotHarness,
) -> None:
    """A cadre writing a wish of their own replies to a card too long: the wait cannot be
    set without throwing the draft away, so they are told to reply to the card again,
    and that reply answers; the draft is untouched."""
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    await harness.send(LI, "/wish")
    (refused,) = await harness.send(LI, "长" * 3500, reply_to=card["message_id"])
    assert "超过了 3000 字" in refused["text"] and "回复这张问题卡片" in refused["text"]
    seq = await harness.client.last_seq()
    await harness.send(LI, "在青年之家报名，下周三截止。", reply_to=card["message_id"])
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    assert "下周三截止" in answer["text"]
    async with harness.sessions() as session:
        draft = await session.get(Conversation, LI["id"])
    assert draft is not None and draft.kind == "wish_draft"


async def test_a_too_long_follow_up_with_a_wish_open_asks_for_a_reply_again(
    harness: BotHarness,
) -> None:
    answer = await _answered_then_a_wish_started(harness)
    limit = harness.settings.max_text_length
    replies = await harness.send(XIAOMING, "问" * (limit + 1), reply_to=answer["message_id"])
    assert "回复那条问题消息" in replies[-1]["text"]
    replies = await harness.send(XIAOMING, "要带身份证吗？", reply_to=answer["message_id"])
    assert "追问已转给团干部" in replies[-1]["text"]
    async with harness.sessions() as session:
        draft = await session.get(Conversation, XIAOMING["id"])
    assert draft is not None and draft.kind == "wish_draft"


async def _answered_then_a_wish_started(harness: BotHarness) -> dict[str, Any]:
    """李老师 answers 小明's question, then 小明 starts a wish; return the answer."""
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    seq = await harness.client.last_seq()
    await harness.send(LI, "在青年之家报名。", reply_to=card["message_id"])
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    await harness.send(XIAOMING, "/wish")
    return answer


async def test_a_button_does_not_throw_away_a_wish_being_written(harness: BotHarness) -> None:
    answer = await _answered_then_a_wish_started(harness)
    refused = await harness.press(XIAOMING, answer, "继续追问")
    assert refused["show_alert"] and "没写完的心愿" in refused["text"]
    # The draft goes on where it was: the next text is the wish, not a follow-up.
    replies = await harness.send(XIAOMING, "想要一个新书包")
    assert any("照片" in (m.get("text") or "") for m in replies)
    assert [m.author for m in (await _question(harness)).thread] == ["youth", "cadre"]


async def _ask_into_the_pool(harness: BotHarness) -> dict[str, Any]:
    """Every cadre away: 小明's question goes to the committee's pool; return the reply."""
    await _setup(harness)
    now = harness.app.bot_data.services.clock.now()
    async with unit_of_work(harness.sessions) as session:
        await session.execute(update(Cadre).values(away_until=now + timedelta(days=3)))
    seq = await harness.client.last_seq()
    (reply,) = await harness.send(XIAOMING, "高新区的青年创业沙龙怎么报名")
    await _wait(harness, COMMITTEE, seq, "待领取")
    return reply


async def test_a_question_left_in_the_pool_is_offered_again(harness: BotHarness) -> None:
    await _ask_into_the_pool(harness)
    services = harness.app.bot_data.services
    question = await _question(harness)
    services.clock.advance(hours=47)
    assert (await sweep(services)).pool_reoffered == 0
    seq = await harness.client.last_seq()
    services.clock.advance(hours=2)
    assert (await sweep(services)).pool_reoffered == 1
    again = await _wait(harness, COMMITTEE, seq, "在待领取池里已超过 48 小时")
    assert f"#{question.id}" in again["text"] and buttons(again)
    assert (await sweep(services)).pool_reoffered == 0  # once per escalation time
    # The cadres are back (their leave ended): the next offer goes to one of them.
    seq = await harness.client.last_seq()
    services.clock.advance(hours=49)
    assert (await sweep(services)).pool_reoffered == 1
    moved = await _question(harness)
    assert moved.status == lifecycle.ASSIGNED and moved.assigned_cadre_id is not None
    async with harness.sessions() as session:
        cadre = await session.get(Cadre, moved.assigned_cadre_id)
    assert cadre is not None
    await _wait(harness, cadre.telegram_id, seq, "已转给你")


async def test_a_shared_name_never_reaches_the_committee_group(harness: BotHarness) -> None:
    """Sharing one's name is for the cadre who handles the question: a pool card offered
    again to the committee's group keeps the pseudonym, and no name view is logged."""
    reply = await _ask_into_the_pool(harness)
    services = harness.app.bot_data.services
    await harness.press(XIAOMING, reply, "让团干部看到我的名字")
    assert (await _question(harness)).identity_shared
    seq = await harness.client.last_seq()
    services.clock.advance(hours=49)
    assert (await sweep(services)).pool_reoffered == 1
    again = await _wait(harness, COMMITTEE, seq, "在待领取池里已超过 48 小时")
    assert "小明" not in again["text"] and "青年#" in again["text"]
    async with harness.sessions() as session:
        assert list(await session.scalars(select(PersonalDataAccess))) == []


async def test_a_reply_to_the_card_just_forwarded_names_the_department(
    harness: BotHarness,
) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    await harness.press(LI, card, "转交部门")
    seq = await harness.client.last_seq()
    await harness.send(LI, "区人社局", reply_to=card["message_id"])
    notice = await _wait(harness, XIAOMING["id"], seq, "转交给")
    assert "区人社局" in notice["text"]
    question = await _question(harness)
    assert question.status == lifecycle.FORWARDED and question.department == "区人社局"
    assert [m.author for m in question.thread] == ["youth"]  # not sent as an answer


async def _answered(harness: BotHarness) -> dict[str, Any]:
    """小明 asks, 李老师 answers: the answer message 小明 can reply to."""
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    seq = await harness.client.last_seq()
    await harness.send(LI, "在青年之家报名。", reply_to=card["message_id"])
    return await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")


async def _away(harness: BotHarness, *who: dict[str, Any]) -> None:
    now = harness.app.bot_data.services.clock.now()
    ids = [person["id"] for person in who]
    async with unit_of_work(harness.sessions) as session:
        await session.execute(
            update(Cadre)
            .where(Cadre.telegram_id.in_(ids))
            .values(away_until=now + timedelta(days=3))
        )


async def test_a_follow_up_to_a_colleague_shows_them_the_conversation(
    harness: BotHarness,
) -> None:
    answer = await _answered(harness)
    await _away(harness, LI)
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "要带身份证吗？电话13812345678", reply_to=answer["message_id"])
    question = await _question(harness)
    assert question.status == lifecycle.ASSIGNED
    async with harness.sessions() as session:
        holder = await session.get(Cadre, question.assigned_cadre_id)
    assert holder is not None and holder.telegram_id != LI["id"]
    card = await _wait(harness, holder.telegram_id, seq, "问题 #")
    assert "对话记录" in card["text"] and "身份证" in card["text"]
    assert "在青年之家报名" in card["text"]  # the earlier answer, too
    assert "13812345678" not in card["text"]  # masked, as the question is


async def test_follow_ups_while_in_the_pool_join_the_ticket(harness: BotHarness) -> None:
    answer = await _answered(harness)
    await _away(harness, WANG, LI, ZHANG)
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "要带身份证吗？", reply_to=answer["message_id"])
    pool = await _wait(harness, COMMITTEE, seq, "待领取")
    assert "身份证" in pool["text"]
    assert (await _question(harness)).status == lifecycle.ROUTED
    seq = await harness.client.last_seq()
    second = await harness.send(XIAOMING, "另外几点开始？", reply_to=answer["message_id"])
    assert "失效" not in texts(second) and "追问" in texts(second)
    question = await _question(harness)
    assert question.status == lifecycle.ROUTED  # still waiting in the pool
    assert [m.text for m in question.thread][-1] == "另外几点开始？"
    again = await _wait(harness, COMMITTEE, seq, "待领取")
    assert "另外几点开始" in again["text"] and "身份证" in again["text"]
    (listing,) = await harness.send(XIAOMING, "/my")
    await harness.press(XIAOMING, listing, f"#{question.id}")
    detail = (await harness.client.messages(XIAOMING["id"]))[-1]
    assert "另外几点开始" in detail["text"]


async def test_a_reply_on_a_ticket_that_is_over_is_asked_anew(harness: BotHarness) -> None:
    answer = await _answered(harness)
    first = await _question(harness)
    async with unit_of_work(harness.sessions) as session:
        await session.execute(
            update(Question).where(Question.id == first.id).values(status=lifecycle.WITHDRAWN)
        )
    text = "还有一个问题：志愿者怎么注册？"
    replies = await harness.send(XIAOMING, text, reply_to=answer["message_id"])
    assert f"问题 #{first.id} 已经结束" in texts(replies)
    newest = await _question(harness)
    assert newest.id != first.id and newest.text == text


async def _forget_sent_ids(harness: BotHarness, question_id: int) -> None:
    """As if each push about the question had been sent twice in the crash window: the
    record names a later copy, not the message people reply to."""
    async with unit_of_work(harness.sessions) as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.ref_type == "question", OutboxMessage.ref_id == question_id)
            .values(sent_message_id=OutboxMessage.sent_message_id + 100_000)
        )


async def test_replies_to_copies_whose_record_was_lost_reach_their_ticket(
    harness: BotHarness,
) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    question = await _question(harness)
    await _forget_sent_ids(harness, question.id)
    seq = await harness.client.last_seq()
    await harness.send(LI, "在青年之家报名。", reply_to=card["message_id"])
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    assert "在青年之家报名" in answer["text"]
    await _forget_sent_ids(harness, question.id)
    await harness.send(XIAOMING, "要带身份证吗？", reply_to=answer["message_id"])
    async with harness.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Question)) == 1
    thread = [m.text for m in (await _question(harness)).thread]
    assert thread == ["高新区的青年创业沙龙怎么报名", "在青年之家报名。", "要带身份证吗？"]


async def test_a_ticket_named_in_a_copy_is_only_the_owners_or_staffs(
    harness: BotHarness,
) -> None:
    await _setup(harness)
    await _ask(harness, "高新区的青年创业沙龙怎么报名")
    first = await _question(harness)
    await harness.send({"id": 1777, "first_name": "小红", "language_code": "zh-hans"}, "/start")
    async with harness.sessions() as session:
        people = {u.telegram_id: u for u in await session.scalars(select(User))}
        named = {
            who: await questions.named_in_copy(session, user=people[who], ticket=first.id)
            for who in (XIAOMING["id"], LI["id"], 1777)
        }
        missing = await questions.named_in_copy(session, user=people[LI["id"]], ticket=99_999)
    assert named == {
        XIAOMING["id"]: (first.id, "answer"),  # the asker follows up
        LI["id"]: (first.id, "card"),  # staff answer (checked as any answer)
        1777: None,  # another young person: not theirs to touch
    }
    assert missing is None


async def test_a_reply_to_a_staff_list_answers_no_ticket(harness: BotHarness) -> None:
    """Only a card's or an answer's own header names the ticket a reply is for: a reply
    to /queue (which lists "#1") is not an answer to #1."""
    await _setup(harness)
    await _ask(harness, "高新区的青年创业沙龙怎么报名")
    (listing,) = await harness.send(LI, "/queue")
    assert "#1" in listing["text"]
    await harness.send(LI, "这些我明天统一处理，先别催", reply_to=listing["message_id"])
    async with harness.sessions() as session:
        question = await session.get(Question, 1)
    assert question is not None and question.status == lifecycle.ASSIGNED
    assert [m.author for m in question.thread] == ["youth"]


async def test_a_shared_name_in_an_answer_stays_off_the_pool_card(harness: BotHarness) -> None:
    """The cadre holding the ticket used the name 小明 shared, and a phone number, in the
    answer; a follow-up then goes to the pool: its card shows the answer masked, with the
    pseudonym where the name was."""
    await _setup(harness)
    seq = await harness.client.last_seq()
    (routed,) = await harness.send(XIAOMING, "高新区的青年创业沙龙怎么报名")
    card = await _wait(harness, LI["id"], seq, "问题 #")
    await harness.press(XIAOMING, routed, "让团干部看到我的名字")
    seq = await harness.client.last_seq()
    await harness.send(
        LI, "小明你好，在青年之家报名，电话13812345678", reply_to=card["message_id"]
    )
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    await _away(harness, WANG, LI, ZHANG)
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "要带身份证吗？", reply_to=answer["message_id"])
    pool = await _wait(harness, COMMITTEE, seq, "待领取")
    assert "在青年之家报名" in pool["text"] and "青年#" in pool["text"]
    assert "小明" not in pool["text"] and "13812345678" not in pool["text"]
