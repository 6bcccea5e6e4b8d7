"""A call for help is answered as one wherever a young person types it: in the middle of
a wish draft, as the wish itself, or as a photo's or a file's caption. They get the
helpline at once and a person is told (an urgent card); a draft waits as it was."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from bot.i18n import utf16_units
from bot.services import wish_drafts
from storage.db import unit_of_work
from storage.models import Cadre
from storage.questions import Conversation, Question
from tests.e2e.test_question_loop_edges import (
    COMMITTEE,
    LI,
    WANG,
    ZHANG,
    _answered,
    _away,
    _setup,
    _wait,
)
from tests.e2e.test_wishes import ZHANG as REVIEWER
from tests.e2e.test_wishes import _last, _staff, _submit
from tests.support import ALEX, COMMITTEE_CHAT, XIAOMEI, XIAOMING, BotHarness, texts

CRY = "算了，我真的不想活了"


async def _urgent_questions(harness: BotHarness) -> list[Question]:
    async with harness.sessions() as session:
        return list(await session.scalars(select(Question).where(Question.urgent)))


async def _draft_step(harness: BotHarness) -> str | None:
    async with harness.sessions() as session:
        waiting = await session.get(Conversation, XIAOMING["id"])
    if waiting is None or waiting.kind != wish_drafts.KIND:
        return None
    return str(waiting.data["step"])


async def _last_reply(harness: BotHarness) -> dict[str, Any]:
    return [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]][-1]


async def test_in_the_middle_of_a_wish_draft(harness: BotHarness) -> None:
    await _setup(harness)
    await harness.send(XIAOMING, "/wish")
    await harness.send(XIAOMING, "想要一个新书包")
    await harness.press(XIAOMING, await _last_reply(harness), "跳过")  # no photo
    step = await _draft_step(harness)
    assert step == wish_drafts.CATEGORY
    seq = await harness.client.last_seq()
    replies = await harness.send(XIAOMING, CRY)
    assert "12355" in texts(replies)
    (urgent,) = await _urgent_questions(harness)
    assert urgent.text == CRY
    card = await _wait(harness, LI["id"], seq, "紧急关注")
    assert f"#{urgent.id}" in card["text"]
    assert await _draft_step(harness) == step  # the draft waits where it was


async def test_as_the_wish_itself(harness: BotHarness) -> None:
    await _setup(harness)
    await harness.send(XIAOMING, "/wish")
    replies = await harness.send(XIAOMING, CRY)
    assert "12355" in texts(replies)
    assert len(await _urgent_questions(harness)) == 1
    assert await _draft_step(harness) == wish_drafts.WHAT  # not taken as the wish


async def test_as_a_photos_caption(harness: BotHarness) -> None:
    await _setup(harness)
    mark = await harness.inbound_mark()
    sent = await harness.client.send_photo(XIAOMING, caption=CRY)
    await harness.settled(sent["update_id"], after=mark)
    assert "12355" in (await _last_reply(harness))["text"]
    (urgent,) = await _urgent_questions(harness)
    assert urgent.text == CRY


async def test_as_a_files_caption(harness: BotHarness) -> None:
    await _setup(harness)
    mark = await harness.inbound_mark()
    sent = await harness.client.send_document(XIAOMING, "日记.txt", caption=CRY)
    await harness.settled(sent["update_id"], after=mark)
    assert "12355" in (await _last_reply(harness))["text"]
    assert len(await _urgent_questions(harness)) == 1


async def test_an_ordinary_caption_is_not_a_question(harness: BotHarness) -> None:
    await _setup(harness)
    mark = await harness.inbound_mark()
    sent = await harness.client.send_photo(XIAOMING, caption="看看这个")
    await harness.settled(sent["update_id"], after=mark)
    assert "文字" in (await _last_reply(harness))["text"]
    assert await _urgent_questions(harness) == []


@pytest.mark.parametrize(
    ("user", "cry", "kind"),
    [
        (ALEX, "been thinking about unaliving myself", "you are not alone"),
        (ALEX, "some guys said they'll jump me after school", "you are not alone"),
        (XIAOMEI, "唔想再生存落去", "你並不孤單"),  # Cantonese: I don't want to go on living
        (XIAOMEI, "補習班老師一直傳很噁心的訊息給我 還約我單獨出去", "你並不孤單"),
        # Missed until the burden and "a date not reached" families grew (see the
        # helpline test below, which used them as misses).
        (XIAOMEI, "我覺得我是全家的累贅", "你並不孤單"),
        (ALEX, "i don't see myself making it to my birthday", "you are not alone"),
    ],
)
async def test_in_their_own_words_and_language(
    harness: BotHarness, user: dict[str, Any], cry: str, kind: str
) -> None:
    """Slang, Cantonese and indirect English are calls for help too: the helpline and the
    emergency numbers in the young person's language, and an urgent card."""
    await _setup(harness)
    seq = await harness.client.last_seq()
    said = texts(await harness.send(user, cry))
    assert kind in said and "12355" in said and "110" in said and "120" in said
    (urgent,) = await _urgent_questions(harness)
    assert urgent.text == cry
    card = await _wait(harness, COMMITTEE_CHAT, seq, "紧急关注")
    assert f"#{urgent.id}" in card["text"]


@pytest.mark.parametrize(
    ("user", "words"),
    [
        (XIAOMING, "我不想长大了，也不想再过下一个生日"),
        (XIAOMEI, "最近常常覺得好累，什麼都不想做"),
        (ALEX, "i feel so empty lately"),
        (XIAOMING, "我们街道的篮球场周末几点开门"),
    ],
)
async def test_a_question_for_a_person_always_gives_the_helpline(
    harness: BotHarness, user: dict[str, Any], words: str
) -> None:
    """No list of phrasings catches every call for help: on new messages written after
    the list was tuned it caught about a quarter. A message it misses and the FAQ cannot
    answer goes to a person; the reply that says so also gives 110 and 12355, so a young
    person in trouble has them at once whatever words they used."""
    await _setup(harness)
    replies = await harness.send(user, words)
    said = texts(replies)
    assert "12355" in said and "110" in said, said
    assert await _urgent_questions(harness) == []  # not a call for help the list knows
    async with harness.sessions() as session:
        (question,) = (await session.scalars(select(Question))).all()
    assert question.text == words and f"{question.id}" in said


async def test_the_committees_copy_of_a_long_cry_fits_with_who_holds_it(
    harness: BotHarness,
) -> None:
    """A call for help is never refused for its length, so its card is cut to fit; the
    committee's copy adds who holds it (a name of up to 128 characters) within that
    budget: it was added after the cut and took the copy past Telegram's 4096, so the
    committee never got it."""
    await _setup(harness)
    async with unit_of_work(harness.sessions) as session:
        await session.execute(
            update(Cadre).where(Cadre.telegram_id == LI["id"]).values(name="李" * 128)
        )
    seq = await harness.client.last_seq()
    cry = CRY + "，" + "每天都被同学欺负" * 500  # 4011 characters
    replies = await harness.send(XIAOMING, cry)
    assert "12355" in texts(replies)
    (urgent,) = await _urgent_questions(harness)
    card = await _wait(harness, COMMITTEE, seq, f"紧急关注 #{urgent.id}")
    assert "李" * 128 in card["text"] and "卡片放不下" in card["text"], card["text"][-300:]
    assert utf16_units(card["text"]) <= 4096


async def test_what_they_tell_next_reaches_the_same_person(harness: BotHarness) -> None:
    """The reply to a call for help invites the young person to go on ("可以继续告诉我发生
    了什么"): what they write next joins that ticket and reaches the cadre who holds it.
    It was asked as a new question instead: a ticket of its own, a card without the call
    for help, or FAQ suggestions about joining the league for "我该怎么办"."""
    await _setup(harness)
    said = texts(await harness.send(XIAOMING, "同学一直欺负我，我不想去学校了"))
    assert "继续告诉我" in said
    (urgent,) = await _urgent_questions(harness)
    for more in ("是我们班的三个男生，已经两个星期了", "我该怎么办"):
        seq = await harness.client.last_seq()
        replies = await harness.send(XIAOMING, more)
        said = texts(replies)
        assert f"#{urgent.id}" in said and "你是想问" not in said, said
        card = await _wait(harness, LI["id"], seq, more)
        assert f"问题 #{urgent.id} " in card["text"], card["text"]
    async with harness.sessions() as session:
        asked = (await session.scalars(select(Question))).all()
    assert [q.id for q in asked] == [urgent.id]


async def test_words_close_to_a_call_for_help_reach_a_person_not_the_faq(
    harness: BotHarness,
) -> None:
    """The list does not know these words, but the concern model finds them close to a
    call for help: no FAQ answer or choices, no alarm either; a person gets the question,
    its card asks them to read it with care, and the young person the helplines."""
    words = "我最近总是一个人躲在房间里哭，不想见任何人"
    await _setup(harness)
    seq = await harness.client.last_seq()
    replies = await harness.send(XIAOMING, words)
    assert "12355" in texts(replies) and "转给团干部" in texts(replies), texts(replies)
    assert not any("pick" in str(m.get("reply_markup")) for m in replies)  # no choices
    assert await _urgent_questions(harness) == []
    async with harness.sessions() as session:
        (question,) = await session.scalars(select(Question))
    assert question.reason == "possible_concern" and question.status != "answered"
    card = await _wait(harness, LI["id"], seq, "问题 #")
    assert "措辞接近求助信息" in card["text"], card["text"]
    # An ordinary question is answered by the FAQ as before, and its card-less path is
    # untouched: no such words on anything sent to the cadre.
    (reply,) = await harness.send(XIAOMING, "请问几岁能入团啊？")
    assert "年满十四周岁" in reply["text"]


# Words the list misses and the concern model flags (about 0.93 against 0.78).
CLOSE_FOLLOW_UP = "其实不只是这样，我每天晚上都一个人哭"
CLOSE_WISH = "希望有人能陪我说说话，我每天都一个人哭"
WITH_CARE = "青年的追问措辞接近求助信息"


async def _ticket(harness: BotHarness) -> Question:
    async with harness.sessions() as session:
        question = await session.scalar(select(Question).order_by(Question.id.desc()))
    assert question is not None
    return question


async def test_a_follow_up_close_to_a_call_for_help_asks_the_cadre_to_read_it_with_care(
    harness: BotHarness,
) -> None:
    """The list does not know the follow-up's words, the concern model finds them close
    to a call for help: the cadre's card of that follow-up says so, with no alarm; the
    audit log notes it (the digest counts it). An ordinary follow-up has no such line."""
    answer = await _answered(harness)
    seq = await harness.client.last_seq()
    ordinary = await harness.send(XIAOMING, "要带身份证吗？", reply_to=answer["message_id"])
    assert "追问已转给团干部" in texts(ordinary) and "12355" not in texts(ordinary)
    plain = await _wait(harness, LI["id"], seq, "身份证")
    assert "追问" in plain["text"] and "措辞接近求助" not in plain["text"], plain["text"]
    seq = await harness.client.last_seq()
    replies = await harness.send(XIAOMING, CLOSE_FOLLOW_UP, reply_to=answer["message_id"])
    assert "追问已转给团干部" in texts(replies)
    # The young person gets the helplines with it, as with a question routed for such
    # words (an ordinary follow-up's reply has none: below).
    assert "12355" in texts(replies) and "110" in texts(replies), texts(replies)
    card = await _wait(harness, LI["id"], seq, "一个人哭")
    assert "追问" in card["text"] and WITH_CARE in card["text"], card["text"]
    assert await _urgent_questions(harness) == []
    question = await _ticket(harness)
    assert [(e.trigger, e.note) for e in question.events if e.trigger == "follow_up"] == [
        ("follow_up", ""),
        ("follow_up", "possible_concern"),
    ]


async def test_in_the_pool_the_card_says_a_follow_up_was_close_to_a_call_for_help(
    harness: BotHarness,
) -> None:
    """With nobody to take it, the follow-up joins the ticket in the pool: the pool card
    (the whole question) carries the line once such a follow-up came, not before."""
    answer = await _answered(harness)
    await _away(harness, WANG, LI, ZHANG)
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "要带身份证吗？", reply_to=answer["message_id"])
    pool = await _wait(harness, COMMITTEE, seq, "待领取")
    assert "身份证" in pool["text"] and "措辞接近求助" not in pool["text"], pool["text"]
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, CLOSE_FOLLOW_UP, reply_to=answer["message_id"])
    again = await _wait(harness, COMMITTEE, seq, "待领取")
    assert "一个人哭" in again["text"] and WITH_CARE in again["text"], again["text"]
    assert await _urgent_questions(harness) == []


async def test_a_wish_close_to_a_call_for_help_asks_the_reviewer_to_read_it_with_care(
    harness: BotHarness,
) -> None:
    """A wish's words the list lets through but the concern model flags: it is submitted
    as any wish (nothing held up, no alarm), and the reviewer's card asks them to read it
    with care. An ordinary wish's card has no such line."""
    await _staff(harness)
    await harness.send(XIAOMING, "/start")
    seq = await harness.client.last_seq()
    ordinary = await _submit(harness)
    card = await _wait(harness, REVIEWER["id"], seq, f"待审核心愿 W{ordinary.id}")
    assert "措辞接近求助" not in card["text"], card["text"]
    assert "12355" not in (await _last(harness, XIAOMING))["text"]
    seq = await harness.client.last_seq()
    wish = await _submit(harness, text=CLOSE_WISH)
    assert wish.text == CLOSE_WISH and wish.status == "submitted"
    # The young person gets the helplines with the confirmation.
    told = (await _last(harness, XIAOMING))["text"]
    assert "心愿已提交" in told and "12355" in told and "110" in told, told
    card = await _wait(harness, REVIEWER["id"], seq, f"待审核心愿 W{wish.id}")
    assert "心愿的措辞接近求助信息" in card["text"], card["text"]
    assert await _urgent_questions(harness) == []
    # The same line on the card a reviewer opens from /review.
    replies = await harness.send(REVIEWER, "/review")
    (listing,) = [m for m in replies if "待审核的心愿" in (m.get("text") or "")]
    seq = await harness.client.last_seq()
    await harness.press(REVIEWER, listing, f"审核 W{wish.id}")
    opened = await _wait(harness, REVIEWER["id"], seq, f"待审核心愿 W{wish.id}")
    assert "心愿的措辞接近求助信息" in opened["text"], opened["text"]


async def test_a_reply_to_the_faq_close_to_a_call_for_help_reaches_a_person_with_care(
    harness: BotHarness,
) -> None:
    """A reply to the FAQ's answer goes to a person with the reply as its first follow-up
    (asking.ask_person_with): when the concern model flags the reply's words, the card
    the cadre gets says so; no alarm."""
    await _setup(harness)
    (answer,) = await harness.send(XIAOMING, "请问几岁能入团啊？")
    assert "年满十四周岁" in answer["text"]
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, CLOSE_FOLLOW_UP, reply_to=answer["message_id"])
    card = await _wait(harness, LI["id"], seq, "一个人哭")
    assert WITH_CARE in card["text"], card["text"]
    assert await _urgent_questions(harness) == []
