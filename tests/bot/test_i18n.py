"""Locale catalogs: complete, consistent, and valid Telegram HTML once rendered."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.config import SUPPORTED_LOCALES
from bot.i18n import Html, Translator, load_catalog, placeholders, resolve_locale
from sandbox.telegram_html import parse_html

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_catalogs_have_the_same_keys_and_placeholders(locale: str) -> None:
    reference = load_catalog("zh-Hans")
    catalog = load_catalog(locale)
    assert set(catalog) == set(reference)
    for key, template in catalog.items():
        assert placeholders(template) == placeholders(reference[key]), key


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_entry_renders_to_valid_telegram_html(locale: str) -> None:
    tr = Translator(locale)
    for key, template in load_catalog(locale).items():
        params = {name: "<x & y>" for name in placeholders(template)}
        text = tr(key, **params)
        plain, _ = parse_html(text)  # raises on markup Telegram would refuse
        assert plain.strip(), key
        if params:
            assert "<x & y>" in plain  # parameters are escaped, not interpreted


def test_html_parameters_are_not_escaped_twice() -> None:
    tr = Translator("en")
    assert "<b>B</b>" in tr("region.set", name=Html("<b>B</b>"))
    assert "&lt;b&gt;" in tr("region.set", name="<b>")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh-hans", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("zh-TW", "zh-Hant"),
        ("zh-hant-hk", "zh-Hant"),
        ("en-GB", "en"),
        ("fr", "zh-Hans"),
        (None, "zh-Hans"),
    ],
)
def test_resolve_locale(code: str | None, expected: str) -> None:
    assert resolve_locale(code, "zh-Hans") == expected


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


# Their Chinese literals are detection patterns (regexes, folding tables, the words
# around an amount), not texts anyone is shown.
PATTERN_MODULES = {
    "bot/services/amounts.py",
    "bot/services/privacy.py",
    "bot/services/personal_numbers.py",
    "bot/services/safeguarding.py",
}


def test_no_chinese_literals_in_handlers_or_services() -> None:
    offenders = []
    for folder in ("handlers", "bot/services", "bot/app.py", "bot/keyboards.py", "bot/notify.py"):
        path = ROOT / folder
        if not path.exists():
            continue
        for file in [path] if path.is_file() else path.rglob("*.py"):
            if str(file.relative_to(ROOT)) in PATTERN_MODULES:
                continue
            tree = ast.parse(file.read_text(encoding="utf-8"))
            docstrings = _docstrings(tree)
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and id(node) not in docstrings
                    and CJK.search(node.value)
                ):
                    offenders.append(f"{file.relative_to(ROOT)}:{node.lineno}: {node.value[:40]}")
    assert not offenders, "user-facing text belongs in bot/locales:\n" + "\n".join(offenders)


def test_html_to_plain_drops_tags_and_can_keep_link_addresses() -> None:
    from bot.i18n import html_to_plain

    html_text = '<b>团费</b> &amp; <a href="https://example.org/x">说明</a>'
    assert html_to_plain(html_text) == "团费 & 说明"
    assert html_to_plain(html_text, keep_links=True) == "团费 & 说明 (https://example.org/x)"


@pytest.mark.parametrize(
    ("html_text", "plain"),
    [
        # The address is set apart from the words after it, not run into them.
        ('见<a href="https://a.org/x">官网</a>下一句', "见官网 (https://a.org/x) 下一句"),
        ('见<a href="https://a.org/x">官网</a><b>报名</b>', "见官网 (https://a.org/x) 报名"),
        ('see <a href="https://a.org">the site</a>now', "see the site (https://a.org) now"),
        # Punctuation or a space after it needs none.
        ('见<a href="https://a.org/x">官网</a>。', "见官网 (https://a.org/x)。"),
        ('<a href="https://a.org/x">官网</a> 报名', "官网 (https://a.org/x) 报名"),
        # A link whose words are its address is not written out twice.
        ('登录 <a href="https://zhtj.youth.cn">zhtj.youth.cn</a>，', "登录 zhtj.youth.cn，"),
        ('<a href="https://www.a.org/">https://www.a.org</a>', "https://www.a.org"),
        # ... and is set apart from a word after it too; the address's case is no matter.
        (
            '<a href="https://a.org/x?a=1&amp;b=2">https://a.org/x?a=1&amp;b=2</a>后面',
            "https://a.org/x?a=1&b=2 后面",
        ),
        ('<a href="HTTPS://A.ORG">a.org</a>', "a.org"),
    ],
)
def test_a_kept_link_reads_apart_from_what_follows(html_text: str, plain: str) -> None:
    from bot.i18n import html_to_plain

    assert html_to_plain(html_text, keep_links=True) == plain


# Refusals shown as a callback query's pop-up: Telegram shows at most 200 characters.
POPUP_KEYS = [
    *(key for key in load_catalog("zh-Hans") if key.startswith("callback.")),
    "wish.withdraw_still_asked",
    "wish.withdraw_was_kept",
]


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_button_refusals_fit_a_pop_up(locale: str) -> None:
    tr = Translator(locale)
    for key in POPUP_KEYS:
        # The longest reference number there is, and a date as the withdraw pop-ups give it.
        text = tr.plain(key, ref=2**31 - 1, date="2026-11-18")
        assert len(text) <= 200, (key, len(text))
