"""/subscribe for young people; /broadcast and /broadcasts for committee admins."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Message, Update

from bot import broadcast_notify, callbacks, logs
from bot.broadcast_keyboards import (
    announcement,
    list_keyboard,
    preview_keyboard,
    region_keyboard,
    subscribe_keyboard,
    subscribe_text,
    topic_keyboard,
    unsubscribe_keyboard,
)
from bot.context import BotContext
from bot.i18n import Html, Translator
from bot.services import broadcast_drafts as drafts
from bot.services import broadcasts, subscriptions
from handlers import common
from storage.broadcasts import Broadcast

_log = logging.getLogger(__name__)
# How much of each announcement /broadcasts shows.
_SNIPPET = 60


def _query(update: Update) -> tuple[CallbackQuery, Message, callbacks.Callback]:
    query = update.callback_query
    assert query is not None  # guaranteed by the handler's pattern
    assert isinstance(query.message, Message)
    return query, query.message, callbacks.unpack(query.data)


# --- /subscribe ------------------------------------------------------------------------


async def subscribe_command(update: Update, context: BotContext) -> None:
    """/subscribe: the topics with toggles, and the announcements switch."""
    message = update.effective_message
    assert message is not None
    choices = await subscriptions.view(context.session, context.user)
    await message.reply_text(
        subscribe_text(context.tr, choices), reply_markup=subscribe_keyboard(context.tr, choices)
    )


async def subscribe_button(update: Update, context: BotContext) -> None:
    """A toggle on the /subscribe message: saved at once, the message shows the new state."""
    query, message, data = _query(update)
    tr, now = context.tr, context.services.clock.now()
    # Each button says what it does ("follow", "turn off"): an old panel's does just that.
    try:
        if data.action == "sbt":
            choices = await subscriptions.set_topic(
                context.session,
                user=context.user,
                topic_code=data.args[0],
                follow=data.args[1] == "1",
                now=now,
            )
        else:
            choices = await subscriptions.set_opted_out(
                context.session, user=context.user, opted_out=data.arg == "1", now=now
            )
    except subscriptions.UnknownTopic:
        _log.warning("refused an unknown topic from %s", logs.who(context.user.telegram_id))
        await query.answer(tr.plain("broadcast.unknown_topic"), show_alert=True)
        return
    await query.answer()
    text, markup = subscribe_text(tr, choices), subscribe_keyboard(tr, choices)
    if not common.unchanged(message, text, markup):  # an old panel may already read so
        await query.edit_message_text(text, reply_markup=markup)


async def unsubscribe_button(update: Update, context: BotContext) -> None:
    """The button under a broadcast: one tap turns announcements off."""
    query, message, _data = _query(update)
    tr = context.tr
    await subscriptions.set_opted_out(
        context.session, user=context.user, opted_out=True, now=context.services.clock.now()
    )
    await query.answer(tr.plain("broadcast.unsubscribed_short"))
    await message.reply_text(tr("broadcast.unsubscribed"))


# --- /broadcast: writing one -------------------------------------------------------------


async def broadcast_command(update: Update, context: BotContext) -> None:
    """/broadcast: a committee admin starts writing an announcement."""
    message = update.effective_message
    assert message is not None
    try:
        draft = await drafts.start(
            context.session,
            user=context.user,
            chat_id=message.chat_id,
            now=context.services.clock.now(),
        )
    except broadcasts.NotAllowed:
        await message.reply_text(context.tr("broadcast.not_admin"))
        return
    await _prompt(message, context, draft)


async def _names(context: BotContext, codes: list[str], kind: str, all_key: str) -> str:
    tr = context.tr
    if not codes:
        return tr.plain(all_key)
    separator = ", " if tr.locale == "en" else "、"
    if kind == "region":
        known = {r.code: r for r, _ in await drafts.region_options(context.session)}
        return separator.join(tr.name_of(known[c].names, c) if c in known else c for c in codes)
    topics = {t.code: t for t in await drafts.topics(context.session)}
    return separator.join(tr.name_of(topics[c].names, c) if c in topics else c for c in codes)


async def _step_view(
    context: BotContext, draft: drafts.Draft, *, opened: str | None = None
) -> tuple[Html, object]:
    """The text and keyboard of the regions or topics step (``opened``: the branch of a
    large grid shown open)."""
    tr, broadcast = context.tr, draft.broadcast
    if draft.step == drafts.REGIONS:
        selected = await _names(context, broadcast.region_codes, "region", "broadcast.all_regions")
        options = await drafts.region_options(context.session)
        return tr("broadcast.ask_regions", selected=selected), region_keyboard(
            tr, broadcast, options, opened=opened
        )
    selected = await _names(context, broadcast.topic_codes, "topic", "broadcast.any_topic")
    topics = await drafts.topics(context.session)
    return tr("broadcast.ask_topics", selected=selected), topic_keyboard(tr, broadcast, topics)


async def _prompt(message: Message, context: BotContext, draft: drafts.Draft) -> None:
    """Ask for the draft's current step, or show the preview with the recipient count."""
    tr, broadcast = context.tr, draft.broadcast
    if draft.step == drafts.TEXT:
        await message.reply_text(tr("broadcast.ask_text", limit=drafts.MAX_TEXT_UNITS))
        return
    if draft.step in (drafts.REGIONS, drafts.TOPICS):
        text, markup = await _step_view(context, draft)
        await message.reply_text(text, reply_markup=markup)  # type: ignore[arg-type]
        return
    # The preview: first the message exactly as young people get it, then the summary.
    await message.reply_text(
        announcement(tr, broadcast.text), reply_markup=unsubscribe_keyboard(tr, broadcast.id)
    )
    found = await broadcasts.recipients(
        context.session, region_codes=broadcast.region_codes, topic_codes=broadcast.topic_codes
    )
    await message.reply_text(
        tr(
            "broadcast.preview",
            regions=await _names(
                context, broadcast.region_codes, "region", "broadcast.all_regions"
            ),
            topics=await _names(context, broadcast.topic_codes, "topic", "broadcast.any_topic"),
            count=len(found),
        ),
        reply_markup=preview_keyboard(tr, broadcast.id),
    )


async def draft_text(message: Message, context: BotContext, draft: drafts.Draft) -> None:
    """Text typed while writing a broadcast: the announcement, at the text step."""
    assert message.text is not None
    tr = context.tr
    if draft.step != drafts.TEXT:
        await message.reply_text(tr("broadcast.use_buttons"))
        return
    try:
        drafts.give_text(draft, message.text)
    except drafts.WrongInput as wrong:
        params = {"limit": drafts.MAX_TEXT_UNITS, **wrong.params}
        await message.reply_text(tr(wrong.key, **params))
        return
    await drafts.save(context.session, draft, now=context.services.clock.now())
    await _prompt(message, context, draft)


async def draft_button(update: Update, context: BotContext) -> None:
    """A button of the draft: toggles, next, change, cancel, send."""
    query, message, data = _query(update)
    tr = context.tr
    try:
        broadcast = await broadcasts.authored(
            context.session, broadcast_id=data.id(), user=context.user
        )
    except broadcasts.NotAllowed:
        _log.warning(
            "refused %s from %s",
            logs.callback_shape(query.data),
            logs.who(context.user.telegram_id),
        )
        await query.answer(tr.plain("broadcast.not_allowed"), show_alert=True)
        return
    draft = await drafts.load(context.session, message.chat_id)
    if broadcast.state != broadcasts.DRAFT:
        await query.answer(tr.plain("broadcast.already"), show_alert=True)
        return
    if draft is None or draft.broadcast.id != broadcast.id:
        await query.answer(tr.plain("broadcast.stale_step"), show_alert=True)
        return
    if data.action == "bcx":
        await drafts.cancel(context.session, message.chat_id)
        await query.answer()
        await query.edit_message_reply_markup(None)
        await message.reply_text(tr("broadcast.cancelled"))
        return
    if data.action == "bcok":
        await _confirm(query, message, context, draft)
        return
    if data.action == "bco":  # a large grid: show another branch open
        if draft.step != drafts.REGIONS:
            await query.answer(tr.plain("broadcast.stale_step"), show_alert=True)
            return
        await query.answer()
        text, markup = await _step_view(context, draft, opened=data.args[1])
        if not common.unchanged(message, text, markup):  # type: ignore[arg-type]
            await query.edit_message_text(text, reply_markup=markup)  # type: ignore[arg-type]
        return
    try:
        if data.action == "bcr":
            await drafts.toggle_region(context.session, draft, data.args[1])
        elif data.action == "bct":
            await drafts.toggle_topic(context.session, draft, data.args[1])
        elif data.action == "bcn":
            drafts.next_step(draft, data.args[1])
        else:  # bced
            drafts.edit(draft)
    except drafts.WrongInput as wrong:
        await query.answer(tr.plain(wrong.key), show_alert=True)
        return
    await drafts.save(context.session, draft, now=context.services.clock.now())
    await query.answer()
    if data.action in ("bcr", "bct"):  # the same message shows the new selection
        # A region chosen in a large grid: its branch stays open.
        opened = None
        if data.action == "bcr":
            opened = await drafts.parent_of(context.session, data.args[1])
        text, markup = await _step_view(context, draft, opened=opened)
        await query.edit_message_text(text, reply_markup=markup)  # type: ignore[arg-type]
        return
    await query.edit_message_reply_markup(None)  # the step is over: no stale buttons
    await _prompt(message, context, draft)


async def _confirm(
    query: CallbackQuery, message: Message, context: BotContext, draft: drafts.Draft
) -> None:
    tr, now = context.tr, context.services.clock.now()
    broadcast = draft.broadcast
    if draft.step != drafts.PREVIEW:
        await query.answer(tr.plain("broadcast.stale_step"), show_alert=True)
        return
    found = await broadcasts.recipients(
        context.session, region_codes=broadcast.region_codes, topic_codes=broadcast.topic_codes
    )
    if not found:
        await query.answer(tr.plain("broadcast.no_recipients"), show_alert=True)
        return
    recipients = await broadcasts.confirm(context.session, broadcast=broadcast, now=now)
    await broadcast_notify.enqueue(
        context.session, broadcast, recipients, settings=context.services.settings, now=now
    )
    await drafts.end(context.session, message.chat_id)
    await query.answer()
    await query.edit_message_reply_markup(None)
    await message.reply_text(tr("broadcast.sending", ref=broadcast.id, count=len(recipients)))


async def cancel_draft(message: Message, context: BotContext) -> None:
    """/cancel while writing a broadcast."""
    await drafts.cancel(context.session, message.chat_id)
    await message.reply_text(context.tr("broadcast.cancelled"))


# --- /broadcasts: how delivery goes -------------------------------------------------------


async def _listing(context: BotContext) -> Html:
    tr = context.tr
    recent = await broadcasts.recent(context.session)
    zone = context.services.settings.tz
    now = context.services.clock.now().astimezone(zone)
    if not recent:
        return tr("broadcast.list_empty")
    tally = await broadcasts.counts(context.session, [b.id for b in recent])
    lines = [tr("broadcast.list_title", time=f"{now:%H:%M:%S}")]
    lines += [_line(tr, b, tally[b.id], zone) for b in recent]
    return Html("\n\n".join(lines))


def _line(tr: Translator, broadcast: Broadcast, counts: broadcasts.Counts, zone: object) -> Html:
    text = broadcast.text if len(broadcast.text) <= _SNIPPET else broadcast.text[:_SNIPPET] + "…"
    when = broadcast.confirmed_at or broadcast.created_at
    return tr(
        "broadcast.list_line",
        ref=broadcast.id,
        date=f"{when.astimezone(zone):%Y-%m-%d %H:%M}",  # type: ignore[arg-type]
        state=tr.plain(f"broadcast.state_{broadcast.state}"),
        text=text,
        count=broadcast.recipient_count,
        sent=counts.sent,
        blocked=counts.blocked,
        failed=counts.failed,
        pending=counts.pending,
    )


async def broadcasts_command(update: Update, context: BotContext) -> None:
    """/broadcasts: recent broadcasts with their delivery counts (admins only)."""
    message = update.effective_message
    assert message is not None
    if not broadcasts.is_admin(context.user):
        await message.reply_text(context.tr("broadcast.not_admin"))
        return
    await message.reply_text(await _listing(context), reply_markup=list_keyboard(context.tr))


async def refresh_button(update: Update, context: BotContext) -> None:
    """The refresh button of /broadcasts."""
    query, message, _data = _query(update)
    tr = context.tr
    if not broadcasts.is_admin(context.user):
        await query.answer(tr.plain("broadcast.not_allowed"), show_alert=True)
        return
    text, markup = await _listing(context), list_keyboard(tr)
    if common.unchanged(message, text, markup):
        await query.answer(tr.plain("broadcast.up_to_date"))
        return
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)
