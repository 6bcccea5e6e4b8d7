"""Telegram counts a message's length in UTF-16 code units (an emoji counts twice);
these views budgeted in Python characters. Each test failed on the code before its fix."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import my_views
from bot.i18n import translator
from handlers import cadre
from sandbox.telegram_html import TextError, check_text, parse_html, trim_text, utf16_len

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")
EMOJI_TEXT = "🏀🎉" * 40  # 80 characters (what /my shows of each), 160 UTF-16 units


def _fits(html: str) -> None:
    try:
        check_text(html)
    except TextError as error:
        text, _ = trim_text(*parse_html(html))
        raise AssertionError(f"{error.description} ({utf16_len(text)} UTF-16 units)") from error


@pytest.mark.parametrize("locale", ["en"])  # the Chinese catalogs' lines are shorter
def test_my_list_of_ten_questions_and_ten_wishes_fits_a_message(locale: str) -> None:
    """/my lists up to 10 questions and 10 wishes, cut at LIST_BUDGET counted with len():
    with emoji in the texts the list passes the budget check but is over 4096 units."""
    questions = [
        SimpleNamespace(
            id=100 + i, status="routed", asked_at=NOW, waiting_since=NOW, text=EMOJI_TEXT
        )
        for i in range(10)
    ]
    wishes = [
        SimpleNamespace(
            id=100 + i, status="approved", submitted_at=NOW, text=EMOJI_TEXT, events=[]
        )
        for i in range(10)
    ]
    text, _ = my_views.listing(translator(locale), questions, wishes, tz=TZ, more=True)  # type: ignore[arg-type]
    _fits(text)


class _Message:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def reply_text(self, text: str, **_: Any) -> None:
        self.sent.append(text)


@pytest.mark.parametrize("locale", ["zh-Hans", "en"])
async def test_queue_of_thirty_questions_fits_a_message(locale: str) -> None:
    """/queue, /pool and /overdue list up to 30 questions, each cut at 60 characters:
    with emoji that is 30 × 120+ units, over 4096."""
    items = [
        SimpleNamespace(id=1000 + i, asked_at=NOW, waiting_since=NOW, text="🏀🎉" * 40)
        for i in range(30)
    ]
    message = _Message()
    await cadre._listing(
        message,  # type: ignore[arg-type]
        translator(locale),
        items,  # type: ignore[arg-type]
        title="queue.title",
        empty="queue.empty",
        now=NOW,
        action="qopen",
    )
    _fits(message.sent[0])


def test_region_picker_of_a_large_level_fits_telegrams_keyboard_limit() -> None:
    """The org file does not cap how many sub-regions one region has (a street with its
    communities, a county with its villages), and the young person's picker puts every
    one of them on the keyboard: past 100 buttons Telegram refuses the message, so /start
    and /region fail. (The broadcast picker caps at MAX_REGION_BUTTONS = 60.)"""
    from bot.keyboards import region_keyboard
    from bot.services.org import PickerOption, PickerView
    from sandbox import rules
    from sandbox.errors import ApiError
    from storage.models import Region

    children = [
        Region(code=f"village-{i}", names={"zh-Hans": f"第{i}村"}, parent_code="town")
        for i in range(120)
    ]
    view = PickerView(
        parent=Region(code="town", names={"zh-Hans": "某镇"}),
        options=[PickerOption(region, False) for region in children],
        back_to="-",
    )
    markup = region_keyboard(translator("en"), view).to_dict()
    try:
        rules.reply_markup(markup)
    except ApiError as error:
        buttons = sum(len(row) for row in markup["inline_keyboard"])
        raise AssertionError(f"{error} ({buttons} buttons)") from error
