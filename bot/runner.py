"""Starting and stopping the Application in a running event loop (demo and tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram import Update

from bot.context import BotApplication


@asynccontextmanager
async def polling(
    application: BotApplication, *, poll_timeout: int = 10
) -> AsyncIterator[BotApplication]:
    """Run ``application`` with long polling until the block exits, then stop it cleanly."""
    await application.initialize()
    # PTB calls these hooks only from run_polling/run_webhook; we start by hand.
    if application.post_init is not None:
        await application.post_init(application)
    try:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(
            poll_interval=0.0, timeout=poll_timeout, allowed_updates=Update.ALL_TYPES
        )
        try:
            yield application
        finally:
            if application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
    finally:
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
