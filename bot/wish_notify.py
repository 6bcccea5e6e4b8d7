"""Telling people what happened to a wish, through the outbox (in their own language)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import Html, Translator, html_to_plain, translator, utf16_units
from bot.notify import masked
from bot.services import access_log, org, outbox, users, wishes
from bot.services import wish_lifecycle as life
from bot.services.privacy import find_personal_data
from bot.services.wish_drafts import UNDER_14
from bot.wish_keyboards import (
    fulfil_keyboard,
    owner_keyboard,
    receipt_keyboard,
    reviewer_keyboard,
    withdraw_request_keyboard,
)
from storage.models import ROLE_ADMIN, ROLE_REVIEWER, Region, User
from storage.outbox import AUDIENCE_STAFF, AUDIENCE_YOUTH, METHOD_PHOTO
from storage.wishes import Wish

# Telegram's limit for a photo's caption (after the HTML is parsed), counted here in
# UTF-16 code units, as Telegram counts entity offsets: an emoji counts twice.
CAPTION_LIMIT = 1024


def _caption_length(html_text: str) -> int:
    return utf16_units(html_to_plain(html_text))


def fits_caption(html_text: str) -> bool:
    """Whether ``html_text`` can be a photo's caption."""
    return _caption_length(html_text) <= CAPTION_LIMIT


async def region_name(session: AsyncSession, tr: Translator, code: str | None) -> str:
    """A region's name in the reader's language."""
    region = await session.get(Region, code) if code else None
    return tr.name_of(region.names, region.code) if region else tr.plain("wish.none")


def _ref(wish: Wish) -> tuple[str, int]:
    return ("wish", wish.id)


def hours_waiting(wish: Wish, now: datetime) -> int:
    """Whole hours since the wish was (last) submitted."""
    return max(int((now - wish.submitted_at).total_seconds() // 3600), 0)


def _consent(wish: Wish) -> str:
    """How the guardian's consent stands: needed under 14 (given or missing), else not."""
    if wish.age_band not in UNDER_14:
        return "not_needed"
    return "given" if wish.guardian_consent else "missing"


async def review_card(
    session: AsyncSession, tr: Translator, wish: Wish, check: wishes.Checklist
) -> str:
    """A reviewer's card of ``wish``: the masked text, its facts and the checklist."""
    kinds = ", ".join(sorted({tr.plain(f"mask.{k}") for k, _ in find_personal_data(wish.text)}))
    lines = [
        tr(
            "wish.check_ok" if check.eligible else "wish.check_warn",
            label=tr.plain(f"wish.check_consent_{_consent(wish)}"),
        ),
        tr(
            "wish.check_ok" if check.within_cap else "wish.check_warn",
            label=tr.plain("wish.check_cap"),
        ),
        tr("wish.check_ok", label=tr.plain("wish.check_private"))
        if not check.personal_data
        else tr("wish.check_warn", label=tr.plain("wish.check_private_found", kinds=kinds)),
        tr("wish.check_ok", label=tr.plain("wish.check_unique"))
        if check.duplicate_of is None
        else tr(
            "wish.check_warn", label=tr.plain("wish.check_duplicate", other=check.duplicate_of)
        ),
    ]
    if wish.photo_file_id:  # no machine can check a photo: the reviewer looks
        lines.append(tr("wish.check_photo"))
    if check.possible_concern:
        lines.insert(0, tr("wish.check_concern"))
    return tr(
        "wish.review_card",
        ref=wish.id,
        text=masked(tr, wish.text),
        category=tr.plain(f"wish.category_{wish.category}"),
        age=tr.plain(f"wish.age_{wish.age_band}"),
        region=await region_name(session, tr, wish.region_code),
        value=wish.value_yuan,
        checks=Html("\n".join(lines)),
    )


async def review_cards(
    session: AsyncSession,
    wish: Wish,
    *,
    check: wishes.Checklist,
    settings: Settings,
    now: datetime,
    reminder: bool = False,
) -> int:
    """A card with the checklist to every reviewer; return how many were scheduled.

    ``reminder``: the wish has waited too long; the card says since when, and goes once
    per submission (a resubmitted wish can be reminded of again).
    """
    reviewers = await users.with_role(session, ROLE_REVIEWER, ROLE_ADMIN)
    prefix = "wish_review_reminder" if reminder else "wish_review"
    for reviewer in reviewers:
        tr = translator(reviewer.locale, settings.default_locale)
        card = await review_card(session, tr, wish, check)
        hours = hours_waiting(wish, now)
        text = tr("wish.review_reminder", hours=hours, card=card) if reminder else card
        dedupe_key = f"{prefix}:{wish.id}:{len(wish.events)}:{reviewer.telegram_id}"
        photo: dict[str, Any] = {}
        if wish.photo_file_id:
            # The reviewer sees the photo too: the card is its caption (one message, the
            # buttons under both), or follows it when too long for a caption.
            photo = {"method": METHOD_PHOTO, "file_id": wish.photo_file_id}
            if not fits_caption(text):
                await outbox.enqueue(
                    session,
                    kind="wish_review",
                    chat_id=reviewer.telegram_id,
                    text=tr("wish.review_photo_caption", ref=wish.id),
                    due_at=now,
                    dedupe_key=f"{dedupe_key}:photo",
                    audience=AUDIENCE_STAFF,
                    recipient_user_id=reviewer.telegram_id,
                    ref=_ref(wish),
                    **photo,
                )
                photo = {}
        row = await outbox.enqueue(
            session,
            kind="wish_review",
            chat_id=reviewer.telegram_id,
            text=text,
            due_at=now,
            dedupe_key=dedupe_key,
            audience=AUDIENCE_STAFF,
            recipient_user_id=reviewer.telegram_id,
            reply_markup=reviewer_keyboard(tr, wish.id).to_dict(),
            ref=_ref(wish),
            **photo,
        )
        if row is not None:
            await access_log.record(
                session,
                viewer_chat_id=reviewer.telegram_id,
                viewer_user_id=reviewer.id,
                subject_user_id=wish.user_id,
                item=_ref(wish),
                purpose=access_log.WISH_REVIEW,
                fields=wishes.review_fields(wish),
                now=now,
            )
    return len(reviewers)


async def review_unstaffed(
    session: AsyncSession, wish: Wish, *, settings: Settings, now: datetime
) -> bool:
    """Tell the committee's chat that nobody can review ``wish`` (no reviewer or admin);
    return whether there is a chat to tell. The notice names the wish only."""
    return await to_committee(
        session,
        wish,
        key="wish.review_unstaffed",
        settings=settings,
        now=now,
        kind="wish_review",
        hours=hours_waiting(wish, now),
    )


async def to_committee(
    session: AsyncSession,
    wish: Wish,
    *,
    key: str,
    settings: Settings,
    now: datetime,
    kind: str = "wish_notice",
    **params: object,
) -> bool:
    """Tell the committee's chat about ``wish`` (named by its number only, never its
    text); return whether there is such a chat."""
    committee = await org.get_setting(session, "committee_chat_id")
    if committee is None:
        return False
    tr = translator(settings.default_locale, settings.default_locale)
    await outbox.enqueue(
        session,
        kind=kind,
        chat_id=int(committee),
        text=tr(key, ref=wish.id, **params),
        due_at=now,
        dedupe_key=f"wish_committee:{wish.id}:{key}:{len(wish.events)}",
        audience=AUDIENCE_STAFF,
        ref=_ref(wish),
    )
    return True


async def to_owner(
    session: AsyncSession,
    wish: Wish,
    *,
    key: str,
    settings: Settings,
    now: datetime,
    markup: str | None = None,
    photo_file_id: str | None = None,
    **params: object,
) -> None:
    """Tell the young person about a step of their wish (``markup``: which buttons).

    ``photo_file_id``: a photo to show with it (the claimer's proof). The note is its
    caption, with the buttons, so the two cannot arrive apart; a note too long for a
    caption goes as its own message after the photo.
    """
    owner = await session.get(User, wish.user_id)
    if owner is None:
        return
    tr = translator(owner.locale, settings.default_locale)
    dedupe_key = f"wish_notice:{wish.id}:{key}:{len(wish.events)}"
    keyboard = None
    if markup == "owner":
        keyboard = owner_keyboard(tr, wish.id, returned=wish.status == "returned").to_dict()
    elif markup == "receipt":
        keyboard = receipt_keyboard(tr, wish.id).to_dict()
    text = tr(key, ref=wish.id, **params)

    async def send(**details: Any) -> None:
        await outbox.enqueue(
            session,
            # With buttons for the wish's state now: cancelled, if still unsent (quiet
            # hours), once the wish moves on (bot.services.wishes).
            kind=wishes.PROMPT_KIND if details.get("reply_markup") else "wish_notice",
            chat_id=owner.telegram_id,
            due_at=now,
            audience=AUDIENCE_YOUTH,
            recipient_user_id=owner.telegram_id,
            ref=_ref(wish),
            **details,
        )

    if photo_file_id is not None and _caption_length(text) <= CAPTION_LIMIT:
        await send(
            method=METHOD_PHOTO,
            file_id=photo_file_id,
            text=text,
            dedupe_key=dedupe_key,
            reply_markup=keyboard,
        )
        return
    if photo_file_id is not None:
        await send(
            method=METHOD_PHOTO,
            file_id=photo_file_id,
            text=tr("wish.proof_photo_caption", ref=wish.id),
            dedupe_key=f"{dedupe_key}:photo",
        )
    await send(text=text, dedupe_key=dedupe_key, reply_markup=keyboard)


async def more_proof(
    session: AsyncSession,
    wish: Wish,
    *,
    file_id: str,
    unique_id: str,
    settings: Settings,
    now: datetime,
) -> None:
    """Another photo of the album the claimer sent as proof: to the young person too."""
    owner = await session.get(User, wish.user_id)
    if owner is None:
        return
    tr = translator(owner.locale, settings.default_locale)
    await outbox.enqueue(
        session,
        kind="wish_notice",
        chat_id=owner.telegram_id,
        method=METHOD_PHOTO,
        file_id=file_id,
        text=tr("wish.proof_photo_caption", ref=wish.id),
        due_at=now,
        dedupe_key=f"wish_notice:{wish.id}:proof:{unique_id}"[:160],
        audience=AUDIENCE_YOUTH,
        recipient_user_id=owner.telegram_id,
        ref=_ref(wish),
    )


async def received(
    session: AsyncSession, wish: Wish, *, settings: Settings, now: datetime
) -> None:
    """The young person confirmed receipt: the claimer hears it, and the committee's
    chat too if it was told of a "not received" since the wish was claimed."""
    if wish.claimer_user_id is not None:
        await to_user(
            session,
            wish,
            wish.claimer_user_id,
            key="wish.received_claimer",
            settings=settings,
            now=now,
        )
    triggers = [event.trigger for event in wish.events]
    claimed_at = max((n for n, t in enumerate(triggers) if t == "claim"), default=-1)
    if "dispute" in triggers[claimed_at + 1 :]:
        await to_committee(
            session, wish, key="wish.dispute_settled_committee", settings=settings, now=now
        )


async def to_claimer(
    session: AsyncSession,
    wish: Wish,
    *,
    key: str,
    settings: Settings,
    now: datetime,
    **params: object,
) -> None:
    """Tell the claimer about their claim, with the "fulfilled" and "still working" buttons."""
    if wish.claimer_user_id is not None:
        await to_user(
            session,
            wish,
            wish.claimer_user_id,
            key=key,
            settings=settings,
            now=now,
            claimer_buttons=True,
            **params,
        )


async def to_user(
    session: AsyncSession,
    wish: Wish,
    user_id: int,
    *,
    key: str,
    settings: Settings,
    now: datetime,
    claimer_buttons: bool = False,
    **params: object,
) -> None:
    """Tell one person (by user id) about a wish; ``claimer_buttons`` for its claimer."""
    person = await session.get(User, user_id)
    if person is None:
        return
    tr = translator(person.locale, settings.default_locale)
    await outbox.enqueue(
        session,
        kind="wish_claimer" if claimer_buttons else "wish_notice",
        chat_id=person.telegram_id,
        text=tr(key, ref=wish.id, **params),
        due_at=now,
        # The day is in the key: a reminder may repeat on another day at the same step.
        dedupe_key=f"wish_user:{wish.id}:{key}:{user_id}:{len(wish.events)}:{now:%Y%m%d}",
        audience=AUDIENCE_STAFF,
        recipient_user_id=person.telegram_id,
        reply_markup=fulfil_keyboard(tr, wish.id).to_dict() if claimer_buttons else None,
        ref=_ref(wish),
    )


async def withdraw_request(
    session: AsyncSession,
    wish: Wish,
    request: life.WithdrawRequest,
    *,
    settings: Settings,
    now: datetime,
    reminder_days: str | None = None,
) -> None:
    """Ask the claimer whether the owner may withdraw ``wish``: a card naming it (its
    masked text, the young person unnamed) with "agree" and "keep" buttons, once per
    request (the request's id is in the dedupe key and on the buttons). With
    ``reminder_days``: the idle claim's reminder while the request waits, the same
    buttons under a text without the wish's (the claim is released, and the wish
    withdrawn as asked, that many days later)."""
    claimer = await session.get(User, wish.claimer_user_id or 0)
    if claimer is None:
        return
    tr = translator(claimer.locale, settings.default_locale)
    reminder = reminder_days is not None
    row = await outbox.enqueue(
        session,
        kind="wish_claimer",
        chat_id=claimer.telegram_id,
        text=(
            tr("wish.withdraw_request_reminder", ref=wish.id, days=reminder_days)
            if reminder
            else tr("wish.withdraw_request_card", ref=wish.id, text=masked(tr, wish.text))
        ),
        due_at=now,
        dedupe_key=(
            f"wish_withdraw_{'reminder' if reminder else 'request'}:{wish.id}:{request.asked.id}"
        ),
        audience=AUDIENCE_STAFF,
        recipient_user_id=claimer.telegram_id,
        reply_markup=withdraw_request_keyboard(tr, wish.id, request.asked.id).to_dict(),
        ref=_ref(wish),
    )
    if row is not None and not reminder:  # the reminder does not show the wish's text
        await access_log.record(
            session,
            viewer_chat_id=claimer.telegram_id,
            viewer_user_id=claimer.id,
            subject_user_id=wish.user_id,
            item=_ref(wish),
            purpose=access_log.WISH_WITHDRAW_REQUEST,
            fields=("wish_text_masked",),
            now=now,
        )
