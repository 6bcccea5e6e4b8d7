"""The error handler and the refusal of forged or stale buttons."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.context import BotContext, current_scope

_log = logging.getLogger(__name__)


async def stale_callback(update: Update, context: BotContext) -> None:
    """Refuse callback data we did not build (forged, or from an old version)."""
    query = update.callback_query
    if query is None:
        return
    _log.warning(
        "refused callback data %r from user %s",
        query.data,
        query.from_user.id if query.from_user else None,
    )
    await query.answer(context.tr.plain("callback.stale"), show_alert=True)


async def error_handler(update: object, context: BotContext) -> None:
    """Log the error, roll the update's work back, tell the user and alert the ops chat."""
    error = context.error
    scope = current_scope()
    if scope is not None:
        scope.error = repr(error)
    if isinstance(error, Forbidden) and isinstance(update, Update) and update.effective_user:
        _log.info("user %s blocked the bot", update.effective_user.id)
        if scope is not None:
            scope.unreachable_user_id = update.effective_user.id
        return
    _log.error("error while handling an update", exc_info=error)
    if isinstance(update, Update) and update.callback_query is not None:
        try:  # stop the button's spinner; the message below explains
            await update.callback_query.answer()
        except TelegramError:
            _log.debug("callback query already answered or expired", exc_info=True)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, context.tr("error.generic"))
        except TelegramError:
            _log.warning("could not tell the user about the error", exc_info=True)
    ops_chat = context.services.settings.ops_chat_id
    if ops_chat is not None:
        update_id = update.update_id if isinstance(update, Update) else "-"
        try:
            await context.bot.send_message(
                ops_chat,
                context.tr("error.ops_alert", update_id=update_id, error=repr(error)[:3000]),
            )
        except TelegramError:
            _log.warning("could not alert the ops chat", exc_info=True)
