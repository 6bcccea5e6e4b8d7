"""/digest for committee admins: the week so far, or a chosen week (``/digest 2026-W46``)."""

from __future__ import annotations

from telegram import InputFile, Update
from telegram.constants import ChatType

from bot.context import BotContext
from bot.digest_job import build_report
from bot.services import org, questions
from bot.services.digest_week import Week


async def digest_command(update: Update, context: BotContext) -> None:
    """Reply with the digest's summary, chart and CSV; refuse anyone but an admin."""
    message = update.effective_message
    assert message is not None
    tr = context.tr
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        # The committee's figures are shown only to the committee, never in another group.
        committee = await org.get_setting(context.session, "committee_chat_id")
        if committee is None or int(committee) != chat.id:
            await message.reply_text(tr("digest_fixes.wrong_chat"))
            return
    if not questions.is_admin(context.user):
        await message.reply_text(tr("digest.not_admin"))
        return
    settings, now = context.services.settings, context.services.clock.now()
    arg = " ".join(context.args or []).strip()
    try:
        week = Week.parse(arg) if arg else Week.of(now, settings.tz)
    except ValueError:
        await message.reply_text(tr("digest.bad_week", arg=arg[:20]))
        return
    if week.bounds(settings.tz)[0] > now:
        await message.reply_text(tr("digest.future_week", week=week.label))
        return
    # A long read: in a session of its own, which on SQLite runs off the event loop.
    async with context.services.report_sessions()() as reading:
        report = await build_report(reading, week=week, now=now, settings=settings, tr=tr)
    await message.reply_text(report.summary)
    await message.reply_photo(
        InputFile(report.chart, filename=report.chart_name), caption=report.chart_caption
    )
    await message.reply_document(
        InputFile(report.csv, filename=report.csv_name), caption=report.csv_caption
    )
