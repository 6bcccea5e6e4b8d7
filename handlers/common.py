"""Handlers everyone uses: /start, /help, /language, /region and their buttons."""

from __future__ import annotations

from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType

from bot import callbacks, menus, notify
from bot.context import BotContext
from bot.i18n import Html, Translator, html_to_plain, translator
from bot.keyboards import language_keyboard, region_keyboard, start_menu
from bot.services import cadres, conversations, inbox, org, users
from storage.models import ROLE_ADMIN, ROLE_CADRE, ROLE_DONOR, ROLE_REVIEWER


async def _send_region_picker(
    update: Update,
    context: BotContext,
    parent: str | None,
    *,
    prompt: str | None = None,
    page: int = 0,
) -> None:
    view = await org.picker_view(context.session, parent)
    tr = context.tr
    if not view.options:
        await _reply(update, tr("region.none_configured"))
        return
    text: str
    if view.parent is not None:
        text = tr("region.prompt_under", parent=tr.name_of(view.parent.names, view.parent.code))
    else:
        text = prompt or tr("region.prompt")
    markup = region_keyboard(tr, view, page)
    query = update.callback_query
    if query is not None and query.message is not None:
        await query.edit_message_text(text, reply_markup=markup)
    else:
        await _reply(update, text, reply_markup=markup)


async def staff_place(update: Update, context: BotContext) -> bool:
    """Whether a staff list may be shown here (a private chat, the committee's group);
    elsewhere (a class group the bot was added to) say so and show nothing."""
    if await _staff_room(update, context):
        return True
    if update.effective_message is not None:
        await update.effective_message.reply_text(context.tr("queue.wrong_chat"))
    return False


async def _staff_room(update: Update, context: BotContext) -> bool:
    """A private chat or the committee's group: where staff may be seen as staff."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    committee = await org.get_setting(context.session, "committee_chat_id")
    return committee is not None and int(committee) == chat.id


async def _reply(update: Update, text: str, **kwargs: object) -> None:
    message = update.effective_message
    if message is not None:
        await message.reply_text(text, **kwargs)  # type: ignore[arg-type]


async def start(update: Update, context: BotContext) -> None:
    """Greet the sender; ask a young person without a region to choose one. Staff are
    greeted as staff: messages about their work come here, /help lists their commands."""
    user = context.user
    tr = context.tr
    if update.effective_chat and update.effective_chat.type != ChatType.PRIVATE:
        await _reply(update, tr("message.group_hint"))
        return
    if context.args and context.args[0].startswith(cadres.INVITE_PREFIX):
        await _join_as_cadre(update, context, context.args[0])
        return
    name = update.effective_user.first_name if update.effective_user else ""
    if any(user.has_role(role) for role in org.ORG_ROLES):  # staff: no youth's welcome
        await _reply(update, tr("start.staff", name=name))
        return
    if context.scope.is_new_user:
        days = context.services.settings.retention_days
        kept = tr.plain("start.kept_days", days=f"{days:g}") if days else tr.plain("start.kept")
        text = tr("start.greeting", name=name) + "\n\n" + tr("start.privacy", kept=kept)
    else:
        text = tr("start.welcome_back", name=name)
    await _reply(update, text, reply_markup=start_menu(tr))
    if user.region_code is None:
        await _send_region_picker(update, context, None, prompt=tr("start.ask_region"))


# The staff sections of /help, each shown to the holders of any of its roles.
_HELP_SECTIONS = (
    ("help.cadre", (ROLE_CADRE,)),
    ("help.wishes", (ROLE_CADRE, ROLE_DONOR, ROLE_ADMIN)),
    ("help.reviewer", (ROLE_REVIEWER, ROLE_ADMIN)),
    ("help.admin", (ROLE_ADMIN,)),
)


async def help_command(update: Update, context: BotContext) -> None:
    """Explain what the bot does and list the commands, with the staff commands of the
    sender's roles: not in a class group the bot was added to, where they would tell
    every classmate who is a cadre."""
    tr, user = context.tr, context.user
    limit = context.services.settings.wish_claim_limit
    sections = [tr("help.text")]
    staff_here = await _staff_room(update, context)
    for key, roles in _HELP_SECTIONS:
        if staff_here and any(user.has_role(role) for role in roles):
            sections.append(tr(key, limit=limit))
    await _reply(update, "\n\n".join(sections))


async def language_command(update: Update, context: BotContext) -> None:
    """Offer the three languages."""
    await _reply(update, context.tr("language.prompt"), reply_markup=language_keyboard())


async def language_chosen(update: Update, context: BotContext) -> None:
    """Switch the sender's locale and confirm in the new language."""
    query = update.callback_query
    assert query is not None  # guaranteed by the handler's pattern
    locale = callbacks.unpack(query.data).arg
    try:
        await users.set_locale(context.session, user=context.user, locale=locale)
    except ValueError:
        await query.answer(context.tr.plain("callback.stale"), show_alert=True)
        return
    # Pushes already rendered for later (a "was it resolved?" check) follow the change.
    await notify.in_new_language(context.session, context.user, context.services.settings)
    tr: Translator = translator(locale)
    await query.answer()
    await query.edit_message_text(tr("language.changed"))
    # The command menu in the chosen language too (for this chat).
    await menus.set_for(context.bot, context.user, context.services.settings, chose_language=True)


async def region_command(update: Update, context: BotContext) -> None:
    """Show the current region and the picker to change it."""
    region = await org.get_region(context.session, context.user.region_code)
    if region is not None:
        await _reply(
            update,
            context.tr("region.current", name=context.tr.name_of(region.names, region.code)),
        )
    await _send_region_picker(update, context, None)


async def region_navigate(update: Update, context: BotContext) -> None:
    """Open a level of the region picker (or another page of a large one)."""
    query = update.callback_query
    assert query is not None
    data = callbacks.unpack(query.data)
    code, page = data.arg, data.id(1) if data.action == "rgm" else 0
    await query.answer()
    try:
        await _send_region_picker(update, context, None if code == "-" else code, page=page)
    except LookupError:
        await query.edit_message_text(context.tr("region.unknown"))


async def region_chosen(update: Update, context: BotContext) -> None:
    """Set the sender's region and confirm."""
    query = update.callback_query
    assert query is not None
    code = callbacks.unpack(query.data).arg
    tr = context.tr
    try:
        region = await users.set_region(context.session, user=context.user, region_code=code)
    except users.UnknownRegion:
        await query.answer(tr.plain("region.unknown"), show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(tr("region.set", name=tr.name_of(region.names, region.code)))


async def _join_as_cadre(update: Update, context: BotContext, token: str) -> None:
    """A deep link from ``voy cadre invite``: the sender becomes that cadre."""
    try:
        cadre = await cadres.redeem(
            context.session, token=token, user=context.user, now=context.services.clock.now()
        )
    except cadres.CadreError:
        await _reply(update, context.tr("invite.invalid"))
        return
    await menus.set_for(context.bot, context.user, context.services.settings)
    await _reply(update, context.tr("invite.welcome", name=cadre.name))


async def lapsed_notice(
    message: Message, context: BotContext, kind: str, data: dict[str, Any]
) -> None:
    """Tell a staff member that the step they started lapsed and this message went
    nowhere (it is kept in the inbound log)."""
    tr = context.tr
    ref = data.get("question_id") or data.get("wish_id") or 0
    text = tr(
        "dialog.lapsed",
        what=tr.plain(f"dialog.what_{kind}", ref=ref),
        minutes=round(context.services.settings.pending_step_minutes),
    )
    if kind == conversations.AWAIT_ANSWER:  # only an answer can be given by replying
        text = Html(text + " " + tr("dialog.reply_instead"))
    await message.reply_text(text)


def unchanged(message: Message, html_text: str, markup: InlineKeyboardMarkup | None) -> bool:
    """Whether ``message`` already shows ``html_text`` with ``markup``: Telegram refuses
    an edit that changes nothing ("message is not modified")."""
    return html_to_plain(html_text) == (message.text or "") and markup == message.reply_markup


async def expect_or_explain(
    query: CallbackQuery, context: BotContext, *, chat_id: int, kind: str, **data: Any
) -> bool:
    """Wait for the text a button asks for; if a draft is in progress in the chat, keep
    it, tell the presser why nothing happened (an alert) and return False."""
    try:
        await conversations.expect(
            context.session, chat_id=chat_id, kind=kind, now=context.services.clock.now(), **data
        )
    except conversations.DraftPending as pending:
        tr = context.tr
        text = tr.plain("dialog.draft_pending", what=tr.plain(f"dialog.draft_{pending.kind}"))
        if kind == conversations.AWAIT_ANSWER:  # only an answer can be given by replying
            text += " " + tr.plain("dialog.reply_instead")
        await query.answer(text, show_alert=True)
        return False
    return True


async def too_long_again(
    message: Message,
    context: BotContext,
    *,
    kind: str,
    question_id: int,
    key: str,
    length: int,
    limit: int,
) -> None:
    """Refuse a too-long answer or follow-up and wait for the shortened text again; if a
    draft keeps the wait from being set, say to reply to the card instead (``key`` +
    ``_reply``)."""
    armed = await conversations.expect_again(
        context.session,
        chat_id=message.chat_id,
        kind=kind,
        now=context.services.clock.now(),
        question_id=question_id,
    )
    await message.reply_text(
        context.tr(key if armed else f"{key}_reply", length=length, limit=limit)
    )


async def not_read(message: Message, context: BotContext, update_id: int) -> None:
    """A message without words the bot can read (a sticker, a voice message, a photo
    without a caption): ask for the question in words; once per album, whose first
    message's reply stands for the rest (it is stored like every message)."""
    album = message.media_group_id
    if album is not None and await inbox.earlier_in_album(
        context.session, chat_id=message.chat_id, album=album, update_id=update_id
    ):
        return
    await message.reply_text(context.tr("message.non_text"))
