"""Safeguarding: spot messages that must skip the FAQ and reach a person at once.

A message that suggests self-harm, abuse, violence or bullying is not a question for the
matcher: the young person is given 12355 and the emergency numbers straight away and the
on-duty cadre and the committee get an urgent card. This module only decides *whether*
and *why*; it knows nothing of Telegram or the database.

The patterns live in ``bot/data/safeguarding.yaml`` so the committee and a 12355
professional can review them without reading code. They are read once and compiled into
one alternation per category, so a long message costs a few regex scans, not a Python
loop over hundreds of patterns.

We do not match on :func:`knowledge.normalize.normalize`: it deletes punctuation (which
we keep as a clause break, so ``被打。怎么办`` still ends a clause after 被打), strips
particles and rewrites numerals. We reuse its first steps instead: Traditional to
Simplified, NFKC and lower case.
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from knowledge.normalize import to_simplified

__all__ = [
    "PATTERNS_FILE",
    "Concern",
    "SafeguardingConfigError",
    "assess",
    "categories",
    "check_pattern_file",
    "prepare_for_matching",
]

PATTERNS_FILE = Path(__file__).resolve().parent.parent / "data" / "safeguarding.yaml"

# OpenCC t2s keeps these because they are also valid Simplified characters, but young
# people in Taiwan and Hong Kong write them where the patterns say 着, 你 and 姐.
_FOLD = (("著", "着"), ("妳", "你"), ("姊", "姐"))
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Emoji, variation selectors and zero-width characters vanish: "不想😭活了" is 不想活了.
_INVISIBLE_RE = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U00002b00-\U00002bff"
    "\U0000fe00-\U0000fe0f\U0000200b-\U0000200f\U00002060\U0000feff\U000020e3]+"
)
_APOSTROPHE_RE = re.compile("['\u2018\u2019`\u00b4]")
_BREAK_RE = re.compile(r"[^\w\s]+|_+")
_SPACES_RE = re.compile(r"[^\S\n]+")
_SPACED_BREAK_RE = re.compile(r" ?\n[\n ]*")
_CJK = "\u3400-\u9fff"
_CJK_SPACE_RE = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")
_CJK_BREAK_RE = re.compile(f"(?<=[{_CJK}])\n(?=[{_CJK}])")
_MACRO_RE = re.compile(r"<([a-z_]+)>")
_ESCAPE_RE = re.compile(r"\\.")


class SafeguardingConfigError(ValueError):
    """Raised when the pattern file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Concern:
    """Why a message needs a person.

    Attributes:
        category: One of :func:`categories`, the most serious one that matched.
        matched: The matched phrase as prepared for matching (Simplified, lower case),
            for the urgent card.
    """

    category: str
    matched: str


class _CategorySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patterns: list[str] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list)


class _PatternFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    macros: dict[str, str] = Field(default_factory=dict)
    categories: dict[str, _CategorySpec] = Field(min_length=1)


@dataclass(frozen=True)
class _Category:
    name: str
    patterns: tuple[re.Pattern[str], ...]
    # The patterns that look at clause breaks, for the form that still has them.
    clause_patterns: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...]
    size: int


def _simplify(text: str) -> str:
    """Traditional to Simplified, NFKC, lower case, plus the characters t2s keeps."""
    text = _SURROGATE_RE.sub("", text)  # lone surrogates cannot be encoded for OpenCC
    text = unicodedata.normalize("NFKC", to_simplified(text)).lower()
    for traditional, simplified in _FOLD:
        text = text.replace(traditional, simplified)  # str.replace: 500x faster than translate
    return text


def prepare_for_matching(text: str) -> str:
    """The first steps of matching, shared with the concern model (concern_model.py):
    Traditional to Simplified, NFKC, lower case, the folds, emoji and zero-width
    characters dropped. Punctuation and spaces are left as they are."""
    return _INVISIBLE_RE.sub("", _simplify(text))


def _prepare(text: str) -> tuple[str, str]:
    """Return the clause form and the joined form of a message (see the YAML header)."""
    text = _APOSTROPHE_RE.sub("", prepare_for_matching(text))
    text = _SPACES_RE.sub(" ", _BREAK_RE.sub("\n", text))
    clauses = _CJK_SPACE_RE.sub("", _SPACED_BREAK_RE.sub("\n", text)).strip()
    return clauses, _CJK_BREAK_RE.sub("", clauses)


def _expand(raw: str, macros: dict[str, str], where: str) -> str:
    """Replace ``<name>`` macros and check the pattern can be used."""

    def macro(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in macros:
            raise SafeguardingConfigError(f"{where}: unknown macro <{name}> in {raw!r}")
        return f"(?:{macros[name]})"

    pattern = _MACRO_RE.sub(macro, raw)
    # Text is lower-cased and simplified first; an upper-case letter or a Traditional
    # character in a pattern would silently never match.
    if re.search("[A-Z]", _ESCAPE_RE.sub("", pattern)):
        raise SafeguardingConfigError(f"{where}: write patterns in lower case: {raw!r}")
    if _simplify(pattern) != pattern.lower():
        raise SafeguardingConfigError(f"{where}: write patterns in Simplified: {raw!r}")
    try:
        compiled = re.compile(pattern, re.ASCII)
    except re.error as exc:
        raise SafeguardingConfigError(f"{where}: bad pattern {raw!r}: {exc}") from exc
    # A pattern that matches nothing at all would match every message.
    if compiled.search("") is not None:
        raise SafeguardingConfigError(f"{where}: pattern matches empty text: {raw!r}")
    return pattern


_Chars = tuple[set[str] | None, bool]  # the characters that can open, and "can be empty"
_ZERO_WIDTH = (sre.AT, sre.ASSERT, sre.ASSERT_NOT)  # \\b, look-ahead, look-behind
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_CATEGORY_CHARS = {sre.CATEGORY_DIGIT: "0123456789", sre.CATEGORY_SPACE: " \\t\\n\\r\\f\\v"}
_MAX_RANGE = 1000


def _class_chars(items: list[tuple[Any, Any]]) -> set[str] | None:
    """The characters of a ``[...]`` class (or ``\\d``, ``\\s``), or None if too many."""
    chars: set[str] = set()
    for op, av in items:
        if op is sre.LITERAL:
            chars.add(chr(av))
        elif op is sre.RANGE and av[1] - av[0] < _MAX_RANGE:
            chars.update(map(chr, range(av[0], av[1] + 1)))
        elif op is sre.CATEGORY and av in _CATEGORY_CHARS:
            chars.update(_CATEGORY_CHARS[av])
        else:  # a negated class, \\w, a wide range
            return None
    return chars


def _opening(items: Any) -> _Chars:
    """What a sequence of parsed items can begin with (see :func:`_first_chars`)."""
    chars: set[str] = set()
    for op, av in items:
        found, empty = _opening_of(op, av)
        if found is None:
            return None, False
        chars |= found
        if not empty:
            return chars, False
    return chars, True


def _opening_of(op: Any, av: Any) -> _Chars:
    """What one parsed item can begin with, and whether it can match nothing."""
    if op is sre.LITERAL:
        return {chr(av)}, False
    if op is sre.IN:
        return _class_chars(av), False
    if op in _ZERO_WIDTH:
        return set(), True
    if op is sre.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        return (None, False) if add_flags & re.IGNORECASE else _opening(sub)
    if op is sre.BRANCH:
        chars: set[str] = set()
        empty = False
        for alternative in av[1]:
            found, alt_empty = _opening(alternative)
            if found is None:
                return None, False
            chars |= found
            empty = empty or alt_empty
        return chars, empty
    if op in _REPEATS:
        low, _high, sub = av
        found, empty = _opening(sub)
        return found, empty or low == 0
    return None, False  # ".", a back-reference, anything not listed


def _first_chars(pattern: str) -> frozenset[str] | None:
    """The characters a match of ``pattern`` can begin with; None when it could begin
    with almost any (``.``, ``\\w``, ``[^…]``) or match nothing at all.

    Read from ``re``'s own parse of the pattern, so it agrees with what ``re`` matches.
    """
    try:
        parsed = sre_parse.parse(pattern, re.ASCII)
        if parsed.state.flags & re.IGNORECASE:  # (?i) would match other cases too
            return None
        chars, empty = _opening(parsed)
    except (re.error, TypeError, ValueError, AttributeError):  # another Python's internals
        return None
    return None if chars is None or empty else frozenset(chars)


def _compile_group(group: list[str]) -> re.Pattern[str]:
    """One alternation, led by a look-ahead for the characters any of them begins with.

    ``re`` tries every alternative at every position; the look-ahead lets it pass over
    the positions where none can begin (nine in ten of the benchmark's message), and
    the cost there no longer grows with the number of patterns.
    """
    body = "|".join(group)
    opening: set[str] = set()
    for pattern in group:
        chars = _first_chars(pattern)
        if chars is None:
            return re.compile(body, re.ASCII)
        opening |= chars
    chars_class = "".join(re.escape(c) for c in sorted(opening))
    return re.compile(f"(?=[{chars_class}])(?:{body})", re.ASCII)


def _combine(patterns: list[str]) -> tuple[re.Pattern[str], ...]:
    """Join patterns into one alternation per kind of opening (``\\b`` or not).

    English patterns all open with ``\\b``; kept apart from the Chinese ones, each
    alternation's opening characters stay few (see :func:`_compile_group`). ``|`` binds
    loosest, so patterns need no extra group around them.
    """
    english = [p for p in patterns if p.startswith("\\b")]
    chinese = [p for p in patterns if not p.startswith("\\b")]
    return tuple(_compile_group(group) for group in (chinese, english) if group)


def _load_patterns(path: Path = PATTERNS_FILE) -> tuple[_Category, ...]:
    """Read and compile a pattern file; categories come back in priority order."""
    try:
        spec = _PatternFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise SafeguardingConfigError(f"{path}: {exc}") from exc
    compiled = []
    for name, cat in spec.categories.items():
        where = f"{path.name}: {name}"
        patterns = [_expand(p, spec.macros, where) for p in cat.patterns]
        excludes = [_expand(p, spec.macros, f"{where} (exclude)") for p in cat.exclude]
        compiled.append(
            _Category(
                name=name,
                patterns=_combine(patterns),
                clause_patterns=_combine([p for p in patterns if "\\n" in p]),
                exclude=_combine(excludes),
                size=len(patterns),
            )
        )
    return tuple(compiled)


@lru_cache(maxsize=1)
def _categories() -> tuple[_Category, ...]:
    """The shipped patterns, compiled once per process."""
    return _load_patterns()


def load() -> None:
    """Compile the shipped patterns now (about 0.2 s), at start-up rather than on the
    first message a young person sends."""
    _categories()


def check_pattern_file(path: Path = PATTERNS_FILE) -> dict[str, int]:
    """Validate a pattern file, e.g. an edited copy before it replaces the shipped one.

    Args:
        path: The YAML file to check.

    Returns:
        The number of patterns per category, in priority order.

    Raises:
        SafeguardingConfigError: The file is malformed or a pattern is unusable.
    """
    return {cat.name: cat.size for cat in _load_patterns(path)}


def categories() -> tuple[str, ...]:
    """The category names, most serious first (the order of the pattern file)."""
    return tuple(cat.name for cat in _categories())


def _search(patterns: tuple[re.Pattern[str], ...], text: str) -> re.Match[str] | None:
    """The first match of any of the patterns."""
    for pattern in patterns:
        if match := pattern.search(text):
            return match
    return None


def _find(cat: _Category, patterns: tuple[re.Pattern[str], ...], text: str) -> str | None:
    """A match of a category once its harmless forms are blanked out."""
    # Most messages match nothing: blank out the exclusions only when there is a hit.
    if not patterns or _search(patterns, text) is None:
        return None
    for exclude in cat.exclude:
        text = exclude.sub("\n", text)
    match = _search(patterns, text)
    return match.group(0) if match else None


def assess(text: str) -> Concern | None:
    """Decide whether a message needs a person now rather than an FAQ answer.

    Args:
        text: The young person's message, as typed.

    Returns:
        The most serious concern found (self_harm > abuse > violence > bullying), or
        None when nothing matched.
    """
    clauses, joined = _prepare(text)
    for cat in _categories():
        matched = _find(cat, cat.patterns, joined)
        if matched is None and joined != clauses:
            # Only patterns that look at clause breaks can match here and not above.
            matched = _find(cat, cat.clause_patterns, clauses)
        if matched is not None:
            return Concern(category=cat.name, matched=matched)
    return None
