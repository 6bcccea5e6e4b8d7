"""What young people send in private chat: questions and their answer buttons.

Registered last among the private-chat handlers: commands are matched before these.
"""

from __future__ import annotations

from telegram import CallbackQuery, Message, Update

from bot import callbacks
from bot.context import BotContext
from bot.i18n import Html, Translator
from bot.keyboards import feedback_keyboard, suggestions_keyboard
from bot.services import asking


async def text_message(update: Update, context: BotContext) -> None:
    """Answer a question from the FAQ, offer suggestions, or hand it to a person."""
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    outcome = await asking.ask(
        context.session,
        user=context.user,
        text=message.text,
        index=context.services.knowledge,
        max_length=context.services.settings.max_text_length,
        update_id=update.update_id,
    )
    await _render(message, context.tr, outcome)


async def _render(message: Message, tr: Translator, outcome: asking.Outcome) -> None:
    if isinstance(outcome, asking.TooLong):
        await message.reply_text(
            tr("message.too_long", length=outcome.length, limit=outcome.limit)
        )
    elif isinstance(outcome, asking.Answered):
        await message.reply_text(
            tr("ask.answer", answer=Html(outcome.entry.answer)),
            reply_markup=feedback_keyboard(tr, outcome.log_id),
        )
    elif isinstance(outcome, asking.Suggested):
        await message.reply_text(
            tr("ask.did_you_mean"),
            reply_markup=suggestions_keyboard(tr, outcome.log_id, outcome.entries),
        )
    else:
        await message.reply_text(tr("ask.routed", ref=outcome.question.id))


async def _refuse(query: CallbackQuery, tr: Translator, error: Exception) -> None:
    key = "ask.already" if isinstance(error, asking.AlreadyAnswered) else "callback.stale"
    await query.answer(tr.plain(key), show_alert=True)


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
        await asking.solved(context.session, user=context.user, log_id=data.id())
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
        )
    except (asking.NotYours, asking.AlreadyAnswered) as error:
        await _refuse(query, context.tr, error)
        return
    await query.answer()
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
        )
    except (asking.NotYours, asking.AlreadyAnswered) as error:
        await _refuse(query, context.tr, error)
        return
    await query.answer()
    await query.edit_message_text(context.tr("ask.you_chose", question=outcome.entry.question))
    await _render(message, context.tr, outcome)


async def other_message(update: Update, context: BotContext) -> None:
    """Answer stickers, photos, voice and the like: only text is understood for now."""
    message = update.effective_message
    if message is not None:
        await message.reply_text(context.tr("message.non_text"))


async def unknown_command(update: Update, context: BotContext) -> None:
    """Answer a command the bot does not know."""
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split()[0].split("@")[0][:64]
    await message.reply_text(context.tr("command.unknown", command=command))
