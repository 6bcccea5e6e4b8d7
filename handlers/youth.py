"""What young people send in private chat: questions and their answer buttons.

Registered last among the private-chat handlers: commands are matched before these.
"""

from __future__ import annotations

import logging

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot import callbacks, logs, my_views, notify
from bot.context import BotContext
from bot.i18n import Html, Translator
from bot.keyboards import (
    feedback_keyboard,
    share_identity_keyboard,
    suggestions_keyboard,
)
from bot.services import asking, conversations, inbox, lifecycle, questions, safeguarding
from bot.services import wishes as wish_service
from bot.services.org import ORG_ROLES
from handlers import common, dialog, wishes

_log = logging.getLogger(__name__)
# /my lists the newest this many questions, and as many wishes.
MY_LIMIT = 10


async def ask(message: Message, context: BotContext, text: str, *, update_id: int) -> None:
    """Ask ``text`` as the sender's question and answer in reply to ``message`` (a message
    they forwarded too: marked so, its original sender left out)."""
    forwarded = message.forward_origin is not None
    outcome = await asking.ask(
        context.session,
        user=context.user,
        text=text,
        index=context.services.knowledge,
        max_length=context.services.settings.max_text_length,
        now=context.services.clock.now(),
        tz=context.services.settings.tz,
        update_id=update_id,
        forwarded=forwarded,
    )
    await _after(context, outcome)
    # A photo's or a file's caption: the reply says only the words were read.
    await _render(message, context.tr, outcome, forwarded=forwarded, media=message.text is None)


async def reply_to_faq_answer(
    message: Message, context: BotContext, replied_text: str, text: str
) -> bool:
    """A young person's reply (``text``) to one of the FAQ's answers: that question goes
    to a person, the reply with it (as 👎 "ask a person" and a follow-up). False if it is
    not one."""
    log_id = await asking.answer_replied_to(
        context.session,
        user=context.user,
        replied_text=replied_text,
        index=context.services.knowledge,
    )
    if log_id is None:
        return False
    outcome = await asking.ask_person_with(
        context.session,
        user=context.user,
        log_id=log_id,
        text=text,
        index=context.services.knowledge,
        now=context.services.clock.now(),
        tz=context.services.settings.tz,
    )
    await _after(context, outcome)
    await _render(message, context.tr, outcome, media=message.text is None)
    return True


async def cry_for_help(
    message: Message, context: BotContext, text: str | None, *, update_id: int
) -> bool:
    """Words suggesting danger are a call for help wherever a young person typed them
    (a step of a wish draft, a photo's caption): asked as an urgent question, so they
    get the helpline and a person is told. Staff at work are not screened here.

    Returns whether ``text`` was one (and has been answered).
    """
    if not text or any(context.user.has_role(role) for role in ORG_ROLES):
        return False
    if safeguarding.assess(text) is None:
        return False
    await ask(message, context, text, update_id=update_id)
    return True


async def _after(context: BotContext, outcome: asking.Outcome) -> None:
    """A routed question's card goes to its cadre or the committee's pool; after a call
    for help, what the young person writes next joins it."""
    if isinstance(outcome, asking.Urgent):
        await notify.urgent(
            context.session,
            outcome.question,
            cadre=outcome.cadre,
            category=outcome.concern.category,
            settings=context.services.settings,
            now=context.services.clock.now(),
        )
        await _keep_listening(context, outcome.question.id)
    elif isinstance(outcome, asking.Routed):
        await notify.card(
            context.session,
            outcome.question,
            cadre=outcome.cadre,
            settings=context.services.settings,
            now=context.services.clock.now(),
            nearest=notify.nearest(context.services.knowledge, outcome.question),
            turned_down=notify.rejected(context.services.knowledge, outcome.question),
        )


async def _keep_listening(context: BotContext, question_id: int) -> None:
    """The reply to a call for help invites the young person to go on telling: their next
    text (within ``VOY_PENDING_STEP_MINUTES``) is a follow-up of that ticket, for the
    person who holds it, not a new question matched against the FAQ. A wish draft in
    progress keeps its step (the draft waits, as it does for the call itself)."""
    await conversations.expect_again(
        context.session,
        chat_id=context.user.telegram_id,
        kind=conversations.AWAIT_FOLLOW_UP,
        now=context.services.clock.now(),
        question_id=question_id,
    )


def _with_forward_note(tr: Translator, text: Html, forwarded: bool) -> Html:
    """``text``, and when a message the young person forwarded reaches staff, what a
    person is shown of someone else's message."""
    return Html(text + "\n\n" + tr("ask.forwarded_note")) if forwarded else text


def _with_caption_note(tr: Translator, text: Html) -> Html:
    """``text`` answering a photo's or a file's caption: first (so that "did you mean:"
    stays next to its choices), that only the words were read."""
    return Html(tr("ask.caption_note") + "\n\n" + text)


async def _render(
    message: Message,
    tr: Translator,
    outcome: asking.Outcome,
    *,
    forwarded: bool = False,
    media: bool = False,
) -> None:
    """Reply with the outcome. A question that goes to staff (now, or after an FAQ answer
    or suggestions the young person turned down) says so if it holds a forwarded message;
    one asked in a photo's or a file's caption says that only its words were read."""
    if isinstance(outcome, asking.Routed | asking.Urgent):
        forwarded = forwarded or any(m.forwarded for m in outcome.question.thread)
    markup: InlineKeyboardMarkup | None = None
    if isinstance(outcome, asking.Urgent):
        text = _with_forward_note(tr, tr("safeguard.help"), forwarded)
    elif isinstance(outcome, asking.Repeated):
        text = tr("ask.repeated", ref=outcome.question_id)
    elif isinstance(outcome, asking.SmallTalk):
        text = tr(f"ask.small_{outcome.kind}")
    elif isinstance(outcome, asking.TooLong):
        text = tr("message.too_long", length=outcome.length, limit=outcome.limit)
    elif isinstance(outcome, asking.Answered):
        text = tr("ask.answer", answer=Html(outcome.entry.answer))
        markup = feedback_keyboard(tr, outcome.log_id)
    elif isinstance(outcome, asking.Suggested):
        text = tr("ask.did_you_mean")
        markup = suggestions_keyboard(tr, outcome.log_id, outcome.entries)
    else:
        key = "ask.routed" if outcome.cadre is not None else "youth.routed_pool"
        routed = notify.with_helpline(tr, tr(key, ref=outcome.question.id))
        text = _with_forward_note(tr, routed, forwarded)
        markup = share_identity_keyboard(tr, outcome.question.id)
    await message.reply_text(_with_caption_note(tr, text) if media else text, reply_markup=markup)


async def _refuse(query: CallbackQuery, tr: Translator, error: Exception) -> None:
    _log.warning(
        "refused %s from %s: %r",
        logs.callback_shape(query.data),
        logs.who(query.from_user.id if query.from_user else None),
        error,
    )
    key = "callback.stale_ask"  # not theirs, or gone: asking again is what is left
    if isinstance(error, asking.HandedOn):
        key = "ask.handed_on"
    elif isinstance(error, asking.Superseded):
        key = "ask.superseded"
    elif isinstance(error, asking.AlreadyAnswered):
        key = "ask.already"
    elif isinstance(error, asking.Erased):
        key = "ask.erased"
    await query.answer(tr.plain(key), show_alert=True)


async def _stale_question(query: CallbackQuery, tr: Translator, question_id: int) -> None:
    """Refuse a button of question ``question_id`` that no longer applies (the question
    moved on, or is not the presser's), pointing to /my, which shows where it stands."""
    await query.answer(tr.plain("callback.stale_question", ref=question_id), show_alert=True)


def _query(update: Update) -> tuple[CallbackQuery, Message, callbacks.Callback]:
    query = update.callback_query
    assert query is not None  # guaranteed by the handler's pattern
    message = query.message
    assert isinstance(message, Message)
    return query, message, callbacks.unpack(query.data)


async def solved(update: Update, context: BotContext) -> None:
    """Record that the automatic answer solved the question."""
    query, _, data = _query(update)
    try:
        await asking.solved(
            context.session, user=context.user, log_id=data.id(), now=context.services.clock.now()
        )
    except (asking.NotYours, asking.AlreadyAnswered) as error:
        await _refuse(query, context.tr, error)
        return
    await query.answer(context.tr.plain("ask.thanks"))
    await query.edit_message_reply_markup(None)


async def hand_over(update: Update, context: BotContext) -> None:
    """Hand the question to a person: "ask a person" or "none of these" was pressed."""
    query, message, data = _query(update)
    response = asking.RESPONSE_ASK_PERSON if data.action == "hum" else asking.RESPONSE_NONE
    try:
        outcome = await asking.hand_over(
            context.session,
            user=context.user,
            log_id=data.id(),
            response=response,
            index=context.services.knowledge,
            now=context.services.clock.now(),
            tz=context.services.settings.tz,
        )
    except (asking.NotYours, asking.AlreadyAnswered) as error:
        await _refuse(query, context.tr, error)
        return
    await _after(context, outcome)
    await query.answer()
    if response == asking.RESPONSE_NONE:  # the choices give way to what was chosen
        chose = context.tr("ask.you_chose", question=context.tr.plain("ask.none_of_these"))
        await query.edit_message_text(chose)
    else:  # the FAQ's answer stays readable
        await query.edit_message_reply_markup(None)
    await _render(message, context.tr, outcome)


async def choose(update: Update, context: BotContext) -> None:
    """Answer with the suggestion the young person chose."""
    query, message, data = _query(update)
    try:
        outcome = await asking.choose(
            context.session,
            user=context.user,
            log_id=data.id(0),
            entry_id=data.id(1),
            index=context.services.knowledge,
            now=context.services.clock.now(),
        )
    except (asking.NotYours, asking.AlreadyAnswered) as error:
        await _refuse(query, context.tr, error)
        return
    await query.answer()
    await query.edit_message_text(context.tr("ask.you_chose", question=outcome.entry.question))
    await _render(message, context.tr, outcome)


async def other_message(update: Update, context: BotContext) -> None:
    """Answer stickers, voice and the like: only text (and photos for wishes) is read; a
    caption that calls for help is answered as one, and any other caption is asked as
    the question (the file itself is not passed on)."""
    message = update.effective_message
    if message is not None and await cry_for_help(
        message, context, message.caption, update_id=update.update_id
    ):
        return
    if await wishes.draft_other(update, context):
        return
    if message is not None and message.caption and message.caption.strip():
        await dialog.route(message, context, message.caption, update_id=update.update_id)
    elif message is not None:
        await common.not_read(message, context, update.update_id)


async def edited(update: Update, context: BotContext) -> None:
    """An edited message is never taken as a new one (a second question, a draft's next
    step, a command run again). The edited text of a question joins that question's
    ticket as a follow-up; any other edit is answered with a request to send it again."""
    message = update.edited_message
    if message is None or message.chat.type != ChatType.PRIVATE:
        raise ApplicationHandlerStop  # group chatter: stored, not answered
    text = message.text
    question_id = text and await questions.asked_in(
        context.session, user=context.user, chat_id=message.chat_id, message_id=message.message_id
    )
    if text and question_id:
        if await asking.replaced_by_edit(
            context.session,
            user=context.user,
            question_id=question_id,
            now=context.services.clock.now(),
        ):
            await ask(message, context, text, update_id=update.update_id)
        else:
            await submit_follow_up(
                message, context, question_id=question_id, text=text, update_id=update.update_id
            )
    else:
        await message.reply_text(context.tr("message.edit_not_read"))
    raise ApplicationHandlerStop  # no other handler sees an edit


async def unknown_command(update: Update, context: BotContext) -> None:
    """Answer a command the bot does not know."""
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split()[0].split("@")[0][:64]
    await message.reply_text(context.tr("command.unknown", command=command))


async def resolved_button(update: Update, context: BotContext) -> None:
    """ "Resolved" under a cadre's answer."""
    query, _, data = _query(update)
    try:
        question = await questions.resolve(
            context.session,
            question_id=data.id(),
            user=context.user,
            now=context.services.clock.now(),
        )
    except lifecycle.IllegalTransition as error:
        if error.state == lifecycle.RESOLVED:  # resolved already (the weekly auto-resolve)
            await query.answer(context.tr.plain("youth.resolved_already", ref=data.id()))
            await query.edit_message_reply_markup(None)
            return
        await _stale_question(query, context.tr, data.id())
        return
    except questions.NotAllowed:
        await _stale_question(query, context.tr, data.id())
        return
    await notify.resolved(context.session, question)
    await query.answer()
    await query.edit_message_reply_markup(None)
    await query.message.reply_text(context.tr("youth.resolved", ref=question.id))  # type: ignore[union-attr]


async def follow_up_button(update: Update, context: BotContext) -> None:
    """ "Follow up": the young person's next text goes to the same cadre."""
    query, _, data = _query(update)
    try:
        question = await questions.own(context.session, question_id=data.id(), user=context.user)
    except questions.NotAllowed:
        await _stale_question(query, context.tr, data.id())
        return
    if not lifecycle.allowed(question.status, "follow_up"):  # say so now, not after typing
        await _stale_question(query, context.tr, data.id())
        return
    if not await common.expect_or_explain(
        query,
        context,
        chat_id=context.user.telegram_id,
        kind=conversations.AWAIT_FOLLOW_UP,
        question_id=question.id,
    ):
        return
    await query.answer()
    await query.message.reply_text(context.tr("youth.ask_follow_up"))  # type: ignore[union-attr]


async def submit_follow_up(
    message: Message, context: BotContext, *, question_id: int, text: str, update_id: int
) -> None:
    """Add the follow-up to the ticket and send it to the cadre (or back to routing); on a
    ticket that is over (withdrawn, closed) the text is asked as a new question."""
    now = context.services.clock.now()
    limit = context.services.settings.max_text_length
    if len(text) > limit and safeguarding.assess(text) is None:
        # The shortened text that comes next is still this question's follow-up.
        await common.too_long_again(
            message,
            context,
            kind=conversations.AWAIT_FOLLOW_UP,
            question_id=question_id,
            key="message.too_long",
            length=len(text),
            limit=limit,
        )
        return
    forwarded = message.forward_origin is not None
    try:
        assignment = await questions.follow_up(
            context.session,
            question_id=question_id,
            user=context.user,
            text=text,
            now=now,
            tz=context.services.settings.tz,
            forwarded=forwarded,
        )
    except (questions.NotAllowed, lifecycle.IllegalTransition):
        await message.reply_text(context.tr("youth.follow_up_new_question", ref=question_id))
        await ask(message, context, text, update_id=update_id)
        return
    await notify.resolved(context.session, assignment.question)
    if assignment.concern is not None:
        await message.reply_text(context.tr("safeguard.help"))
        await notify.urgent(
            context.session,
            assignment.question,
            cadre=assignment.cadre,
            category=assignment.concern.category,
            settings=context.services.settings,
            now=now,
        )
    if assignment.cadre is not None and not assignment.fresh:
        await notify.follow_up_card(
            context.session,
            assignment.question,
            cadre=assignment.cadre,
            text=text,
            forwarded=forwarded,
            file_kind=None if message.text is not None else inbox.message_kind(message),
            settings=context.services.settings,
            now=now,
            possible_concern=assignment.possible_concern,
        )
    else:
        await notify.card(
            context.session,
            assignment.question,
            cadre=assignment.cadre,
            settings=context.services.settings,
            now=now,
            nearest=[],
        )
    if assignment.question.urgent:  # they may have more to tell: it joins this ticket too
        await _keep_listening(context, question_id)
    sent = _with_forward_note(
        context.tr, context.tr("youth.follow_up_sent", ref=question_id), forwarded
    )
    if assignment.possible_concern:  # words close to a call for help: the numbers too
        sent = notify.with_helpline(context.tr, sent)
    media = message.text is None  # a caption: only its words went on
    await message.reply_text(_with_caption_note(context.tr, sent) if media else sent)


async def share_identity_button(update: Update, context: BotContext) -> None:
    """The young person agrees that cadres see their name on this ticket."""
    query, _, data = _query(update)
    now = context.services.clock.now()
    try:
        question = await questions.share_identity(
            context.session, question_id=data.id(), user=context.user, now=now
        )
    except (questions.NotAllowed, lifecycle.IllegalTransition):
        await _stale_question(query, context.tr, data.id())
        return
    await notify.name_shared(
        context.session, question, settings=context.services.settings, now=now
    )
    await query.answer(context.tr.plain("youth.shared"))
    await query.edit_message_reply_markup(None)


async def my_command(update: Update, context: BotContext) -> None:
    """/my: everything the young person raised, with its status, date and a button that
    shows what became of it."""
    message = update.effective_message
    assert message is not None
    items = await questions.of_user(context.session, context.user, limit=MY_LIMIT + 1)
    own_wishes = await wish_service.of_user(context.session, context.user, limit=MY_LIMIT + 1)
    if not items and not own_wishes:
        await message.reply_text(context.tr("my.empty"))
        return
    more = len(items) > MY_LIMIT or len(own_wishes) > MY_LIMIT
    text, markup = my_views.listing(
        context.tr,
        items[:MY_LIMIT],
        own_wishes[:MY_LIMIT],
        tz=context.services.settings.tz,
        more=more,
    )
    await message.reply_text(text, reply_markup=markup)


async def my_item_button(update: Update, context: BotContext) -> None:
    """A /my entry's button: that question's conversation or that wish's story, with the
    buttons the young person can use on it now."""
    query, message, data = _query(update)
    tz = context.services.settings.tz
    try:
        if data.action == "myq":
            question = await questions.own(
                context.session, question_id=data.id(), user=context.user
            )
            answer = await asking.faq_answer_of(
                context.session, question, context.services.knowledge
            )
            text, markup = my_views.question_detail(context.tr, question, tz=tz, faq_answer=answer)
        else:
            wish = await wish_service.own(context.session, wish_id=data.id(), user=context.user)
            text, markup = my_views.wish_detail(context.tr, wish, tz=tz)
    except (questions.NotAllowed, wish_service.WishNotAllowed):
        key = "callback.stale_question" if data.action == "myq" else "callback.stale_wish"
        await query.answer(context.tr.plain(key, ref=data.id()), show_alert=True)
        return
    await query.answer()
    await message.reply_text(text, reply_markup=markup)
