"""Inline keyboards of the micro-wish flows."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.i18n import Translator
from bot.services import wish_drafts as drafts
from storage.models import Region


def _button(text: str, action: str, *args: str | int) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=callbacks.pack(action, *args))


def step_keyboard(
    tr: Translator,
    step: str,
    regions: Sequence[Region] = (),
    *,
    question_mark: str = "",
    aside_mark: str = "",
) -> InlineKeyboardMarkup | None:
    """The buttons of a draft step (None for steps answered by typing); with
    ``question_mark`` (the text's checksum), the photo step also offers to ask the text
    as a question; with ``aside_mark``, a text typed instead of a button is offered to be
    asked as a question (the draft stays)."""
    choices: list[tuple[str, str]] = []
    if step == drafts.PHOTO:
        choices = [("skip", tr.plain("wish.skip"))]
    elif step == drafts.CATEGORY:
        choices = [(c, tr.plain(f"wish.category_{c}")) for c in drafts.CATEGORIES]
    elif step == drafts.FOR_WHOM:
        choices = [(b, tr.plain(f"wish.whom_{b}")) for b in drafts.BENEFICIARIES]
    elif step == drafts.AGE:
        choices = [(a, tr.plain(f"wish.age_{a}")) for a in drafts.AGE_BANDS]
    elif step == drafts.CONSENT:
        choices = [("yes", tr.plain("wish.consent_yes")), ("no", tr.plain("wish.consent_no"))]
    elif step == drafts.REGION:
        choices = [(r.code, tr.name_of(r.names, r.code)) for r in regions]
        choices.append((drafts.NO_REGION, tr.plain("wish.region_none")))
    elif step == drafts.PLACE:
        choices = [("skip", tr.plain("wish.skip"))]
    if not choices:
        return None
    rows = [[_button(label, "wd", step, value)] for value, label in choices]
    if step == drafts.PHOTO and question_mark:
        # Right after the text: someone who tapped "make a wish" by mistake and typed a
        # question sees it here, and has it answered without typing it again.
        rows.append([_button(tr.plain("wish.meant_to_ask"), "wask", question_mark)])
    if aside_mark:
        rows.append([_button(tr.plain("wish.ask_aside"), "wside", aside_mark)])
    return InlineKeyboardMarkup(rows)


def review_keyboard(tr: Translator, serial: str, *, aside_mark: str = "") -> InlineKeyboardMarkup:
    """Submit, change or cancel the draft whose serial is ``serial``; with
    ``aside_mark``, a text typed instead of a button is offered to be asked as a
    question (the draft stays)."""
    rows = [
        [_button(tr.plain("wish.submit"), "wsub", serial)],
        [
            _button(tr.plain("wish.edit"), "wedit", serial),
            _button(tr.plain("wish.cancel"), "wcan", serial),
        ],
    ]
    if aside_mark:
        rows.append([_button(tr.plain("wish.ask_aside"), "wside", aside_mark)])
    return InlineKeyboardMarkup(rows)


def edit_keyboard(tr: Translator, serial: str) -> InlineKeyboardMarkup:
    """Which field of the draft whose serial is ``serial`` to change."""
    return InlineKeyboardMarkup(
        [
            [_button(tr.plain(f"wish.field_{field}"), "wed", field, serial)]
            for field in drafts.EDITABLE
        ]
    )


def reviewer_keyboard(tr: Translator, wish_id: int) -> InlineKeyboardMarkup:
    """Approve, return or reject a submitted wish."""
    return InlineKeyboardMarkup(
        [
            [_button(tr.plain("wish.approve"), "wrv", wish_id, "approve")],
            [
                _button(tr.plain("wish.return"), "wrv", wish_id, "return"),
                _button(tr.plain("wish.reject"), "wrv", wish_id, "reject"),
            ],
        ]
    )


def review_list_keyboard(tr: Translator, wish_ids: Sequence[int]) -> InlineKeyboardMarkup:
    """One button per waiting wish on /review, opening its card."""
    return InlineKeyboardMarkup(
        [[_button(tr.plain("wish.review_open", ref=ref), "wro", ref)] for ref in wish_ids]
    )


def owner_keyboard(tr: Translator, wish_id: int, *, returned: bool) -> InlineKeyboardMarkup:
    """What the young person can do with their wish before it is claimed."""
    rows = [[_button(tr.plain("wish.edit_resubmit"), "wre", wish_id)]] if returned else []
    rows.append([_button(tr.plain("wish.withdraw"), "wwd", wish_id)])
    return InlineKeyboardMarkup(rows)


def ask_withdraw_keyboard(tr: Translator, wish_id: int) -> InlineKeyboardMarkup:
    """The young person's button on a claimed wish: ask its claimer to let it go."""
    return InlineKeyboardMarkup([[_button(tr.plain("wish.withdraw_ask"), "wwd", wish_id)]])


def withdraw_request_keyboard(
    tr: Translator, wish_id: int, request_id: int
) -> InlineKeyboardMarkup:
    """The claimer's answer to the owner's request ``request_id`` to withdraw the wish."""
    return InlineKeyboardMarkup(
        [
            [_button(tr.plain("wish.withdraw_agree"), "wwy", wish_id, request_id)],
            [_button(tr.plain("wish.withdraw_keep"), "wwk", wish_id, request_id)],
        ]
    )


def receipt_keyboard(tr: Translator, wish_id: int) -> InlineKeyboardMarkup:
    """Received, or not yet."""
    return InlineKeyboardMarkup(
        [
            [
                _button(tr.plain("wish.received"), "wok", wish_id),
                _button(tr.plain("wish.not_received"), "wno", wish_id),
            ]
        ]
    )


def listing_keyboard(
    tr: Translator,
    wish_ids: Sequence[int],
    regions: Sequence[Region],
    region: str,
    category: str,
    *,
    mine: Sequence[int] = (),
) -> InlineKeyboardMarkup:
    """A "fulfilled" button per wish the reader took on, a claim button per published
    wish, then filters by region and by category."""
    rows = [[_button(tr.plain("wish.fulfilled_button", ref=ref), "wfl", ref)] for ref in mine]
    rows += [[_button(tr.plain("wish.claim", ref=ref), "wcl", ref)] for ref in wish_ids]
    region_row = [_button(tr.plain("wish.filter_all"), "wls", "-", category)] + [
        _button(tr.name_of(r.names, r.code), "wls", r.code, category) for r in regions
    ]
    category_row = [_button(tr.plain("wish.filter_any"), "wls", region, "-")] + [
        _button(tr.plain(f"wish.category_{c}"), "wls", region, c) for c in drafts.CATEGORIES
    ]
    rows += [region_row[i : i + 3] for i in range(0, len(region_row), 3)]
    rows += [category_row[i : i + 3] for i in range(0, len(category_row), 3)]
    return InlineKeyboardMarkup(rows)


def fulfil_keyboard(tr: Translator, wish_id: int) -> InlineKeyboardMarkup:
    """The claimer's "fulfilled" and "still working on it" buttons."""
    return InlineKeyboardMarkup(
        [
            [_button(tr.plain("wish.fulfilled_button", ref=wish_id), "wfl", wish_id)],
            [_button(tr.plain("wish.progress_button"), "wpr", wish_id)],
        ]
    )
