"""Bot API methods that change or remove messages: editMessage*, deleteMessage."""

from __future__ import annotations

import time
from typing import Any

from sandbox import rules
from sandbox.core import SandboxCore
from sandbox.errors import bad_request
from sandbox.render import telegram_message
from sandbox.store import Chat, StoredMessage

Params = dict[str, Any]
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


def _inline(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    return markup if markup and markup.get("inline_keyboard") else None


def _target(core: SandboxCore, params: Params) -> tuple[Chat, StoredMessage]:
    if params.get("inline_message_id"):
        raise bad_request("sandbox: inline messages (inline_message_id) are not supported")
    if params.get("chat_id") is None or params.get("message_id") is None:
        raise bad_request("message identifier is not specified")
    chat = core.world.chat_for_bot(params["chat_id"], sending=False)
    msg = chat.find(params["message_id"], "message to edit not found")
    if not msg.from_bot:
        raise bad_request("message can't be edited")
    return chat, msg


def _apply(
    core: SandboxCore, chat: Chat, msg: StoredMessage, markup: dict[str, Any] | None
) -> Any:
    # Any edit replaces the inline keyboard (omitting reply_markup removes it, as on Telegram).
    if markup is not None or _inline(msg.reply_markup):
        msg.reply_markup = markup
    msg.edit_date = int(time.time())
    core.bot_edited(chat, msg)
    return telegram_message(chat, msg)


async def edit_message_text(core: SandboxCore, params: Params) -> Any:
    """editMessageText."""
    text, entities, mode = rules.formatted(params, "text", "entities", caption=False)
    markup = rules.reply_markup(params.get("reply_markup"))
    chat, msg = _target(core, params)
    if msg.text is None:
        raise bad_request("there is no text in the message to edit")
    same_markup = _inline(markup) == _inline(msg.reply_markup)
    if text == msg.text and entities == msg.entities and same_markup:
        raise bad_request(NOT_MODIFIED)
    msg.text, msg.entities, msg.parse_mode = text, entities, mode
    msg.html = params["text"] if mode else None
    return _apply(core, chat, msg, markup)


async def edit_message_caption(core: SandboxCore, params: Params) -> Any:
    """editMessageCaption (omitting caption removes it)."""
    caption, entities, mode = rules.formatted(params, "caption", "caption_entities", caption=True)
    markup = rules.reply_markup(params.get("reply_markup"))
    chat, msg = _target(core, params)
    if msg.media is None:
        raise bad_request("there is no caption in the message to edit")
    same_markup = _inline(markup) == _inline(msg.reply_markup)
    if (caption or None) == msg.caption and entities == msg.caption_entities and same_markup:
        raise bad_request(NOT_MODIFIED)
    msg.caption, msg.caption_entities, msg.parse_mode = caption or None, entities, mode
    msg.html = params.get("caption") if mode else None
    return _apply(core, chat, msg, markup)


async def edit_message_reply_markup(core: SandboxCore, params: Params) -> Any:
    """editMessageReplyMarkup (omitting reply_markup removes the keyboard)."""
    markup = rules.reply_markup(params.get("reply_markup"))
    chat, msg = _target(core, params)
    if _inline(markup) == _inline(msg.reply_markup):
        raise bad_request(NOT_MODIFIED)
    return _apply(core, chat, msg, markup)


async def delete_message(core: SandboxCore, params: Params) -> Any:
    """deleteMessage."""
    chat = core.world.chat_for_bot(params["chat_id"], sending=False)
    chat.find(params["message_id"], "message to delete not found")
    del chat.messages[params["message_id"]]
    core.events.append("bot_delete", chat_id=chat.id, message_id=params["message_id"])
    return True


HANDLERS = {
    "editmessagetext": edit_message_text,
    "editmessagecaption": edit_message_caption,
    "editmessagereplymarkup": edit_message_reply_markup,
    "deletemessage": delete_message,
}
