"""Inline keyboards: functions of a translator and view data that return markup."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.config import SUPPORTED_LOCALES
from bot.i18n import Translator, translator
from bot.services.org import PickerView


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


def region_keyboard(tr: Translator, view: PickerView) -> InlineKeyboardMarkup:
    """The region picker: a region with sub-regions opens them, a leaf is chosen."""
    buttons = [
        InlineKeyboardButton(
            tr.name_of(option.region.names, option.region.code)
            + (" ›" if option.has_children else ""),
            callback_data=callbacks.pack(
                "rgn" if option.has_children else "rgs", option.region.code
            ),
        )
        for option in view.options
    ]
    rows = _rows(buttons, 2)
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
