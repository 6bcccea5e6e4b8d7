"""Scheduled pushes and routing rules of the question loop, driven through the sandbox with
a clock the tests move: duty days, load, SLA reminders, "was it resolved?", auto-resolve,
and quiet hours for young people."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services import lifecycle
from bot.sweeper import sweep
from storage.models import Cadre
from storage.outbox import OutboxMessage
from storage.questions import Question
from tests.support import XIAOMEI, XIAOMING, BotHarness, buttons

TZ = ZoneInfo("Asia/Shanghai")
LI = {"id": 2002, "first_name": "李老师", "language_code": "zh-hans"}
ZHANG = {"id": 2003, "first_name": "张老师", "language_code": "zh-hans"}
WANG = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}


async def _setup(harness: BotHarness, *youths: dict[str, Any], region: str = "高新区") -> None:
    for cadre in (LI, ZHANG, WANG):
        await harness.client.send_text(cadre, "/start")
    for youth in youths:
        picker = (await harness.send(youth, "/start"))[-1]
        await harness.press(youth, picker, region)


async def _assignee(harness: BotHarness) -> str:
    async with harness.sessions() as session:
        question = await session.scalar(select(Question).order_by(Question.id.desc()))
        assert question is not None and question.assigned_cadre_id is not None
        cadre = await session.get(Cadre, question.assigned_cadre_id)
    assert cadre is not None
    return cadre.name


async def _wait(harness: BotHarness, chat: int, seq: int, text: str) -> dict[str, Any]:
    return await harness.client.wait_for_bot_message(
        chat, after_seq=seq, timeout=10, predicate=lambda m: text in (m.get("text") or "")
    )


async def test_duty_day_then_load_decide_between_covering_cadres(harness: BotHarness) -> None:
    # Employment in the Hi-Tech Zone: 李老师 (district-c) and 张老师 (the city) cover it.
    clock = harness.app.bot_data.services.clock
    clock.set(datetime(2026, 11, 17, 10, 0, tzinfo=TZ))  # Tuesday: 李老师's duty day
    await _setup(harness, XIAOMING)
    picker = (await harness.send(XIAOMEI, "/start"))[-1]
    await harness.press(XIAOMEI, picker, "高新區")
    await harness.send(XIAOMING, "高新区哪里有大学生实习岗位")
    assert await _assignee(harness) == "李老师"
    clock.set(datetime(2026, 11, 18, 10, 0, tzinfo=TZ))  # Wednesday: neither on duty
    await harness.send(XIAOMEI, "高新區哪裡有大學生實習崗位")
    assert await _assignee(harness) == "张老师"  # 李老师 already has one open


async def test_reminder_then_answer_then_resolve_check_then_follow_up(harness: BotHarness) -> None:
    clock = harness.app.bot_data.services.clock
    await _setup(harness, XIAOMING)
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "高新区的青年创业沙龙怎么报名")
    card = await _wait(harness, LI["id"], seq, "问题 #")
    clock.advance(hours=25)
    reminder = await _wait(harness, LI["id"], seq, "提醒")
    assert "已等待 24 小时" in reminder["text"]

    seq = await harness.client.last_seq()
    await harness.send(LI, "在青年之家报名，每月第一个周六。", reply_to=card["message_id"])
    await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    clock.advance(hours=25)
    check = await _wait(harness, XIAOMING["id"], seq, "解决了吗")
    assert [b["text"] for b in buttons(check)] == ["✅ 已解决", "❓ 继续追问"]

    # A follow-up from the check goes back to the same cadre.
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, check, "继续追问")
    await harness.send(XIAOMING, "要带什么材料？")
    await _wait(harness, LI["id"], seq, "追问")
    async with harness.sessions() as session:
        question = await session.scalar(select(Question))
    assert question is not None and question.status == lifecycle.ASSIGNED


async def test_auto_resolve_after_a_week_without_reply(harness: BotHarness) -> None:
    clock = harness.app.bot_data.services.clock
    await _setup(harness, XIAOMING)
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "高新区的青年创业沙龙怎么报名")
    card = await _wait(harness, LI["id"], seq, "问题 #")
    await harness.send(LI, "在青年之家报名。", reply_to=card["message_id"])
    clock.advance(days=6)
    assert (await sweep(harness.app.bot_data.services)).auto_resolved == 0
    clock.advance(days=2)
    assert (await sweep(harness.app.bot_data.services)).auto_resolved == 1
    async with harness.sessions() as session:
        question = await session.scalar(select(Question))
    assert question is not None and question.status == lifecycle.RESOLVED
    assert question.events[-1].actor == "system"


async def test_answers_to_young_people_wait_out_quiet_hours(harness: BotHarness) -> None:
    clock = harness.app.bot_data.services.clock
    await _setup(harness, XIAOMING)
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "高新区的青年创业沙龙怎么报名")
    card = await _wait(harness, LI["id"], seq, "问题 #")
    clock.set(datetime(2026, 11, 18, 23, 30, tzinfo=TZ))
    seq = await harness.client.last_seq()
    replies = await harness.send(LI, "明天再说。", reply_to=card["message_id"])
    assert "已把你的答复发给提问人" in replies[-1]["text"]  # staff are not held back
    # The deliverer picks the answer up and defers it to the end of quiet hours.
    morning = datetime(2026, 11, 19, 8, 0, tzinfo=TZ)
    async with asyncio.timeout(10):
        while True:
            async with harness.sessions() as session:
                row = await session.scalar(
                    select(OutboxMessage).where(OutboxMessage.kind == "answer")
                )
            if row is not None and row.due_at >= morning:
                break
            await asyncio.sleep(0.05)
    assert row.state == "pending"
    delivered = [
        m
        for m in await harness.client.messages(XIAOMING["id"])
        if "团干部答复" in (m.get("text") or "")
    ]
    assert delivered == []
    clock.set(datetime(2026, 11, 19, 8, 1, tzinfo=TZ))
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    assert "明天再说" in answer["text"]
