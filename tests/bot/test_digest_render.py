"""The digest summary within Telegram's limit as Telegram counts it: UTF-16 code units of
the visible text, after the HTML is parsed (tags gone, ``&amp;`` one character)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bot.digest_render import summary
from bot.i18n import translator
from bot.services.digest import CadreRow, Counted, Digest, OverdueItem
from sandbox.telegram_html import check_text, parse_html, utf16_len
from tests.bot.test_digest import TZ, build

# Outside the Basic Multilingual Plane: two UTF-16 code units each, one Python character.
PARTY = "🎉"
NAME = PARTY * 70


@pytest.fixture
async def week(sqlite_url: str) -> Any:
    """The hand-made week's digest."""
    d, *_, engine = await build(sqlite_url)
    yield d
    await engine.dispose()


def _emoji_heavy(d: Digest) -> Digest:
    names = {locale: f"{NAME}{locale}" for locale in ("zh-Hans", "zh-Hant", "en")}
    regions = [f"r{i}" for i in range(12)]
    return dataclasses.replace(
        d,
        cadres=[CadreRow(i, f"{NAME}{i}", assigned=3, answered=2) for i in range(12)],
        regions=[Counted(code, names, 9, 2) for code in regions],
        topics=[Counted(f"t{i}", names, 9, 2) for i in range(12)],
        region_names={code: names for code in regions},
        overdue=[OverdueItem(100 + i, 30.0 + i, regions[i], None) for i in range(10)],
        overdue_total=10,
    )


@pytest.mark.parametrize("locale", ["zh-Hans", "zh-Hant", "en"])
async def test_emoji_names_fit_as_telegram_counts(week: Digest, locale: str) -> None:
    text = summary(_emoji_heavy(week), translator(locale), TZ)
    visible, _ = check_text(text)  # raises "message is too long" as the Bot API would
    assert utf16_len(visible) <= 4096
    assert PARTY in visible  # lists were shortened, not all dropped


async def test_escaped_characters_count_once(week: Digest) -> None:
    # "&" is five characters of HTML ("&amp;") but one of text: such names must not make
    # the summary drop lists that fit.
    amp = "&" * 60
    names = {locale: amp for locale in ("zh-Hans", "zh-Hant", "en")}
    d = dataclasses.replace(
        week,
        cadres=[CadreRow(i, amp, assigned=1) for i in range(8)],
        regions=[Counted(f"r{i}", names, 9, 2) for i in range(8)],
        topics=[Counted(f"t{i}", names, 9, 2) for i in range(8)],
        region_names={f"r{i}": names for i in range(8)},
    )
    text = summary(d, translator("en"), TZ)
    visible, _ = check_text(text)
    assert len(text) > 4096  # as HTML it is longer than a message
    assert visible.count(amp) == 24  # all eight cadres, regions and topics are kept


async def test_the_summary_is_never_cut_inside_the_html(
    week: Digest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With every list gone it still does not fit (a limit made small for the test): whole
    # lines are dropped from the end, never half a tag.
    monkeypatch.setattr("bot.digest_render.MAX_MESSAGE", 300)
    text = summary(week, translator("zh-Hans"), TZ)
    visible, _ = parse_html(text)  # raises on a cut tag or entity
    assert 0 < utf16_len(visible) <= 300
    assert text.startswith("<b>📊 青年之声周报 2026-W47</b>")


def test_fonts_installed_after_matplotlib_listed_them_are_added(tmp_path: Any) -> None:
    """matplotlib keeps the font list of its first run; a font installed since (here a
    copy of one it ships, under a new path) is added once, and a broken file is skipped."""
    import copy
    import shutil

    from matplotlib import font_manager

    from bot.digest_render import add_new_fonts

    manager = copy.copy(font_manager.fontManager)
    manager.ttflist = list(manager.ttflist)
    shipped = font_manager.findfont("DejaVu Sans", fallback_to_default=False)
    new = tmp_path / "NewlyInstalled.ttf"
    shutil.copy(shipped, new)
    broken = tmp_path / "Broken.ttf"
    broken.write_bytes(b"not a font")
    before = len(manager.ttflist)

    assert add_new_fonts(manager, [shipped, str(broken), str(new)]) == 1
    assert [font.fname for font in manager.ttflist[before:]] == [str(new)]
    assert add_new_fonts(manager, [str(new)]) == 0
    assert len(font_manager.fontManager.ttflist) == before  # the shared list untouched


def test_the_operator_is_warned_when_chart_labels_cannot_be_chinese(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Warned for Chinese readers without a Chinese font, not with one (a font this
    machine has stands in for one), and never for English readers."""
    from bot import digest_render

    def warnings(fonts: tuple[str, ...]) -> list[str | None]:
        monkeypatch.setattr(digest_render, "_CJK_FONTS", fonts)
        digest_render.cjk_font.cache_clear()
        return [digest_render.font_warning(locale) for locale in ("zh-Hans", "zh-Hant", "en")]

    try:
        missing = warnings(("No Such Font",))
        assert missing[2] is None
        assert all(w is not None and "fonts-noto-cjk" in w for w in missing[:2])
        assert warnings(("DejaVu Sans",)) == [None, None, None]
    finally:
        digest_render.cjk_font.cache_clear()
