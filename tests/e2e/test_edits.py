"""Edited messages: never handled as new ones. The edited text of a question joins its
ticket as a follow-up; any other edit is answered with a request to send it again."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import lifecycle, wish_drafts
from storage.questions import Conversation, Question
from tests.e2e.test_question_loop_edges import LI, _setup, _wait
from tests.support import XIAOMING, BotHarness


async def _questions(harness: BotHarness) -> list[Question]:
    async with harness.sessions() as session:
        return list(await session.scalars(select(Question).order_by(Question.id)))


async def _edit(harness: BotHarness, message_id: int, text: str) -> list[str]:
    """Edit 小明's message; return the texts of the bot's replies to the edit."""
    before = len(await harness.client.messages(XIAOMING["id"]))
    mark = await harness.inbound_mark()
    edited = await harness.client.edit_text(XIAOMING, message_id, text)
    await harness.settled(edited["update_id"], after=mark)
    after = (await harness.client.messages(XIAOMING["id"]))[before:]
    return [m["text"] for m in after if m["from_bot"]]


async def test_an_edited_question_joins_its_ticket(harness: BotHarness) -> None:
    await _setup(harness)
    seq = await harness.client.last_seq()
    sent = await harness.client.send_text(XIAOMING, "高新区的青年创业沙龙怎么报命")
    await harness.settled(sent["update_id"])
    await _wait(harness, LI["id"], seq, "问题 #")
    seq = await harness.client.last_seq()
    replies = await _edit(harness, sent["message_id"], "高新区的青年创业沙龙怎么报名")
    (question,) = await _questions(harness)  # no second ticket
    assert question.status == lifecycle.ASSIGNED
    assert [m.text for m in question.thread][-1] == "高新区的青年创业沙龙怎么报名"
    assert any(f"问题 #{question.id}" in text for text in replies)
    follow_up = await _wait(harness, LI["id"], seq, "报名")  # the cadre sees the correction
    assert f"#{question.id}" in follow_up["text"]


async def test_an_edit_during_a_wish_draft_is_not_a_step(harness: BotHarness) -> None:
    await _setup(harness)
    await harness.send(XIAOMING, "/wish")
    sent = await harness.client.send_text(XIAOMING, "想要一个新书包")
    await harness.settled(sent["update_id"])
    replies = await _edit(harness, sent["message_id"], "想要一套新课本")
    assert any("重新发一条新消息" in text for text in replies)
    async with harness.sessions() as session:
        waiting = await session.get(Conversation, XIAOMING["id"])
    assert waiting is not None and waiting.kind == wish_drafts.KIND
    assert waiting.data["step"] == wish_drafts.PHOTO  # still the step after the text
    assert waiting.data["fields"]["text"] == "想要一个新书包"
    assert await _questions(harness) == []


async def test_an_edited_command_is_not_run_again(harness: BotHarness) -> None:
    await _setup(harness)
    sent = await harness.client.send_text(XIAOMING, "/my")
    await harness.settled(sent["update_id"])
    replies = await _edit(harness, sent["message_id"], "/mydata")
    assert len(replies) == 1 and "重新发一条新消息" in replies[0]
