"""Telegram's HTML parse mode: HTML text -> (plain text, MessageEntity dicts).

A port of the rules Telegram applies (tdlib's ``parse_html``) so that the sandbox, and the
bot's own unit tests, reject exactly the texts Telegram rejects, with Telegram's wording.
Offsets and lengths are in UTF-16 code units, as in the Bot API. Dependency-free on purpose.

One deliberate difference: with ``strict=True`` (the default) a bare ``&`` that does not
start ``&lt;``/``&gt;``/``&amp;``/``&quot;``/``&#NN;``/``&#xNN;`` is an error. Telegram itself
keeps such an ``&`` literally, but its documentation requires escaping, and an unescaped
``&`` almost always means an unescaped ``<`` is lurking elsewhere.
"""

from __future__ import annotations

from typing import Any

from sandbox._html_scan import (
    CAPTION_LIMIT,
    SPACES,
    TEXT_LIMIT,
    ParseError,
    Scanner,
    TextError,
    utf16_len,
)

__all__ = [
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "ParseError",
    "TextError",
    "check_text",
    "parse_html",
    "trim_text",
    "utf16_len",
]


def parse_html(html: str, *, strict: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into plain text and MessageEntity dicts (UTF-16 offsets).

    Args:
        html: Text in Telegram's HTML parse mode.
        strict: Reject a bare ``&`` (see the module docstring); Telegram keeps it literally.

    Returns:
        The plain text (not yet trimmed) and the entities, sorted by offset, outer first.

    Raises:
        ParseError: The markup is invalid; ``description`` is Telegram's error description.
    """
    return Scanner(html, strict).run()


def trim_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip leading/trailing whitespace like Telegram does and clip entities to match."""
    stripped = text.strip(SPACES)
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip(SPACES))])
    size = utf16_len(stripped)
    result = []
    for ent in entities:
        start = max(ent["offset"] - shift, 0)
        end = min(ent["offset"] + ent["length"] - shift, size)
        if end > start:
            result.append({**ent, "offset": start, "length": end - start})
    return stripped, result


def check_text(
    html: str, *, caption: bool = False, strict: bool = True
) -> tuple[str, list[dict[str, Any]]]:
    """Parse, trim and length-check a message text or caption exactly as the sandbox does.

    Args:
        html: The text in HTML parse mode.
        caption: Check against the caption rules (0-1024) instead of text rules (1-4096).
        strict: See :func:`parse_html`.

    Returns:
        The text and entities Telegram would store.

    Raises:
        TextError: Telegram would refuse the text; ``description`` says why.
    """
    text, entities = trim_text(*parse_html(html, strict=strict))
    size = utf16_len(text)
    if caption and size > CAPTION_LIMIT:
        raise TextError("Bad Request: message caption is too long")
    if not caption and size == 0:
        raise TextError("Bad Request: message text is empty")
    if not caption and size > TEXT_LIMIT:
        raise TextError("Bad Request: message is too long")
    return text, entities
