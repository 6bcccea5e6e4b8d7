"""Semantic checks Telegram applies on top of types: texts, keyboards, commands, actions."""

from __future__ import annotations

import re
from typing import Any

from sandbox.errors import bad_request
from sandbox.telegram_html import TextError, check_text, trim_text, utf16_len

CALLBACK_DATA_MAX_BYTES = 64
CALLBACK_ANSWER_MAX = 200
_BUTTON_EXTRAS = {"text", "icon_custom_emoji_id", "style"}  # not "actions" per the spec
_URL_SCHEMES = ("http://", "https://", "tg://")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


def formatted(
    params: dict[str, Any], key: str, entities_key: str, *, caption: bool
) -> tuple[str, list[dict[str, Any]], str | None]:
    """Parse ``params[key]`` per ``parse_mode``; return (text, entities, parse mode used).

    Raises:
        ApiError: Telegram would refuse the text (bad HTML, empty, too long) or the sandbox
            cannot check it (MarkdownV2/Markdown: the project only uses HTML).
    """
    raw = params.get(key)
    if raw is None:
        if caption:
            return "", [], None
        raise bad_request("message text is empty")
    mode = str(params.get("parse_mode") or "")
    try:
        if mode.lower() == "html":
            text, entities = check_text(raw, caption=caption)
            return text, entities, "HTML"
        if mode.lower() in ("markdown", "markdownv2"):
            raise bad_request(
                f"sandbox: parse_mode {mode} is not supported by the sandbox (use HTML)"
            )
        if mode:
            raise bad_request("unsupported parse_mode")
        text, entities = trim_text(raw, _given_entities(raw, params.get(entities_key)))
        check_text(_escape(text), caption=caption)  # same emptiness/length rules
        return text, entities, None
    except TextError as exc:
        raise bad_request(exc.description.removeprefix("Bad Request: ")) from exc


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _given_entities(text: str, entities: Any) -> list[dict[str, Any]]:
    """Bounds-check explicit ``entities`` (used when no parse_mode is given)."""
    size = utf16_len(text)
    for entity in entities or []:
        offset, length = entity["offset"], entity["length"]
        if offset < 0 or length <= 0 or offset + length > size:
            raise bad_request("can't parse entities: entity is out of the text bounds")
    return list(entities or [])


def reply_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """Check keyboards beyond their types; return the markup to store (None when empty)."""
    if not markup:
        return None
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if sum(len(row) for row in rows) > 100:
            raise bad_request("reply markup is too long")
        for row in rows:
            for button in row:
                _inline_button(button)
        return markup if any(rows) else None
    for row in markup.get("keyboard", []):
        for button in row:
            text = button if isinstance(button, str) else button.get("text", "")
            if not text:
                raise bad_request("can't parse keyboard button: button text is empty")
    return markup


def _inline_button(button: dict[str, Any]) -> None:
    prefix = "can't parse inline keyboard button: "
    if not button.get("text"):
        raise bad_request(prefix + "Text must be non-empty")
    actions = [key for key in button if key not in _BUTTON_EXTRAS]
    if not actions:
        raise bad_request(prefix + "Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request(prefix + f"exactly one button action must be set, got {actions}")
    if "callback_data" in button:
        size = len(button["callback_data"].encode("utf-8"))
        if not 1 <= size <= CALLBACK_DATA_MAX_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not button["url"].startswith(_URL_SCHEMES):
        raise bad_request(f"inline keyboard button URL '{button['url']}' is invalid: Wrong URL")


def callback_answer_text(text: str | None) -> None:
    """answerCallbackQuery's ``text`` is 0-200 characters."""
    if text is not None and len(text) > CALLBACK_ANSWER_MAX:
        raise bad_request("MESSAGE_TOO_LONG")


def bot_commands(commands: list[dict[str, Any]]) -> None:
    """setMyCommands: at most 100 commands, 1-32 chars [a-z0-9_], descriptions 1-256."""
    if len(commands) > 100:
        raise bad_request("too many commands")
    for command in commands:
        if not _COMMAND.fullmatch(command["command"]):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(command["description"]) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")


def chat_action(action: str) -> None:
    """sendChatAction accepts only the documented actions."""
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
