"""The fake Bot API refuses what Telegram refuses, with Telegram's status and wording."""

from __future__ import annotations

import pytest

from sandbox import SandboxClient, SandboxServer
from tests.sandbox.conftest import CADRE, YOUTH, BotCall

BUTTON = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}


@pytest.fixture
async def chat(client: SandboxClient) -> int:
    """YOUTH's private chat, opened by the user writing first."""
    await client.send_text(YOUTH, "你好")
    return YOUTH.id


def _bad(body: dict[str, object], description: str) -> None:
    assert body == {"ok": False, "error_code": 400, "description": description}


async def test_wrong_token_is_401(bot_call: BotCall) -> None:
    status, body = await bot_call("getMe", _token="999:WRONG")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})


async def test_unknown_method_is_404_and_names_are_case_insensitive(
    bot_call: BotCall, server: SandboxServer
) -> None:
    status, body = await bot_call("sendMessagez")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    status, body = await bot_call("GETME")
    assert status == 200 and body["result"]["username"] == "voice_of_youth_bot"
    assert body["result"]["is_bot"] is True and body["result"]["id"] == 123456


async def test_missing_required_field(bot_call: BotCall, chat: int, server: SandboxServer) -> None:
    status, body = await bot_call("sendMessage", chat_id=chat)
    assert status == 400
    _bad(body, "Bad Request: message text is empty")
    status, body = await bot_call("deleteMessage", chat_id=chat)
    _bad(body, "Bad Request: message_id is empty")
    assert [v["method"] for v in server.violations] == ["sendMessage", "deleteMessage"]
    assert server.violations[0]["params"] == {"chat_id": str(chat)}


async def test_wrong_types(bot_call: BotCall, chat: int) -> None:
    status, body = await bot_call("deleteMessage", chat_id=chat, message_id="abc")
    _bad(body, 'Bad Request: parameter "message_id" must be of type Integer')
    status, body = await bot_call("sendMessage", _json=True, chat_id=chat, text=5)
    _bad(body, 'Bad Request: field "text" must be of type String')
    markup = {"inline_keyboard": [[{"text": "x", "callback_data": 7}]]}
    status, body = await bot_call("sendMessage", chat_id=chat, text="x", reply_markup=markup)
    _bad(
        body,
        'Bad Request: field "reply_markup.inline_keyboard[0][0].callback_data" '
        "must be of type String",
    )
    status, body = await bot_call("sendMessage", chat_id=chat, text="x", reply_markup="{oops")
    assert status == 400 and "reply_markup" in body["description"]


async def test_text_length_counts_utf16_after_parsing(bot_call: BotCall, chat: int) -> None:
    status, _ = await bot_call(
        "sendMessage", chat_id=chat, text="<b>" + "x" * 4096 + "</b>", parse_mode="HTML"
    )
    assert status == 200
    status, body = await bot_call("sendMessage", chat_id=chat, text="x" * 4097)
    _bad(body, "Bad Request: message is too long")
    status, body = await bot_call("sendMessage", chat_id=chat, text="<b> </b>", parse_mode="HTML")
    _bad(body, "Bad Request: message text is empty")


async def test_bad_html_and_unsupported_parse_modes(bot_call: BotCall, chat: int) -> None:
    status, body = await bot_call(
        "sendMessage", chat_id=chat, text="你好 <foo>", parse_mode="HTML"
    )
    _bad(body, 'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 7')
    status, body = await bot_call("sendMessage", chat_id=chat, text="*x*", parse_mode="MarkdownV2")
    assert status == 400 and body["description"].startswith("Bad Request: sandbox:")
    status, body = await bot_call("sendMessage", chat_id=chat, text="x", parse_mode="bbcode")
    _bad(body, "Bad Request: unsupported parse_mode")


async def test_keyboard_rules(bot_call: BotCall, chat: int) -> None:
    def markup(**button: object) -> dict[str, object]:
        return {"inline_keyboard": [[{"text": "b", **button}]]}

    for data in ("x" * 65, "é" * 33, ""):  # 65 bytes, 66 bytes (33 characters), empty
        status, body = await bot_call(
            "sendMessage", chat_id=chat, text="x", reply_markup=markup(callback_data=data)
        )
        _bad(body, "Bad Request: BUTTON_DATA_INVALID")
    status, _ = await bot_call(
        "sendMessage", chat_id=chat, text="x", reply_markup=markup(callback_data="é" * 32)
    )  # 64 bytes
    assert status == 200
    status, body = await bot_call("sendMessage", chat_id=chat, text="x", reply_markup=markup())
    assert "Text buttons are unallowed" in body["description"]
    status, body = await bot_call(
        "sendMessage",
        chat_id=chat,
        text="x",
        reply_markup=markup(callback_data="a", url="https://x.org"),
    )
    assert status == 400 and "exactly one" in body["description"]


async def test_unknown_parameter_is_a_soft_violation(
    bot_call: BotCall, chat: int, server: SandboxServer
) -> None:
    status, _ = await bot_call("sendMessage", chat_id=chat, text="x", parse_mod="HTML")
    assert status == 200  # Telegram ignores unknown parameters...
    (violation,) = server.violations  # ...but they are almost always typos
    assert violation["soft"] and 'unknown parameter "parse_mod"' in violation["description"]


async def test_not_modified_and_missing_messages(bot_call: BotCall, chat: int) -> None:
    _, sent = await bot_call(
        "sendMessage", chat_id=chat, text="<b>a</b>", parse_mode="HTML", reply_markup=BUTTON
    )
    message_id = sent["result"]["message_id"]
    status, body = await bot_call(
        "editMessageText",
        chat_id=chat,
        message_id=message_id,
        text="<b>a</b>",
        parse_mode="HTML",
        reply_markup=BUTTON,
    )
    assert status == 400 and body["description"].startswith("Bad Request: message is not modified")
    status, body = await bot_call(
        "editMessageReplyMarkup", chat_id=chat, message_id=message_id, reply_markup=BUTTON
    )
    assert body["description"].startswith("Bad Request: message is not modified")
    status, body = await bot_call("editMessageText", chat_id=chat, message_id=message_id, text="a")
    assert status == 200 and "reply_markup" not in body["result"]  # same text, keyboard removed
    for method, description in [
        ("editMessageText", "message to edit not found"),
        ("deleteMessage", "message to delete not found"),
        ("copyMessage", "message to copy not found"),
    ]:
        extra = {"from_chat_id": chat} if method == "copyMessage" else {"text": "t"}
        if method == "deleteMessage":
            extra = {}
        status, body = await bot_call(method, chat_id=chat, message_id=999, **extra)
        _bad(body, f"Bad Request: {description}")
    status, body = await bot_call(
        "sendMessage", chat_id=chat, text="x", reply_parameters={"message_id": 999}
    )
    _bad(body, "Bad Request: message to be replied not found")
    status, _ = await bot_call(
        "sendMessage",
        chat_id=chat,
        text="x",
        reply_parameters={"message_id": 999, "allow_sending_without_reply": True},
    )
    assert status == 200


async def test_chat_not_found_and_blocked_user(
    bot_call: BotCall, chat: int, client: SandboxClient, server: SandboxServer
) -> None:
    status, body = await bot_call("sendMessage", chat_id=987_654_321, text="x")
    _bad(body, "Bad Request: chat not found")  # this user never wrote to the bot
    # Staff personas have started the bot before: their chat exists from the start.
    status, body = await bot_call("sendMessage", chat_id=CADRE.id, text="x")
    assert status == 200
    await client.block(YOUTH.id)
    status, body = await bot_call("sendMessage", chat_id=chat, text="x")
    assert (status, body["description"]) == (403, "Forbidden: bot was blocked by the user")
    assert [v["description"] for v in server.violations] == ["Bad Request: chat not found"]
    await client.unblock(YOUTH.id)
    status, _ = await bot_call("sendMessage", chat_id=chat, text="x")
    assert status == 200


async def test_callback_answer_rules(bot_call: BotCall, chat: int, client: SandboxClient) -> None:
    _, sent = await bot_call("sendMessage", chat_id=chat, text="q", reply_markup=BUTTON)
    pressed = await client.press(YOUTH, sent["result"]["message_id"], "forged:data")
    query_id = pressed["callback_query_id"]
    status, body = await bot_call(
        "answerCallbackQuery", callback_query_id=query_id, text="x" * 201
    )
    _bad(body, "Bad Request: MESSAGE_TOO_LONG")
    status, _ = await bot_call("answerCallbackQuery", callback_query_id=query_id, text="好")
    assert status == 200
    assert (await client.callback_answer(query_id))["text"] == "好"
    status, body = await bot_call("answerCallbackQuery", callback_query_id=query_id)
    assert status == 400 and "query ID is invalid" in body["description"]


async def test_json_and_form_bodies_agree(bot_call: BotCall, chat: int) -> None:
    status, body = await bot_call(
        "sendMessage",
        _json=True,
        chat_id=chat,
        text="<i>j</i>",
        parse_mode="HTML",
        reply_markup=BUTTON,
    )
    assert status == 200
    assert body["result"]["entities"] == [{"offset": 0, "length": 1, "type": "italic"}]
    assert body["result"]["reply_markup"] == BUTTON
    assert body["result"]["chat"] == {"id": chat, "type": "private", "first_name": "小明"}
