"""A cadre cannot turn an erased or withdrawn question into FAQ: a clear refusal, no entry."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from bot.services import lifecycle
from bot.services.data_rights import PURGED
from storage.db import unit_of_work
from storage.faq import FaqEntry
from storage.questions import Question, QuestionMessage
from tests.e2e.test_question_loop import WANG, _next_card, _pick_region, _question
from tests.support import XIAOMING, BotHarness

REFUSAL = "已被删除或撤回，不能加入常见问题"


async def _answered_confirmation(harness: BotHarness) -> tuple[Question, dict[str, Any]]:
    await _pick_region(harness, XIAOMING, "东城区", "东湖街道")
    await harness.client.send_text(WANG, "/start")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "东湖街道青年之家周末开门吗？")
    card = await _next_card(harness, WANG["id"], seq, "青年之家周末")
    await harness.press(WANG, card, "答复")
    confirmation = (await harness.send(WANG, "周末 9:00-17:00 开门"))[-1]
    return await _question(harness), confirmation


@pytest.mark.parametrize("erased", ["text", "answer", "withdrawn"])
async def test_promoting_an_erased_or_withdrawn_question_is_refused(
    harness: BotHarness, erased: str
) -> None:
    question, confirmation = await _answered_confirmation(harness)
    async with unit_of_work(harness.sessions) as session:
        if erased == "text":  # as retention or /forget leave it
            await session.execute(
                update(Question).where(Question.id == question.id).values(text=PURGED)
            )
        elif erased == "answer":
            await session.execute(
                update(QuestionMessage)
                .where(QuestionMessage.question_id == question.id)
                .values(text=PURGED)
            )
        else:
            await session.execute(
                update(Question)
                .where(Question.id == question.id)
                .values(status=lifecycle.WITHDRAWN)
            )
    answer = await harness.press(WANG, confirmation, "加入常见问题")
    assert answer["show_alert"] and REFUSAL in answer["text"]
    async with harness.sessions() as session:
        slugs = list(await session.scalars(select(FaqEntry.slug)))
    assert f"cadre-q{question.id}" not in slugs
