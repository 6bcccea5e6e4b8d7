"""The error handler and the refusal of forged or stale buttons."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import ReplyParameters, Update
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop, BaseHandler

from bot import logs, metrics, ops_alerts, outage
from bot.context import BotContext, current_scope
from bot.edge import SessionUpdateProcessor, transient
from bot.i18n import translator
from bot.services import inbox
from bot.services.inbox import update_type
from storage.db import unit_of_work

_log = logging.getLogger(__name__)


async def stale_callback(update: Update, context: BotContext) -> None:
    """Refuse callback data we did not build (forged, or from an old version)."""
    query = update.callback_query
    if query is None:
        return
    _log.warning(
        "refused callback data %s from %s",
        logs.callback_shape(query.data),
        logs.who(query.from_user.id if query.from_user else None),
    )
    await query.answer(context.tr.plain("callback.stale"), show_alert=True)


class LateOnly(BaseHandler[Update, BotContext, None]):
    """A handler for the updates an operator queued again, and no others: it checks the
    update's scope, so the common case costs one look and no callback."""

    def check_update(self, update: object) -> bool:
        """Whether ``update`` is a requeued one being handled late."""
        scope = current_scope()
        return scope is not None and scope.late_since is not None


async def late_notice(update: Update, context: BotContext) -> None:
    """Before a requeued update is handled (``voy updates retry``), tell its sender, in
    reply to what they sent or pressed, that this comes late and why.

    If their chat has moved on since it failed (a cadre now answering another question,
    a wish draft begun or a step further), it is not handled at all: a text would go to
    what they are doing now. They are asked to send it again if they still need to. If
    they already sent it again, as the apology asked, and were answered, it is dropped
    without a word.
    """
    scope = context.scope
    since = scope.late_since
    if since is None:
        return
    moved_on = await inbox.moved_on(context.session, inbound_id=scope.inbound_id)
    if not moved_on and await inbox.resent(context.session, inbound_id=scope.inbound_id):
        _log.info("a requeued update was sent again since and answered then; not handled")
        raise ApplicationHandlerStop
    chat = update.effective_chat
    message = update.effective_message
    kind = "pressed" if update.callback_query is not None else "handled"
    told = update.message is not None or update.callback_query is not None
    if chat is not None and chat.type == ChatType.PRIVATE and told:
        when = since.astimezone(context.services.settings.tz).strftime("%Y-%m-%d %H:%M")
        await context.bot.send_message(
            chat.id,
            context.tr(f"error.{kind}_{'moved_on' if moved_on else 'late'}", when=when),
            reply_parameters=(
                ReplyParameters(message.message_id, allow_sending_without_reply=True)
                if message is not None
                else None
            ),
        )
    if moved_on:
        _log.info("a requeued update met its chat busy with something else; not handled")
        raise ApplicationHandlerStop


async def error_handler(update: object, context: BotContext) -> None:
    """Log the error, roll the update's work back, tell the user and alert the ops chat.

    An update's handling stops here: its work is rolled back, so a handler of a later
    group must not go on to do (and reply to) what would not be kept.
    """
    try:
        await _report(update, context)
    except Exception:  # the stop below must come all the same
        _log.exception("reporting an error failed")
    if isinstance(update, Update):
        raise ApplicationHandlerStop


async def _report(update: object, context: BotContext) -> None:
    error = context.error
    scope = current_scope()
    if scope is not None:
        # Type and origin only: a message may quote what the person wrote (the log has the
        # trace, with statement parameters hidden).
        scope.error = _describe(error)
        scope.transient = transient(error)
    if isinstance(error, Forbidden) and isinstance(update, Update) and update.effective_user:
        _log.info("%s blocked the bot", logs.who(update.effective_user.id))
        if scope is not None:
            scope.unreachable_user_id = update.effective_user.id
        return
    metrics.ERRORS.labels(type(error).__name__).inc()
    where = f"update {update.update_id}" if isinstance(update, Update) else "a job"
    _log.error("error while handling %s", where, exc_info=error)
    if isinstance(update, Update) and update.callback_query is not None:
        try:  # stop the button's spinner; the message below explains
            await update.callback_query.answer()
        except TelegramError:
            _log.debug("callback query already answered or expired", exc_info=True)
    processor = context.application.update_processor
    retrying = (
        scope is not None
        and isinstance(processor, SessionUpdateProcessor)
        and processor.retry_coming(scope)
    )
    if isinstance(update, Update) and update.effective_chat is not None and not retrying:
        try:
            # The scope's locale, not the user's: a failed flush leaves the user unloadable.
            default = context.services.settings.default_locale
            tr = translator(scope.locale if scope is not None else default, default)
            await context.bot.send_message(update.effective_chat.id, tr("error.generic"))
        except TelegramError:
            _log.warning("could not tell the user about the error", exc_info=True)
    if error is not None:
        await _alert_ops(update, context, error)


def _describe(error: Exception | None) -> str:
    """``Type at file:line function``: nothing a person wrote."""
    if error is None:
        return "unknown error"
    return f"{type(error).__name__} at {ops_alerts.signature(error)[1]}"[:200]


async def _alert_ops(update: object, context: BotContext, error: Exception) -> None:
    """Queue one alert per error signature and window for the ops chat; or, when the
    database is out of reach (the outbox with it), send it directly (``bot.outage``).
    An alert the outbox cannot take (an outage not recognised as one) is sent directly
    too, once per signature and window."""
    if await outage.report(context.application, error, update=update):
        return
    services = context.services
    settings = services.settings
    chat_id = settings.ops_chat_id
    if chat_id is None:
        return
    now = services.clock.now()
    alert: dict[str, Any] = {
        "chat_id": chat_id,
        "error": error,
        "update_id": update.update_id if isinstance(update, Update) else None,
        "update_type": update_type(update) if isinstance(update, Update) else "job",
        "now": now,
        "window": timedelta(minutes=settings.ops_alert_window_minutes),
        "locale": settings.default_locale,
    }

    async def directly() -> None:
        _log.warning("could not queue the ops alert; sending it directly", exc_info=True)
        await ops_alerts.send_alert(services.direct_alerts, context.bot, **alert)

    async def enqueue(session: AsyncSession) -> None:
        try:
            await ops_alerts.enqueue_alert(session, **alert)
        except Exception:
            await directly()
            raise

    scope = current_scope()
    if scope is not None:
        # The update's work is rolled back; the edge queues the alert after that, in the
        # same session (a second writer would wait on SQLite's lock held by this one).
        scope.after_rollback.append(enqueue)
        return
    try:
        async with unit_of_work(services.sessions) as session:
            await ops_alerts.enqueue_alert(session, **alert)
    except Exception:
        await directly()
