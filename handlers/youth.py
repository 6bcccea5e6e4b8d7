"""Catch-all handlers for what young people send in private chat (registered last)."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext


async def text_message(update: Update, context: BotContext) -> None:
    """Acknowledge a plain text message; it is already stored by the edge."""
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    limit = context.services.settings.max_text_length
    if len(message.text) > limit:
        await message.reply_text(
            context.tr("message.too_long", length=len(message.text), limit=limit)
        )
        return
    await message.reply_text(context.tr("message.received", ref=context.scope.inbound_id))


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
