"""Telling people what happened to a question, through the outbox.

Services decide; this module renders the catalog texts and keyboards in each recipient's
language and schedules them, so every push is durable, deduplicated, and respects quiet
hours for young people.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup

from bot.config import SUPPORTED_LOCALES, Settings
from bot.i18n import (
    Html,
    Translator,
    cut_html,
    html_to_plain,
    load_catalog,
    translator,
    utf16_units,
)
from bot.keyboards import (
    card_keyboard,
    claim_keyboard,
    escalated_keyboard,
    youth_answer_keyboard,
)
from bot.services import access_log, lifecycle, org, questions
from bot.services import outbox as outbox_service
from bot.services.asking import RESPONSE_ASK_PERSON
from bot.services.privacy import MASK_KINDS, mask_personal_data, pseudonym
from knowledge.index import EntryView, KnowledgeIndex
from storage.models import Cadre, Region, Topic, User
from storage.outbox import (
    AUDIENCE_STAFF,
    AUDIENCE_URGENT,
    AUDIENCE_YOUTH,
    STATE_PENDING,
    OutboxMessage,
)
from storage.questions import Question

CARD = "card"
ANSWER = "answer"
SLA_REMINDER = "sla_reminder"
RESOLVE_CHECK = "resolve_check"
NOTICE = "notice"
URGENT = "urgent"
# Pushes to staff about a question: a reply to one of these answers the question.
STAFF_KINDS = (CARD, URGENT, SLA_REMINDER)
# A card's text, in UTF-16 units (never fewer than the characters Telegram counts),
# stays under this (its limit is 4096): the question is shown whole when it fits (any
# question the bot accepts, in plain Chinese), else cut with a mark saying how much is
# not shown.
CARD_BUDGET = 4000
# A follow-up shown on its own card is cut here (it is at most VOY_MAX_TEXT_LENGTH).
CARD_TEXT_LIMIT = 2000
# A card also shows the conversation after the question: its newest messages, each cut.
THREAD_ON_CARD = 4
THREAD_MESSAGE_LIMIT = 300
ANSWER_LIMIT = 3000


# The messages about a question that people reply to: a card (and its kin), an answer,
# and the young person's "passed on to a person" replies (sent directly, so not in the
# outbox). Their first line names the ticket ("📨 问题 #12"); see :func:`ticket_in_header`.
_HEADER_KEYS = (
    "card.question",
    "card.urgent",
    "card.follow_up",
    "card.escalated",
    "card.escalated_pool",
    "card.pass_limit",
    "card.pass_limit_pool",
    "card.urgent_again",
    "card.pool_again",
    "card.reminder",
    "card.no_choice",
    "youth.answer",
    "youth.resolve_check",
    "youth.forwarded",
    "youth.key_suggestion",
    "ask.routed",
    "youth.routed_pool",
    "youth.follow_up_sent",
    "youth.no_choice_routed",
)


def _header_pattern(template: str) -> re.Pattern[str]:
    first = re.sub(r"<[^>]+>", "", template.strip().splitlines()[0])
    parts = re.split(r"(\{\w+\})", first)
    body = "".join(
        r"(\d+)" if part == "{ref}" else ".*?" if part.startswith("{") else re.escape(part)
        for part in parts
    )
    return re.compile(body)


_HEADERS = tuple(
    _header_pattern(load_catalog(locale)[key])
    for locale in SUPPORTED_LOCALES
    for key in _HEADER_KEYS
)


def ticket_in_header(text: str) -> int | None:
    """The ticket a card's or an answer's first line names, or a young person's "passed
    on" reply; None for any other text (a list, a staff confirmation). For a reply to a
    message the outbox has no record of: a copy of a push whose record was lost, or a
    reply sent directly."""
    first = text.strip().split("\n", 1)[0] if text else ""
    for pattern in _HEADERS:
        found = pattern.fullmatch(first)
        if found is not None:
            return int(found.group(1))
    return None


def _matched(index: KnowledgeIndex, question: Question) -> list[EntryView]:
    return [entry for item in question.candidates if (entry := index.entry(str(item.get("slug"))))]


def _rejected_count(question: Question) -> int:
    """How many of the matched entries the young person read and said did not help: the
    FAQ's answer, after 👎 "ask a person". (After "none of these" they saw only the
    suggestions' questions, not their answers: those stay on the card to answer with.)"""
    return 1 if question.reason == RESPONSE_ASK_PERSON else 0


def nearest(index: KnowledgeIndex, question: Question) -> list[EntryView]:
    """The FAQ entries the matcher found nearest, for the cadre's card (to answer with
    at a tap): not those the young person already saw and turned down."""
    return _matched(index, question)[_rejected_count(question) :]


def rejected(index: KnowledgeIndex, question: Question) -> list[EntryView]:
    """The FAQ entries the young person saw and said did not help (the card says so)."""
    return _matched(index, question)[: _rejected_count(question)]


def _ref(question: Question) -> tuple[str, int]:
    return ("question", question.id)


async def _translator_for(
    session: AsyncSession, telegram_id: int, settings: Settings
) -> Translator:
    user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
    return translator(user.locale if user else settings.default_locale, settings.default_locale)


def masked(tr: Translator, text: str) -> str:
    """``text`` with personal data replaced by catalog labels (before staff see it)."""
    return mask_personal_data(text, {kind: tr.plain(f"mask.{kind}") for kind in MASK_KINDS})


def as_said(
    tr: Translator, shown: str, *, forwarded: bool, file_kind: str | None = None
) -> str | Html:
    """A young person's (masked) words for a card: a message they forwarded says so (it is
    someone else's words, and whose is not shown: that is a third party's data); words
    written under a photo or a file (``file_kind``, as the inbound log names the message)
    say that it came with them and was not passed on (it could not be masked), so that
    the cadre can ask them to describe it."""
    said = tr("card.youth_forwarded", text=shown) if forwarded else shown
    if file_kind is None:
        return said
    key = "card.said_under_photo" if file_kind == "photo" else "card.said_under_file"
    return tr(key, text=said)


def _forwarded(question: Question) -> bool:
    """Whether the question is a message the young person forwarded."""
    return bool(question.thread) and question.thread[0].forwarded


def age_text(tr: Translator, since: datetime, now: datetime) -> str:
    """How long ago, in the reader's language."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 1:  # not "0 minutes ago"
        return tr.plain("time.just_now")
    if minutes < 60:
        return tr.plain("time.minutes", n=minutes)
    if minutes < 60 * 48:
        return tr.plain("time.hours", n=minutes // 60)
    return tr.plain("time.days", n=minutes // (60 * 24))


def _anonymous(tr: Translator, question: Question, settings: Settings) -> str:
    """How staff see the asker without their name: 青年#A3F2."""
    return tr.plain("card.anonymous", code=pseudonym(question.user_id, settings.pseudonym_key()))


async def _holds(session: AsyncSession, question: Question, chat_id: int) -> bool:
    """Whether ``chat_id`` is the cadre the question is assigned to."""
    if question.assigned_cadre_id is None:
        return False
    cadre = await session.get(Cadre, question.assigned_cadre_id)
    return cadre is not None and cadre.telegram_id == chat_id


async def _card_text(
    session: AsyncSession,
    tr: Translator,
    question: Question,
    *,
    settings: Settings,
    now: datetime,
    nearest: list[EntryView],
    name_shown: bool,
    turned_down: Sequence[EntryView] = (),
    lead: str = "",
    tail: str = "",
) -> str:
    """The question's card; ``lead`` and ``tail`` (HTML) go before and after it, inside
    the length budget, so that only the young person's words are ever cut."""
    # A shared name is shown (``name_shown``) or hidden from the conversation.
    asker = await session.get(User, question.user_id) if question.identity_shared else None
    who = (
        asker.first_name
        if asker is not None and name_shown
        else _anonymous(tr, question, settings)
    )
    region = await session.get(Region, question.region_code) if question.region_code else None
    topic = await session.get(Topic, question.topic) if question.topic else None
    file_kind = await questions.asked_with_file(session, question)

    def build(shown: str) -> Html:
        return Html(lead + body(shown) + tail)

    def body(shown: str) -> Html:
        text = tr(
            "card.question",
            ref=question.id,
            age=age_text(tr, question.asked_at, now),
            who=who,
            region=tr.name_of(region.names, region.code)
            if region
            else tr.plain("card.unknown_region"),
            topic=tr.name_of(topic.names, topic.code) if topic else tr.plain("card.unknown_topic"),
            text=as_said(tr, shown, forwarded=_forwarded(question), file_kind=file_kind),
        )
        text = _with_conversation(tr, text, question, asker=asker, name_shown=name_shown, who=who)
        if question.reason == questions.POSSIBLE_CONCERN:
            text = Html(text + "\n\n" + tr("card.possible_concern"))
        elif questions.follow_up_flagged(question):
            text = Html(text + "\n\n" + tr("card.possible_concern_follow_up"))
        if turned_down:
            seen = tr.plain("card.separator").join(entry.question for entry in turned_down)
            text = Html(text + "\n\n" + tr("card.turned_down", entries=seen))
        if nearest:
            separator = tr.plain("card.separator")
            entries = separator.join(entry.question for entry in nearest[:3])
            return Html(text + "\n\n" + tr("card.nearest", entries=entries))
        return text

    return fitted(build, masked(tr, question.text), tr)


def _urgent_text(
    tr: Translator,
    question: Question,
    category: str,
    who: str,
    place: str,
    asker: User | None,
    name_shown: bool,
    tail: str,
    file_kind: str | None,
    shown: str,
) -> Html:
    """An urgent card showing ``shown`` of the question (``file_kind``: asked under a
    photo or a file), and the follow-up that raised it; ``tail`` (HTML) ends it, inside
    the length budget."""
    text = tr(
        "card.urgent",
        ref=question.id,
        category=tr.plain(f"concern.{category}"),
        who=who,
        region=place,
        text=as_said(tr, shown, forwarded=_forwarded(question), file_kind=file_kind),
    )
    return Html(
        _with_conversation(tr, text, question, asker=asker, name_shown=name_shown, who=who) + tail
    )


def _urgent_lead(tr: Translator, question: Question) -> str:
    """The line that makes a call for help read as one on any card; empty otherwise."""
    if not question.urgent:
        return ""
    concern = tr.plain(f"concern.{questions.alert_category(question)}")
    return tr("card.urgent_again", ref=question.id, category=concern) + "\n"


def fitted(build: Callable[[str], Html], text: str, tr: Translator) -> Html:
    """``build(text)``, with ``text`` cut (and marked so) only as far as the message must
    be to stay within :data:`CARD_BUDGET`.

    Should the rest of the card alone be over the budget (its heading, the conversation
    and the FAQ lines: not at today's limits), the card with ``text`` whole is cut at its
    end instead, where its least needed lines are (a question card's FAQ lines, then its
    conversation), and marked so: whatever the inputs, the card fits.
    """
    card = build(text)
    shown = text
    while (over := _size(card) - CARD_BUDGET) > 0 and shown:
        shown = shown[: max(len(shown) - over - 20, 0)]
        card = build(shown + tr.plain("card.cut", n=len(text) - len(shown)))
    if _size(card) <= CARD_BUDGET:
        return card
    whole = build(text)
    total = len(html_to_plain(whole))
    # The mark saying how much is left out, as long as it can be (every character).
    room = CARD_BUDGET - _size(tr("card.cut", n=total))
    kept = cut_html(whole, max(room, 0))
    return Html(kept + tr("card.cut", n=total - len(html_to_plain(kept))))


def _size(card: str) -> int:
    """A card's length in UTF-16 code units of the text shown (the sandbox's count;
    Telegram's, in code points, is never more)."""
    return utf16_units(html_to_plain(card))


def _with_conversation(
    tr: Translator,
    text: Html,
    question: Question,
    *,
    asker: User | None,
    name_shown: bool,
    who: str,
) -> Html:
    """``text`` (a card) followed by what was said on the ticket after the question
    (follow-ups, answers), newest last, so whoever the card reaches (another cadre, the
    pool) sees all the young person added. Every line is masked as the question is,
    cadres' answers too (they may repeat a phone number); a name the young person shared
    (``asker``'s) is replaced by ``who`` (their pseudonym) unless ``name_shown``."""
    after = list(question.thread)[1:]  # the first message is the question itself
    if not after:
        return text
    hidden = asker.first_name if asker is not None and not name_shown else None
    lines = [tr("card.thread_title", count=min(len(after), THREAD_ON_CARD))]
    for message in after[-THREAD_ON_CARD:]:
        youth = message.author != "cadre"
        said = masked(tr, message.text)
        if hidden and len(hidden) >= 2:  # a one-character name would blank common words
            said = said.replace(hidden, who)
        if len(said) > THREAD_MESSAGE_LIMIT:
            said = said[:THREAD_MESSAGE_LIMIT] + "…"
        key = "card.thread_forwarded" if message.forwarded else "card.thread_youth"
        lines.append(tr(key if youth else "card.thread_cadre", text=said))
    return Html(text + "\n\n" + "\n".join(lines))


async def card(
    session: AsyncSession,
    question: Question,
    *,
    cadre: Cadre | None,
    settings: Settings,
    now: datetime,
    nearest: list[EntryView],
    header: str | None = None,
    turned_down: Sequence[EntryView] = (),
) -> None:
    """Send the question's card to ``cadre``, or to the committee's pool (``None``)."""
    chat_id = cadre.telegram_id if cadre else await org.get_setting(session, "committee_chat_id")
    if chat_id is None:
        return  # no committee chat configured: the pool is still visible through /pool
    tr = await _translator_for(session, chat_id, settings)
    # A shared name is for the cadre handling the question, never the committee's group.
    name_shown = question.identity_shared and cadre is not None
    text = await _card_text(
        session,
        tr,
        question,
        settings=settings,
        now=now,
        nearest=nearest,
        name_shown=name_shown,
        turned_down=turned_down,
        lead=tr(header, ref=question.id, hours=f"{settings.sla_escalation_hours:g}") + "\n\n"
        if header
        else "",
        tail="" if cadre else "\n\n" + tr("card.pool"),
    )
    markup = card_keyboard(tr, question.id, nearest) if cadre else claim_keyboard(tr, question.id)
    await _staff_card(
        session,
        question,
        kind=CARD,
        chat_id=chat_id,
        person=cadre.telegram_id if cadre else None,
        text=text,
        markup=markup,
        dedupe_key=f"card:{question.id}:{len(question.events)}:{chat_id}",
        purpose=access_log.IDENTITY_SHARED_CARD,
        name_shown=name_shown,
        now=now,
    )
    if cadre is not None:
        await _sla_reminder(session, question, cadre=cadre, tr=tr, settings=settings, now=now)


async def card_again(
    session: AsyncSession,
    question: Question,
    *,
    viewer: User,
    settings: Settings,
    now: datetime,
    nearest: list[EntryView],
    turned_down: Sequence[EntryView] = (),
) -> None:
    """The question's card once more, to a staff member who opened it from a listing
    (through the outbox like every card, so a reply to it answers the question)."""
    chat_id = viewer.telegram_id
    tr = await _translator_for(session, chat_id, settings)
    pool = question.status == lifecycle.ROUTED and question.assigned_cadre_id is None
    # A shared name only for the cadre who holds the question, not others who look.
    name_shown = question.identity_shared and await _holds(session, question, chat_id)
    if question.urgent:
        nearest = []  # nobody answers a call for help with an FAQ entry
    text = await _card_text(
        session,
        tr,
        question,
        settings=settings,
        now=now,
        nearest=nearest,
        name_shown=name_shown,
        turned_down=turned_down,
        lead=_urgent_lead(tr, question),  # a call for help reads as one wherever opened
    )
    markup = claim_keyboard(tr, question.id) if pool else card_keyboard(tr, question.id, nearest)
    await _staff_card(
        session,
        question,
        kind=CARD,
        chat_id=chat_id,
        person=chat_id,
        text=text,
        markup=markup,
        dedupe_key=f"card_again:{question.id}:{len(question.events)}:{chat_id}:{now:%Y%m%d%H%M%S}",
        purpose=access_log.IDENTITY_SHARED_CARD,
        name_shown=name_shown,
        now=now,
    )


async def follow_up_card(
    session: AsyncSession,
    question: Question,
    *,
    cadre: Cadre,
    text: str,
    settings: Settings,
    now: datetime,
    forwarded: bool = False,
    file_kind: str | None = None,
    possible_concern: bool = False,
) -> None:
    """Send a young person's follow-up (``forwarded``: a message they forwarded;
    ``file_kind``: written under a photo or a file, not passed on) to the cadre on the
    ticket; ``possible_concern``: the concern model found its words close to a call for
    help (the list did not), and the card asks the cadre to read it with care."""
    tr = await _translator_for(session, cadre.telegram_id, settings)
    shown = as_said(
        tr, masked(tr, text)[:CARD_TEXT_LIMIT], forwarded=forwarded, file_kind=file_kind
    )
    text = tr("card.follow_up", ref=question.id, text=shown)
    if possible_concern:
        text = Html(text + "\n\n" + tr("card.possible_concern_follow_up"))
    await outbox_service.enqueue(
        session,
        kind=CARD,
        chat_id=cadre.telegram_id,
        text=text,
        due_at=now,
        dedupe_key=f"followup:{question.id}:{len(question.thread)}",
        audience=AUDIENCE_STAFF,
        recipient_user_id=cadre.telegram_id,
        reply_markup=card_keyboard(tr, question.id).to_dict(),
        ref=_ref(question),
    )
    await _sla_reminder(session, question, cadre=cadre, tr=tr, settings=settings, now=now)


async def name_shared(
    session: AsyncSession, question: Question, *, settings: Settings, now: datetime
) -> None:
    """The young person agreed to share their name: tell the cadre holding the question
    (nobody else; a question in the pool shows it to whoever takes it, on its card)."""
    holding = (lifecycle.ASSIGNED, lifecycle.ANSWERED)  # not passed on to a department
    if question.assigned_cadre_id is None or question.status not in holding:
        return
    cadre = await session.get(Cadre, question.assigned_cadre_id)
    asker = await session.get(User, question.user_id)
    if cadre is None or asker is None:
        return
    tr = await _translator_for(session, cadre.telegram_id, settings)
    text = tr(
        "card.name_shared",
        ref=question.id,
        code=_anonymous(tr, question, settings),
        name=asker.first_name,
    )
    await _staff_card(
        session,
        question,
        kind=CARD,
        chat_id=cadre.telegram_id,
        person=cadre.telegram_id,
        text=text,
        markup=card_keyboard(tr, question.id),
        dedupe_key=f"name_shared:{question.id}:{cadre.telegram_id}",
        purpose=access_log.IDENTITY_SHARED_CARD,
        name_shown=True,
        now=now,
    )


async def _sla_reminder(
    session: AsyncSession,
    question: Question,
    *,
    cadre: Cadre,
    tr: Translator,
    settings: Settings,
    now: datetime,
) -> None:
    """Remind the cadre if the question is still unanswered after the SLA: counted from
    when they got it, so a nudge from the young person (which brings the follow-up at
    once and replaces the pending reminder) does not put the reminder off."""
    sla = timedelta(hours=settings.sla_reminder_hours)
    due = now + sla
    if question.assigned_at is not None and question.assigned_at + sla > now:
        due = question.assigned_at + sla
    await outbox_service.enqueue(
        session,
        kind=SLA_REMINDER,
        chat_id=cadre.telegram_id,
        text=tr("card.reminder", ref=question.id, hours=f"{settings.sla_reminder_hours:g}"),
        due_at=due,
        dedupe_key=f"sla:{question.id}:{len(question.events)}:{len(question.thread)}",
        audience=AUDIENCE_STAFF,
        recipient_user_id=cadre.telegram_id,
        ref=_ref(question),
    )


async def in_new_language(session: AsyncSession, user: User, settings: Settings) -> int:
    """Render again, in ``user``'s language now, the pushes to them rendered ahead of time
    and not yet sent (a "was it resolved?" check, a cadre's SLA reminder): a change of
    language applies to them too. Return how many."""
    tr = translator(user.locale, settings.default_locale)
    rows = await session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.state == STATE_PENDING,
            OutboxMessage.recipient_user_id == user.telegram_id,
            OutboxMessage.kind.in_((RESOLVE_CHECK, SLA_REMINDER)),
            OutboxMessage.ref_type == "question",
        )
    )
    count = 0
    for row in rows:
        ref = int(row.ref_id or 0)
        if row.kind == RESOLVE_CHECK:
            row.text = tr("youth.resolve_check", ref=ref)
            row.reply_markup = youth_answer_keyboard(tr, ref).to_dict()
        else:
            row.text = tr("card.reminder", ref=ref, hours=f"{settings.sla_reminder_hours:g}")
        count += 1
    await session.flush()
    return count


async def remind_later(
    session: AsyncSession, question: Question, *, cadre: Cadre, settings: Settings, now: datetime
) -> None:
    """Remind ``cadre``, who took the question, if it is still unanswered after the SLA."""
    tr = await _translator_for(session, cadre.telegram_id, settings)
    await _sla_reminder(session, question, cadre=cadre, tr=tr, settings=settings, now=now)


async def drop_reminders(session: AsyncSession, question: Question) -> None:
    """The question changed hands or was answered: its pending reminders are obsolete."""
    await outbox_service.cancel(
        session, ref_type="question", ref_id=question.id, kinds=[SLA_REMINDER]
    )


async def answer_to_youth(
    session: AsyncSession, question: Question, *, text: str, settings: Settings, now: datetime
) -> None:
    """Deliver a cadre's answer, and ask later whether it resolved the question."""
    asker = await session.get(User, question.user_id)
    if asker is None:
        return
    await outbox_service.cancel(
        session, ref_type="question", ref_id=question.id, kinds=[SLA_REMINDER, RESOLVE_CHECK]
    )
    tr = translator(asker.locale, settings.default_locale)
    await outbox_service.enqueue(
        session,
        kind=ANSWER,
        chat_id=asker.telegram_id,
        text=tr("youth.answer", ref=question.id, question=question.text[:300], answer=text),
        due_at=now,
        dedupe_key=f"answer:{question.id}:{len(question.thread)}",
        # A call for help is answered at once, at night too: that is when it matters.
        audience=AUDIENCE_URGENT if question.urgent else AUDIENCE_YOUTH,
        recipient_user_id=asker.telegram_id,
        reply_markup=youth_answer_keyboard(tr, question.id).to_dict(),
        ref=_ref(question),
    )
    await outbox_service.enqueue(
        session,
        kind=RESOLVE_CHECK,
        chat_id=asker.telegram_id,
        text=tr("youth.resolve_check", ref=question.id),
        due_at=now + timedelta(hours=settings.resolve_check_hours),
        dedupe_key=f"resolve_check:{question.id}:{len(question.thread)}",
        audience=AUDIENCE_YOUTH,
        recipient_user_id=asker.telegram_id,
        reply_markup=youth_answer_keyboard(tr, question.id).to_dict(),
        ref=_ref(question),
    )


def with_helpline(tr: Translator, text: str) -> Html:
    """``text`` (Telegram HTML) with the helpline's numbers under it: every message that
    tells a young person their question went to a person has them, so a call for help
    the safeguarding list missed still gets them."""
    return Html(text + "\n" + tr("ask.helpline"))


async def youth_notice(
    session: AsyncSession,
    question: Question,
    *,
    key: str,
    settings: Settings,
    now: datetime,
    buttons: bool = False,
    helpline: bool = False,
    **params: object,
) -> None:
    """Tell the young person about a step (forwarded, key suggestion, …); with
    ``buttons``, they can mark it resolved or follow up from there; with ``helpline``,
    the helpline's numbers follow (the question went to a person)."""
    asker = await session.get(User, question.user_id)
    if asker is None:
        return
    tr = translator(asker.locale, settings.default_locale)
    text = tr(key, ref=question.id, **params)
    await outbox_service.enqueue(
        session,
        kind=NOTICE,
        chat_id=asker.telegram_id,
        text=with_helpline(tr, text) if helpline else text,
        due_at=now,
        dedupe_key=f"notice:{question.id}:{key}:{len(question.events)}",
        audience=AUDIENCE_YOUTH,
        recipient_user_id=asker.telegram_id,
        reply_markup=youth_answer_keyboard(tr, question.id).to_dict() if buttons else None,
        ref=_ref(question),
    )


async def resolved(session: AsyncSession, question: Question) -> None:
    """The question is settled: pending reminders and checks about it are dropped."""
    await outbox_service.cancel(
        session, ref_type="question", ref_id=question.id, kinds=[SLA_REMINDER, RESOLVE_CHECK]
    )


async def urgent(
    session: AsyncSession,
    question: Question,
    *,
    cadre: Cadre | None,
    category: str,
    settings: Settings,
    now: datetime,
    handed_on: bool = False,
) -> None:
    """An urgent card to the on-duty cadre (if any) and to the committee's group.

    ``handed_on``: the question changed hands (its cadre removed, unreachable or past
    the SLA), so both get it again, the committee's copy saying who holds it now.
    """
    committee = await org.get_setting(session, "committee_chat_id")
    recipients: list[tuple[int, int | None]] = (
        [(cadre.telegram_id, cadre.telegram_id)] if cadre else []
    )
    if committee is not None:
        recipients.append((committee, None))
    asker = await session.get(User, question.user_id)
    region = await session.get(Region, question.region_code) if question.region_code else None
    file_kind = await questions.asked_with_file(session, question)
    for chat_id, person in recipients:
        tr = await _translator_for(session, chat_id, settings)
        # The on-duty cadre may see a shared name; the committee's group never does.
        shown_to = asker if question.identity_shared and person is not None else None
        name_shown = shown_to is not None
        who = shown_to.first_name if shown_to is not None else _anonymous(tr, question, settings)
        place = (
            tr.name_of(region.names, region.code) if region else tr.plain("card.unknown_region")
        )

        # The committee's copy of one a cadre holds says who (inside the budget: a name
        # has up to 128 characters), and has no claim button (a colleague's question
        # cannot be taken from under them).
        held_by = cadre if person is None else None
        tail = "\n" + tr("card.urgent_held_by", name=held_by.name) if held_by else ""
        text = fitted(
            functools.partial(
                _urgent_text,
                tr,
                question,
                category,
                who,
                place,
                asker,
                name_shown,
                tail,
                file_kind,
            ),
            masked(tr, question.text),
            tr,
        )
        markup: InlineKeyboardMarkup | None = card_keyboard(tr, question.id)
        if held_by is not None:
            markup = None
        elif person is None:
            markup = claim_keyboard(tr, question.id)
        await _staff_card(
            session,
            question,
            kind=URGENT,
            chat_id=chat_id,
            person=person,
            text=text,
            markup=markup,
            # Once per message on the ticket: a later cry on it alerts again; so does a
            # change of hands.
            dedupe_key=f"urgent:{question.id}:{chat_id}:{len(question.thread)}"
            + (f":{len(question.events)}" if handed_on else ""),
            purpose=access_log.IDENTITY_SHARED_URGENT,
            name_shown=name_shown,
            now=now,
        )
    if cadre is not None:  # reminded like any question they hold, if still unanswered
        await remind_later(session, question, cadre=cadre, settings=settings, now=now)


async def hand_on(
    session: AsyncSession,
    question: Question,
    *,
    cadre: Cadre | None,
    settings: Settings,
    now: datetime,
    index: KnowledgeIndex,
    header: str | None = None,
) -> None:
    """The question's card to its new holder (passed on, claimed, rerouted), or to the
    committee's pool; a call for help as an urgent card (the committee hears of it
    again), whatever moved it."""
    if question.urgent:
        await urgent(
            session,
            question,
            cadre=cadre,
            category=questions.alert_category(question),
            settings=settings,
            now=now,
            handed_on=True,
        )
        return
    await card(
        session,
        question,
        cadre=cadre,
        settings=settings,
        now=now,
        nearest=nearest(index, question),
        header=header,
        turned_down=rejected(index, question),
    )


async def pass_limit(
    session: AsyncSession,
    question: Question,
    *,
    passes: int,
    settings: Settings,
    now: datetime,
    index: KnowledgeIndex,
) -> None:
    """The question was passed on ``passes`` times without an answer and a further pass
    refused: the committee's group gets its card, saying so and who holds it, with the
    buttons to answer it or pass it on (as an admin, not limited)."""
    chat_id = await org.get_setting(session, "committee_chat_id")
    if chat_id is None:
        return  # no committee chat configured: /overdue still lists it once overdue
    tr = await _translator_for(session, chat_id, settings)
    holder = (
        await session.get(Cadre, question.assigned_cadre_id)
        if question.assigned_cadre_id is not None
        else None
    )
    header = (
        tr("card.pass_limit", ref=question.id, count=passes, name=holder.name)
        if holder is not None
        else tr("card.pass_limit_pool", ref=question.id, count=passes)
    )
    text = await _card_text(
        session,
        tr,
        question,
        settings=settings,
        now=now,
        nearest=[] if question.urgent else nearest(index, question),
        name_shown=False,  # never the young person's name in the committee's group
        turned_down=rejected(index, question),
        lead=header + "\n\n" + _urgent_lead(tr, question),
    )
    await _staff_card(
        session,
        question,
        kind=CARD,
        chat_id=chat_id,
        person=None,
        text=text,
        markup=escalated_keyboard(tr, question.id),
        dedupe_key=f"pass_limit:{question.id}:{len(question.events)}:{chat_id}",
        purpose=access_log.IDENTITY_SHARED_CARD,
        name_shown=False,
        now=now,
    )


async def _staff_card(
    session: AsyncSession,
    question: Question,
    *,
    kind: str,
    chat_id: int,
    person: int | None,
    text: str,
    markup: InlineKeyboardMarkup | None,
    dedupe_key: str,
    purpose: str,
    name_shown: bool,
    now: datetime,
) -> None:
    """Queue a card about ``question`` for staff; log the asker's name if it shows."""
    row = await outbox_service.enqueue(
        session,
        kind=kind,
        chat_id=chat_id,
        text=text,
        due_at=now,
        dedupe_key=dedupe_key,
        audience=AUDIENCE_STAFF,
        recipient_user_id=person,
        reply_markup=markup.to_dict() if markup is not None else None,
        ref=_ref(question),
    )
    if row is not None and name_shown:
        await _log_name_shown(session, question, chat_id=chat_id, purpose=purpose, now=now)


async def _log_name_shown(
    session: AsyncSession, question: Question, *, chat_id: int, purpose: str, now: datetime
) -> None:
    """The asker's name goes to staff on this card: the access log records it."""
    viewer = await session.scalar(select(User.id).where(User.telegram_id == chat_id))
    await access_log.record(
        session,
        viewer_chat_id=chat_id,
        viewer_user_id=viewer,
        subject_user_id=question.user_id,
        item=_ref(question),
        purpose=purpose,
        fields=["first_name"],
        now=now,
    )
