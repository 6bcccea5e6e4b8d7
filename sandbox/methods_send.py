"""Bot API methods that create messages: send*, copyMessage, forwardMessage."""

from __future__ import annotations

import dataclasses
from typing import Any

from sandbox import rules
from sandbox.core import SandboxCore
from sandbox.errors import bad_request
from sandbox.render import telegram_message
from sandbox.store import Chat, Media

Params = dict[str, Any]


def reply_target(core: SandboxCore, chat: Chat, params: Params) -> int | None:
    """Resolve reply_parameters (or the legacy reply_to_message_id) to a message id."""
    reply = params.get("reply_parameters")
    if reply:
        message_id = reply["message_id"]
        allow = bool(reply.get("allow_sending_without_reply"))
        other = reply.get("chat_id")
        if other is not None and other != chat.id:
            # Replies into another chat are quotes; the sandbox only checks the target exists.
            source = core.world.chat_for_bot(other, sending=False)
            if message_id not in source.messages and not allow:
                raise bad_request("message to be replied not found")
            return None
    elif params.get("reply_to_message_id") is not None:
        message_id = params["reply_to_message_id"]
        allow = bool(params.get("allow_sending_without_reply"))
    else:
        return None
    if message_id in chat.messages:
        return int(message_id)
    if allow:
        return None
    raise bad_request("message to be replied not found")


async def send_message(core: SandboxCore, params: Params) -> Any:
    """sendMessage."""
    text, entities, mode = rules.formatted(params, "text", "entities", caption=False)
    markup = rules.reply_markup(params.get("reply_markup"))
    chat = core.world.chat_for_bot(params["chat_id"])
    msg = chat.add(
        core.bot_user,
        from_bot=True,
        text=text,
        entities=entities,
        html=params["text"] if mode else None,
        parse_mode=mode,
        reply_markup=markup,
        reply_to=reply_target(core, chat, params),
    )
    core.bot_sent(chat, msg)
    return telegram_message(chat, msg)


async def _send_media(core: SandboxCore, params: Params, kind: str) -> Any:
    caption, entities, mode = rules.formatted(params, "caption", "caption_entities", caption=True)
    markup = rules.reply_markup(params.get("reply_markup"))
    chat = core.world.chat_for_bot(params["chat_id"])
    reply_to = reply_target(core, chat, params)
    record = core.files.resolve(kind, params[kind])
    msg = chat.add(
        core.bot_user,
        from_bot=True,
        caption=caption or None,
        caption_entities=entities,
        html=params.get("caption") if mode else None,
        parse_mode=mode,
        reply_markup=markup,
        reply_to=reply_to,
        media=Media(kind, record),
    )
    core.bot_sent(chat, msg)
    return telegram_message(chat, msg)


async def send_photo(core: SandboxCore, params: Params) -> Any:
    """sendPhoto (upload, file_id or URL)."""
    return await _send_media(core, params, "photo")


async def send_document(core: SandboxCore, params: Params) -> Any:
    """sendDocument (upload, file_id or URL)."""
    return await _send_media(core, params, "document")


async def copy_message(core: SandboxCore, params: Params) -> Any:
    """copyMessage: a new bot message with the same content, without a link to the source."""
    source_chat = core.world.chat_for_bot(params["from_chat_id"], sending=False)
    source = source_chat.find(params["message_id"], "message to copy not found")
    fields: dict[str, Any] = {"reply_markup": rules.reply_markup(params.get("reply_markup"))}
    if source.media is not None and "caption" in params:
        caption, entities, mode = rules.formatted(
            params, "caption", "caption_entities", caption=True
        )
        fields.update(caption=caption or None, caption_entities=entities, parse_mode=mode)
        fields["html"] = params["caption"] if mode else None
    else:
        fields.update(
            caption=source.caption,
            caption_entities=source.caption_entities,
            html=source.html,
            parse_mode=source.parse_mode,
        )
    chat = core.world.chat_for_bot(params["chat_id"])
    fields["reply_to"] = reply_target(core, chat, params)
    msg = chat.add(
        core.bot_user,
        from_bot=True,
        text=source.text,
        entities=list(source.entities),
        media=dataclasses.replace(source.media) if source.media else None,
        **fields,
    )
    core.bot_sent(chat, msg)
    return {"message_id": msg.message_id}


async def forward_message(core: SandboxCore, params: Params) -> Any:
    """forwardMessage: same content plus ``forward_origin`` naming the original sender."""
    source_chat = core.world.chat_for_bot(params["from_chat_id"], sending=False)
    source = source_chat.find(params["message_id"], "message to forward not found")
    chat = core.world.chat_for_bot(params["chat_id"])
    origin = {"type": "user", "sender_user": source.sender, "date": source.date}
    msg = chat.add(
        core.bot_user,
        from_bot=True,
        text=source.text,
        entities=list(source.entities),
        caption=source.caption,
        caption_entities=list(source.caption_entities),
        media=dataclasses.replace(source.media) if source.media else None,
        forward_origin=origin,
    )
    core.bot_sent(chat, msg)
    return telegram_message(chat, msg)


HANDLERS = {
    "sendmessage": send_message,
    "sendphoto": send_photo,
    "senddocument": send_document,
    "copymessage": copy_message,
    "forwardmessage": forward_message,
}
