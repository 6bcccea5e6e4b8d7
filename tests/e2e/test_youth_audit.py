"""Audit of what a young person (a 15-year-old, plain Chinese) meets with the bot.

Every test here FAILS on the code it was written against: each shows one defect, driven
end to end through the sandbox. See the audit report for severities and fix locations.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from sandbox import SandboxServer
from storage.outbox import OutboxMessage
from storage.questions import Question
from tests.conftest import run_harness
from tests.support import XIAOMEI, XIAOMING, BotHarness, buttons, texts

WANG = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}  # district-a, admin
LI = {"id": 2002, "first_name": "李老师", "language_code": "zh-hans"}  # districts b and c
ZHANG = {"id": 2003, "first_name": "张老师", "language_code": "zh-hans"}  # city
CLASS_GROUP = -1002000000777  # a school class's group the bot was added to
CLASSMATE = {"id": 1050, "first_name": "同学甲", "language_code": "zh-hans"}


async def _staff_started(harness: BotHarness) -> None:
    for cadre in (WANG, LI, ZHANG):
        await harness.client.send_text(cadre, "/start")


async def _pick(harness: BotHarness, user: dict[str, Any], *path: str) -> None:
    picker = (await harness.send(user, "/start"))[-1]
    for label in path:
        await harness.press(user, picker, label)
        picker = await harness.message(user["id"], picker["message_id"])


async def _wait(
    harness: BotHarness, chat: int, seq: int, text: str, timeout: float = 10
) -> dict[str, Any]:
    return await harness.client.wait_for_bot_message(
        chat, after_seq=seq, timeout=timeout, predicate=lambda m: text in (m.get("text") or "")
    )


async def _questions(harness: BotHarness) -> list[Question]:
    async with harness.sessions() as session:
        return list(await session.scalars(select(Question).order_by(Question.id)))


async def _bot_texts_after(harness: BotHarness, chat: int, seq: int) -> list[str]:
    return [
        m.get("text") or m.get("caption") or ""
        for m in await harness.client.messages(chat)
        if m["from_bot"] and m["message_id"] > seq
    ]


@pytest.fixture
async def cautious(sandbox: SandboxServer, database_url: str) -> AsyncIterator[BotHarness]:
    """A bot that never answers on its own, so every likely match becomes a suggestion."""
    async for running in run_harness(sandbox, database_url, match_answer_threshold=1.0):
        yield running


# --- personal data reaching staff -------------------------------------------------------


async def test_a_home_address_written_in_traditional_characters_is_masked_on_the_card(
    harness: BotHarness,
) -> None:
    """小美 writes Traditional (zh-hant client): her flat number reaches the cadre whole.
    The address patterns know only 号/栋/单元/小区, not 號/棟/單元/小區; schools, names
    and 學號 are masked in Traditional already."""
    await _staff_started(harness)
    await _pick(harness, XIAOMEI, "高新區")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMEI, "我家住在光明小區5號樓3單元501，樓下的路燈壞了好幾天了，找誰修？")
    card = await _wait(harness, LI["id"], seq, "问题 #")
    assert "5號樓3單元501" not in card["text"], card["text"]


async def test_staff_lists_are_not_posted_into_a_class_group(harness: BotHarness) -> None:
    """README: staff commands work in private chat and in the committee's group. In a
    school class's group the bot was added to, a cadre's /queue (an admin's /overdue)
    posts young people's questions for every classmate to read."""
    await _staff_started(harness)
    await _pick(harness, XIAOMING, "东城区", "东湖街道")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "东湖街道周末有没有篮球活动？我想和同学一起去")
    await _wait(harness, WANG["id"], seq, "问题 #")
    await harness.client.set_chat(CLASS_GROUP, title="初二(3)班", type_="group")
    await harness.send(CLASSMATE, "大家好", chat_id=CLASS_GROUP)
    replies = await harness.send(WANG, "/queue", chat_id=CLASS_GROUP)
    replies += await harness.send(WANG, "/overdue", chat_id=CLASS_GROUP)
    assert "篮球活动" not in texts(replies), texts(replies)
    assert not any("我的待答复问题" in (m.get("text") or "") for m in replies), texts(replies)


async def test_help_in_a_class_group_does_not_tell_who_is_a_cadre(harness: BotHarness) -> None:
    """A cadre's /help lists the staff commands in private; in a class group it would
    tell every classmate that the sender is a cadre, so there it is a young person's."""
    await _staff_started(harness)
    private = await harness.send(WANG, "/help")
    assert "/queue" in texts(private), texts(private)
    await harness.client.set_chat(CLASS_GROUP, title="初二(3)班", type_="group")
    await harness.send(CLASSMATE, "大家好", chat_id=CLASS_GROUP)
    replies = await harness.send(WANG, "/help", chat_id=CLASS_GROUP)
    assert replies and "/queue" not in texts(replies), texts(replies)
    assert "团干部" not in texts(replies), texts(replies)


# --- a matter lost or cut -----------------------------------------------------------------


async def test_a_long_question_within_the_limit_reaches_the_cadre_whole(
    harness: BotHarness,
) -> None:
    """A question under VOY_MAX_TEXT_LENGTH (2000) is accepted without a word, but the
    card cuts it at 1,500 characters (notify.CARD_TEXT_LIMIT) with no mark that it was
    cut: what the young person asked at the end never reaches anyone."""
    await _staff_started(harness)
    await _pick(harness, XIAOMING, "高新区")
    story = "我们小区楼下的篮球场一直没人管，地面坏了，" * 80  # 1,680 characters
    question = story + "我真正想问的是：青年之家周末几点开门？"
    assert len(question) < harness.settings.max_text_length
    seq = await harness.client.last_seq()
    (reply,) = await harness.send(XIAOMING, question)
    assert "问题编号" in reply["text"]  # accepted as it is, nothing said about length
    card = await _wait(harness, LI["id"], seq, "问题 #")
    assert "青年之家周末几点开门" in card["text"], card["text"][-200:]


async def test_a_question_too_long_for_a_card_is_cut_with_a_mark_and_the_card_still_goes(
    harness: BotHarness,
) -> None:
    """Emoji count twice in Telegram's 4,096: a question of 1,990 of them fits the bot's
    limit but not a card. The card is cut to fit, and says how much is not shown."""
    await _staff_started(harness)
    await _pick(harness, XIAOMING, "高新区")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "求助" + "😭" * 1990)
    card = await _wait(harness, LI["id"], seq, "问题 #")
    assert "卡片放不下" in card["text"]
    assert not harness.server.violations, harness.server.violations[:1]


async def test_a_reply_to_an_faq_answer_reaches_the_cadre_with_what_it_is_about(
    harness: BotHarness,
) -> None:
    """The FAQ answers 团费怎么交; 小明 replies to that answer "还是不懂…". The reply is a
    brand-new ticket whose card reads only "还是不懂，能具体说说吗": the cadre cannot know
    it is about league dues (a reply to a cadre's answer, by contrast, joins its ticket)."""
    await _staff_started(harness)
    await _pick(harness, XIAOMING, "高新区")
    (answer,) = await harness.send(XIAOMING, "团费怎么交？")
    assert buttons(answer)  # the FAQ answered, with 👍 / 👎
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "还是不懂，能具体说说吗", reply_to=answer["message_id"])
    card = await _wait(harness, LI["id"], seq, "问题 #")
    body = card["text"].split("相近的常见问题")[0]  # what was asked, not the FAQ's guesses
    assert "团费" in body, card["text"]


async def test_a_call_for_help_in_reply_to_an_faq_answer_is_urgent(harness: BotHarness) -> None:
    """Replying to the FAQ's answer with a cry for help: the helpline at once, an urgent
    card with the question it came from."""
    await _staff_started(harness)
    await _pick(harness, XIAOMING, "高新区")
    (answer,) = await harness.send(XIAOMING, "团费怎么交？")
    seq = await harness.client.last_seq()
    replies = await harness.send(XIAOMING, "交不起，我不想活了", reply_to=answer["message_id"])
    assert "12355" in texts(replies)
    card = await _wait(harness, LI["id"], seq, "紧急关注")
    assert "团费怎么交" in card["text"] and "不想活了" in card["text"]


async def test_thanks_and_greetings_are_not_handed_to_a_cadre_as_questions(
    harness: BotHarness,
) -> None:
    """A young person says 你好 before asking and 谢谢 after an answer: each becomes a
    ticket routed to a cadre, with "这个问题我暂时回答不了，已经转给团干部（问题编号 N）"."""
    await _staff_started(harness)
    await _pick(harness, XIAOMING, "高新区")
    replies = []
    for text in ("你好", "谢谢", "👍"):
        replies += await harness.send(XIAOMING, text)
    routed = [q.text for q in await _questions(harness) if q.status in ("routed", "assigned")]
    assert routed == [], (routed, texts(replies))


# --- what the bot says that is not true -----------------------------------------------


async def test_editing_a_question_waiting_for_a_choice_does_not_say_it_is_over(
    cautious: BotHarness,
) -> None:
    """小明 fixes a typo in a question that got "did you mean" choices. The bot answers
    "问题 #N 已经结束了" (a ticket number he was never shown, of a question still waiting
    for his choice), asks the edit as a second question, and leaves the first one in
    /my as "❔ 等你选择" for good."""
    sent = await cautious.client.send_text(XIAOMING, "团关系咋转")
    await cautious.settled(sent["update_id"])
    (first,) = await _questions(cautious)
    assert first.status == "suggested"
    before = max(m["message_id"] for m in await cautious.client.messages(XIAOMING["id"]))
    mark = await cautious.inbound_mark()
    edited = await cautious.client.edit_text(XIAOMING, sent["message_id"], "团关系怎么转")
    await cautious.settled(edited["update_id"], after=mark)
    said = "\n".join(await _bot_texts_after(cautious, XIAOMING["id"], before))
    assert "已经结束" not in said, said
    # /my says the edited message counts, not that he withdrew the first.
    (listing,) = await cautious.send(XIAOMING, "/my")
    assert "以改过的为准" in listing["text"] and "已撤回" not in listing["text"]


# --- safeguarding -----------------------------------------------------------------------


async def test_a_cadres_answer_to_a_call_for_help_is_not_held_until_morning(
    harness: BotHarness,
) -> None:
    """小明 writes that he does not want to live at 22:30. He is told "我已经请团干部尽快联系
    你"; 王老师 answers the urgent card at once, but the answer is an ordinary youth push,
    held by the quiet hours (22:00–08:00) until the morning."""
    await _staff_started(harness)
    await _pick(harness, XIAOMING, "东城区", "东湖街道")
    clock = harness.app.bot_data.services.clock
    clock.set(clock.now().replace(hour=14, minute=30))  # 22:30 in Shanghai
    seq = await harness.client.last_seq()
    replies = await harness.send(XIAOMING, "我不想活了")
    assert "12355" in texts(replies)
    card = await _wait(harness, WANG["id"], seq, "紧急关注")
    seq = await harness.client.last_seq()
    told = await harness.send(
        WANG, "小明，我是团委的老师，我现在就在，你愿意和我说说吗？", reply_to=card["message_id"]
    )
    assert "已把你的答复发给提问人" in texts(told)  # what the cadre is told
    try:
        await _wait(harness, XIAOMING["id"], seq, "我现在就在", timeout=6)
    except TimeoutError:
        async with harness.sessions() as session:
            row = await session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "answer"))
        assert row is not None
        raise AssertionError(
            f"the answer to a call for help waits: state {row.state}, due {row.due_at} UTC"
        ) from None


# --- the FAQ, then a person ---------------------------------------------------------------


async def test_the_faq_answer_the_young_person_rejected_is_not_offered_back_as_one_tap(
    harness: BotHarness,
) -> None:
    """After 👎 找人工解答 under the FAQ's answer to 团费怎么交, the cadre's card offers
    "📚 用常见问题答复：团费怎么交？" as a one-tap answer and says nothing of the rejection:
    the young person can get back the very answer they said did not help."""
    await _staff_started(harness)
    await _pick(harness, XIAOMING, "高新区")
    (answer,) = await harness.send(XIAOMING, "团费怎么交？")
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, answer, "找人工")
    card = await _wait(harness, LI["id"], seq, "问题 #")
    labels = [b["text"] for b in buttons(card)]
    assert not any("团费怎么交" in label for label in labels), (labels, card["text"])


# --- blocked, then back -------------------------------------------------------------------


async def test_an_answer_that_bounced_while_blocked_reaches_the_young_person_on_return(
    harness: BotHarness,
) -> None:
    """小明 blocks the bot for a day (annoyed by a notice); meanwhile 李老师 answers his
    question and the push bounces (unreachable, for good). He unblocks (my_chat_member)
    and writes /start: the answer is never sent again, nor is he told one is waiting."""
    await _staff_started(harness)
    await _pick(harness, XIAOMING, "高新区")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "高新区青年之家的自习室周末开放吗")
    card = await _wait(harness, LI["id"], seq, "问题 #")
    await harness.client.block(XIAOMING["id"])
    await harness.send(
        LI, "周末上午九点到下午五点开放，带上学生证就行。", reply_to=card["message_id"]
    )
    for _ in range(100):  # the deliverer tries, and Telegram answers 403
        user = await harness.user(XIAOMING["id"])
        if user is not None and user.unreachable_at is not None:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the answer was never tried")
    await harness.client.unblock(XIAOMING["id"])
    core = harness.server.core
    chat = core.world.private_chat(core.world.user(XIAOMING))
    seq = await harness.client.last_seq()
    core.updates.put(
        "my_chat_member",
        {
            "chat": chat.telegram(),
            "from": core.world.user(XIAOMING),
            "date": 1_800_000_000,
            "old_chat_member": {"status": "kicked", "user": core.bot_user, "until_date": 0},
            "new_chat_member": {"status": "member", "user": core.bot_user},
        },
    )
    await harness.send(XIAOMING, "/start")
    said = "\n".join(await _bot_texts_after(harness, XIAOMING["id"], 0))
    if "九点到下午五点" not in said:
        try:
            await _wait(harness, XIAOMING["id"], seq, "九点到下午五点", timeout=5)
        except TimeoutError:
            said = "\n".join(await _bot_texts_after(harness, XIAOMING["id"], 0))
            raise AssertionError(f"never reached him; his chat: {said[-300:]}") from None


# --- first contact ------------------------------------------------------------------------


async def test_first_start_tells_a_minor_what_is_kept_and_who_reads_it(
    harness: BotHarness,
) -> None:
    """The first /start says questions go to cadres, but not that every message is kept
    (a year by default), that staff read what is handed on, nor how to see or erase it
    (/mydata, /forget); no word for under-14s about a guardian. Only /help mentions
    /mydata and /forget, at the bottom of a list."""
    replies = await harness.send(XIAOMING, "/start")
    said = texts(replies)
    assert "/forget" in said or "隐私" in said, said


# --- asking again, answering late -----------------------------------------------------------


async def test_asking_the_same_question_again_while_it_is_open_does_not_open_a_second_ticket(
    harness: BotHarness,
) -> None:
    """No answer yet, so 小明 sends the same question again: a second ticket, routed by
    load to a second cadre, who works on it from scratch; /my lists it twice."""
    await _staff_started(harness)
    await _pick(harness, XIAOMING, "高新区")
    question = "高新区青年之家的自习室周末开放吗"
    await harness.send(XIAOMING, question)
    again = await harness.send(XIAOMING, question)
    open_ = [
        (q.id, q.assigned_cadre_id)
        for q in await _questions(harness)
        if q.status in ("routed", "assigned")
    ]
    assert len(open_) == 1, (open_, texts(again))


async def test_the_resolved_button_pressed_after_the_auto_resolve_does_not_say_it_expired(
    harness: BotHarness,
) -> None:
    """小明 reads the answer a week later and presses ✅ 已解决: the question was closed
    as resolved meanwhile (no reply in 7 days), without a word to him; the press gets
    "这个按钮已经失效了，请重新操作" although what he said is exactly what is recorded."""
    from bot.sweeper import sweep

    await _staff_started(harness)
    await _pick(harness, XIAOMING, "高新区")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "高新区青年之家的自习室周末开放吗")
    card = await _wait(harness, LI["id"], seq, "问题 #")
    seq = await harness.client.last_seq()
    await harness.send(LI, "周末上午九点到下午五点开放。", reply_to=card["message_id"])
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    services = harness.app.bot_data.services
    services.clock.advance(days=8)
    assert (await sweep(services)).auto_resolved == 1
    pressed = await harness.press(XIAOMING, answer, "已解决")
    assert "失效" not in (pressed["text"] or ""), pressed
