"""Locale catalogs (zh-Hans, zh-Hant, en) and the translator handlers render with.

Catalogs are YAML files in ``bot/locales``; nested keys are joined with dots. Values are
Telegram HTML templates in ``str.format`` syntax; parameters are HTML-escaped unless they
are :class:`Html`, so user text can never break a message's markup.
"""

from __future__ import annotations

import html
import logging
import re
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bot.config import SUPPORTED_LOCALES

_log = logging.getLogger(__name__)
LOCALES_DIR = Path(__file__).parent / "locales"

# Telegram clients send IETF-ish codes; map them onto the catalogs we have.
_ALIASES = {
    "zh": "zh-Hans",
    "zh-cn": "zh-Hans",
    "zh-sg": "zh-Hans",
    "zh-hans": "zh-Hans",
    "zh-tw": "zh-Hant",
    "zh-hk": "zh-Hant",
    "zh-mo": "zh-Hant",
    "zh-hant": "zh-Hant",
    "en": "en",
}


_TAGS = re.compile(r"<[^>]+>")


def utf16_units(text: str) -> int:
    """Length in UTF-16 code units (an emoji counts twice). Telegram's limits count
    characters (code points: tdlib's ``utf8_length``); units are never fewer, so a text
    within a limit in units is within it in characters too."""
    return len(text.encode("utf-16-le")) // 2


_LINK = re.compile(r'<a\s+href="([^"]*)"[^>]*>(.*?)</a>', re.DOTALL)
# Marks where a link written out as plain text ends, until the words after it are known
# (tags between may hide them); never left in a result.
_LINK_END = "\x00"
_WORD_AFTER_LINK = re.compile(_LINK_END + r"(?=\w)")
_SCHEME = re.compile(r"^(?:https?://)?(?:www\.)?")
# A piece of Telegram HTML: a tag (closing or not, and its name), an entity, a character.
_PIECE = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>|&(?:#\d+|#x[\da-fA-F]+|\w+);|.", re.DOTALL)
_EMPTY_TAG = re.compile(r"<([a-zA-Z][\w-]*)[^>]*></\1>")


def cut_html(text: str, units: int) -> Html:
    """The longest start of the Telegram HTML ``text`` whose visible text is at most
    ``units`` UTF-16 code units, still valid: never cut inside a tag or an entity, and
    the tags open where it ends closed (an element left empty is dropped)."""
    kept: list[str] = []
    opened: list[str] = []
    size = 0
    for piece in _PIECE.finditer(text):
        if piece.group(2):
            name = piece.group(2).lower()
            if not piece.group(1):
                opened.append(name)
            elif name in opened:
                del opened[len(opened) - 1 - opened[::-1].index(name)]
        else:
            width = utf16_units(html.unescape(piece.group(0)))
            if size + width > units:
                break
            size += width
        kept.append(piece.group(0))
    else:
        return Html(text)
    cut = "".join(kept) + "".join(f"</{name}>" for name in reversed(opened))
    while (emptied := _EMPTY_TAG.sub("", cut)) != cut:
        cut = emptied
    return Html(cut)


def html_to_plain(text: str, *, keep_links: bool = False) -> str:
    """Telegram HTML as the reader sees it: tags dropped, entities decoded.

    ``keep_links``: a link's address follows its text in brackets, so a copy kept as
    plain text still leads where the original did: set apart by a space from a word
    that follows (not "官网 (https://…)报名"), and left out where the link's text is
    its address already.
    """
    if not keep_links:
        return html.unescape(_TAGS.sub("", text))
    text = _LINK.sub(_link_as_plain, text.replace(_LINK_END, ""))
    return _WORD_AFTER_LINK.sub(" ", html.unescape(_TAGS.sub("", text))).replace(_LINK_END, "")


def _link_as_plain(link: re.Match[str]) -> str:
    """A link's text and, unless that is the address itself, its address in brackets."""
    address, words = link.group(1), link.group(2)
    shown = html.unescape(_TAGS.sub("", words)).strip()
    if _bare(shown) == _bare(html.unescape(address)):
        return f"{words}{_LINK_END}"
    return f"{words} ({address}){_LINK_END}"


def _bare(address: str) -> str:
    """``address`` without its scheme, ``www.``, a closing slash and its case."""
    return _SCHEME.sub("", address.casefold()).rstrip("/")


class Html(str):
    """A string that is already valid Telegram HTML and must not be escaped again."""

    __slots__ = ()


def resolve_locale(language_code: str | None, default: str) -> str:
    """Map a Telegram ``language_code`` to one of our locales, falling back to ``default``."""
    if not language_code:
        return default
    code = language_code.strip().lower().replace("_", "-")
    if code in _ALIASES:
        return _ALIASES[code]
    primary = code.split("-")[0]
    if primary == "zh" and any(part in ("tw", "hk", "mo", "hant") for part in code.split("-")):
        return "zh-Hant"
    return _ALIASES.get(primary, default)


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


@cache
def load_catalog(locale: str) -> dict[str, str]:
    """Return the flat catalog of ``locale`` (cached)."""
    with (LOCALES_DIR / f"{locale}.yaml").open(encoding="utf-8") as handle:
        return _flatten(yaml.safe_load(handle) or {})


def placeholders(template: str) -> set[str]:
    """Return the names of the ``{placeholders}`` in ``template``."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class Translator:
    """Renders catalog entries for one locale, falling back to the default locale."""

    def __init__(self, locale: str, default: str = "zh-Hans") -> None:
        """Create a translator for ``locale`` (one of SUPPORTED_LOCALES)."""
        if locale not in SUPPORTED_LOCALES:
            locale = default
        self.locale = locale
        self._catalog = load_catalog(locale)
        self._fallback = load_catalog(default)

    def __call__(self, key: str, /, **params: object) -> Html:
        """Render ``key`` with ``params`` escaped for Telegram HTML."""
        template = self._catalog.get(key)
        if template is None:
            _log.warning("catalog %s has no key %s; using the default locale", self.locale, key)
            template = self._fallback[key]
        escaped = {
            name: value if isinstance(value, Html) else html.escape(str(value), quote=False)
            for name, value in params.items()
        }
        return Html(template.format(**escaped))

    def plain(self, key: str, /, **params: object) -> str:
        """Render ``key`` for places that take plain text (buttons, command descriptions)."""
        template = self._catalog.get(key) or self._fallback[key]
        return template.format(**{name: str(value) for name, value in params.items()})

    def name_of(self, names: Mapping[str, str], fallback: str) -> str:
        """Pick the display name for this locale from an org ``names`` mapping."""
        return (
            names.get(self.locale) or names.get("zh-Hans") or next(iter(names.values()), fallback)
        )


@cache
def translator(locale: str, default: str = "zh-Hans") -> Translator:
    """Return the shared translator of ``locale``."""
    return Translator(locale, default)
