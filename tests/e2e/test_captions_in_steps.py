"""A photo's or a file's caption is read where a text would be: a young person's words
under a screenshot after a call for help, after "follow up" or in a reply to their answer
join that ticket; a cadre's caption while answering is no question of theirs. The
cadre's card of words written under a photo or a file says that one came with them and
was not passed on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storage.questions import Conversation, Question
from tests.e2e.test_question_loop_edges import LI, _ask, _setup, _wait
from tests.support import XIAOMING, BotHarness

NOTE = "只读了你附上的文字"


async def _questions(harness: BotHarness) -> list[Question]:
    async with harness.sessions() as session:
        return list(await session.scalars(select(Question).order_by(Question.id)))


async def _waiting(harness: BotHarness, chat_id: int) -> tuple[str, dict[str, Any]] | None:
    async with harness.sessions() as session:
        waiting = await session.get(Conversation, chat_id)
    return None if waiting is None else (waiting.kind, dict(waiting.data))


async def _last(harness: BotHarness, chat_id: int) -> dict[str, Any]:
    return [m for m in await harness.client.messages(chat_id) if m["from_bot"]][-1]


async def _settle(harness: BotHarness, chat_id: int, sent: dict[str, Any]) -> dict[str, Any]:
    await harness.settled(sent["update_id"])
    return await _last(harness, chat_id)


async def test_a_screenshot_after_a_call_for_help_joins_that_ticket(
    harness: BotHarness,
) -> None:
    """The reply to a call for help asks them to go on; a screenshot with words under it
    was asked as a new, ordinary question the cadre holding the call did not see."""
    await _setup(harness)
    await harness.send(XIAOMING, "同学一直欺负我，我不想去学校了")
    (urgent,) = await _questions(harness)
    seq = await harness.client.last_seq()
    caption = "这是他们在班级群里发的截图"
    reply = await _settle(
        harness, XIAOMING["id"], await harness.client.send_photo(XIAOMING, caption)
    )
    assert f"#{urgent.id}" in reply["text"] and NOTE in reply["text"], reply["text"]
    (asked,) = await _questions(harness)
    assert [m.text for m in asked.thread][-1] == caption
    card = await _wait(harness, LI["id"], seq, caption)
    assert f"问题 #{urgent.id} " in card["text"] and not card.get("photo")


async def test_a_file_in_reply_to_an_answer_follows_it_up(harness: BotHarness) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    seq = await harness.client.last_seq()
    await harness.send(LI, "周六在团委报名，带上报名表", reply_to=card["message_id"])
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复")
    seq = await harness.client.last_seq()
    sent = await harness.client.send_photo(XIAOMING, "是这张表吗", reply_to=answer["message_id"])
    reply = await _settle(harness, XIAOMING["id"], sent)
    (question,) = await _questions(harness)
    assert f"#{question.id}" in reply["text"] and NOTE in reply["text"], reply["text"]
    # The cadre's copy of the follow-up says a photo came with it (not passed on).
    follow_up = await _wait(harness, LI["id"], seq, "是这张表吗")
    assert "图片" in follow_up["text"] and "没有转" in follow_up["text"], follow_up["text"]
    assert [m.text for m in question.thread][-1] == "是这张表吗"
    await _wait(harness, LI["id"], seq, "是这张表吗")


async def test_a_cadres_caption_while_answering_is_not_a_question(harness: BotHarness) -> None:
    """A cadre who pressed "answer" and sent the answer under a picture: it became a
    question of the cadre's own, routed to colleagues, and the young person got nothing.
    The picture cannot be passed on: the cadre is asked to type it, and the answer waits."""
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    await harness.press(LI, card, "答复")
    sent = await harness.client.send_photo(LI, "报名表见图，填好交给团委")
    reply = await _settle(harness, LI["id"], sent)
    assert "打字" in reply["text"], reply["text"]
    assert len(await _questions(harness)) == 1
    assert await _waiting(harness, LI["id"]) == ("await_answer", {"question_id": 1})
    seq = await harness.client.last_seq()
    await harness.send(LI, "报名表在团委门口领，填好交回")
    await _wait(harness, XIAOMING["id"], seq, "报名表在团委门口领")


async def test_a_cadres_caption_in_reply_to_a_card_is_not_a_question(
    harness: BotHarness,
) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    sent = await harness.client.send_photo(LI, "报名表见图", reply_to=card["message_id"])
    reply = await _settle(harness, LI["id"], sent)
    assert "打字" in reply["text"], reply["text"]
    assert len(await _questions(harness)) == 1


async def _card_for(harness: BotHarness, sent: dict[str, Any], seq: int) -> dict[str, Any]:
    await harness.settled(sent["update_id"])
    return await _wait(harness, LI["id"], seq, "问题 #")


async def test_a_question_under_a_photo_tells_the_cadre_the_photo_was_not_passed_on(
    harness: BotHarness,
) -> None:
    """The cadre's card showed the caption as if it were all there was: nothing said a
    picture came with it (not passed on: it cannot be masked), so "as you can see in the
    picture" made no sense to them and they did not know to ask for a description."""
    await _setup(harness)
    seq = await harness.client.last_seq()
    sent = await harness.client.send_photo(XIAOMING, "高新区的青年创业沙龙怎么报名？海报在图里")
    card = await _card_for(harness, sent, seq)
    assert "海报在图里" in card["text"] and "图片" in card["text"], card["text"]
    assert "没有转" in card["text"] and "文字" in card["text"], card["text"]


async def test_a_question_under_a_file_says_a_file_came_with_it(harness: BotHarness) -> None:
    await _setup(harness)
    seq = await harness.client.last_seq()
    sent = await harness.client.send_document(
        XIAOMING, "报名表.docx", caption="高新区的青年创业沙龙怎么报名？表格填好了"
    )
    card = await _card_for(harness, sent, seq)
    assert "文件" in card["text"] and "没有转" in card["text"], card["text"]


async def test_a_typed_question_has_no_such_line(harness: BotHarness) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    assert "没有转" not in card["text"], card["text"]


async def test_a_call_for_help_under_a_photo_says_so_on_the_urgent_card(
    harness: BotHarness,
) -> None:
    await _setup(harness)
    seq = await harness.client.last_seq()
    sent = await harness.client.send_photo(XIAOMING, "同学一直欺负我，我不想去学校了，看这张图")
    await harness.settled(sent["update_id"])
    card = await _wait(harness, LI["id"], seq, "紧急")
    assert "图片" in card["text"] and "没有转" in card["text"], card["text"]


async def test_a_question_asked_from_a_wish_draft_by_its_button_has_no_such_line(
    harness: BotHarness,
) -> None:
    """A question typed in a wish draft and asked with "❓ Ask this" is asked by the
    button press: its card said it came under a file (the press's update is no text)."""
    await _setup(harness)
    await harness.send(XIAOMING, "/wish")
    await harness.send(XIAOMING, "想要一辆自行车上学")
    (skip,) = [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]][-1:]
    await harness.press(XIAOMING, skip, "跳过")
    (reply,) = await harness.send(XIAOMING, "高新区的青年创业沙龙怎么报名")
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, reply, "问这个问题")
    card = await _wait(harness, LI["id"], seq, "问题 #")
    assert "创业沙龙" in card["text"] and "没有转" not in card["text"], card["text"]
