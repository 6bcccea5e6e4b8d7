"""Data rights in private chat: /mydata (a JSON export) and /forget (erasure)."""

from __future__ import annotations

import logging

from telegram import InputFile, Message, Update

from bot import callbacks, logs, rights_ui
from bot.context import BotContext
from bot.services import data_export, data_forget

_log = logging.getLogger(__name__)


async def mydata_command(update: Update, context: BotContext) -> None:
    """/mydata: everything stored about the sender, as a JSON document."""
    message = update.effective_message
    assert message is not None
    services = context.services
    now = services.clock.now()
    result = await data_export.export(
        context.session,
        user=context.user,
        secret=services.settings.pseudonym_key(),
        now=now,
        notes={"replies_on_the_spot": context.tr.plain("data_rights.mydata_note_replies")},
    )
    if result.empty:
        await message.reply_text(context.tr("data_rights.mydata_empty"))
        return
    day = now.astimezone(services.settings.tz).strftime("%Y-%m-%d")
    content, name = data_export.encode(result.data, day=day)
    await message.reply_document(
        InputFile(content, filename=name),
        caption=context.tr("data_rights.mydata_caption", name=name),
    )


async def forget_command(update: Update, context: BotContext) -> None:
    """/forget: say what erasure does and ask for confirmation."""
    message = update.effective_message
    assert message is not None
    tr = context.tr
    try:
        found = await data_forget.preview(context.session, user=context.user)
    except data_forget.StaffAccount:
        await message.reply_text(tr("data_rights.forget_staff"))
        return
    await message.reply_text(
        tr(
            "data_rights.forget_explain",
            questions=found.questions,
            open_questions=found.open_questions,
            wishes=found.wishes,
            open_wishes=found.open_wishes,
        ),
        reply_markup=rights_ui.forget_keyboard(tr, context.user.id),
    )


async def forget_button(update: Update, context: BotContext) -> None:
    """The confirmation: erase, or keep everything; buttons of someone else are stale."""
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    data = callbacks.unpack(query.data)
    tr = context.tr  # captured first: erasure resets the user's language
    user = context.user
    if data.id() != user.id or user.forgotten_at is not None:
        _log.warning(
            "refused %s from %s", logs.callback_shape(query.data), logs.who(query.from_user.id)
        )
        await query.answer(tr.plain("callback.stale_forget"), show_alert=True)
        return
    if data.action == "fgn":
        await query.answer()
        await query.edit_message_reply_markup(None)
        await query.message.reply_text(tr("data_rights.forget_cancelled"))
        return
    now = context.services.clock.now()
    try:
        report = await data_forget.forget(
            context.session,
            user=user,
            now=now,
            default_locale=context.services.settings.default_locale,
            secret=context.services.settings.pseudonym_key(),
        )
    except data_forget.StaffAccount:
        await query.answer(tr.plain("data_rights.forget_staff"), show_alert=True)
        return
    await rights_ui.tell_holders(
        context.session, report, settings=context.services.settings, now=now
    )
    await query.answer()
    await query.edit_message_reply_markup(None)
    await query.message.reply_text(
        tr("data_rights.forget_done", questions=report.questions, wishes=report.wishes)
    )
