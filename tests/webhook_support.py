"""Test support for webhook mode: a bot served by our webhook server on the sandbox."""

from __future__ import annotations

import asyncio
import socket

from bot.app import build_application
from bot.clock import Clock
from bot.runner import webhook
from sandbox import SandboxClient, SandboxServer
from tests.conftest import DAYTIME, make_settings
from tests.support import BotHarness

SECRET = "s3cret-token_1"


def free_port() -> int:
    """A TCP port free right now on loopback (the webhook URL must name it up front)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WebhookBot(BotHarness):
    """A harness whose bot receives updates by webhook; ``base`` is its server's URL."""

    base: str
    stop: asyncio.Event
    task: asyncio.Task[None]


async def start_webhook_bot(
    server: SandboxServer,
    database_url: str,
    *,
    port: int | None = None,
    url: str | None = None,
    **overrides: object,
) -> WebhookBot:
    """Start the bot on ``database_url`` with a webhook server the sandbox posts to.

    ``url`` is what the bot registers with setWebhook (a load balancer's, say); by
    default its own server's.
    """
    settings = make_settings(database_url, **overrides)
    clock = Clock()
    clock.set(DAYTIME)
    application = build_application(
        settings, base_url=server.base_url, base_file_url=server.base_file_url, clock=clock
    )
    port = port or free_port()
    url = url or f"http://127.0.0.1:{port}/telegram"
    ready, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        async with webhook(application, url=url, host="127.0.0.1", port=port, secret=SECRET):
            ready.set()
            await stop.wait()

    task = asyncio.create_task(run())
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiting.cancel()
        task.result()  # startup failed: raise its error here
    bot = WebhookBot(
        app=application,
        server=server,
        client=SandboxClient(server.url.rstrip("/")),
        sessions=application.bot_data.services.sessions,
        settings=settings,
    )
    bot.base, bot.stop, bot.task = f"http://127.0.0.1:{port}", stop, task
    return bot


async def stop_webhook_bot(bot: WebhookBot) -> None:
    """The graceful shutdown path: stop accepting, finish in flight, stop jobs and app."""
    bot.stop.set()
    await bot.task
    await bot.client.aclose()
