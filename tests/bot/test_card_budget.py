"""A card fits Telegram's limit whatever its parts: ``notify.fitted`` cuts the young
person's words first, and, should the rest alone be over the budget, the card's end;
the HTML stays valid (the sandbox's port of Telegram's parser checks it)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot import notify
from bot.i18n import Html, Translator, cut_html, html_to_plain, utf16_units
from sandbox.telegram_html import TEXT_LIMIT, check_text

QUESTION = "请问几岁能入团？我在实验中学读初二"
ASTRAL = "😀𠀀"  # an emoji and a CJK Extension B character: two UTF-16 units each


def _card(
    tr: Translator,
    *,
    lead: str = "",
    who: str = "青年#A3F2",
    region: str = "高新区",
    thread: str = "",
    faq: str = "入团的年龄要求",
) -> Callable[[str], Html]:
    """A question card as ``notify._card_text`` builds it, any part of it oversized."""

    def build(shown: str) -> Html:
        text = tr(
            "card.question",
            ref=7,
            age=tr.plain("time.minutes", n=3),
            who=who,
            region=region,
            topic=tr.plain("card.unknown_topic"),
            text=shown,
        )
        if thread:
            text = Html(
                text + "\n\n" + tr("card.thread_title", count=1) + "\n"
                f"{tr('card.thread_youth', text=thread)}"
            )
        text = Html(text + "\n\n" + tr("card.nearest", entries=faq))
        return Html(lead + text + "\n\n" + tr("card.pool"))

    return build


def _fits(card: str) -> str:
    """The card as Telegram would show it; fails unless valid and within the budget."""
    assert utf16_units(html_to_plain(card)) <= notify.CARD_BUDGET
    shown, _ = check_text(card)  # raises on invalid HTML or past TEXT_LIMIT
    assert utf16_units(shown) <= TEXT_LIMIT
    return shown


def test_a_card_whose_faq_lines_alone_are_over_the_budget_is_cut_at_its_end() -> None:
    """Heading, conversation and FAQ lines over the budget (the question cannot make
    room): the card is cut where the FAQ's line is, marked so; heading and question
    whole. It went out at 6,000 units, over Telegram's limit."""
    tr = Translator("zh-Hans")
    build = _card(tr, thread="报不上名怎么办", faq="入团" + ASTRAL * 1500)
    shown = _fits(notify.fitted(build, QUESTION, tr))
    assert notify.ticket_in_header(shown) == 7
    assert QUESTION in shown and "报不上名怎么办" in shown
    assert shown.endswith("卡片放不下）"), shown[-80:]
    left_out = len(html_to_plain(build(QUESTION))) - len(shown.rsplit("……", 1)[0])
    assert f"后面还有 {left_out} 字" in shown


@pytest.mark.parametrize(
    "part",
    [
        {"lead": "<b>⏫ 问题 #7</b> " + "超时" * 2100 + "\n\n"},
        {"who": ASTRAL * 2100},
        {"region": "<&>" * 1400},
        {"thread": "<i>" + "字" * 4000 + "</i>"},
        {"faq": "；".join(["<a href='x'>&amp;</a>"] * 900)},
    ],
    ids=["lead", "who", "region", "thread", "faq"],
)
@pytest.mark.parametrize("question", [QUESTION, "问" * 4096, ASTRAL * 2048])
def test_a_card_fits_whichever_part_is_oversized(part: dict[str, str], question: str) -> None:
    tr = Translator("zh-Hans")
    card = notify.fitted(_card(tr, **part), question, tr)
    assert "卡片放不下" in _fits(card)


def test_the_young_persons_words_are_cut_first_when_the_rest_fits() -> None:
    """Unchanged: the rest fits, so only the question is cut, and the FAQ line stays."""
    tr = Translator("zh-Hans")
    shown = _fits(notify.fitted(_card(tr), "问" * 4096, tr))
    assert "入团的年龄要求" in shown and "卡片放不下" in shown


def test_cut_html_keeps_the_markup_valid() -> None:
    html = '<b>标题</b>\n<a href="https://e.org/?a=1&amp;b=2">链&amp;接</a><i>斜体😀尾</i>'
    for units in range(len(html)):
        cut = cut_html(html, units)
        shown, _ = check_text(cut + ".")  # valid: tags closed, no entity cut in half
        assert utf16_units(shown) <= units + 1
    assert cut_html(html, 3) == "<b>标题</b>\n"  # the link, left empty, is dropped
    assert cut_html(html, 5) == '<b>标题</b>\n<a href="https://e.org/?a=1&amp;b=2">链&amp;</a>'
    assert cut_html(html, 9) == html[: html.index("😀")] + "</i>"  # an emoji counts two
    assert cut_html(html, 100) == html
