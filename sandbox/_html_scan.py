"""The scanner behind :mod:`sandbox.telegram_html` (a port of tdlib's ``parse_html``).

Kept separate so the public module stays short; import from ``sandbox.telegram_html``.
"""

from __future__ import annotations

import re
from typing import Any

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_TAGS = frozenset(_SIMPLE) | {"a", "tg-emoji", "pre", "code", "blockquote"}
SPACES = " \t\r\n\v\f"
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,7}));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_NAME_TOKEN = re.compile(r"[A-Za-z0-9.\-]*")
_URL = re.compile(
    r"^(?:(https?|tg|ton|tonsite)://)?([^\s/?#:]+(?::\d+)?)((?:[/?#].*)?)$",
    re.IGNORECASE | re.DOTALL,
)
_TG_USER = re.compile(r"^tg://user\?id=(\d{1,19})$", re.IGNORECASE)


class TextError(ValueError):
    """A text Telegram would refuse; ``description`` is the Bot API error description."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class ParseError(TextError):
    """The HTML is malformed; the description reads like Telegram's "can't parse entities"."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Bad Request: can't parse entities: {detail}")
        self.detail = detail


def utf16_len(text: str) -> int:
    """Return the length of ``text`` in UTF-16 code units (Telegram's unit for offsets)."""
    return len(text.encode("utf-16-le")) // 2


def _normalize_url(url: str) -> str | None:
    """Return the URL as Telegram stores it, or None when Telegram would drop the link."""
    match = _URL.match(url.strip())
    if not match or " " in url.strip() or not match.group(2):
        return None
    scheme, host, rest = match.groups()
    if scheme is None:
        if "." not in host:
            return None
        scheme = "http"
    return f"{scheme.lower()}://{host}{rest or '/'}"


class Scanner:
    """Single-pass tag/entity scanner; one instance per call."""

    def __init__(self, html: str, strict: bool) -> None:
        self.html = html
        self.strict = strict
        self.out: list[str] = []
        self.utf16 = 0
        self.stack: list[tuple[str, str, int, int]] = []  # tag, argument, utf16 offset, out idx
        self.entities: list[dict[str, Any]] = []

    def byte_offset(self, index: int) -> int:
        return len(self.html[:index].encode("utf-8"))

    def emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.utf16 += utf16_len(chunk)

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        html, i = self.html, 0
        while i < len(html):
            char = html[i]
            if char == "&":
                i = self.entity(i)
            elif char == "<":
                i = self.end_tag(i) if html.startswith("</", i) else self.start_tag(i)
            else:
                nxt = min(
                    (p for p in (html.find("&", i), html.find("<", i)) if p >= 0), default=-1
                )
                stop = len(html) if nxt < 0 else nxt
                self.emit(html[i:stop])
                i = stop
        if self.stack:
            raise ParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1][0]}"'
            )
        return "".join(self.out), tidy(self.entities)

    def decode(self, i: int) -> tuple[str | None, int]:
        """Decode an HTML entity at ``i``; returns (character or None, next index)."""
        match = _ENTITY.match(self.html, i)
        if match is None:
            return None, i
        name, dec, hexa = match.groups()
        if name:
            return _NAMED[name], match.end()
        code = int(dec) if dec else int(hexa, 16)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None, i
        return chr(code), match.end()

    def entity(self, i: int) -> int:
        char, nxt = self.decode(i)
        if char is None:
            if self.strict:
                at = self.byte_offset(i)
                raise ParseError(f'Character "&" must be escaped as "&amp;" at byte offset {at}')
            self.emit("&")
            return i + 1
        self.emit(char)
        return nxt

    def start_tag(self, begin: int) -> int:
        html, i = self.html, begin + 1
        while i < len(html) and html[i] not in SPACES and html[i] != ">":
            i += 1
        if i >= len(html):
            raise ParseError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        tag = html[begin + 1 : i].lower()
        at = self.byte_offset(begin)
        if tag not in _TAGS:
            raise ParseError(f'Unsupported start tag "{tag}" at byte offset {at}')
        argument = ""
        while True:
            while i < len(html) and html[i] in SPACES:
                i += 1
            if i >= len(html):
                raise ParseError(f'Unclosed start tag "{tag}" at byte offset {at}')
            if html[i] == ">":
                break
            name, value, i = self.attribute(tag, at, i)
            argument = _argument(tag, name, value, argument)
        if tag == "span" and argument != "spoiler":
            raise ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        self.stack.append((tag, argument, self.utf16, len(self.out)))
        return i + 1

    def attribute(self, tag: str, at: int, i: int) -> tuple[str, str, int]:
        """Read one ``name=value`` attribute starting at ``i``."""
        html, start = self.html, i
        while i < len(html) and html[i] not in SPACES and html[i] not in "=>":
            i += 1
        name = html[start:i]
        if not name:
            raise ParseError(f'Empty attribute name in the tag "{tag}" at byte offset {at}')
        while i < len(html) and html[i] in SPACES:
            i += 1
        if i < len(html) and html[i] != "=" and tag == "blockquote" and name == "expandable":
            return name, "", i  # the one attribute Telegram accepts without a value
        if i >= len(html) or html[i] != "=":
            raise ParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                f"at byte offset {at}"
            )
        i += 1
        while i < len(html) and html[i] in SPACES:
            i += 1
        if i >= len(html):
            raise ParseError(f'Unclosed start tag "{tag}" at byte offset {at}')
        if html[i] not in "'\"":
            token = _NAME_TOKEN.match(html, i)
            end = token.end() if token else i
            if end >= len(html) or (html[end] not in SPACES and html[end] != ">"):
                raise ParseError(
                    f"Unexpected end of name token at byte offset {self.byte_offset(i)}"
                )
            return name, html[i:end].lower(), end
        quote, i, value = html[i], i + 1, []
        while i < len(html) and html[i] != quote:
            char, nxt = self.decode(i) if html[i] == "&" else (None, i)
            value.append(char if char is not None else html[i])
            i = nxt if char is not None else i + 1
        if i >= len(html):
            raise ParseError(f"Unclosed start tag at byte offset {at}")
        return name, "".join(value), i + 1

    def end_tag(self, begin: int) -> int:
        html, i = self.html, begin + 2
        at = self.byte_offset(begin)
        if not self.stack:
            raise ParseError(f"Unexpected end tag at byte offset {at}")
        while i < len(html) and html[i] not in SPACES and html[i] != ">":
            i += 1
        name = html[begin + 2 : i].lower()
        while i < len(html) and html[i] in SPACES:
            i += 1
        if i >= len(html) or html[i] != ">":
            raise ParseError(f"Unclosed end tag at byte offset {at}")
        tag, argument, offset, out_index = self.stack.pop()
        if name and name != tag:
            raise ParseError(
                f'Unmatched end tag at byte offset {at}, expected "</{tag}>", found "</{name}>"'
            )
        if self.utf16 > offset:
            inner = "".join(self.out[out_index:])
            self.close(tag, argument, offset, self.utf16 - offset, inner)
        return i + 1

    def close(self, tag: str, argument: str, offset: int, length: int, inner: str) -> None:
        """Turn a closed tag into an entity, merging ``<pre><code class=...>`` like Telegram."""
        ent: dict[str, Any] = {"offset": offset, "length": length}
        last = self.entities[-1] if self.entities else None
        same = last is not None and last["offset"] == offset and last["length"] == length
        if tag in _SIMPLE:
            ent["type"] = _SIMPLE[tag]
        elif tag == "blockquote":
            ent["type"] = "expandable_blockquote" if argument else "blockquote"
        elif tag == "tg-emoji":
            if not argument.isdigit():
                return
            ent.update(type="custom_emoji", custom_emoji_id=argument)
        elif tag == "a":
            user = _TG_USER.match(argument or inner)
            url = _normalize_url(argument or inner)
            if user:
                user_dict = {"id": int(user.group(1)), "is_bot": False, "first_name": ""}
                ent.update(type="text_mention", user=user_dict)
            elif url is None:
                return
            else:
                ent.update(type="text_link", url=url)
        elif tag == "code" and same and last and last["type"] == "pre" and argument:
            last["language"] = argument
            return
        elif tag == "pre" and same and last and last["type"] == "code" and last.get("language"):
            last["type"] = "pre"
            return
        else:
            ent["type"] = tag
            if tag == "code" and argument:
                ent["language"] = argument  # only kept if a <pre> around it adopts it
        self.entities.append(ent)


def _argument(tag: str, name: str, value: str, current: str) -> str:
    """Keep the one attribute each tag cares about; Telegram ignores all others."""
    if tag == "a" and name == "href":
        return value
    if tag == "code" and name == "class" and value.startswith("language-"):
        return value[len("language-") :]
    if tag == "span" and name == "class" and value.startswith("tg-"):
        return value[len("tg-") :]
    if tag == "tg-emoji" and name == "emoji-id":
        return value
    if tag == "blockquote" and name == "expandable":
        return "1"
    return current


def tidy(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop what Telegram drops (entities inside code/pre, nested quotes) and sort outer first."""
    blocks = ("pre", "code", "blockquote", "expandable_blockquote")
    ordered = sorted(entities, key=lambda e: (e["offset"], -e["length"], e["type"] not in blocks))
    for ent in ordered:
        if ent["type"] == "code":
            ent.pop("language", None)
    kept: list[dict[str, Any]] = []
    for ent in ordered:
        end = ent["offset"] + ent["length"]
        inside = [
            k for k in kept if k["offset"] <= ent["offset"] and end <= k["offset"] + k["length"]
        ]
        if any(k["type"] in ("code", "pre") for k in inside):
            continue
        quote = ("blockquote", "expandable_blockquote")
        if ent["type"] in quote and any(k["type"] in quote for k in inside):
            continue
        kept.append(ent)
    return kept
