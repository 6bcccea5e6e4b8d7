"""Render stored messages as Bot API Message objects and as control-API views."""

from __future__ import annotations

import re
from typing import Any

from sandbox.store import Chat, Media, StoredMessage
from sandbox.telegram_html import utf16_len

# What Telegram auto-detects in user text; only the kinds a bot commonly relies on.
_DETECTORS = (
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?!\w)")),
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}(?!\w)")),
)


def detect_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram adds to a user's text: bot_command (incl. /cmd@bot), url, mention."""
    found: list[dict[str, Any]] = []
    taken: list[range] = []
    for kind, pattern in _DETECTORS:
        for match in pattern.finditer(text):
            span = range(match.start(), match.end())
            if any(span.start < t.stop and t.start < span.stop for t in taken):
                continue
            taken.append(span)
            offset = utf16_len(text[: match.start()])
            found.append({"type": kind, "offset": offset, "length": utf16_len(match.group())})
    return sorted(found, key=lambda e: e["offset"])


def _media(media: Media) -> tuple[str, Any]:
    record = media.file
    base = {"file_id": record.file_id, "file_unique_id": record.file_unique_id}
    if media.kind == "photo":
        small = {**base, "file_unique_id": record.file_unique_id + "s", "file_size": 1024}
        small.update(file_id=record.file_id + "_s", width=90, height=67)
        return "photo", [small, {**base, "file_size": record.size, "width": 800, "height": 600}]
    if media.kind == "sticker":
        sticker = {**base, "type": "regular", "width": 512, "height": 512}
        sticker.update(is_animated=False, is_video=False, file_size=record.size)
        return "sticker", {**sticker, "emoji": media.emoji or "🙂"}
    if media.kind == "voice":
        voice = {**base, "duration": media.duration or 1, "mime_type": record.mime_type}
        return "voice", {**voice, "file_size": record.size}
    document = {**base, "file_name": record.file_name, "mime_type": record.mime_type}
    return "document", {**document, "file_size": record.size}


def legacy_forward_fields(origin: dict[str, Any]) -> dict[str, Any]:
    """The fields a forward was told by before Bot API 7.0, which Telegram still sends
    beside ``forward_origin``: no longer in the spec (the checker would call them unknown
    fields; clients keep or ignore them, PTB as ``api_kwargs``), sent here as they are
    because a bot that stores updates sees them."""
    fields: dict[str, Any] = {}
    kind = origin.get("type")
    if kind == "user":
        fields["forward_from"] = origin["sender_user"]
    elif kind == "hidden_user":
        fields["forward_sender_name"] = origin["sender_user_name"]
    elif kind == "chat":
        fields["forward_from_chat"] = origin["sender_chat"]
    elif kind == "channel":
        fields["forward_from_chat"] = origin["chat"]
        fields["forward_from_message_id"] = origin["message_id"]
    if origin.get("author_signature"):
        fields["forward_signature"] = origin["author_signature"]
    fields["forward_date"] = origin["date"]
    return fields


def telegram_message(chat: Chat, msg: StoredMessage, *, nested: bool = False) -> dict[str, Any]:
    """The Bot API Message object for ``msg`` (``reply_to_message`` one level deep)."""
    data: dict[str, Any] = {
        "message_id": msg.message_id,
        "from": msg.sender,
        "chat": chat.telegram(),
        "date": msg.date,
    }
    if msg.edit_date:
        data["edit_date"] = msg.edit_date
    if msg.forward_origin:
        data["forward_origin"] = msg.forward_origin
        data.update(legacy_forward_fields(msg.forward_origin))
    if msg.text is not None:
        data["text"] = msg.text
        if msg.entities:
            data["entities"] = msg.entities
    if msg.contact is not None:
        data["contact"] = msg.contact
    if msg.media is not None:
        key, value = _media(msg.media)
        data[key] = value
        if msg.media_group_id:
            data["media_group_id"] = msg.media_group_id
        if msg.caption:
            data["caption"] = msg.caption
            if msg.caption_entities:
                data["caption_entities"] = msg.caption_entities
    # Telegram only echoes inline keyboards back inside Message objects.
    if msg.reply_markup and "inline_keyboard" in msg.reply_markup:
        data["reply_markup"] = msg.reply_markup
    replied = chat.messages.get(msg.reply_to) if msg.reply_to else None
    if replied is not None and not nested:
        data["reply_to_message"] = telegram_message(chat, replied, nested=True)
    if msg.pinned is not None and not nested:
        pinned = chat.messages.get(msg.pinned)
        # One the bot cannot see (not in this chat's history): an InaccessibleMessage.
        data["pinned_message"] = (
            telegram_message(chat, pinned, nested=True)
            if pinned is not None
            else {"chat": chat.telegram(), "message_id": msg.pinned, "date": 0}
        )
    return data


def _buttons(markup: dict[str, Any] | None) -> tuple[list[Any] | None, list[Any] | None]:
    """Simplify reply markup into (inline rows, reply-keyboard rows) for the web page."""
    if not markup:
        return None, None
    if "inline_keyboard" in markup:
        rows = [
            [{k: v for k, v in b.items() if k in ("text", "callback_data", "url")} for b in row]
            for row in markup["inline_keyboard"]
        ]
        return rows, None
    if "keyboard" in markup:
        keys = [
            [b if isinstance(b, str) else b.get("text", "") for b in r] for r in markup["keyboard"]
        ]
        return None, keys
    return None, None


def view_message(msg: StoredMessage) -> dict[str, Any]:
    """The control API's flat view of a message (see sandbox/README.md)."""
    inline, keyboard = _buttons(msg.reply_markup)
    view: dict[str, Any] = {
        "chat_id": msg.chat_id,
        "message_id": msg.message_id,
        "from_bot": msg.from_bot,
        "from": msg.sender["id"],
        "from_name": msg.sender.get("first_name", ""),
        "date": msg.date,
        "html": msg.html,
        "parse_mode": msg.parse_mode,
        "reply_markup": inline,
        "reply_keyboard": keyboard,
        "reply_to_message_id": msg.reply_to,
        "edited": msg.edit_date is not None,
    }
    if msg.text is not None:
        view.update(text=msg.text, entities=msg.entities)
    else:
        view.update(caption=msg.caption or "", caption_entities=msg.caption_entities)
    if msg.media is not None:
        media: dict[str, Any] = {
            "file_name": msg.media.file.file_name,
            "size": msg.media.file.size,
        }
        if msg.media.emoji:
            media["emoji"] = msg.media.emoji
        if msg.media.duration:
            media["duration"] = msg.media.duration
        view[msg.media.kind] = media
    if msg.contact is not None:
        view["contact"] = msg.contact
    if msg.forward_origin:
        view["forwarded"] = True
    return view
