"""What simulated users do: post messages and press inline buttons.

Raises ``ValueError`` for a malformed request (HTTP 400) and ``LookupError`` for a missing
chat or message (HTTP 404); the control API maps them.
"""

from __future__ import annotations

import time
from typing import Any

from sandbox.core import SandboxCore
from sandbox.render import detect_entities, telegram_message, view_message
from sandbox.store import Chat, Media
from sandbox.telegram_html import utf16_len


def _user_and_chat(core: SandboxCore, payload: dict[str, Any]) -> tuple[dict[str, Any], Chat]:
    user_payload = payload.get("user")
    if not isinstance(user_payload, dict):
        raise ValueError('"user" must be an object with at least "id" and "first_name"')
    user = core.world.user(user_payload)
    chat_id = payload.get("chat_id")
    if chat_id is None or chat_id == user["id"]:
        # A block stays until /unblock, even if the user writes: tests use this to stage
        # "the user blocked the bot right after sending".
        return user, core.world.private_chat(user)
    if not isinstance(chat_id, int) or chat_id > 0:
        raise ValueError("chat_id must be the user's id (private chat) or a negative group id")
    chat = core.world.group(chat_id)
    chat.members.add(user["id"])
    return user, chat


def _options(value: Any) -> dict[str, Any]:
    """Media flags may be ``true`` or an options object."""
    if value is True:
        return {}
    if isinstance(value, dict):
        return value
    raise ValueError("media fields must be true or an object")


def _media(core: SandboxCore, payload: dict[str, Any]) -> Media | None:
    kinds = [k for k in ("photo", "sticker", "voice", "document") if payload.get(k)]
    if len(kinds) > 1:
        raise ValueError(f"one media kind per message, got {kinds}")
    if not kinds:
        return None
    kind = kinds[0]
    opts = _options(payload[kind])
    if kind == "document" and not opts.get("file_name"):
        raise ValueError('"document" needs a "file_name"')
    size = opts.get("size")
    record = core.files.add(
        kind, file_name=opts.get("file_name"), size=size if isinstance(size, int) else None
    )
    duration = opts.get("duration", 2) if kind == "voice" else None
    return Media(
        kind, record, emoji=opts.get("emoji") if kind == "sticker" else None, duration=duration
    )


def _chat_object(value: Any, *, kind: str, name: str) -> dict[str, Any]:
    """A Bot API Chat for a forward's origin: ``{"id" < 0, "title", "username"?}``."""
    if not isinstance(value, dict) or not isinstance(value.get("id"), int) or value["id"] >= 0:
        raise ValueError(f'forward_origin "{name}" must be a chat with a negative "id"')
    title = value.get("title")
    if not isinstance(title, str) or not title:
        raise ValueError(f'forward_origin "{name}" needs a "title"')
    chat: dict[str, Any] = {"id": value["id"], "type": kind, "title": title}
    if value.get("username"):
        chat["username"] = str(value["username"])
    return chat


def _forward_origin(core: SandboxCore, value: Any) -> dict[str, Any]:
    """The Bot API MessageOrigin of a message the user forwards (Bot API 7.0+):

    ``{"type": "user", "sender_user": user}``, ``{"type": "hidden_user",
    "sender_user_name"}`` (the sender hides their account in forwards), ``{"type":
    "chat", "sender_chat": {"id", "title", "username"?}, "author_signature"?}`` (sent on
    behalf of a group) or ``{"type": "channel", "chat": {...}, "message_id",
    "author_signature"?}``; ``date`` (the original's) defaults to a minute ago.
    """
    if not isinstance(value, dict):
        raise ValueError('"forward_origin" must be an object')
    date = value.get("date", int(time.time()) - 60)
    if not isinstance(date, int) or isinstance(date, bool):
        raise ValueError('forward_origin "date" must be a Unix time')
    kind = value.get("type")
    origin: dict[str, Any] = {"type": kind, "date": date}
    if kind == "user":
        origin["sender_user"] = core.world.user(value.get("sender_user") or {})
    elif kind == "hidden_user":
        name = value.get("sender_user_name")
        if not isinstance(name, str) or not name:
            raise ValueError('forward_origin "hidden_user" needs "sender_user_name"')
        origin["sender_user_name"] = name
    elif kind == "chat":
        origin["sender_chat"] = _chat_object(
            value.get("sender_chat"), kind="supergroup", name="sender_chat"
        )
    elif kind == "channel":
        origin["chat"] = _chat_object(value.get("chat"), kind="channel", name="chat")
        message_id = value.get("message_id")
        if not isinstance(message_id, int) or message_id <= 0:
            raise ValueError('forward_origin "channel" needs a positive "message_id"')
        origin["message_id"] = message_id
    else:
        raise ValueError('forward_origin "type" must be user, hidden_user, chat or channel')
    if kind in ("chat", "channel") and value.get("author_signature"):
        origin["author_signature"] = str(value["author_signature"])
    return origin


def _text_mentions(core: SandboxCore, value: Any, text: str) -> list[dict[str, Any]]:
    """The ``text_mention`` entities of a message: ``[{"offset", "length", "user"}]``, in
    UTF-16 code units of its text or caption, as Telegram sends a mention of someone
    without a username (the whole User object of the person mentioned)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError('"text_mentions" must be a list')
    mentions = []
    for item in value:
        if not isinstance(item, dict):
            raise ValueError('a text mention is {"offset", "length", "user"}')
        offset, length = item.get("offset"), item.get("length")
        if not isinstance(offset, int) or not isinstance(length, int) or isinstance(offset, bool):
            raise ValueError('a text mention needs an integer "offset" and "length"')
        if offset < 0 or length <= 0 or offset + length > utf16_len(text):
            raise ValueError("a text mention must lie within the text")
        user = core.world.user(item.get("user") or {})
        mentions.append({"type": "text_mention", "offset": offset, "length": length, "user": user})
    return mentions


def _with_mentions(
    detected: list[dict[str, Any]], mentions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``detected`` entities that overlap no mention, and the mentions, by offset."""
    spans = [range(m["offset"], m["offset"] + m["length"]) for m in mentions]
    kept = [
        e
        for e in detected
        if not any(e["offset"] < s.stop and s.start < e["offset"] + e["length"] for s in spans)
    ]
    return sorted([*kept, *mentions], key=lambda e: e["offset"])


def _contact(value: Any) -> dict[str, Any] | None:
    """A shared contact: ``{"phone_number", "first_name", "last_name"?, "user_id"?,
    "vcard"?}`` (the Bot API's Contact)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError('"contact" must be an object')
    contact: dict[str, Any] = {}
    for key in ("phone_number", "first_name"):
        if not isinstance(value.get(key), str) or not value[key]:
            raise ValueError(f'a contact needs "{key}"')
        contact[key] = value[key]
    for key in ("last_name", "vcard"):
        if value.get(key):
            contact[key] = str(value[key])
    if value.get("user_id") is not None:
        if not isinstance(value["user_id"], int) or value["user_id"] <= 0:
            raise ValueError('a contact\'s "user_id" must be a positive integer')
        contact["user_id"] = value["user_id"]
    return contact


def _is_unicode(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogate, which JSON can escape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def post_message(core: SandboxCore, payload: dict[str, Any]) -> dict[str, Any]:
    """Simulate a user message; return ``{"update_id", "message_id"}``."""
    user, chat = _user_and_chat(core, payload)
    media = _media(core, payload)
    text = payload.get("text")
    if text is not None and not isinstance(text, str):
        raise ValueError('"text" must be a string')
    for words in (text, payload.get("caption")):
        if isinstance(words, str) and not _is_unicode(words):
            raise ValueError("text with a lone surrogate: Telegram delivers only valid Unicode")
    contact = _contact(payload.get("contact"))
    if contact is not None and (media is not None or text):
        raise ValueError("a contact is a message of its own (no text, no media)")
    if media is None and not text and contact is None:
        raise ValueError('a message needs "text" or one of photo/sticker/voice/document/contact')
    reply_to = payload.get("reply_to_message_id")
    if reply_to is not None and reply_to not in chat.messages:
        raise LookupError(f"message {reply_to} not found in chat {chat.id}")
    fields: dict[str, Any] = {"media": media, "reply_to": reply_to}
    if payload.get("forward_origin") is not None:
        if reply_to is not None:  # Telegram forwards a message as it was, never as a reply
            raise ValueError("a forwarded message cannot be a reply")
        fields["forward_origin"] = _forward_origin(core, payload["forward_origin"])
    if contact is not None:
        fields.update(contact=contact)
    elif media is None:
        mentions = _text_mentions(core, payload.get("text_mentions"), text or "")
        fields.update(text=text, entities=_with_mentions(detect_entities(text or ""), mentions))
    else:
        caption = payload.get("caption") or (text if media.kind in ("photo", "document") else None)
        mentions = _text_mentions(core, payload.get("text_mentions"), caption or "")
        if caption:
            entities = _with_mentions(detect_entities(caption), mentions)
            fields.update(caption=caption, caption_entities=entities)
        group = payload.get("media_group_id")
        if group is not None:
            if not isinstance(group, str) or not group or media.kind not in ("photo", "document"):
                raise ValueError(
                    '"media_group_id" must be a non-empty string, on a photo or document'
                )
            fields.update(media_group_id=group)
    msg = chat.add(user, from_bot=False, **fields)
    update_id = core.updates.put("message", telegram_message(chat, msg))
    core.events.append(
        "user_message", chat_id=chat.id, update_id=update_id, message=view_message(msg)
    )
    return {"update_id": update_id, "message_id": msg.message_id, "chat_id": chat.id}


def pin_message(core: SandboxCore, payload: dict[str, Any]) -> dict[str, Any]:
    """Simulate a user pinning a message of a group: the bot gets the service message,
    whose ``pinned_message`` is the message, or an InaccessibleMessage (``date`` 0) for a
    ``message_id`` the chat's history does not hold (too old for the bot to see).
    Returns ``{"update_id", "message_id", "chat_id"}``."""
    user, chat = _user_and_chat(core, payload)
    if chat.type == "private":
        raise ValueError("pinning is simulated in groups only")
    message_id = payload.get("message_id")
    if not isinstance(message_id, int) or isinstance(message_id, bool) or message_id < 1:
        raise ValueError('"message_id" must be a positive integer')
    msg = chat.add(user, from_bot=False, pinned=message_id)
    update_id = core.updates.put("message", telegram_message(chat, msg))
    core.events.append(
        "user_message", chat_id=chat.id, update_id=update_id, message=view_message(msg)
    )
    return {"update_id": update_id, "message_id": msg.message_id, "chat_id": chat.id}


def edit_message(core: SandboxCore, payload: dict[str, Any]) -> dict[str, Any]:
    """Simulate a user editing the text of a message they sent: an ``edited_message``
    update carries it as it stands now. Returns ``{"update_id", "message_id"}``."""
    user, chat = _user_and_chat(core, payload)
    message_id = payload.get("message_id")
    msg = chat.messages.get(message_id) if isinstance(message_id, int) else None
    if msg is None or msg.from_bot or msg.sender.get("id") != user["id"]:
        raise LookupError(f"no message {message_id} of user {user['id']} in chat {chat.id}")
    text = payload.get("text")
    if not isinstance(text, str) or not text or msg.text is None:
        raise ValueError('"text" must be a non-empty string, on a text message')
    msg.text, msg.entities = text, detect_entities(text)
    msg.edit_date = max(int(time.time()), msg.date + 1)
    update_id = core.updates.put("edited_message", telegram_message(chat, msg))
    core.events.append(
        "user_edited", chat_id=chat.id, update_id=update_id, message=view_message(msg)
    )
    return {"update_id": update_id, "message_id": msg.message_id, "chat_id": chat.id}


def press_button(core: SandboxCore, payload: dict[str, Any]) -> dict[str, Any]:
    """Simulate pressing an inline button; ``data`` is sent as is, forged or not."""
    user_payload = payload.get("user")
    if not isinstance(user_payload, dict):
        raise ValueError('"user" must be an object with at least "id" and "first_name"')
    user = core.world.user(user_payload)
    chat_id = payload.get("chat_id", user["id"])
    chat = core.world.chats.get(chat_id)
    if chat is None:
        raise LookupError(f"chat {chat_id} not found")
    message_id = payload.get("message_id")
    msg = chat.messages.get(message_id) if isinstance(message_id, int) else None
    if msg is None:
        raise LookupError(f"message {message_id} not found in chat {chat_id}")
    data = payload.get("data")
    if not isinstance(data, str):
        raise ValueError('"data" must be a string')
    update_id, query_id = core.new_callback_query(user, chat, msg, data)
    return {"update_id": update_id, "callback_query_id": query_id}
