"""Whatever a person sends is stored and answered: text, stickers, long text, bad buttons."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storage.models import INBOUND_FAILED, INBOUND_HANDLED, InboundMessage
from storage.questions import Question
from tests.support import COMMITTEE_CHAT, XIAOMING, BotHarness, texts


async def _inbound(harness: BotHarness) -> list[InboundMessage]:
    async with harness.sessions() as session:
        return list(await session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


async def test_text_is_stored_and_answered(harness: BotHarness) -> None:
    await harness.send(XIAOMING, "/help")  # inbound ids and question ids now differ
    replies = await harness.send(XIAOMING, "小区篮球场坏了找谁修")
    rows = await _inbound(harness)
    assert rows[-1].text == "小区篮球场坏了找谁修"
    assert rows[-1].status == INBOUND_HANDLED and rows[-1].kind == "text"
    async with harness.sessions() as session:
        question = await session.scalar(select(Question))
    assert question is not None and question.inbound_update_id == rows[-1].update_id
    assert f"问题编号 {question.id}" in texts(replies)


async def test_too_long_text_is_kept_and_explained(harness: BotHarness) -> None:
    text = "问" * (harness.settings.max_text_length + 1)
    replies = await harness.send(XIAOMING, text)
    assert "超过了" in texts(replies)
    assert (await _inbound(harness))[-1].text == text


async def test_sticker_and_photo_get_a_clear_reply(harness: BotHarness) -> None:
    sent = await harness.client.send_sticker(XIAOMING)
    await harness.settled(sent["update_id"])
    sent = await harness.client.send_photo(XIAOMING)
    await harness.settled(sent["update_id"])
    replies = [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]]
    assert len(replies) == 2 and all("请用文字" in m["text"] for m in replies)
    kinds = [(row.kind, row.text) for row in await _inbound(harness)]
    assert kinds == [("sticker", None), ("photo", None)]


async def _reply_to(harness: BotHarness, sent: dict[str, Any]) -> dict[str, Any]:
    await harness.settled(sent["update_id"])
    return [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]][-1]


async def test_a_caption_is_asked_as_the_question(harness: BotHarness) -> None:
    """The words a young person wrote under a photo or a file are their question (they
    were told to use words, and did): answered from the FAQ or taken to a person, with a
    word that the picture itself was not read and goes to nobody."""
    answered = await _reply_to(
        harness, await harness.client.send_photo(XIAOMING, caption="团费怎么交？")
    )
    assert "团费按月缴纳" in answered["text"] and "只读了你附上的文字" in answered["text"]
    seq = await harness.client.last_seq()
    sent = await harness.client.send_document(
        XIAOMING, "照片.pdf", caption="小区篮球场坏了找谁修，我的手机13812345678"
    )
    routed = await _reply_to(harness, sent)
    async with harness.sessions() as session:
        question = await session.scalar(select(Question).order_by(Question.id.desc()))
    assert question is not None and question.text.startswith("小区篮球场坏了")
    assert f"问题编号 {question.id}" in routed["text"] and "只读了你附上的文字" in routed["text"]
    card = await harness.client.wait_for_bot_message(
        2001, after_seq=seq, timeout=10, predicate=lambda m: "问题 #" in (m.get("text") or "")
    )
    assert "小区篮球场坏了" in card["text"] and "13812345678" not in card["text"]
    assert not card.get("document") and not card.get("photo")  # the file stays with us


async def test_unknown_command(harness: BotHarness) -> None:
    replies = await harness.send(XIAOMING, "/frobnicate now")
    assert "/frobnicate" in texts(replies) and "/help" in texts(replies)


async def test_forged_callback_data_gets_a_polite_refusal(harness: BotHarness) -> None:
    reply = (await harness.send(XIAOMING, "/help"))[-1]
    for data in ("v1:rgs:../../x", "hello", "v9:lang:en", "v1:lang:klingon", "v1:ok:abc"):
        answer = await harness.press_data(XIAOMING, reply["message_id"], data)
        assert answer["show_alert"] and "失效" in answer["text"], data


async def test_group_chatter_is_stored_but_not_answered(harness: BotHarness) -> None:
    member = {"id": 5001, "first_name": "群友", "language_code": "zh-hans"}
    assert await harness.send(member, "大家好", chat_id=COMMITTEE_CHAT) == []
    replies = await harness.send(member, "/start", chat_id=COMMITTEE_CHAT)
    assert "私聊" in texts(replies)
    assert [row.text for row in await _inbound(harness)] == ["大家好", "/start"]


async def test_blocked_user_is_marked_unreachable_and_message_kept(harness: BotHarness) -> None:
    await harness.send(XIAOMING, "/start")
    await harness.client.block(XIAOMING["id"])
    sent = await harness.client.send_text(XIAOMING, "还在吗")
    row = await harness.settled(sent["update_id"])
    assert row.status == INBOUND_FAILED and "Forbidden" in (row.error or "")
    assert row.text == "还在吗"
    user = await harness.user(XIAOMING["id"])
    assert user is not None and user.unreachable_at is not None


async def test_a_crashing_handler_keeps_the_message_and_apologises(harness: BotHarness) -> None:
    from telegram.ext import MessageHandler, filters

    async def explode(update: object, context: object) -> None:
        raise RuntimeError("boom")

    harness.app.add_handler(MessageHandler(filters.Regex("^explode$"), explode), group=-1)
    replies = await harness.send(XIAOMING, "explode")
    # The apology alone: no later handler goes on to answer what was rolled back.
    (apology,) = replies
    assert "出了点问题" in apology["text"]
    row = (await _inbound(harness))[-1]
    assert row.status == INBOUND_FAILED and row.text == "explode"
    # The type and where it was raised; the message could quote a person's text.
    assert (row.error or "").startswith("RuntimeError at ") and "boom" not in (row.error or "")


async def test_a_pin_of_an_old_message_in_a_group_holds_up_nothing(harness: BotHarness) -> None:
    """A cadre pins an old card in the committee's group: Telegram sends the pinned
    message as an InaccessibleMessage (date 0), whose date PTB writes back as a datetime.
    Storing it failed (not JSON), the batch was kept for the next try, the getUpdates
    that would confirm it never came: the bot heard nobody again."""
    wang = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}
    mark = await harness.inbound_mark()
    pinned = await harness.client.pin(wang, COMMITTEE_CHAT, 7)
    row = await harness.settled(pinned["update_id"], after=mark)
    assert row.status == INBOUND_HANDLED
    assert row.payload["message"]["pinned_message"] == {
        "chat": row.payload["message"]["chat"],
        "message_id": 7,
        "date": 0,
    }
    (reply,) = await harness.send(XIAOMING, "请问几岁能入团啊？")
    assert "年满十四周岁" in reply["text"]


async def _album(harness: BotHarness, album: str, captions: list[str | None]) -> list[str]:
    """Send an album (a message per photo, as Telegram does); the bot's replies to it."""
    before = len([m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]])
    for caption in captions:
        sent = await harness.client.send_photo(XIAOMING, caption=caption, media_group_id=album)
        await harness.settled(sent["update_id"])
    replies = [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]]
    return [m["text"] for m in replies[before:]]


async def test_an_album_is_answered_once(harness: BotHarness) -> None:
    """Three photos with one caption are one message to the young person: the caption is
    answered, and the other two photos do not add "please write it in words" after it.
    Without any caption, the request comes once."""
    await harness.send(XIAOMING, "/start")
    (answer,) = await _album(harness, "album-1", ["团费怎么交？", None, None])
    assert "团费按月缴纳" in answer
    (request,) = await _album(harness, "album-2", [None, None, None])
    assert "请用文字" in request
    assert [row.kind for row in await _inbound(harness)][-6:] == ["photo"] * 6  # all kept
