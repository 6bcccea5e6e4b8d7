"""Cadres and the committee: question cards, answering, hand-offs, /queue, /pool, /overdue."""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden

from bot import callbacks, logs, notify
from bot.context import BotContext
from bot.i18n import Html, Translator, translator, utf16_units
from bot.keyboards import colleagues_keyboard, promote_keyboard
from bot.services import conversations, lifecycle, promotion, questions
from bot.services.privacy import MASK_KINDS
from handlers import common
from storage.questions import Question

_log = logging.getLogger(__name__)
# /queue, /pool and /overdue list at most this many questions, each with a button.
LISTING_LIMIT = 30
# Colleagues at capacity named when a cadre passes a question on; the rest are counted.
FULL_NAMED = 10
# A listing stays within Telegram's 4,096 (UTF-16 units), with room to spare.
LISTING_BUDGET = 3800


def _query(update: Update) -> tuple[CallbackQuery, callbacks.Callback]:
    query = update.callback_query
    assert query is not None  # guaranteed by the handler's pattern
    return query, callbacks.unpack(query.data)


async def _refuse(query: CallbackQuery, tr: Translator, error: Exception) -> None:
    _log.warning(
        "refused %s from %s: %r",
        logs.callback_shape(query.data),
        logs.who(query.from_user.id if query.from_user else None),
        error,
    )
    if isinstance(error, lifecycle.IllegalTransition):
        state = tr.plain(f"status.{error.state}")
        await query.answer(
            tr.plain("card.illegal", ref=error.question_id, state=state), show_alert=True
        )
    else:
        await query.answer(tr.plain("card.not_allowed"), show_alert=True)


# What the next text means after each card button, and how the cadre is asked for it.
_AWAITING = {
    "qans": (conversations.AWAIT_ANSWER, "card.how_to_answer"),
    "qfwd": (conversations.AWAIT_DEPARTMENT, "card.ask_department"),
}


async def await_text_button(update: Update, context: BotContext) -> None:
    """ "Answer" or "forward" on a card: the cadre's next text is the answer or the
    department's name (the wait is stored, so it survives a restart)."""
    query, data = _query(update)
    now = context.services.clock.now()
    try:
        question, taken_by = await questions.claim_or_check(
            context.session, question_id=data.id(), user=context.user, now=now
        )
    except (questions.NotAllowed, lifecycle.IllegalTransition) as error:
        await _refuse(query, context.tr, error)
        return
    if taken_by is not None:  # taken from the pool: reminded like a claimed question
        await notify.remind_later(
            context.session, question, cadre=taken_by, settings=context.services.settings, now=now
        )
    kind, prompt = _AWAITING[data.action]
    if not await common.expect_or_explain(
        query, context, chat_id=context.user.telegram_id, kind=kind, question_id=data.id()
    ):
        return
    text = context.tr(prompt, ref=data.id())
    message = query.message
    if isinstance(message, Message) and message.chat.type == ChatType.PRIVATE:
        await query.answer()
        await message.reply_text(text)
        return
    # Pressed in the committee's group, where plain text is not read: the bot waits in
    # the presser's private chat, so it asks there.
    try:
        await context.bot.send_message(context.user.telegram_id, text)
    except (Forbidden, BadRequest) as error:  # never started a private chat, or blocked
        _log.info("cannot ask %s in private: %s", logs.who(context.user.telegram_id), error)
        await conversations.clear(context.session, context.user.telegram_id)
        await query.answer(context.tr.plain("card.start_private_first"), show_alert=True)
        return
    await query.answer(context.tr.plain("card.asked_in_private"), show_alert=True)


async def submit_answer(
    message: Message, context: BotContext, *, question_id: int, text: str
) -> None:
    """Record a cadre's answer and deliver it to the young person."""
    now = context.services.clock.now()
    tr = context.tr
    if utf16_units(text) > notify.ANSWER_LIMIT:  # in UTF-16 units: an emoji is two
        # The shortened text that comes next is still this question's answer.
        await common.too_long_again(
            message,
            context,
            kind=conversations.AWAIT_ANSWER,
            question_id=question_id,
            key="card.answer_too_long",
            length=utf16_units(text),
            limit=notify.ANSWER_LIMIT,
        )
        return
    try:
        question = await questions.answer(
            context.session, question_id=question_id, user=context.user, text=text, now=now
        )
    except lifecycle.IllegalTransition as error:
        state = tr.plain(f"status.{error.state}")
        await message.reply_text(tr("card.illegal", ref=question_id, state=state))
        return
    except questions.NotAllowed:
        await message.reply_text(tr("card.not_allowed"))
        return
    await notify.answer_to_youth(
        context.session, question, text=text, settings=context.services.settings, now=now
    )
    # A call for help is never offered to the FAQ (promotion.UrgentNotLearned); nor is
    # the answer to a follow-up (an entry pairs the question with its first answer).
    first = sum(m.author == "cadre" for m in question.thread) == 1
    await message.reply_text(
        tr("card.answered", ref=question.id),
        reply_markup=None
        if question.urgent or not first
        else promote_keyboard(
            tr, question.id, notify.nearest(context.services.knowledge, question)
        ),
    )


async def faq_answer_button(update: Update, context: BotContext) -> None:
    """Answer the question with one of the near FAQ entries shown on the card."""
    query, data = _query(update)
    now = context.services.clock.now()
    try:
        question, _entry = await promotion.answer_with_entry(
            context.session,
            question_id=data.id(0),
            user=context.user,
            entry_id=data.id(1),
            index=context.services.knowledge,
            now=now,
        )
    except (questions.NotAllowed, lifecycle.IllegalTransition) as error:
        await _refuse(query, context.tr, error)
        return
    await notify.answer_to_youth(
        context.session,
        question,
        text=Html(_entry.answer),
        settings=context.services.settings,
        now=now,
    )
    await query.answer(context.tr.plain("card.answered", ref=question.id))
    await query.edit_message_reply_markup(None)


async def promote_button(update: Update, context: BotContext) -> None:
    """Turn an answered question into FAQ: a new entry, or a phrasing of an entry."""
    query, data = _query(update)
    tr = context.tr
    faq_tr = translator(context.services.settings.default_locale)
    try:
        slug = await promotion.promote(
            context.session,
            question_id=data.id(0),
            user=context.user,
            entry_id=data.id(1) if data.action == "qalt" else None,
            index=context.services.knowledge,
            # The FAQ is everyone's: its labels in the bot's default language, not the
            # promoting cadre's.
            mask_labels={kind: faq_tr.plain(f"mask.{kind}") for kind in MASK_KINDS},
            now=context.services.clock.now(),
        )
    except promotion.UrgentNotLearned:
        await query.answer(tr.plain("privacy_fixes.urgent_not_faq"), show_alert=True)
        return
    except promotion.NothingToLearn:
        await query.answer(tr.plain("privacy_fixes.nothing_to_learn"), show_alert=True)
        return
    except promotion.AlreadyAnswered as error:
        key = "card.promote_known" if data.action == "qalt" else "card.promote_already"
        await query.answer(tr.plain(key, slug=error.slug), show_alert=True)
        await query.edit_message_reply_markup(None)
        return
    except questions.NotAllowed as error:
        await _refuse(query, tr, error)
        return
    await query.answer(tr.plain("card.promoted", slug=slug))
    await query.edit_message_reply_markup(None)


async def _pass_refused(
    query: CallbackQuery, context: BotContext, refused: questions.PassLimit
) -> None:
    """Passed on too often: the cadre keeps the question and is told why; the committee
    gets its card (once)."""
    _log.info("refused a pass of question %s: %s", refused.question.id, refused)
    if refused.newly:
        await notify.pass_limit(
            context.session,
            refused.question,
            passes=refused.passes,
            settings=context.services.settings,
            now=context.services.clock.now(),
            index=context.services.knowledge,
        )
    if not refused.committee:
        key = "card.pass_limit_no_committee" if refused.yours else "card.pass_limit_plain"
    elif refused.yours:
        key = "card.pass_limit_refused"
    else:
        key = "card.pass_limit_refused_other"
    text = context.tr.plain(key, ref=refused.question.id, count=refused.passes)
    await query.answer(text, show_alert=True)


async def pass_button(update: Update, context: BotContext) -> None:
    """ "Pass to colleague": list the colleagues who cover the question."""
    query, data = _query(update)
    now = context.services.clock.now()
    try:
        colleagues = await questions.colleagues_of(
            context.session,
            question_id=data.id(),
            user=context.user,
            now=now,
            max_passes=context.services.settings.max_passes,
        )
    except questions.PassLimit as refused:
        await _pass_refused(query, context, refused)
        return
    except (questions.NotAllowed, lifecycle.IllegalTransition) as error:
        await _refuse(query, context.tr, error)
        return
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if not colleagues:
        await query.message.reply_text(context.tr("card.no_colleague"))
        return
    tr = context.tr
    # Those at capacity are named with their load, so the cadre sees why they are not
    # offered (a call for help offers them all).
    at_capacity = [c for c in colleagues if not c.may_take]
    full = tr.plain("card.separator").join(
        tr.plain(
            "card.colleague_button", name=c.cadre.name, load=c.load, capacity=c.cadre.capacity
        )
        for c in at_capacity[:FULL_NAMED]
    )
    if len(at_capacity) > FULL_NAMED:  # a wide region's list must still fit a message
        full += tr.plain("card.and_more", n=len(at_capacity) - FULL_NAMED)
    if not any(c.may_take for c in colleagues):
        await query.message.reply_text(tr("card.no_colleague_free", names=full))
        return
    text = tr("card.choose_colleague")
    if full:
        text = Html(text + "\n" + tr("card.colleagues_full", names=full))
    await query.message.reply_text(
        text, reply_markup=colleagues_keyboard(tr, data.id(), colleagues)
    )


async def pass_to(update: Update, context: BotContext) -> None:
    """Pass the question to the chosen colleague, who gets the card."""
    query, data = _query(update)
    now = context.services.clock.now()
    try:
        assignment = await questions.pass_on(
            context.session,
            question_id=data.id(0),
            user=context.user,
            to_cadre_id=data.id(1),
            now=now,
            max_passes=context.services.settings.max_passes,
        )
    except questions.PassLimit as refused:
        await _pass_refused(query, context, refused)
        return
    except questions.ColleagueFull as full:
        text = context.tr.plain(
            "card.colleague_full",
            name=full.cadre.name,
            load=full.load,
            capacity=full.cadre.capacity,
        )
        await query.answer(text, show_alert=True)  # cut to Telegram's 200 (bot.api_bot)
        return
    except (questions.NotAllowed, lifecycle.IllegalTransition) as error:
        await _refuse(query, context.tr, error)
        return
    assert assignment.cadre is not None
    await notify.drop_reminders(context.session, assignment.question)
    await notify.hand_on(  # a call for help stays one
        context.session,
        assignment.question,
        cadre=assignment.cadre,
        settings=context.services.settings,
        now=now,
        index=context.services.knowledge,
    )
    await query.answer()
    await query.edit_message_text(
        context.tr("card.passed", name=assignment.cadre.name, ref=assignment.question.id)
    )


async def submit_department(
    message: Message, context: BotContext, *, question_id: int, department: str
) -> None:
    """Forward the question to the named department and tell the young person."""
    now = context.services.clock.now()
    try:
        question = await questions.forward(
            context.session,
            question_id=question_id,
            user=context.user,
            department=department,
            now=now,
        )
    except (questions.NotAllowed, lifecycle.IllegalTransition):
        await message.reply_text(context.tr("card.not_allowed"))
        return
    await notify.resolved(context.session, question)
    await notify.youth_notice(
        context.session,
        question,
        key="youth.forwarded",
        settings=context.services.settings,
        now=now,
        buttons=True,
        department=question.department or department,
    )
    await message.reply_text(
        context.tr("card.forwarded", department=question.department or department, ref=question.id)
    )


async def key_button(update: Update, context: BotContext) -> None:
    """Mark a key suggestion (重点建议) and tell the young person (once)."""
    query, data = _query(update)
    now = context.services.clock.now()
    try:
        question, newly = await questions.mark_key(
            context.session, question_id=data.id(), user=context.user, now=now
        )
    except (questions.NotAllowed, lifecycle.IllegalTransition) as error:
        await _refuse(query, context.tr, error)
        return
    if newly:
        await notify.youth_notice(
            context.session,
            question,
            key="youth.key_suggestion",
            settings=context.services.settings,
            now=now,
        )
    await query.answer(context.tr.plain("card.marked_key", ref=question.id))


async def spam_button(update: Update, context: BotContext) -> None:
    """Close the question as spam (the sender is not told)."""
    query, data = _query(update)
    now = context.services.clock.now()
    try:
        question = await questions.close_spam(
            context.session, question_id=data.id(), user=context.user, now=now
        )
    except (questions.NotAllowed, lifecycle.IllegalTransition) as error:
        await _refuse(query, context.tr, error)
        return
    await notify.resolved(context.session, question)
    await query.answer()
    await query.edit_message_reply_markup(None)
    if isinstance(query.message, Message):
        await query.message.reply_text(context.tr("card.closed_spam", ref=question.id))


async def claim_button(update: Update, context: BotContext) -> None:
    """Take a question from the pool; the cadre then gets its full card."""
    query, data = _query(update)
    now = context.services.clock.now()
    try:
        question = await questions.claim(
            context.session, question_id=data.id(), user=context.user, now=now
        )
    except (questions.NotAllowed, lifecycle.IllegalTransition) as error:
        await _refuse(query, context.tr, error)
        return
    cadre = await questions.get_cadre(context.session, context.user)
    await notify.hand_on(  # a call for help stays one
        context.session,
        question,
        cadre=cadre,
        settings=context.services.settings,
        now=now,
        index=context.services.knowledge,
    )
    await query.answer(context.tr.plain("card.claimed", ref=question.id))
    # A pool card loses its buttons; /pool's list loses only the one pressed.
    await query.edit_message_reply_markup(_without(query, data.action))


async def queue_command(update: Update, context: BotContext) -> None:
    """/queue: the cadre's open questions."""
    message = update.effective_message
    assert message is not None
    if not await common.staff_place(update, context):
        return
    cadre = await questions.get_cadre(context.session, context.user)
    if cadre is None:
        await message.reply_text(context.tr("queue.not_cadre"))
        return
    items = await questions.queue_of(context.session, cadre)
    now = context.services.clock.now()
    await _listing(
        message,
        context.tr,
        items,
        title="queue.title",
        empty="queue.empty",
        now=now,
        action="qopen",
    )


async def pool_command(update: Update, context: BotContext) -> None:
    """/pool: unassigned questions the cadre (or the committee) could take."""
    message = update.effective_message
    assert message is not None
    if not await common.staff_place(update, context):
        return
    cadre = await questions.get_cadre(context.session, context.user)
    if cadre is None and not questions.is_admin(context.user):
        await message.reply_text(context.tr("queue.not_cadre"))
        return
    now = context.services.clock.now()
    items = await questions.pool_for(context.session, cadre, now)
    await _listing(
        message,
        context.tr,
        items,
        title="queue.pool_title",
        empty="queue.pool_empty",
        now=now,
        # A cadre takes one; an admin who is not a cadre gets its card, to answer it.
        action="qclaim" if cadre is not None else "qopen",
    )


async def overdue_command(update: Update, context: BotContext) -> None:
    """/overdue: questions waiting longer than the SLA (all of them for the committee)."""
    message = update.effective_message
    assert message is not None
    if not await common.staff_place(update, context):
        return
    cadre = await questions.get_cadre(context.session, context.user)
    if cadre is None and not questions.is_admin(context.user):
        await message.reply_text(context.tr("queue.not_cadre"))
        return
    now = context.services.clock.now()
    after = timedelta(hours=context.services.settings.sla_reminder_hours)
    scope = None if questions.is_admin(context.user) else cadre
    items = await questions.overdue(context.session, now=now, after=after, cadre=scope)
    await _listing(
        message,
        context.tr,
        items,
        title="queue.overdue_title",
        empty="queue.overdue_empty",
        now=now,
        action="qopen",
    )


def _without(query: CallbackQuery, action: str) -> InlineKeyboardMarkup | None:
    """What keyboard the pressed message keeps: on a list of ``action`` buttons (/pool),
    the others; on a card, none."""
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    if markup is None:
        return None
    buttons = [button for row in markup.inline_keyboard for button in row]
    prefix = f"{callbacks.VERSION}:{action}:"
    if not all(str(b.callback_data or "").startswith(prefix) for b in buttons):
        return None
    rows = [[b for b in row if b.callback_data != query.data] for row in markup.inline_keyboard]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


async def _listing(
    message: Message,
    tr: Translator,
    items: list[Question],
    *,
    title: str,
    empty: str,
    now: object,
    action: str,
) -> None:
    """A list of questions, one line each, with a button per question: ``qclaim`` to take
    it from the pool, ``qopen`` to get its card again."""
    if not items:
        await message.reply_text(tr(empty))
        return
    lines = [tr(title, count=len(items))]
    size = utf16_units(lines[0])
    shown = []
    for question in items[:LISTING_LIMIT]:
        # How long it has waited for staff: since asked, or since a follow-up reopened it.
        since = question.waiting_since or question.asked_at
        line = tr(
            "queue.line",
            ref=question.id,
            age=notify.age_text(tr, since, now),  # type: ignore[arg-type]
            text=notify.masked(tr, question.text)[:60],
        )
        # Measured as Telegram counts (emoji twice), the HTML's tags included: the title
        # gives the whole count, so lines past the message's limit are left out.
        if size + utf16_units(line) + 1 > LISTING_BUDGET:
            break
        lines.append(line)
        shown.append(question)
        size += utf16_units(line) + 1
    label = "queue.claim_button" if action == "qclaim" else "queue.open_button"
    buttons = [
        InlineKeyboardButton(
            tr.plain(label, ref=question.id), callback_data=callbacks.pack(action, question.id)
        )
        for question in shown
    ]
    rows = [buttons[i : i + 5] for i in range(0, len(buttons), 5)]
    await message.reply_text("\n".join(lines), reply_markup=InlineKeyboardMarkup(rows))


async def open_button(update: Update, context: BotContext) -> None:
    """A question's button on /queue or /overdue: its card again, with its buttons."""
    query, data = _query(update)
    now = context.services.clock.now()
    try:
        question = await questions.staff_question(
            context.session, question_id=data.id(), user=context.user, now=now
        )
    except questions.NotAllowed as error:
        await _refuse(query, context.tr, error)
        return
    if question.status not in (*lifecycle.OPEN_FOR_STAFF, lifecycle.ANSWERED):
        await _refuse(
            query, context.tr, lifecycle.IllegalTransition(question.id, question.status, "open")
        )
        return
    await notify.card_again(
        context.session,
        question,
        viewer=context.user,
        settings=context.services.settings,
        now=now,
        nearest=notify.nearest(context.services.knowledge, question),
        turned_down=notify.rejected(context.services.knowledge, question),
    )
    private = isinstance(query.message, Message) and query.message.chat.type == ChatType.PRIVATE
    key = "queue.card_coming" if private else "queue.card_coming_private"
    await query.answer(context.tr.plain(key, ref=question.id), show_alert=not private)
