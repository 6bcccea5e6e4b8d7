"""Micro-wishes in chat: the submission conversation, review, claiming, proof, receipt."""

from __future__ import annotations

from datetime import timedelta

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update

from bot import callbacks, notify, wish_notify
from bot.context import BotContext
from bot.i18n import Html, Translator
from bot.notify import masked
from bot.services import conversations, org, wishes
from bot.services import wish_drafts as drafts
from bot.services import wish_lifecycle as life
from bot.wish_keyboards import (
    edit_keyboard,
    fulfil_keyboard,
    listing_keyboard,
    receipt_keyboard,
    review_keyboard,
    review_list_keyboard,
    reviewer_keyboard,
    step_keyboard,
    withdraw_request_keyboard,
)
from handlers import common, dialog, youth
from storage.models import Region

AWAIT_REASON = conversations.AWAIT_WISH_REASON
AWAIT_PROOF = conversations.AWAIT_WISH_PROOF
# How many waiting wishes /review lists (the longest-waiting first).
REVIEW_LIST_LIMIT = 10
# The longest reason a reviewer may give, and the longest proof note (a photo's caption
# cannot be longer in Telegram): a longer text is refused whole, never cut.
REASON_LIMIT = 500
PROOF_LIMIT = 1024


async def _regions(context: BotContext) -> list[Region]:
    """The areas offered at the region step: the districts, and the user's own area."""
    view = await org.picker_view(context.session, None)
    regions = [option.region for option in view.options]
    own = await org.get_region(context.session, context.user.region_code)
    if own is not None and own.code not in {r.code for r in regions}:
        regions.insert(0, own)
    return regions


def _question_mark(draft: drafts.Draft) -> str:
    """The "I meant to ask" button's mark: only on the first pass, not while editing."""
    return "" if draft.editing else drafts.text_mark(draft)


async def _prompt(message: Message, context: BotContext, draft: drafts.Draft) -> None:
    """Ask for the draft's current step (or show the review screen)."""
    tr = context.tr
    settings = context.services.settings
    if draft.step == drafts.REVIEW:
        fields = draft.fields
        whom = tr.plain(f"wish.whom_{fields['beneficiary']}")
        if fields.get("relation"):
            whom = f"{whom} ({fields['relation']})"
        await message.reply_text(
            tr(
                "wish.review",
                text=fields["text"],
                photo=tr.plain(
                    "wish.photo_yes" if fields.get("photo_file_id") else "wish.photo_no"
                ),
                category=tr.plain(f"wish.category_{fields['category']}"),
                whom=whom,
                age=tr.plain(f"wish.age_{fields['age_band']}"),
                region=await wish_notify.region_name(
                    context.session, tr, fields.get("region_code")
                ),
                place=fields.get("place") or tr.plain("wish.none"),
                value=fields["value_yuan"],
            ),
            reply_markup=review_keyboard(tr, drafts.serial(draft)),
        )
        return
    regions = await _regions(context) if draft.step == drafts.REGION else []
    await message.reply_text(
        tr(f"wish.ask_{draft.step}", cap=settings.wish_value_cap),
        reply_markup=step_keyboard(tr, draft.step, regions, question_mark=_question_mark(draft)),
    )


async def wish_command(update: Update, context: BotContext) -> None:
    """/wish (or the menu button): start writing a micro-wish."""
    message = update.effective_message
    if update.callback_query is not None:
        await update.callback_query.answer()
        message = update.callback_query.message  # type: ignore[assignment]
    assert isinstance(message, Message)
    draft = await drafts.start(
        context.session,
        chat_id=context.user.telegram_id,
        region_code=context.user.region_code,
        now=context.services.clock.now(),
    )
    await _prompt(message, context, draft)


async def draft_text(message: Message, context: BotContext, draft: drafts.Draft) -> None:
    """A typed answer to the current step; a wrong one re-asks the same step."""
    assert message.text is not None
    settings = context.services.settings
    try:
        drafts.give_text(draft, message.text, max_value=settings.wish_value_cap)
    except drafts.WrongInput as wrong:
        aside = ""
        if draft.step in drafts.BUTTON_STEPS:  # perhaps a question: kept, offered to ask
            aside = drafts.set_aside(draft, message.text)
            await drafts.save(context.session, draft, now=context.services.clock.now())
        await _reask(message, context, draft, wrong, aside=aside)
        return
    await drafts.save(context.session, draft, now=context.services.clock.now())
    await _prompt(message, context, draft)


async def _reask(
    message: Message,
    context: BotContext,
    draft: drafts.Draft,
    wrong: drafts.WrongInput,
    *,
    aside: str = "",
) -> None:
    """Ask the step again; with ``aside`` (a text typed where a button was expected, kept
    in the draft), say it was not taken and offer to ask it as a question."""
    tr = context.tr
    params = {"cap": context.services.settings.wish_value_cap, **wrong.params}
    regions = await _regions(context) if draft.step == drafts.REGION else []
    text = tr(wrong.key, **params)
    if aside:
        text = Html(tr("wish.text_aside") + "\n\n" + text)
    keyboard: InlineKeyboardMarkup | None
    if draft.step == drafts.REVIEW:  # a text typed at the review screen (or "change which")
        keyboard = review_keyboard(tr, drafts.serial(draft), aside_mark=aside)
    else:
        keyboard = step_keyboard(
            tr, draft.step, regions, question_mark=_question_mark(draft), aside_mark=aside
        )
    await message.reply_text(text, reply_markup=keyboard)


async def photo(update: Update, context: BotContext) -> None:
    """A photo: part of a wish draft, a claimer's proof, or (otherwise) its caption asked
    as a question; a photo without one is not understood."""
    message = update.effective_message
    assert message is not None and message.photo
    if await youth.cry_for_help(message, context, message.caption, update_id=update.update_id):
        return  # the draft, if any, waits as it was
    chat_id = message.chat_id
    waiting = await conversations.pending(context.session, chat_id)
    file_id = message.photo[-1].file_id
    if waiting is not None and waiting.kind == AWAIT_PROOF:
        await conversations.clear(context.session, chat_id)
        after = timedelta(minutes=context.services.settings.pending_step_minutes)
        if conversations.lapsed(waiting, now=context.services.clock.now(), after=after):
            await common.lapsed_notice(message, context, waiting.kind, dict(waiting.data))
            return
        caption = message.caption[:PROOF_LIMIT] if message.caption else None
        await _fulfil(
            message,
            context,
            int(waiting.data["wish_id"]),
            caption,
            file_id,
            album=message.media_group_id,
        )
        return
    draft = await drafts.load(context.session, chat_id)
    if draft is None:
        if message.media_group_id is not None and await _more_proof(message, context, file_id):
            return
        if message.caption and message.caption.strip():  # its words, read as a text's
            await dialog.route(message, context, message.caption, update_id=update.update_id)
        else:
            await common.not_read(message, context, update.update_id)
        return
    try:
        drafts.give_photo(draft, file_id, message.caption)
    except drafts.WrongInput as wrong:
        await _reask(message, context, draft, wrong)
        return
    await drafts.save(context.session, draft, now=context.services.clock.now())
    await _prompt(message, context, draft)


async def _more_proof(message: Message, context: BotContext, file_id: str) -> bool:
    """Another photo of the album whose first photo a claimer just sent as proof (the
    same album, within minutes): it goes to the young person as well (the first photo's
    reply stands for the album)."""
    if not wishes.may_claim(context.user):
        return False
    now = context.services.clock.now()
    assert message.media_group_id is not None
    wish = await wishes.album_proof_of(
        context.session, user=context.user, album=message.media_group_id, now=now
    )
    if wish is None:
        return False
    assert message.photo
    await wish_notify.more_proof(
        context.session,
        wish,
        file_id=file_id,
        unique_id=message.photo[-1].file_unique_id,
        settings=context.services.settings,
        now=now,
    )
    return True


def _query(update: Update) -> tuple[CallbackQuery, Message, callbacks.Callback]:
    query = update.callback_query
    assert query is not None
    assert isinstance(query.message, Message)
    return query, query.message, callbacks.unpack(query.data)


async def draft_button(update: Update, context: BotContext) -> None:
    """A button answer, a change from the review screen, submit or cancel."""
    query, message, data = _query(update)
    tr = context.tr
    draft = await drafts.load(context.session, message.chat_id)
    # The review screen's buttons and the "change which" menu name their draft: an old
    # screen's do nothing.
    named = {"wsub": 0, "wedit": 0, "wcan": 0, "wed": 1}.get(data.action)
    if draft is None:  # submitted, cancelled or expired: only a new one can be begun
        await query.answer(tr.plain("callback.stale_wish_draft"), show_alert=True)
        return
    if named is not None and data.args[named] != drafts.serial(draft):
        # An earlier draft's screen: the draft being written now goes on where it stands.
        await query.answer(tr.plain("callback.stale_wish_step"), show_alert=True)
        await _prompt(message, context, draft)
        return
    await query.answer()
    now = context.services.clock.now()
    if data.action == "wcan":
        await drafts.cancel(context.session, message.chat_id)
        await message.reply_text(tr("wish.cancelled"))
        return
    if data.action == "wask":  # the text was a question: ask it, drop the draft
        text = await drafts.withdraw_text(context.session, draft, data.arg)
        if text is None:  # an old button: the draft has gone on since
            await _prompt(message, context, draft)
            return
        await youth.ask(message, context, text, update_id=update.update_id)
        return
    if data.action == "wside":  # a question typed mid-draft: ask it; the draft waits
        aside = drafts.take_aside(draft, data.arg)
        if aside is not None:
            await drafts.save(context.session, draft, now=now)
            await youth.ask(message, context, aside, update_id=update.update_id)
        await _prompt(message, context, draft)
        return
    if data.action == "wedit":
        await message.reply_text(
            tr("wish.edit_which"), reply_markup=edit_keyboard(tr, drafts.serial(draft))
        )
        return
    if data.action == "wsub":
        await _submit(message, context, draft)
        return
    try:
        if data.action == "wed":
            drafts.edit(draft, data.arg)
        else:
            known = frozenset(await org.all_region_codes(context.session))
            drafts.choose(draft, data.args[0], data.args[1], known_regions=known)
    except drafts.WrongInput:
        await _prompt(message, context, draft)  # ask the current step again, as it is
        return
    await drafts.save(context.session, draft, now=now)
    await _prompt(message, context, draft)


async def _submit(message: Message, context: BotContext, draft: drafts.Draft) -> None:
    tr = context.tr
    now = context.services.clock.now()
    if draft.step != drafts.REVIEW:  # an old review screen's button, mid-edit
        await _prompt(message, context, draft)
        return
    if not drafts.ready(draft):
        await message.reply_text(
            tr("wish.consent_needed"), reply_markup=review_keyboard(tr, drafts.serial(draft))
        )
        return
    try:
        wish = await wishes.submit(context.session, user=context.user, draft=draft, now=now)
    except wishes.ConsentMissing:
        await message.reply_text(
            tr("wish.consent_needed"), reply_markup=review_keyboard(tr, drafts.serial(draft))
        )
        return
    except (wishes.WishNotAllowed, life.IllegalWishTransition) as error:
        # The returned wish this draft changes was withdrawn (or closed) meanwhile: the
        # draft can never be submitted, so it goes, and the person is told why.
        await drafts.cancel(context.session, message.chat_id)
        await message.reply_text(_refusal(tr, error, int(draft.fields.get("wish_id") or 0)))
        return
    await drafts.cancel(context.session, message.chat_id)
    check = await wishes.checklist(
        context.session, wish, value_cap=context.services.settings.wish_value_cap
    )
    await wish_notify.review_cards(
        context.session, wish, check=check, settings=context.services.settings, now=now
    )
    submitted = tr("wish.submitted", ref=wish.id)
    # Words close to a call for help: the helplines too, as a question routed for them.
    await message.reply_text(
        notify.with_helpline(tr, submitted) if check.possible_concern else submitted
    )


async def review_button(update: Update, context: BotContext) -> None:
    """A reviewer approves at once, or is asked for the reason to return or reject."""
    query, message, data = _query(update)
    tr = context.tr
    wish_id, decision = data.id(0), data.args[1]
    if decision not in ("approve", "return", "reject"):
        await query.answer(tr.plain("callback.stale"), show_alert=True)
        return
    if decision == "approve":
        await _decide(query, message, context, wish_id, decision, None)
        return
    try:  # decided meanwhile (another reviewer, an old card): say so before the reason
        await wishes.reviewable(context.session, wish_id=wish_id, reviewer=context.user)
    except (wishes.WishNotAllowed, life.IllegalWishTransition) as error:
        await query.answer(_refusal(tr, error, wish_id), show_alert=True)
        return
    if not await common.expect_or_explain(
        query,
        context,
        chat_id=message.chat_id,
        kind=AWAIT_REASON,
        wish_id=wish_id,
        decision=decision,
    ):
        return
    await query.answer()
    await message.reply_text(tr("wish.ask_reason"))


async def review_command(update: Update, context: BotContext) -> None:
    """/review: the wishes waiting for review, longest-waiting first, each with a button
    that opens its card."""
    message = update.effective_message
    assert message is not None
    tr = context.tr
    try:
        found, total = await wishes.awaiting_review(
            context.session, reviewer=context.user, limit=REVIEW_LIST_LIMIT
        )
    except wishes.WishNotAllowed:
        await message.reply_text(tr("wish.not_reviewer"))
        return
    if not found:
        await message.reply_text(tr("wish.review_list_empty"))
        return
    now = context.services.clock.now()
    lines = [tr("wish.review_list_title", total=total)]
    lines += [
        tr(
            "wish.review_list_line",
            ref=wish.id,
            category=tr.plain(f"wish.category_{wish.category}"),
            value=wish.value_yuan,
            hours=wish_notify.hours_waiting(wish, now),
        )
        for wish in found
    ]
    if total > len(found):
        lines.append(tr("wish.review_list_more", shown=len(found)))
    await message.reply_text(
        "\n".join(lines), reply_markup=review_list_keyboard(tr, [w.id for w in found])
    )


async def review_open_button(update: Update, context: BotContext) -> None:
    """A wish's button on /review: its full card, with the decision buttons."""
    query, message, data = _query(update)
    tr = context.tr
    try:
        wish, check = await wishes.open_for_review(
            context.session,
            wish_id=data.id(),
            reviewer=context.user,
            chat_id=message.chat_id,
            value_cap=context.services.settings.wish_value_cap,
            now=context.services.clock.now(),
        )
    except (wishes.WishNotAllowed, life.IllegalWishTransition) as error:
        await query.answer(_refusal(tr, error, data.id()), show_alert=True)
        return
    await query.answer()
    card = await wish_notify.review_card(context.session, tr, wish, check)
    keyboard = reviewer_keyboard(tr, wish.id)
    if wish.photo_file_id and wish_notify.fits_caption(card):
        await message.reply_photo(wish.photo_file_id, caption=card, reply_markup=keyboard)
        return
    if wish.photo_file_id:
        await message.reply_photo(
            wish.photo_file_id, caption=tr("wish.review_photo_caption", ref=wish.id)
        )
    await message.reply_text(card, reply_markup=keyboard)


async def _decide(
    query: CallbackQuery | None,
    message: Message,
    context: BotContext,
    wish_id: int,
    decision: str,
    reason: str | None,
) -> None:
    tr = context.tr
    now = context.services.clock.now()
    try:
        wish = await wishes.review(
            context.session,
            wish_id=wish_id,
            reviewer=context.user,
            decision=decision,
            reason=reason,
            now=now,
        )
    except (wishes.WishNotAllowed, life.IllegalWishTransition) as error:
        text = _refusal(tr, error, wish_id)
        if query is not None:
            await query.answer(text, show_alert=True)
        else:
            await message.reply_text(text)
        return
    key = {
        "approve": "wish.approved_notice",
        "return": "wish.returned_notice",
        "reject": "wish.rejected_notice",
    }[decision]
    await wish_notify.to_owner(
        context.session,
        wish,
        key=key,
        settings=context.services.settings,
        now=now,
        markup="owner" if decision != "reject" else None,
        reason=reason or "",
    )
    done = tr("wish.reviewed", ref=wish.id, status=tr.plain(f"wish_status.{wish.status}"))
    if query is not None:
        await query.answer()
        await query.edit_message_reply_markup(None)
    await message.reply_text(done)


def _refusal(tr: Translator, error: Exception, wish_id: int) -> str:
    if isinstance(error, life.IllegalWishTransition):
        if error.state == life.CHANGED_MEANWHILE:  # lost a race: no state to name
            return tr.plain("wish.changed_meanwhile", ref=wish_id)
        return tr.plain("wish.illegal", ref=wish_id, state=tr.plain(f"wish_status.{error.state}"))
    return tr.plain("wish.not_allowed")


async def owner_button(update: Update, context: BotContext) -> None:
    """The young person withdraws a wish (once claimed: asks its claimer to let it go), or
    edits a returned one to resubmit it."""
    query, message, data = _query(update)
    tr = context.tr
    now = context.services.clock.now()
    try:
        if data.action == "wwd":
            await _withdraw(query, message, context, data.id())
            return
        wish = await wishes.own(context.session, wish_id=data.id(), user=context.user)
    except (wishes.WishNotAllowed, life.IllegalWishTransition) as error:
        await query.answer(_refusal(tr, error, data.id()), show_alert=True)
        return
    if wish.status != life.RETURNED:
        await query.answer(
            _refusal(tr, life.IllegalWishTransition(wish.id, wish.status, "resubmit"), wish.id),
            show_alert=True,
        )
        return
    pending = await conversations.pending(context.session, message.chat_id)
    if pending is not None and pending.kind in conversations.DRAFTS:
        current = await drafts.load(context.session, message.chat_id)
        if current is not None and current.fields.get("wish_id") == wish.id:
            await query.answer()  # already changing this wish: show where it stands
            await _prompt(message, context, current)
            return
        # Another draft in progress would be thrown away: keep it, and say why not.
        await query.answer(
            tr.plain("dialog.draft_pending", what=tr.plain(f"dialog.draft_{pending.kind}")),
            show_alert=True,
        )
        return
    draft = drafts.Draft(
        message.chat_id,
        drafts.REVIEW,
        {
            drafts.SERIAL: drafts.new_serial(),
            "wish_id": wish.id,
            "text": wish.text,
            "photo_file_id": wish.photo_file_id,
            "category": wish.category,
            "beneficiary": wish.beneficiary,
            "relation": wish.relation,
            "age_band": wish.age_band,
            "guardian_consent": wish.guardian_consent,
            "region_code": wish.region_code,
            "place": wish.place,
            "value_yuan": wish.value_yuan,
        },
    )
    await drafts.save(context.session, draft, now=now)
    await query.answer()
    await _prompt(message, context, draft)


async def _withdraw(
    query: CallbackQuery, message: Message, context: BotContext, wish_id: int
) -> None:
    """The owner's "withdraw": done at once before a claim; once claimed, a request to the
    claimer (a card with "agree" and "keep"), and a second press sends no second card."""
    tr, settings = context.tr, context.services.settings
    now = context.services.clock.now()
    done = await wishes.withdraw_or_ask(
        context.session, wish_id=wish_id, user=context.user, now=now
    )
    if done.outcome in (wishes.STILL_ASKED, wishes.KEPT):
        assert done.request is not None
        key = (
            "wish.withdraw_still_asked"
            if done.outcome == wishes.STILL_ASKED
            else "wish.withdraw_was_kept"
        )
        date = done.request.asked.created_at.astimezone(settings.tz).strftime("%Y-%m-%d")
        await query.answer(tr.plain(key, ref=wish_id, date=date), show_alert=True)
        return
    await query.answer()
    await query.edit_message_reply_markup(None)
    if done.outcome == wishes.WITHDRAWN:
        await message.reply_text(tr("wish.withdrawn", ref=wish_id))
        return
    assert done.request is not None
    await wish_notify.withdraw_request(
        context.session, done.wish, done.request, settings=settings, now=now
    )
    await message.reply_text(tr("wish.withdraw_asked", ref=wish_id))


async def withdraw_answer_button(update: Update, context: BotContext) -> None:
    """The claimer answers the owner's request to withdraw the wish: agreed, it is
    withdrawn; kept, it stays claimed. The owner hears either way."""
    query, message, data = _query(update)
    tr, settings = context.tr, context.services.settings
    now = context.services.clock.now()
    agree = data.action == "wwy"
    try:
        wish = await wishes.answer_withdraw_request(
            context.session,
            wish_id=data.id(0),
            request_id=data.id(1),
            user=context.user,
            agree=agree,
            now=now,
        )
    except (wishes.WishGone, wishes.RequestAnswered):
        await query.answer(
            tr.plain("callback.stale_withdraw_request", ref=data.id(0)), show_alert=True
        )
        return
    except (wishes.WishNotAllowed, life.IllegalWishTransition) as error:
        await query.answer(_refusal(tr, error, data.id(0)), show_alert=True)
        return
    await query.answer()
    await query.edit_message_reply_markup(None)
    await wish_notify.to_owner(
        context.session,
        wish,
        key="wish.withdraw_agreed_notice" if agree else "wish.withdraw_kept_notice",
        settings=settings,
        now=now,
    )
    if agree:
        await message.reply_text(tr("wish.withdraw_agreed_ok", ref=wish.id))
        return
    await message.reply_text(
        tr("wish.withdraw_kept_ok", ref=wish.id), reply_markup=fulfil_keyboard(tr, wish.id)
    )


async def wishes_command(update: Update, context: BotContext) -> None:
    """/wishes: published wishes for cadres and donors, masked, with claim buttons."""
    message = update.effective_message
    assert message is not None
    await _listing(message, context, region="-", category="-", edit=False)


async def listing_button(update: Update, context: BotContext) -> None:
    """A filter button on the listing."""
    query, message, data = _query(update)
    await query.answer()
    await _listing(message, context, region=data.args[0], category=data.args[1], edit=True)


async def _listing(
    message: Message, context: BotContext, *, region: str, category: str, edit: bool
) -> None:
    tr = context.tr
    if not any(context.user.has_role(r) for r in ("cadre", "donor", "admin")):
        await message.reply_text(tr("wish.not_claimer"))
        return
    found, total = await wishes.published(
        context.session,
        region=None if region == "-" else region,
        category=None if category == "-" else category,
    )
    mine = await wishes.claims_of(context.session, context.user)
    view = await org.picker_view(context.session, None)
    regions = [option.region for option in view.options]
    lines = []
    if mine:  # what this person already took on comes first, with "fulfilled" buttons
        limit = context.services.settings.wish_claim_limit
        # The limit counts claims not yet delivered; a disputed one is listed, not counted.
        count = sum(wish.status in life.OPEN_CLAIMS for wish in mine)
        lines.append(tr("wish.mine_title", count=count, limit=limit))
        lines += [
            tr(
                "wish.mine_line",
                ref=wish.id,
                status=tr.plain(f"wish_status.{wish.status}"),
                text=masked(tr, wish.text)[:60],
            )
            for wish in mine
        ]
    lines.append(
        tr("wish.list_title", count=total, shown=len(found)) if found else tr("wish.list_empty")
    )
    for wish in found:
        lines.append(
            tr(
                "wish.list_line",
                ref=wish.id,
                category=tr.plain(f"wish.category_{wish.category}"),
                age=tr.plain(f"wish.age_{wish.age_band}"),
                region=await wish_notify.region_name(context.session, tr, wish.region_code),
                value=wish.value_yuan,
                text=masked(tr, wish.text)[:120],
            )
        )
    markup = listing_keyboard(
        tr, [w.id for w in found], regions, region, category, mine=[w.id for w in mine]
    )
    text = "\n\n".join(lines)
    if not edit:
        await message.reply_text(text, reply_markup=markup)
        return
    if not common.unchanged(message, text, markup):  # else the filter shown, pressed again
        await message.edit_text(text, reply_markup=markup)


async def claim_button(update: Update, context: BotContext) -> None:
    """Claim a wish: at most the configured number of open claims each."""
    query, message, data = _query(update)
    tr = context.tr
    settings = context.services.settings
    now = context.services.clock.now()
    try:
        wish = await wishes.claim(
            context.session,
            wish_id=data.id(),
            user=context.user,
            now=now,
            limit=settings.wish_claim_limit,
        )
    except wishes.ClaimLimitReached as full:
        await query.answer(tr.plain("wish.claim_limit", limit=full.limit), show_alert=True)
        return
    except life.IllegalWishTransition as error:
        # Someone was quicker; or the wish is not (or no longer) on offer at all.
        taken = error.state in (life.CLAIMED, life.FULFILLED, life.DISPUTED)
        text = tr.plain("wish.claim_lost") if taken else _refusal(tr, error, data.id())
        await query.answer(text, show_alert=True)
        return
    except wishes.WishGone:
        await query.answer(tr.plain("callback.stale_wish_offer"), show_alert=True)
        return
    except wishes.WishNotAllowed:
        await query.answer(tr.plain("wish.not_claimer"), show_alert=True)
        return
    await wish_notify.to_owner(
        context.session, wish, key="wish.claimed_notice", settings=settings, now=now
    )
    count = await wishes.open_claims(context.session, context.user)
    await query.answer()
    await message.reply_text(
        tr(
            "wish.claimed_ok",
            ref=wish.id,
            count=count,
            limit=settings.wish_claim_limit,
            text=masked(tr, wish.text),
        ),
        reply_markup=fulfil_keyboard(tr, wish.id),
    )


async def fulfil_button(update: Update, context: BotContext) -> None:
    """ "Fulfilled": the claimer's next photo or text is the proof."""
    query, message, data = _query(update)
    try:
        await wishes.fulfilment_due(context.session, wish_id=data.id(), user=context.user)
    except (wishes.WishNotAllowed, life.IllegalWishTransition) as error:
        await query.answer(_refusal(context.tr, error, data.id()), show_alert=True)
        return
    if not await common.expect_or_explain(
        query, context, chat_id=message.chat_id, kind=AWAIT_PROOF, wish_id=data.id()
    ):
        return
    await query.answer()
    await message.reply_text(context.tr("wish.ask_proof", ref=data.id()))


async def _fulfil(
    message: Message,
    context: BotContext,
    wish_id: int,
    text: str | None,
    file_id: str | None,
    *,
    album: str | None = None,
) -> None:
    tr = context.tr
    now = context.services.clock.now()
    try:
        wish = await wishes.fulfil(
            context.session,
            wish_id=wish_id,
            user=context.user,
            proof_text=text,
            proof_file_id=file_id,
            album=album,
            now=now,
        )
    except (wishes.WishNotAllowed, life.IllegalWishTransition) as error:
        await message.reply_text(_refusal(tr, error, wish_id))
        return
    await wish_notify.to_owner(
        context.session,
        wish,
        key="wish.fulfilled_notice_note" if text else "wish.fulfilled_notice",
        settings=context.services.settings,
        now=now,
        markup="receipt",
        photo_file_id=file_id,
        proof=text or "",
    )
    await message.reply_text(tr("wish.fulfilled_ok", ref=wish.id))


async def receipt_button(update: Update, context: BotContext) -> None:
    """The recipient: received (the wish closes) or not yet (it is checked)."""
    query, message, data = _query(update)
    tr = context.tr
    received = data.action == "wok"
    try:
        wish = await wishes.respond(
            context.session,
            wish_id=data.id(),
            user=context.user,
            received=received,
            now=context.services.clock.now(),
        )
    except (wishes.WishNotAllowed, life.IllegalWishTransition) as error:
        await query.answer(_refusal(tr, error, data.id()), show_alert=True)
        return
    await query.answer()
    await query.edit_message_reply_markup(None)
    settings, now = context.services.settings, context.services.clock.now()
    if received:
        await message.reply_text(tr("wish.closed_notice", ref=wish.id))
        await wish_notify.received(context.session, wish, settings=settings, now=now)
        return
    # Not received: the claimer is asked to check; the young person can still confirm.
    await message.reply_text(
        tr("wish.disputed_notice", ref=wish.id), reply_markup=receipt_keyboard(tr, wish.id)
    )
    await wish_notify.to_claimer(
        context.session, wish, key="wish.disputed_claimer", settings=settings, now=now
    )
    await wish_notify.to_committee(
        context.session,
        wish,
        key="wish.disputed_committee",
        settings=settings,
        now=now,
        days=f"{settings.wish_confirm_close_days:g}",
    )


async def progress_button(update: Update, context: BotContext) -> None:
    """The claimer is still working on the wish: its idle clock starts again (while the
    owner's request to withdraw it waits, that answer is asked for instead)."""
    query, message, data = _query(update)
    tr = context.tr
    try:
        wish = await wishes.progress(
            context.session, wish_id=data.id(), user=context.user, now=context.services.clock.now()
        )
    except wishes.RequestWaiting as waiting:
        await query.answer()
        await message.reply_text(
            tr("wish.progress_request_waiting", ref=waiting.wish_id),
            reply_markup=withdraw_request_keyboard(tr, waiting.wish_id, waiting.request.asked.id),
        )
        return
    except (wishes.WishNotAllowed, life.IllegalWishTransition) as error:
        await query.answer(_refusal(tr, error, data.id()), show_alert=True)
        return
    await query.answer(tr.plain("wish.progress_ok", ref=wish.id))


async def draft_other(update: Update, context: BotContext) -> bool:
    """A sticker, voice or file during a draft: ask the current step again."""
    message = update.effective_message
    if message is None:
        return False
    draft = await drafts.load(context.session, message.chat_id)
    if draft is None:
        return False
    await _prompt(message, context, draft)
    return True


async def pending_text(
    message: Message, context: BotContext, kind: str, data: dict[str, object]
) -> None:
    """A reviewer's reason or a claimer's proof typed after pressing the button."""
    assert message.text is not None
    limit = REASON_LIMIT if kind == AWAIT_REASON else PROOF_LIMIT
    if len(message.text) > limit:
        # Refused whole: the shortened text that comes next is still this one's.
        armed = await conversations.expect_again(
            context.session,
            chat_id=message.chat_id,
            kind=kind,
            now=context.services.clock.now(),
            **data,
        )
        await message.reply_text(
            context.tr(
                "wish.note_too_long" if armed else "wish.note_too_long_press",
                length=len(message.text),
                limit=limit,
            )
        )
        return
    if kind == AWAIT_REASON:
        await _decide(
            None,
            message,
            context,
            int(str(data["wish_id"])),
            str(data["decision"]),
            message.text,
        )
    elif kind == AWAIT_PROOF:
        await _fulfil(message, context, int(str(data["wish_id"])), message.text, None)
