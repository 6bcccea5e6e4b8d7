"""/my and its detail views: what became of each question and wish a young person raised.

The young person sees their own words and the answers unmasked (it is their data); staff
appear only as "a cadre".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.i18n import Translator, html_to_plain, utf16_units
from bot.keyboards import youth_answer_keyboard
from bot.services import lifecycle
from bot.services import wish_lifecycle as life
from bot.wish_keyboards import ask_withdraw_keyboard, owner_keyboard, receipt_keyboard
from storage.questions import Question
from storage.wishes import Wish

# Telegram's limit is 4096; the list is cut at whole entries below it.
LIST_BUDGET = 3900
# In a question's detail: the question itself and the newest messages after it.
THREAD_SHOWN = 6
MESSAGE_CUT = 500


def _when(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def listing(
    tr: Translator,
    questions: Sequence[Question],
    wishes: Sequence[Wish],
    *,
    tz: ZoneInfo,
    more: bool,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The /my list, newest first, with a detail button for every entry shown."""
    entries: list[tuple[str, InlineKeyboardButton]] = []
    for question in questions:
        line: str = tr(
            "my.line",
            ref=question.id,
            status=tr.plain(f"status.{lifecycle.status_label(question)}"),
            date=_when(question.asked_at, tz),
            text=question.text[:80],
        )
        button = InlineKeyboardButton(
            tr.plain("my.open", ref=question.id), callback_data=callbacks.pack("myq", question.id)
        )
        entries.append((line, button))
    wish_entries: list[tuple[str, InlineKeyboardButton]] = []
    for wish in wishes:
        line = tr(
            "my_wishes.line",
            ref=wish.id,
            status=tr.plain(f"wish_status.{life.status_label(wish)}"),
            date=_when(wish.submitted_at, tz)[:10],
            text=wish.text[:80],
        )
        button = InlineKeyboardButton(
            tr.plain("my_wishes.open", ref=wish.id), callback_data=callbacks.pack("myw", wish.id)
        )
        wish_entries.append((line, button))
    parts: list[str] = []
    shown: list[InlineKeyboardButton] = []
    size = 0
    cut = False
    for title, group in ((tr("my.title"), entries), (tr("my_wishes.title"), wish_entries)):
        if not group or cut:  # no heading without entries under it
            continue
        parts.append(title)
        size += utf16_units(title) + 2
        for line, button in group:
            # Whole entries only: cutting inside one could split an HTML entity. Measured
            # as Telegram counts (an emoji is two units).
            if size + utf16_units(line) + 2 > LIST_BUDGET - 200:
                cut = True
                break
            parts.append(line)
            shown.append(button)
            size += utf16_units(line) + 2
    if more or cut:
        parts.append(tr("my.more", shown=len(shown)))
    rows = [shown[i : i + 4] for i in range(0, len(shown), 4)]
    return "\n\n".join(parts), InlineKeyboardMarkup(rows) if rows else None


def question_detail(
    tr: Translator, question: Question, *, tz: ZoneInfo, faq_answer: str | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One question: its state, the conversation on it, the FAQ answer it got
    (``faq_answer``, Telegram HTML), where it was forwarded; with "resolved" / "follow up"
    where those are possible."""
    lines = [
        tr(
            "my.detail_title",
            ref=question.id,
            status=tr.plain(f"status.{lifecycle.status_label(question)}"),
            date=_when(question.asked_at, tz),
        )
    ]
    thread = list(question.thread)
    if len(thread) > THREAD_SHOWN:
        thread = [thread[0], *thread[-(THREAD_SHOWN - 1) :]]
    if not thread:  # only the question was kept
        lines.append(tr("my.detail_youth", date=_when(question.asked_at, tz), text=question.text))
    for message in thread:
        key = "my.detail_cadre" if message.author == "cadre" else "my.detail_youth"
        text = message.text  # plain text, escaped by the catalog
        if len(text) > MESSAGE_CUT:
            text = text[:MESSAGE_CUT] + "…"
        lines.append(tr(key, date=_when(message.created_at, tz), text=text))
        if faq_answer is not None and message is thread[0]:
            # The FAQ's answer, after the question it answered (as plain text: cut to
            # size, an HTML answer could lose a closing tag).
            answer = html_to_plain(faq_answer, keep_links=True)
            if len(answer) > MESSAGE_CUT:
                answer = answer[:MESSAGE_CUT] + "…"
            lines.append(tr("my.detail_faq", text=answer))
    if question.department:
        lines.append(tr("my.detail_department", department=question.department))
    markup = None
    if question.status in (lifecycle.ANSWERED, lifecycle.FORWARDED):
        markup = youth_answer_keyboard(tr, question.id)
    elif question.status == lifecycle.RESOLVED and any(m.author == "cadre" for m in thread):
        markup = youth_answer_keyboard(tr, question.id, resolved=True)
    return "\n\n".join(lines), markup


def wish_detail(
    tr: Translator, wish: Wish, *, tz: ZoneInfo
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One wish: its state, the reason if it was returned or rejected, the claimer's note
    once fulfilled; with the buttons the young person can use in that state."""
    lines = [
        tr(
            "my_wishes.detail",
            ref=wish.id,
            status=tr.plain(f"wish_status.{life.status_label(wish)}"),
            date=_when(wish.submitted_at, tz),
            text=wish.text,
        )
    ]
    if wish.reason and wish.status in (life.RETURNED, life.REJECTED):
        lines.append(tr("my_wishes.detail_reason", reason=wish.reason))
    delivered = (life.FULFILLED, life.DISPUTED, life.CONFIRMED, life.CLOSED)
    if wish.proof_text and wish.fulfilled_at is not None and wish.status in delivered:
        lines.append(tr("my_wishes.detail_proof", proof=wish.proof_text))
    request = life.withdraw_request(wish)
    if request is not None:  # asked to withdraw it once claimed: what became of that
        key = "my_wishes.detail_withdraw_asked" if request.pending else "my_wishes.detail_kept"
        moment = request.asked if request.kept is None else request.kept
        lines.append(tr(key, date=_when(moment.created_at, tz)))
    markup = None
    if wish.status in (life.SUBMITTED, life.APPROVED, life.RETURNED):
        markup = owner_keyboard(tr, wish.id, returned=wish.status == life.RETURNED)
    elif wish.status == life.CLAIMED and request is None:
        markup = ask_withdraw_keyboard(tr, wish.id)
    elif wish.status in (life.FULFILLED, life.DISPUTED):
        markup = receipt_keyboard(tr, wish.id)
    return "\n\n".join(lines), markup
