"""Run the bot (or a bare PTB echo bot) against a sandbox, as its own process.

``python -m bench.bot_process --base-url URL [--echo]``: settings come from the
``VOY_*`` environment as for ``voy run``. The process prints ``ready`` once it polls,
and stops cleanly on SIGTERM or SIGINT. The crash test kills it with SIGKILL; the load
benchmark runs it so the load generator does not share its event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot import loop
from bot.app import build_application
from bot.config import EVENT_LOOPS, Settings
from bot.runner import polling


async def _echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Echo the text back: the baseline a Telegram bot cannot beat."""
    message = update.effective_message
    if message is not None and message.text:
        await message.reply_text(message.text)


@asynccontextmanager
async def _echo_polling(token: str, base_url: str, base_file_url: str) -> AsyncIterator[None]:
    application: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(token).base_url(base_url).base_file_url(base_file_url).build()
    )
    application.add_handler(MessageHandler(filters.TEXT, _echo))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=10)
        try:
            yield
        finally:
            await application.updater.stop()
            await application.stop()


async def _serve(args: argparse.Namespace) -> None:
    settings = Settings()
    base_file_url = args.base_file_url or args.base_url.replace("/bot", "/file/bot")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.echo:
        runner = _echo_polling(settings.require_token(), args.base_url, base_file_url)
    else:
        application = build_application(
            settings, base_url=args.base_url, base_file_url=base_file_url
        )
        runner = polling(application, poll_timeout=10)  # type: ignore[assignment]
    async with runner:
        print("ready", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bench.bot_process", description=__doc__)
    parser.add_argument("--base-url", required=True, help="the sandbox's Bot API base URL")
    parser.add_argument("--base-file-url", default=None)
    parser.add_argument("--echo", action="store_true", help="run a bare PTB echo bot instead")
    parser.add_argument(
        "--loop", choices=EVENT_LOOPS, default=None, help="event loop (default: see main)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=Settings().log_level if not args.echo else "WARNING",
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The echo bot runs on asyncio's own loop unless told otherwise (a bare PTB bot);
    # the real bot on the loop `voy run` would choose (VOY_EVENT_LOOP).
    choice = args.loop or ("asyncio" if args.echo else Settings().event_loop)
    with contextlib.suppress(KeyboardInterrupt):
        loop.run(_serve(args), choice=choice)


if __name__ == "__main__":
    main()
