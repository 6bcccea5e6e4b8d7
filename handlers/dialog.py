"""Plain text in private chat: a reply to a question card first, then a pending step
(an answer, a department, a follow-up, a draft) unless it lapsed, and otherwise a new
question."""

from __future__ import annotations

from datetime import timedelta

from telegram import Message, Update

from bot import notify
from bot.context import BotContext
from bot.services import broadcast_drafts, conversations, questions, wish_drafts
from handlers import broadcasts, cadre, common, wishes, youth
from storage.questions import Conversation


async def text(update: Update, context: BotContext) -> None:
    """Route a private text message to whatever it is meant for."""
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    await route(message, context, message.text, update_id=update.update_id)


async def route(message: Message, context: BotContext, text: str, *, update_id: int) -> None:
    """Route ``text`` to whatever it is meant for: the message's text, or the caption of
    a photo or a file no draft took. A caption is read where a text would be (a young
    person's follow-up, a new question), but a step staff are in the middle of (an
    answer, a department, a reason, a broadcast) waits on for typed text: the file
    itself could not be passed on."""
    media = message.text is None
    chat_id = message.chat_id
    waiting = await conversations.pending(context.session, chat_id)
    # A reply to a card says which question it is about, whatever was pressed before.
    if await _reply_to_card(message, context, waiting, text, update_id=update_id):
        return
    settings = context.services.settings
    after = timedelta(minutes=settings.pending_step_minutes)
    now = context.services.clock.now()
    if waiting is not None and conversations.lapsed(waiting, now=now, after=after):
        await conversations.clear(context.session, chat_id)
        if waiting.kind != conversations.AWAIT_FOLLOW_UP:
            await common.lapsed_notice(message, context, waiting.kind, dict(waiting.data))
            return
        waiting = None  # a young person's late text is a new message, as any other
    if media and waiting is not None and waiting.kind != conversations.AWAIT_FOLLOW_UP:
        await message.reply_text(context.tr("message.caption_step"))
        return
    if waiting is not None and waiting.kind == wish_drafts.KIND:
        # A call for help is never taken as a step of the draft (which waits as it was).
        if await youth.cry_for_help(message, context, text, update_id=update_id):
            return
        draft = await wish_drafts.load(context.session, chat_id)
        assert draft is not None
        await wishes.draft_text(message, context, draft)
        return
    if waiting is not None and waiting.kind == broadcast_drafts.KIND:
        broadcast_draft = await broadcast_drafts.load(context.session, chat_id)
        if broadcast_draft is not None:
            await broadcasts.draft_text(message, context, broadcast_draft)
            return
    if waiting is not None and waiting.kind in (wishes.AWAIT_REASON, wishes.AWAIT_PROOF):
        await conversations.clear(context.session, chat_id)
        await wishes.pending_text(message, context, waiting.kind, dict(waiting.data))
        return
    if waiting is not None:
        await conversations.clear(context.session, chat_id)
        question_id = int(waiting.data.get("question_id", 0))
        if waiting.kind == conversations.AWAIT_ANSWER:
            await cadre.submit_answer(message, context, question_id=question_id, text=text)
            return
        if waiting.kind == conversations.AWAIT_DEPARTMENT:
            await cadre.submit_department(
                message, context, question_id=question_id, department=text
            )
            return
        if waiting.kind == conversations.AWAIT_FOLLOW_UP:
            await youth.submit_follow_up(
                message, context, question_id=question_id, text=text, update_id=update_id
            )
            return
    await youth.ask(message, context, text, update_id=update_id)


async def _reply_to_card(
    message: Message,
    context: BotContext,
    waiting: Conversation | None,
    text: str,
    *,
    update_id: int,
) -> bool:
    """A reply to a card answers it (staff) or, right after "forward" on that card,
    names the department; a reply to an answer follows it up (youth). A one-step wait
    pressed before is dropped first (what is sent now may set a new one). A caption in
    reply to a card is no answer: the cadre is asked to type it."""
    replied = message.reply_to_message
    if replied is None or not replied.from_user or not replied.from_user.is_bot:
        return False
    found = await questions.replied_message(
        context.session, chat_id=message.chat_id, message_id=replied.message_id
    )
    if found is None:  # a copy whose record was lost: the ticket its header names
        ticket = notify.ticket_in_header(replied.text or replied.caption or "")
        if ticket is not None:
            found = await questions.named_in_copy(
                context.session, user=context.user, ticket=ticket
            )
    if found is None:
        # A reply to the FAQ's own answer ("still unclear"): to a person, with context.
        return await youth.reply_to_faq_answer(message, context, replied.text or "", text)
    question_id, kind = found
    if kind in notify.STAFF_KINDS and message.text is None:  # the wait, if any, stays
        await message.reply_text(context.tr("message.caption_step"))
        return True
    naming_department = (
        waiting is not None
        and waiting.kind == conversations.AWAIT_DEPARTMENT
        and int(waiting.data.get("question_id", 0)) == question_id
    )
    if waiting is not None and waiting.kind in conversations.ONE_STEP:
        await conversations.clear(context.session, message.chat_id)
    if kind in notify.STAFF_KINDS and naming_department:
        await cadre.submit_department(message, context, question_id=question_id, department=text)
    elif kind in notify.STAFF_KINDS:
        await cadre.submit_answer(message, context, question_id=question_id, text=text)
    else:
        await youth.submit_follow_up(
            message, context, question_id=question_id, text=text, update_id=update_id
        )
    return True


async def cancel(update: Update, context: BotContext) -> None:
    """/cancel: stop waiting for an answer, a department or a follow-up."""
    message = update.effective_message
    assert message is not None
    waiting = await conversations.pending(context.session, message.chat_id)
    if waiting is not None and waiting.kind == broadcast_drafts.KIND:
        await broadcasts.cancel_draft(message, context)
        return
    await conversations.clear(context.session, message.chat_id)
    await message.reply_text(context.tr("card.cancelled" if waiting else "card.nothing_to_cancel"))
