"""Inline keyboards: functions of a translator and view data that return markup."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.config import SUPPORTED_LOCALES
from bot.i18n import Translator, translator
from bot.services.org import PickerView
from bot.services.questions import Colleague
from knowledge.index import EntryView


def _rows(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def language_keyboard() -> InlineKeyboardMarkup:
    """Buttons for every locale, each labelled in its own language."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    translator(locale).plain("language.name"),
                    callback_data=callbacks.pack("lang", locale),
                )
            ]
            for locale in SUPPORTED_LOCALES
        ]
    )


# Telegram refuses a keyboard of more than 100 buttons: a level with more regions than
# this is shown a page at a time.
REGION_PAGE = 80


def region_keyboard(tr: Translator, view: PickerView, page: int = 0) -> InlineKeyboardMarkup:
    """The region picker: a region with sub-regions opens them, a leaf is chosen; a large
    level in pages of :data:`REGION_PAGE` (``page`` from 0)."""
    pages = max(1, -(-len(view.options) // REGION_PAGE))
    page = min(max(page, 0), pages - 1)
    buttons = [
        InlineKeyboardButton(
            tr.name_of(option.region.names, option.region.code)
            + (" ›" if option.has_children else ""),
            callback_data=callbacks.pack(
                "rgn" if option.has_children else "rgs", option.region.code
            ),
        )
        for option in view.options[page * REGION_PAGE : (page + 1) * REGION_PAGE]
    ]
    rows = _rows(buttons, 2)
    if pages > 1:
        here = view.parent.code if view.parent is not None else "-"
        turn = []
        if page > 0:
            turn.append(
                InlineKeyboardButton(
                    tr.plain("region.previous"),
                    callback_data=callbacks.pack("rgm", here, page - 1),
                )
            )
        if page < pages - 1:
            turn.append(
                InlineKeyboardButton(
                    tr.plain("region.more"), callback_data=callbacks.pack("rgm", here, page + 1)
                )
            )
        rows.append(turn)
    if view.parent is not None:
        name = tr.name_of(view.parent.names, view.parent.code)
        rows.append(
            [
                InlineKeyboardButton(
                    tr.plain("region.whole", name=name),
                    callback_data=callbacks.pack("rgs", view.parent.code),
                )
            ]
        )
    if view.back_to is not None:
        rows.append(
            [
                InlineKeyboardButton(
                    tr.plain("region.back"), callback_data=callbacks.pack("rgn", view.back_to)
                )
            ]
        )
    return InlineKeyboardMarkup(rows)


def feedback_keyboard(tr: Translator, log_id: int) -> InlineKeyboardMarkup:
    """ "Solved" and "ask a person" under an automatic answer."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    tr.plain("ask.solved"), callback_data=callbacks.pack("ok", log_id)
                ),
                InlineKeyboardButton(
                    tr.plain("ask.ask_person"), callback_data=callbacks.pack("hum", log_id)
                ),
            ]
        ]
    )


def suggestions_keyboard(
    tr: Translator, log_id: int, entries: list[EntryView]
) -> InlineKeyboardMarkup:
    """One button per suggested entry, then "none of these"."""
    rows = [
        [
            InlineKeyboardButton(
                _shorten(entry.question, 60),
                callback_data=callbacks.pack("pick", log_id, entry.id),
            )
        ]
        for entry in entries
    ]
    rows.append(
        [
            InlineKeyboardButton(
                tr.plain("ask.none_of_these"), callback_data=callbacks.pack("none", log_id)
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _button(text: str, action: str, *args: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=callbacks.pack(action, *args))


def card_keyboard(
    tr: Translator, question_id: int, nearest: list[EntryView] | None = None
) -> InlineKeyboardMarkup:
    """The buttons on a cadre's question card (answering with a near FAQ entry too)."""
    faq = [
        [
            _button(
                tr.plain("card.faq_answer", question=_shorten(entry.question, 40)),
                "qfaq",
                question_id,
                entry.id,
            )
        ]
        for entry in (nearest or [])[:2]
    ]
    return InlineKeyboardMarkup(
        [
            [_button(tr.plain("card.answer"), "qans", question_id)],
            *faq,
            [
                _button(tr.plain("card.pass"), "qpass", question_id),
                _button(tr.plain("card.forward"), "qfwd", question_id),
            ],
            [
                _button(tr.plain("card.key"), "qkey", question_id),
                _button(tr.plain("card.spam"), "qspam", question_id),
            ],
        ]
    )


def claim_keyboard(tr: Translator, question_id: int) -> InlineKeyboardMarkup:
    """The buttons on a pool card: take the question, or (committee) answer it at once."""
    return InlineKeyboardMarkup(
        [
            [_button(tr.plain("card.claim"), "qclaim", question_id)],
            [_button(tr.plain("card.answer"), "qans", question_id)],
        ]
    )


def escalated_keyboard(tr: Translator, question_id: int) -> InlineKeyboardMarkup:
    """The committee's buttons on a question passed on too often: answer it, or pass it
    to whom the committee decides (an admin's pass is not limited)."""
    return InlineKeyboardMarkup(
        [
            [_button(tr.plain("card.answer"), "qans", question_id)],
            [_button(tr.plain("card.pass"), "qpass", question_id)],
        ]
    )


def colleagues_keyboard(
    tr: Translator, question_id: int, colleagues: Sequence[Colleague]
) -> InlineKeyboardMarkup:
    """One button per colleague who may take the question, with their open load (a full
    one only for a call for help or the committee, marked so)."""
    return InlineKeyboardMarkup(
        [
            [
                _button(
                    tr.plain(
                        "card.colleague_full_button" if c.full else "card.colleague_button",
                        name=c.cadre.name,
                        load=c.load,
                        capacity=c.cadre.capacity,
                    ),
                    "qpto",
                    question_id,
                    c.cadre.id,
                )
            ]
            for c in colleagues
            if c.may_take
        ]
    )


def youth_answer_keyboard(
    tr: Translator, question_id: int, *, resolved: bool = False
) -> InlineKeyboardMarkup:
    """ "Resolved" and "follow up" under a cadre's answer; only "follow up" once it is
    resolved (a follow-up reopens it)."""
    follow_up = _button(tr.plain("youth.follow_up_button"), "qfu", question_id)
    if resolved:
        return InlineKeyboardMarkup([[follow_up]])
    return InlineKeyboardMarkup(
        [[_button(tr.plain("youth.resolved_button"), "qok", question_id), follow_up]]
    )


def share_identity_keyboard(tr: Translator, question_id: int) -> InlineKeyboardMarkup:
    """The optional consent to show the young person's name on this ticket."""
    return InlineKeyboardMarkup([[_button(tr.plain("youth.share_button"), "idn", question_id)]])


def promote_keyboard(
    tr: Translator, question_id: int, nearest: list[EntryView]
) -> InlineKeyboardMarkup:
    """After answering: make the question a new FAQ entry, or a phrasing of a near one."""
    rows = [[_button(tr.plain("card.promote_new"), "qnew", question_id)]]
    rows += [
        [
            _button(
                tr.plain("card.promote_alt", question=_shorten(entry.question, 40)),
                "qalt",
                question_id,
                entry.id,
            )
        ]
        for entry in nearest[:2]
    ]
    return InlineKeyboardMarkup(rows)


def start_menu(tr: Translator) -> InlineKeyboardMarkup:
    """The menu under the greeting: make a micro-wish."""
    return InlineKeyboardMarkup([[_button(tr.plain("wish.menu"), "wnew")]])
