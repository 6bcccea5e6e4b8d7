"""The web chat in a real headless Chromium, talking to a tiny PTB echo bot."""

from __future__ import annotations

import html
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from sandbox import SandboxServer
from tests.sandbox.conftest import start_polling, stop_polling

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
App = Application[Any, Any, Any, Any, Any, Any]


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (install Debian's chromium package to run browser tests)"
    if os.environ.get("VOY_REQUIRE_BROWSER") == "1":
        pytest.fail(f"VOY_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Echo in bold with a button."""
    assert update.message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("确认", callback_data="v1:ok")]])
    await update.message.reply_text(
        f"<b>收到</b> {html.escape(update.message.text or '')}",
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard,
    )


async def confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer with a toast and edit the message."""
    assert update.callback_query is not None
    await update.callback_query.answer("好的")
    await update.callback_query.edit_message_text("<i>已确认</i>", parse_mode=ParseMode.HTML)


@pytest.fixture
async def echo_bot(build_app: Callable[[], App]) -> AsyncIterator[App]:
    """The tiny echo bot, polling."""
    app = build_app()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(confirm))
    await start_polling(app)
    yield app
    await stop_polling(app)


async def test_chat_send_reply_and_press(server: SandboxServer, echo_bot: App) -> None:
    _require_chromium()
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            await page.goto(server.url)
            await page.wait_for_selector("body[data-ready='1']")
            pane = page.locator(".pane").first
            await pane.locator(".persona-select").select_option(label="小明 (youth, 1001)")
            await pane.locator(".input").fill("你好 <世界>")
            await pane.locator(".send").click()

            bot_message = pane.locator(".msg.bot").first
            await expect(bot_message.locator(".text b")).to_have_text("收到")
            await expect(bot_message.locator(".text")).to_have_text("收到 你好 <世界>")
            await expect(pane.locator(".msg.mine .text")).to_have_text("你好 <世界>")

            await bot_message.locator(".inline-button", has_text="确认").click()
            await expect(bot_message.locator(".text i")).to_have_text("已确认")
            edited = pane.locator(".msg.bot").first
            await expect(edited.locator(".meta")).to_contain_text("edited")
            await expect(edited.locator(".inline-button")).to_have_count(0)
            await expect(page.locator(".toast", has_text="好的")).to_be_visible()
            await expect(page.locator("#violation-count")).to_have_text("0")
        finally:
            await browser.close()
    assert server.violations == []
