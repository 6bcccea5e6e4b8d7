"""A real PTB Application, polling the sandbox over HTTP, sees Telegram-like behaviour."""

from __future__ import annotations

import html
import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from telegram import (
    BotCommand,
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from sandbox import SandboxClient, SandboxServer
from tests.sandbox.conftest import CADRE, COMMITTEE, YOUTH, start_polling, stop_polling

App = Application[Any, Any, Any, Any, Any, Any]
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("按我", callback_data="v1:press")]])


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with the text in bold and a button."""
    assert update.message is not None
    await update.message.reply_text(
        f"<b>回声</b>: {html.escape(update.message.text or '')}",
        parse_mode=ParseMode.HTML,
        reply_markup=KEYBOARD,
    )


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /start, proving the bot_command entity is there."""
    assert update.message is not None
    await update.message.reply_text("started", reply_to_message_id=update.message.message_id)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the press and edit the message."""
    query = update.callback_query
    assert query is not None
    await query.answer("已收到", show_alert=True)
    await query.edit_message_text(f"<i>pressed</i> {query.data}", parse_mode=ParseMode.HTML)


@pytest.fixture
async def app(build_app: Callable[[], App]) -> AsyncIterator[App]:
    """A running echo bot."""
    application = build_app()
    application.add_handler(CommandHandler("start", start))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    application.add_handler(CallbackQueryHandler(pressed))
    await start_polling(application)
    yield application
    await stop_polling(application)


async def test_echo_button_and_edit(
    app: App, client: SandboxClient, server: SandboxServer
) -> None:
    seq = await client.last_seq()
    await client.send_text(YOUTH, "你好 😀")
    reply = await client.wait_for_bot_message(YOUTH.id, after_seq=seq)
    assert reply["text"] == "回声: 你好 😀" and reply["html"] == "<b>回声</b>: 你好 😀"
    assert reply["entities"] == [{"offset": 0, "length": 2, "type": "bold"}]
    assert reply["reply_markup"] == [[{"text": "按我", "callback_data": "v1:press"}]]

    seq = await client.last_seq()
    press = await client.press(YOUTH, reply["message_id"], "v1:press")
    edited = await client.wait_for_bot_message(
        YOUTH.id, after_seq=seq, predicate=lambda m: m["edited"]
    )
    assert edited["message_id"] == reply["message_id"] and edited["event"] == "bot_edit"
    assert edited["text"] == "pressed v1:press" and edited["reply_markup"] is None
    answer = await client.callback_answer(press["callback_query_id"])
    assert answer == {**answer, "answered": True, "text": "已收到", "show_alert": True}
    assert server.violations == []


@pytest.mark.parametrize("command", ["/start", "/start@voice_of_youth_bot extra"])
async def test_commands_reach_command_handler(
    app: App, client: SandboxClient, command: str
) -> None:
    seq = await client.last_seq()
    sent = await client.send_text(YOUTH, command)
    reply = await client.wait_for_bot_message(YOUTH.id, after_seq=seq)
    assert reply["text"] == "started" and reply["reply_to_message_id"] == sent["message_id"]


async def test_bad_calls_raise_ptb_errors(app: App, client: SandboxClient) -> None:
    await client.send_text(YOUTH, "hi")
    bot = app.bot
    with pytest.raises(BadRequest, match=r'(?i)unsupported start tag "x"'):
        await bot.send_message(YOUTH.id, "<x>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(987_654_321, "hello")  # a user who never wrote
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("t", chat_id=YOUTH.id, message_id=999)
    await client.block(YOUTH.id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(YOUTH.id, "still there?")


async def test_media_copy_forward_and_files(
    app: App, client: SandboxClient, server: SandboxServer
) -> None:
    bot = app.bot
    await client.send_text(YOUTH, "hi")
    await client.send_text(CADRE, "hi")
    photo = await bot.send_photo(
        YOUTH.id, io.BytesIO(b"\x89PNG-bytes"), caption="<b>图</b>", parse_mode=ParseMode.HTML
    )
    assert isinstance(photo, Message) and photo.caption == "图" and len(photo.photo) == 2
    file = await bot.get_file(photo.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == b"\x89PNG-bytes"

    document = await bot.send_document(YOUTH.id, io.BytesIO(b"a,b\n"), filename="名单.csv")
    assert document.document is not None and document.document.file_name == "名单.csv"

    sent = await client.send_photo(YOUTH, caption="我的照片")
    copied = await bot.copy_message(CADRE.id, YOUTH.id, sent["message_id"], caption="转交")
    forwarded = await bot.forward_message(CADRE.id, YOUTH.id, sent["message_id"])
    assert forwarded.forward_origin is not None and forwarded.photo
    cadre_view = await client.messages(CADRE.id)
    copy_view = next(m for m in cadre_view if m["message_id"] == copied.message_id)
    assert copy_view["caption"] == "转交" and copy_view["photo"]["size"] > 0
    user_photo = await bot.get_file(forwarded.photo[-1].file_id)  # the user's placeholder
    assert (await user_photo.download_as_bytearray()).startswith(b"\x89PNG")

    assert await bot.delete_message(CADRE.id, copied.message_id)
    assert copied.message_id not in [m["message_id"] for m in await client.messages(CADRE.id)]
    assert server.violations == []


async def test_groups_commands_and_misc(
    app: App, client: SandboxClient, server: SandboxServer
) -> None:
    bot = app.bot
    group = COMMITTEE.chat
    await client.set_chat(group, title="团委", admins=[COMMITTEE.id], creator=CADRE.id)
    await client.send_text(CADRE, "hi", chat_id=group)
    await client.send_text(YOUTH, "hi", chat_id=group)
    assert isinstance(await bot.get_chat_member(group, COMMITTEE.id), ChatMemberAdministrator)
    assert isinstance(await bot.get_chat_member(group, CADRE.id), ChatMemberOwner)
    assert isinstance(await bot.get_chat_member(group, YOUTH.id), ChatMemberMember)
    admins = await bot.get_chat_administrators(group)
    assert [a.user.id for a in admins] == [CADRE.id, COMMITTEE.id]
    chat = await bot.get_chat(group)
    assert (chat.title, chat.type) == ("团委", "group")
    message = await bot.send_message(group, "大家好")
    assert message.chat.id == group
    views = await client.messages(group)
    assert views[-1]["message_id"] == message.message_id and views[-1]["text"] == "大家好"

    commands = [BotCommand("start", "开始"), BotCommand("help", "帮助")]
    assert await bot.set_my_commands(commands)
    assert tuple(await bot.get_my_commands()) == tuple(commands)
    assert await bot.send_chat_action(group, "typing")
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0
    assert server.violations == []


async def test_restarted_bot_gets_unacknowledged_updates(
    build_app: Callable[[], App], client: SandboxClient, server: SandboxServer
) -> None:
    first = build_app()
    first.add_handler(MessageHandler(filters.TEXT, echo))
    await start_polling(first)
    seq = await client.last_seq()
    await client.send_text(YOUTH, "one")
    await client.wait_for_bot_message(YOUTH.id, after_seq=seq)
    await stop_polling(first)

    await client.send_text(YOUTH, "two")  # arrives while no bot is running
    second = build_app()
    second.add_handler(MessageHandler(filters.TEXT, echo))
    seq = await client.last_seq()
    await start_polling(second)
    reply = await client.wait_for_bot_message(YOUTH.id, after_seq=seq)
    await stop_polling(second)
    assert reply["text"] == "回声: two"
    assert [m["text"] for m in await client.messages(YOUTH.id)] == [
        "one",
        "回声: one",
        "two",
        "回声: two",
    ]
    assert server.violations == []  # stopping and restarting is no getUpdates conflict


async def test_ptb_defaults_leaking_into_edits_are_not_violations(
    server: SandboxServer, client: SandboxClient
) -> None:
    # PTB adds Defaults' parse_mode/disable_notification/protect_content even to methods
    # that lack them (editMessageReplyMarkup, forwardMessage); Telegram ignores them.
    defaults = Defaults(parse_mode=ParseMode.HTML, disable_notification=True, protect_content=True)
    app = (
        ApplicationBuilder()
        .token(server.token)
        .base_url(server.base_url)
        .defaults(defaults)
        .build()
    )
    await client.send_text(YOUTH, "hi")
    async with app:
        bot = app.bot
        sent = await bot.send_message(YOUTH.id, "<b>t</b>", reply_markup=KEYBOARD)
        await bot.edit_message_text("t2", chat_id=YOUTH.id, message_id=sent.message_id)
        await bot.edit_message_reply_markup(YOUTH.id, sent.message_id, reply_markup=KEYBOARD)
        photo = await bot.send_photo(YOUTH.id, io.BytesIO(b"x"), caption="c")
        await bot.edit_message_caption(YOUTH.id, photo.message_id, caption="<i>c2</i>")
        await bot.forward_message(YOUTH.id, YOUTH.id, 1)
    assert server.violations == []
