"""The bot's own HTTP server: Telegram's webhook, ``/healthz`` and ``/metrics``.

We use a small aiohttp server (PTB's "custom webhook" pattern) rather than PTB's
``run_webhook``: aiohttp is already a dependency while ``run_webhook`` needs tornado, and
one server can serve health and metrics beside the webhook. Each update is handled
*before* the webhook request is answered, so Telegram re-sends an update that no
instance acknowledged (it died, or answered too late), and the edge (bot/edge.py) skips
an update it has already recorded: a re-sent update is handled at most once, by
whichever instance got it first. Shutting the server down stops accepting connections
and waits for the requests in flight, so an update being handled finishes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update

from bot import metrics, outage, polling_watch
from bot.config import Settings
from bot.context import BotApplication
from bot.edge import SessionUpdateProcessor

_log = logging.getLogger(__name__)


class ListenError(OSError):
    """The server's address cannot be bound (taken, privileged, not this host's)."""


SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_HEALTH_TIMEOUT_S = 3.0
# A graceful stop waits this long for updates in flight before cutting them off.
SHUTDOWN_TIMEOUT_S = 60.0


def webhook_secret(settings: Settings) -> str:
    """The secret Telegram sends in every webhook request.

    Unset, it is derived from the token, so several instances agree on it without
    configuration (each calls setWebhook with it at startup).
    """
    secret = settings.webhook_secret.get_secret_value()
    if secret:
        return secret
    token = settings.telegram_token.get_secret_value()
    return hashlib.sha256(f"voy-webhook:{token}".encode()).hexdigest()


def webhook_path(url: str) -> str:
    """The path the webhook listens on: the path of the public URL (``/`` if none)."""
    return urlsplit(url).path or "/"


class BotWebServer:
    """Serves the webhook (when ``path`` is given), ``/healthz`` and ``/metrics``."""

    def __init__(
        self,
        application: BotApplication,
        *,
        host: str,
        port: int,
        path: str | None = None,
        secret: str | None = None,
    ) -> None:
        """Create the server; :meth:`start` binds it."""
        self._application = application
        self._host = host
        self._requested_port = port
        self._path = path
        self._secret = secret
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self.stopping = False

    @property
    def port(self) -> int:
        """The TCP port bound (after :meth:`start`; port 0 picks a free one)."""
        if self._port is None:
            raise RuntimeError("BotWebServer.start() has not been awaited yet")
        return self._port

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        if self._path is not None:
            app.router.add_post(self._path, self._webhook)
        return app

    async def start(self) -> None:
        """Bind and start serving."""
        runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._requested_port))
        except OSError as exc:  # name the address: the webhook's and the metrics' differ
            sock.close()
            where = f"{self._host}:{self._requested_port}"
            raise ListenError(exc.errno, f"{where}: {exc.strerror or exc}") from exc
        await web.SockSite(runner, sock).start()
        self._port = sock.getsockname()[1]
        self._runner = runner
        _log.info("listening on %s:%s (webhook: %s)", self._host, self._port, self._path or "off")

    async def stop(self) -> None:
        """Stop accepting connections, then wait for the requests in flight to finish."""
        self.stopping = True
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _webhook(self, request: web.Request) -> web.Response:
        """Receive one update from Telegram and handle it before answering."""
        if self._secret is not None and not hmac.compare_digest(
            request.headers.get(SECRET_HEADER, "").encode(), self._secret.encode()
        ):
            metrics.WEBHOOK_REFUSED.labels("secret").inc()
            _log.warning("webhook request from %s refused: wrong secret token", request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise TypeError("an update is a JSON object")
            update = Update.de_json(data, self._application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            metrics.WEBHOOK_REFUSED.labels("body").inc()
            _log.warning("webhook request from %s refused: not an update", request.remote)
            return web.Response(status=400, text="not an update")
        if update is None:
            metrics.WEBHOOK_REFUSED.labels("body").inc()
            return web.Response(status=400, text="not an update")
        application = self._application
        # The same path PTB's update fetcher takes: our update processor, then the handlers.
        processor = application.update_processor
        ours = processor if isinstance(processor, SessionUpdateProcessor) else None
        if ours is not None:
            ours.watch(update.update_id)
        await processor.process_update(update, application.process_update(update))
        if ours is not None and not ours.take_outcome(update.update_id):
            # Not committed (the database is away, a passing error): Telegram sends the
            # update again later, so nothing is lost.
            metrics.WEBHOOK_REFUSED.labels("retry").inc()
            return web.Response(status=503, text="try again")
        return web.Response(text="ok")

    async def _healthz(self, request: web.Request) -> web.Response:
        """200 when the database answers, the bot is running and no other instance polls
        its token; else 503, with the first reason.

        Telegram unable to deliver to the webhook (bot.webhook_watch) is named too, with
        ``"status": "degraded"`` but 200: the fault lies before the instances (the proxy,
        the URL registered at Telegram), and a health check that routes traffic would take
        every instance out at once, so that no delivery could succeed again."""
        services = self._application.bot_data.services
        database = await outage.database_answers(services.engine, _HEALTH_TIMEOUT_S)
        if not database:
            _log.warning("health check: the database does not answer")
        polling = services.polling.problem()  # polling_conflict, webhook_set
        reasons = {
            "database": not database,
            "stopping": not self._application.running or self.stopping,
            polling or polling_watch.REASON: polling is not None,
        }
        reason = next((name for name, failing in reasons.items() if failing), None)
        webhook = services.webhook.problem()  # webhook_failing, webhook_replaced
        body: dict[str, object] = {
            "status": "unavailable" if reason else "degraded" if webhook else "ok"
        }
        body["database"] = database
        if reason or webhook:
            body["reason"] = reason or webhook
        status = 503 if reason else 200
        return web.Response(status=status, text=json.dumps(body), content_type="application/json")

    async def _metrics(self, request: web.Request) -> web.Response:
        """The Prometheus exposition, with the outbox gauges read now."""
        services = self._application.bot_data.services
        body = await services.metrics.render(services.sessions, services.clock.now())
        return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})
