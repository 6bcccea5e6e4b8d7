"""Starting and stopping the Application in a running event loop: polling or webhook.

``voy run`` uses :func:`serve`; the demo and the tests use the context managers.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from functools import partial

from telegram import Update
from telegram.error import Conflict, TelegramError

from bot import leases, metrics, outage, polling_watch, webhook_watch
from bot.config import ConfigError, Settings
from bot.context import BotApplication
from bot.digest_render import font_warning
from bot.i18n import translator
from bot.webhook import BotWebServer, webhook_path, webhook_secret

_log = logging.getLogger(__name__)

# The kinds of update the bot has handlers for, and so asks Telegram for. Asking for
# every kind (Update.ALL_TYPES) also opted in to chat_member and message reactions,
# which name other people (a member someone added or removed, who reacted to what):
# stored in the inbound log, handled by nothing.
ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]


@asynccontextmanager
async def _started(application: BotApplication) -> AsyncIterator[BotApplication]:
    """Initialize and start ``application``; stop it (jobs too) and shut it down after."""
    try:
        await application.initialize()
    except BaseException:
        # A refused token or an unreachable Bot API: PTB leaves the HTTP clients it
        # opened for the first call open; close them (no "unclosed session" at exit).
        await application.bot.request.shutdown()
        await application.bot._request[
            0
        ].shutdown()  # getUpdates' own client (PTB has no accessor)
        raise
    try:
        # PTB calls these hooks only from run_polling/run_webhook; we start by hand. A
        # hook that fails (the database gone while stranded updates are queued) shuts
        # the bot down like any failed start: HTTP clients closed, the engine disposed.
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        try:
            yield application
        finally:
            if application.running:
                await application.stop()
    finally:
        # Before the HTTP clients close: a start-up task (the staff menus) still running
        # would fail on each call, and a failed start log those before its real error.
        await application.bot_data.services.cancel_background()
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


@asynccontextmanager
async def polling(
    application: BotApplication, *, poll_timeout: int = 10, keep_webhook: bool = False
) -> AsyncIterator[BotApplication]:
    """Run ``application`` with long polling until the block exits, then stop it cleanly.

    ``keep_webhook``: refuse to start (:class:`ConfigError`) while a webhook is registered:
    polling deletes it, and the webhook instances serving the bot would get nothing more.
    """
    async with _started(application):
        assert application.updater is not None
        if keep_webhook and (registered := (await application.bot.get_webhook_info()).url):
            raise ConfigError(
                f"a webhook is registered ({registered}): this bot runs by webhook, and "
                "polling would turn it off for every instance; to switch to polling on "
                "purpose, run `voy run --replace-webhook`"
            )
        await application.updater.start_polling(
            poll_interval=0.0,
            timeout=poll_timeout,
            allowed_updates=ALLOWED_UPDATES,
            error_callback=partial(_polling_error, application),
        )
        try:
            yield application
        finally:
            if application.updater.running:
                await application.updater.stop()


def _polling_error(application: BotApplication, error: TelegramError) -> None:
    """A ``getUpdates`` call failed (PTB's updater tries again after a pause; this must
    not raise). A 409 Conflict is counted, not logged with a trace each time: repeated,
    it is another instance polling the token (or a webhook set for it), and the ops chat
    hears of it once."""
    services = application.bot_data.services
    if isinstance(error, Conflict):
        metrics.POLLING_CONFLICTS.inc()
        webhook = "webhook" in error.message.lower()
        reason = polling_watch.WEBHOOK_SET if webhook else polling_watch.REASON
        if services.polling.conflict(reason):
            application.create_task(
                _alert_conflict(application, reason), name="polling conflict alert"
            )
        return
    if outage.unreachable(error) is not None:  # the fetched updates could not be stored
        application.create_task(
            outage.report(application, error, source="getUpdates"), name="outage alert"
        )
    _log.error("polling for updates failed", exc_info=error)


async def _alert_conflict(application: BotApplication, reason: str) -> None:
    """Tell the ops chat, straight through the Bot API, that another instance polls (or
    a webhook is set); if that fails, the next 409 tries again."""
    services = application.bot_data.services
    settings = services.settings
    if settings.ops_chat_id is None:
        return
    tr = translator(settings.default_locale, settings.default_locale)
    text = tr(
        f"ops.{reason}",
        count=polling_watch.CONFLICTS_TO_REPORT,
        seconds=f"{polling_watch.CONFLICT_WINDOW_S:g}",
        instance=leases.holder_id(services),
    )
    alerts = services.direct_alerts
    now = services.clock.now()
    if not alerts.due(
        reason, now=now, window=timedelta(minutes=settings.ops_alert_window_minutes)
    ):
        return
    try:
        await application.bot.send_message(settings.ops_chat_id, text)
    except TelegramError:
        _log.warning(
            "could not send the ops alert %s; the next 409 tries again", reason, exc_info=True
        )
        alerts.forget(reason)
        services.polling.unreported()


@asynccontextmanager
async def webhook(
    application: BotApplication,
    *,
    url: str,
    host: str,
    port: int,
    secret: str,
    max_connections: int = 40,
) -> AsyncIterator[BotWebServer]:
    """Serve Telegram's webhook (and health, metrics) until the block exits.

    On exit the server stops accepting, the updates in flight finish, then the jobs and
    the Application stop. The webhook stays registered with Telegram: other instances
    behind the same URL keep receiving, and Telegram holds updates while none is up.
    """
    async with _started(application):
        server = BotWebServer(
            application, host=host, port=port, path=webhook_path(url), secret=secret
        )
        await server.start()
        try:
            await application.bot.set_webhook(
                url,
                secret_token=secret,
                allowed_updates=ALLOWED_UPDATES,
                max_connections=max_connections,
            )
            webhook_watch.register(application, url)
            yield server
        finally:
            await server.stop()


@asynccontextmanager
async def metrics_server(
    application: BotApplication, *, host: str, port: int
) -> AsyncIterator[BotWebServer]:
    """Serve ``/metrics`` and ``/healthz`` (polling mode) until the block exits."""
    server = BotWebServer(application, host=host, port=port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def serve(application: BotApplication, settings: Settings) -> None:
    """Run the bot until SIGTERM or SIGINT: by webhook if configured, else by polling."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with AsyncExitStack() as stack:
        if settings.webhook_url:
            await stack.enter_async_context(
                webhook(
                    application,
                    url=settings.webhook_url,
                    host=settings.listen,
                    port=settings.port,
                    secret=webhook_secret(settings),
                    max_connections=settings.webhook_max_connections,
                )
            )
            _log.info("receiving updates by webhook at %s", settings.webhook_url)
        else:
            await stack.enter_async_context(
                polling(application, keep_webhook=not settings.replace_webhook)
            )
            if settings.metrics_port:
                await stack.enter_async_context(
                    metrics_server(application, host=settings.listen, port=settings.metrics_port)
                )
            _log.info("receiving updates by long polling")
        # Once serving, off the loop: matplotlib may read the fonts installed since it ran.
        if warning := await asyncio.to_thread(font_warning, settings.default_locale):
            _log.warning("%s", warning)
        await stop.wait()
        _log.info("stopping: finishing the updates in flight")
    _log.info("stopped")
