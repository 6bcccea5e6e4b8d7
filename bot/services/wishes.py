"""Micro-wishes after submission: review, claims (at most five open per claimer), proof,
confirmation, and the timed follow-ups. Nothing here knows Telegram."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from bot.services import access_log, concern_model, outbox
from bot.services import wish_lifecycle as life
from bot.services.org import region_subtree
from bot.services.privacy import find_personal_data
from bot.services.wish_drafts import UNDER_14, Draft
from storage.db import lock_for_writing
from storage.models import ROLE_ADMIN, ROLE_CADRE, ROLE_DONOR, ROLE_REVIEWER, User
from storage.questions import Conversation
from storage.wishes import Wish, WishEvent


class WishNotAllowed(PermissionError):
    """This person may not do that to this wish."""


class WishGone(WishNotAllowed):
    """No such wish (forged button data, or a wish erased by /forget)."""


class ClaimLimitReached(Exception):
    """The claimer already holds the maximum number of open claims."""

    def __init__(self, limit: int) -> None:
        """Keep the limit for the message."""
        super().__init__(limit)
        self.limit = limit


class RequestAnswered(Exception):
    """A button answering an owner's request to withdraw a wish, when that request is
    no longer waiting: answered already, lapsed with its claim, or never made."""

    def __init__(self, wish_id: int) -> None:
        """Keep the wish's id for the message."""
        super().__init__(wish_id)
        self.wish_id = wish_id


class RequestWaiting(Exception):
    """ "Still working on it" while the owner's request to withdraw the wish waits for the
    claimer's answer: that answer is asked for instead (``request``)."""

    def __init__(self, wish_id: int, request: life.WithdrawRequest) -> None:
        """Keep the wish's id and the request waiting."""
        super().__init__(wish_id)
        self.wish_id = wish_id
        self.request = request


class ConsentMissing(Exception):
    """A child's wish cannot be submitted without a guardian's consent."""


@dataclass(frozen=True)
class Checklist:
    """What a reviewer checks, computed for them."""

    eligible: bool  # consent given where needed
    within_cap: bool
    personal_data: list[str]  # kinds of personal data found in the public text
    duplicate_of: int | None  # another open wish of the same person
    # The wish's words are close to a call for help as the concern model reads them (the
    # list checks every typed step before it joins a draft): the reviewer reads it with
    # care; nothing is held up or raised.
    possible_concern: bool = False


# A push to the young person with buttons for the wish's state at the time (a receipt
# reminder, a "returned" notice): held back by quiet hours, it would arrive with stale
# buttons after the wish moved on, so a move cancels those still unsent.
PROMPT_KIND = "wish_prompt"


async def _prompts_stale(session: AsyncSession, wish: Wish) -> None:
    await outbox.cancel(session, ref_type="wish", ref_id=wish.id, kinds=[PROMPT_KIND])


# What a reviewer's card shows of the young person (the text masked).
REVIEW_FIELDS = ("wish_text_masked", "age_band", "region", "guardian_consent")


def review_fields(wish: Wish) -> tuple[str, ...]:
    """What a reviewer's card of ``wish`` shows of the young person (the access log)."""
    return REVIEW_FIELDS + (("photo",) if wish.photo_file_id else ())


# What the claimer is shown of the young person when taking a wish on (the text masked).
CLAIM_FIELDS = ("wish_text_masked", "age_band", "region")


def actor(user: User) -> str:
    """The audit log's name for ``user``."""
    return f"user:{user.id}"


async def submit(session: AsyncSession, *, user: User, draft: Draft, now: datetime) -> Wish:
    """Turn a finished draft into a submitted wish (or resubmit a returned one)."""
    fields = draft.fields
    if draft.needs_consent and not fields.get("guardian_consent"):
        raise ConsentMissing()
    values = {
        "text": fields["text"],
        "photo_file_id": fields.get("photo_file_id"),
        "category": fields["category"],
        "beneficiary": fields["beneficiary"],
        "relation": fields.get("relation"),
        "age_band": fields["age_band"],
        "guardian_consent": bool(fields.get("guardian_consent")),
        "region_code": fields.get("region_code"),
        "place": fields.get("place"),
        "value_yuan": int(fields["value_yuan"]),
    }
    wish_id = fields.get("wish_id")
    if wish_id is not None:
        wish = await own(session, wish_id=int(wish_id), user=user)
        # First the move, which refuses a wish no longer returned (withdrawn meanwhile):
        # a refused resubmit must leave the wish as it was.
        life.fire(wish, "resubmit", actor=actor(user), now=now)
        for key, value in values.items():
            setattr(wish, key, value)
        wish.submitted_at, wish.review_reminded = now, False
        await _prompts_stale(session, wish)
        return wish
    wish = Wish(user_id=user.id, status=life.SUBMITTED, submitted_at=now, events=[], **values)
    session.add(wish)
    await session.flush()
    wish.events.append(
        life.WishEvent(
            wish_id=wish.id,
            trigger="submit",
            from_state="",
            to_state=life.SUBMITTED,
            actor=actor(user),
            note="",
            created_at=now,
        )
    )
    return wish


# Triggers that leave the wish where it is (recorded, no move).
_STAYS = ("progress", "ask_withdraw", "keep")


async def _saved(session: AsyncSession, wish: Wish, trigger: str) -> Wish:
    """Write the change now; if someone changed the wish meanwhile, refuse this one."""
    wish_id = wish.id  # read first: after a failed flush the object cannot be loaded
    try:
        await session.flush()
    except StaleDataError as exc:
        raise life.IllegalWishTransition(wish_id, life.CHANGED_MEANWHILE, trigger) from exc
    if trigger not in _STAYS:  # every other trigger moves the wish on
        await _prompts_stale(session, wish)
    return wish


async def own(session: AsyncSession, *, wish_id: int, user: User) -> Wish:
    """The user's own wish, or :class:`WishNotAllowed`."""
    wish = await session.get(Wish, wish_id)
    if wish is None or wish.user_id != user.id:
        raise WishNotAllowed(wish_id)
    return wish


async def checklist(session: AsyncSession, wish: Wish, *, value_cap: int) -> Checklist:
    """The reviewer's checklist for ``wish``."""
    duplicate = await session.scalar(
        select(Wish.id).where(
            Wish.user_id == wish.user_id,
            Wish.id != wish.id,
            Wish.status.in_(life.OPEN),
            func.lower(Wish.text) == wish.text.lower(),
        )
    )
    return Checklist(
        eligible=wish.age_band not in UNDER_14 or wish.guardian_consent,
        within_cap=wish.value_yuan <= value_cap,
        personal_data=sorted({kind for kind, _ in find_personal_data(wish.text)}),
        duplicate_of=duplicate,
        possible_concern=concern_model.possible(wish.text),
    )


def _require(user: User, *roles: str) -> None:
    if not any(user.has_role(role) for role in (*roles, ROLE_ADMIN)):
        raise WishNotAllowed(roles)


async def review(
    session: AsyncSession,
    *,
    wish_id: int,
    reviewer: User,
    decision: str,
    reason: str | None,
    now: datetime,
) -> Wish:
    """A reviewer approves (publishes), returns for edits, or rejects (with a reason)."""
    _require(reviewer, ROLE_REVIEWER)
    wish = await session.get(Wish, wish_id)
    if wish is None:
        raise WishNotAllowed(wish_id)
    trigger = {"approve": "approve", "return": "return_for_edits", "reject": "reject"}[decision]
    life.fire(wish, trigger, actor=actor(reviewer), now=now, note=reason or "")
    wish.reason = reason[:500] if reason else None
    if decision == "approve":
        wish.published_at = now
    return await _saved(session, wish, trigger)


async def reviewable(session: AsyncSession, *, wish_id: int, reviewer: User) -> Wish:
    """The wish, if ``reviewer`` may decide on it now (it waits for review): checked
    before a reason to return or reject it is asked for. Raises :class:`WishNotAllowed`
    or :class:`~bot.services.wish_lifecycle.IllegalWishTransition`."""
    _require(reviewer, ROLE_REVIEWER)
    wish = await session.get(Wish, wish_id)
    if wish is None:
        raise WishNotAllowed(wish_id)
    if wish.status != life.SUBMITTED:
        raise life.IllegalWishTransition(wish_id, wish.status, "review")
    return wish


async def awaiting_review(
    session: AsyncSession, *, reviewer: User, limit: int
) -> tuple[list[Wish], int]:
    """The ``limit`` submitted wishes that have waited longest, and how many wait in all
    (a reviewer's /review)."""
    _require(reviewer, ROLE_REVIEWER)
    waiting = Wish.status == life.SUBMITTED
    total = await session.scalar(select(func.count(Wish.id)).where(waiting))
    found = await session.scalars(
        select(Wish).where(waiting).order_by(Wish.submitted_at, Wish.id).limit(limit)
    )
    return list(found), int(total or 0)


async def open_for_review(
    session: AsyncSession,
    *,
    wish_id: int,
    reviewer: User,
    chat_id: int,
    value_cap: int,
    now: datetime,
) -> tuple[Wish, Checklist]:
    """A submitted wish and its checklist, for a reviewer who asked to see its card
    there and then; the showing is logged as a review card sent by the bot is."""
    wish = await reviewable(session, wish_id=wish_id, reviewer=reviewer)
    await access_log.record(
        session,
        viewer_chat_id=chat_id,
        viewer_user_id=reviewer.id,
        subject_user_id=wish.user_id,
        item=("wish", wish.id),
        purpose=access_log.WISH_REVIEW,
        fields=review_fields(wish),
        now=now,
    )
    return wish, await checklist(session, wish, value_cap=value_cap)


async def withdraw(session: AsyncSession, *, wish_id: int, user: User, now: datetime) -> Wish:
    """The young person withdraws the wish (until it is claimed)."""
    wish = await own(session, wish_id=wish_id, user=user)
    life.fire(wish, "withdraw", actor=actor(user), now=now)
    wish.closed_at = now
    return await _saved(session, wish, "withdraw")


# What became of the young person's "withdraw".
WITHDRAWN = "withdrawn"  # not yet claimed: withdrawn at once
ASKED = "asked"  # claimed: its claimer is asked now
STILL_ASKED = "still_asked"  # claimed, and the claimer was asked already: nothing new
KEPT = "kept"  # claimed, and the claimer already answered that they keep it


@dataclass(frozen=True)
class Withdrawal:
    """The outcome of the owner's "withdraw" (one of the constants above); ``request`` is
    the request to the claimer, for all but :data:`WITHDRAWN`."""

    wish: Wish
    outcome: str
    request: life.WithdrawRequest | None = None


async def _locked(session: AsyncSession, wish_id: int) -> Wish | None:
    """The wish, read again after :func:`~storage.db.lock_for_writing` (SQLite: this
    session holds the write lock from now on) under a row lock (PostgreSQL): two answers
    to one request, or a request and the sweep, wait for each other, and what is read is
    what the last of them committed."""
    await lock_for_writing(session)
    return await session.scalar(
        select(Wish)
        .where(Wish.id == wish_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def withdraw_or_ask(
    session: AsyncSession, *, wish_id: int, user: User, now: datetime
) -> Withdrawal:
    """The young person's "withdraw": until the wish is claimed it is withdrawn; once
    claimed, its claimer is asked to let it go (they may have bought it already), once
    per claim. Raises :class:`WishNotAllowed` or
    :class:`~bot.services.wish_lifecycle.IllegalWishTransition` (fulfilled, closed…)."""
    # Read under the lock before anything is decided: the sweep may have released the
    # claim a moment ago (then it is withdrawn at once), or be about to (then it waits).
    wish = await _locked(session, wish_id)
    if wish is None or wish.user_id != user.id:
        raise WishNotAllowed(wish_id)
    if wish.status != life.CLAIMED:
        return Withdrawal(await withdraw(session, wish_id=wish_id, user=user, now=now), WITHDRAWN)
    request = life.withdraw_request(wish)
    if request is not None:  # a second press: the claimer is not asked twice
        return Withdrawal(wish, STILL_ASKED if request.pending else KEPT, request)
    life.fire(wish, "ask_withdraw", actor=actor(user), now=now)
    await _saved(session, wish, "ask_withdraw")
    request = life.withdraw_request(wish)
    assert request is not None
    return Withdrawal(wish, ASKED, request)


async def answer_withdraw_request(
    session: AsyncSession,
    *,
    wish_id: int,
    request_id: int,
    user: User,
    agree: bool,
    now: datetime,
) -> Wish:
    """The claimer answers the owner's request ``request_id`` (the ``ask_withdraw``
    event's id) to withdraw the wish: agreed, it is withdrawn (recorded as theirs, noting
    that the young person asked); kept, it stays claimed and its idle clock starts again
    (the claimer is on it). Whoever holds the wish when the answer comes answers it.

    Raises :class:`WishGone` (no such wish), :class:`RequestAnswered` (not the request
    waiting now) or :class:`WishNotAllowed` (not its holder)."""
    wish = await _locked(session, wish_id)
    if wish is None:
        raise WishGone(wish_id)
    request = life.withdraw_request(wish)
    if request is None or not request.pending or request.asked.id != request_id:
        raise RequestAnswered(wish_id)
    await _claimed_by(session, wish_id=wish_id, user=user)
    if agree:
        life.fire(wish, "agree_withdraw", actor=actor(user), now=now, note=life.WITHDRAWN_ASKED)
        wish.closed_at = now
    else:
        life.fire(wish, "keep", actor=actor(user), now=now)
        wish.progress_at, wish.claim_reminded = now, False
    return await _saved(session, wish, "agree_withdraw" if agree else "keep")


def _open_claims_of(user: User) -> Select[Any]:
    return select(func.count(Wish.id)).where(
        Wish.claimer_user_id == user.id, Wish.status.in_(life.OPEN_CLAIMS)
    )


async def open_claims(session: AsyncSession, user: User) -> int:
    """How many wishes ``user`` has claimed and not yet fulfilled."""
    return int(await session.scalar(_open_claims_of(user)) or 0)


async def claim(
    session: AsyncSession, *, wish_id: int, user: User, now: datetime, limit: int
) -> Wish:
    """Claim a published wish: cadres and donors, at most ``limit`` open claims each.

    One conditional UPDATE decides between two people pressing claim at once, and it
    counts the claimer's open claims itself: the same person claiming two wishes at once
    (two chats, two instances) cannot slip past the limit. On PostgreSQL the claimer's
    row is locked first, so the second claim's count sees the first; SQLite counts under
    its write lock anyway.
    """
    if not may_claim(user):
        raise WishNotAllowed(wish_id)
    await session.execute(select(User.id).where(User.id == user.id).with_for_update())
    held = _open_claims_of(user).scalar_subquery()
    won = await session.execute(
        update(Wish)
        .where(Wish.id == wish_id, Wish.status == life.APPROVED, held < limit)
        .values(
            version=Wish.version + 1,
            status=life.CLAIMED,
            claimer_user_id=user.id,
            claimed_at=now,
            progress_at=now,
            claim_reminded=False,
        )
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1 and await open_claims(session, user) >= limit:  # type: ignore[attr-defined]
        raise ClaimLimitReached(limit)
    wish = await session.get(Wish, wish_id, populate_existing=True)
    if wish is None:
        raise WishGone(wish_id)
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise life.IllegalWishTransition(wish.id, wish.status, "claim")
    wish.events.append(
        life.WishEvent(
            wish_id=wish.id,
            trigger="claim",
            from_state=life.APPROVED,
            to_state=life.CLAIMED,
            actor=actor(user),
            note="",
            created_at=now,
        )
    )
    await _prompts_stale(session, wish)
    # The claimer is shown the whole (masked) wish to fulfil it: logged.
    await access_log.record(
        session,
        viewer_chat_id=user.telegram_id,
        viewer_user_id=user.id,
        subject_user_id=wish.user_id,
        item=("wish", wish.id),
        purpose=access_log.WISH_CLAIM,
        fields=CLAIM_FIELDS,
        now=now,
    )
    return wish


def may_claim(user: User) -> bool:
    """Whether ``user`` may take on wishes (and keep those taken): a cadre, a donor or an
    admin. Someone who has lost those roles (``voy cadre remove``, an org reload) may not."""
    return any(user.has_role(role) for role in (ROLE_CADRE, ROLE_DONOR, ROLE_ADMIN))


async def _claimed_by(session: AsyncSession, *, wish_id: int, user: User) -> Wish:
    wish = await session.get(Wish, wish_id)
    holder = wish is not None and wish.claimer_user_id == user.id and may_claim(user)
    if wish is None or not (holder or user.has_role(ROLE_ADMIN)):
        raise WishNotAllowed(wish_id)
    return wish


async def fulfilment_due(session: AsyncSession, *, wish_id: int, user: User) -> Wish:
    """The wish, if ``user`` holds it and it waits to be delivered (claimed, or disputed
    and so to be delivered again): checked when "fulfilled" is pressed, before the proof
    is asked for. Raises :class:`WishNotAllowed` or
    :class:`~bot.services.wish_lifecycle.IllegalWishTransition`."""
    wish = await _claimed_by(session, wish_id=wish_id, user=user)
    if not life.MACHINE.get_transitions(trigger="fulfil", source=wish.status):
        raise life.IllegalWishTransition(wish.id, wish.status, "fulfil")
    return wish


async def fulfil(
    session: AsyncSession,
    *,
    wish_id: int,
    user: User,
    proof_text: str | None,
    proof_file_id: str | None,
    now: datetime,
    album: str | None = None,
) -> Wish:
    """The claimer reports the wish fulfilled, with a note or a photo as proof (the first
    of ``album``, whose other photos follow as more proof: :func:`album_proof_of`)."""
    wish = await _claimed_by(session, wish_id=wish_id, user=user)
    note = f"{_ALBUM_NOTE}{album}" if album and proof_file_id else ""
    life.fire(wish, "fulfil", actor=actor(user), now=now, note=note)
    wish.proof_text, wish.proof_file_id = proof_text, proof_file_id
    wish.fulfilled_at, wish.confirm_reminded = now, False  # delivered again after a dispute
    return await _saved(session, wish, "fulfil")


# The other photos of an album sent as proof arrive as updates of their own, within
# seconds of the first (which was taken as the proof).
ALBUM_WINDOW = timedelta(minutes=10)


# The ``fulfil`` event of a proof that was the first photo of an album names the album.
_ALBUM_NOTE = "album:"


async def album_proof_of(
    session: AsyncSession, *, user: User, album: str, now: datetime
) -> Wish | None:
    """The wish ``user`` has just reported fulfilled (within :data:`ALBUM_WINDOW`) with
    the first photo of ``album``, if any: the album's other photos are more of its proof."""
    return await session.scalar(
        select(Wish)
        .join(WishEvent, WishEvent.wish_id == Wish.id)
        .where(
            Wish.claimer_user_id == user.id,
            Wish.status == life.FULFILLED,
            WishEvent.trigger == "fulfil",
            WishEvent.note == f"{_ALBUM_NOTE}{album}"[:500],
            WishEvent.created_at >= now - ALBUM_WINDOW,
        )
        .order_by(WishEvent.id.desc())
        .limit(1)
    )


async def progress(session: AsyncSession, *, wish_id: int, user: User, now: datetime) -> Wish:
    """The claimer says they are still on it: the idle clock starts again. Not while the
    owner's request to withdraw it waits for their answer (:class:`RequestWaiting`): a
    claimer pressing this instead of answering would keep the young person waiting for
    as long as they liked, the claim never idle."""
    wish = await _claimed_by(session, wish_id=wish_id, user=user)
    request = life.withdraw_request(wish)
    if request is not None and request.pending:
        raise RequestWaiting(wish.id, request)
    life.fire(wish, "progress", actor=actor(user), now=now)
    wish.progress_at, wish.claim_reminded = now, False
    return await _saved(session, wish, "progress")


async def respond(
    session: AsyncSession, *, wish_id: int, user: User, received: bool, now: datetime
) -> Wish:
    """The recipient confirms receipt (the wish closes) or says it did not arrive."""
    wish = await own(session, wish_id=wish_id, user=user)
    if received:
        life.fire(wish, "confirm", actor=actor(user), now=now)
        life.fire(wish, "close", actor="system", now=now, note=life.CLOSED_RECEIVED)
        wish.closed_at = now
    else:
        life.fire(wish, "dispute", actor=actor(user), now=now)
    return await _saved(session, wish, "confirm" if received else "dispute")


async def published(
    session: AsyncSession,
    *,
    region: str | None = None,
    category: str | None = None,
    limit: int = 10,
) -> tuple[list[Wish], int]:
    """Published, unclaimed wishes, oldest first, optionally filtered: the first
    ``limit``, and how many there are in all."""
    condition = Wish.status == life.APPROVED
    if region:
        condition &= Wish.region_code.in_(await region_subtree(session, region))
    if category:
        condition &= Wish.category == category
    total = await session.scalar(select(func.count(Wish.id)).where(condition))
    found = await session.scalars(
        select(Wish).where(condition).order_by(Wish.published_at, Wish.id).limit(limit)
    )
    return list(found), int(total or 0)


async def claims_of(session: AsyncSession, user: User) -> list[Wish]:
    """The wishes ``user`` has taken on and not yet delivered (or whose delivery the
    young person disputes), oldest claim first."""
    return list(
        await session.scalars(
            select(Wish)
            .where(
                Wish.claimer_user_id == user.id,
                Wish.status.in_((life.CLAIMED, life.DISPUTED)),
            )
            .order_by(Wish.claimed_at, Wish.id)
        )
    )


async def of_user(session: AsyncSession, user: User, limit: int = 20) -> list[Wish]:
    """Everything a young person wished for, newest first."""
    return list(
        await session.scalars(
            select(Wish)
            .where(Wish.user_id == user.id)
            .order_by(Wish.submitted_at.desc())
            .limit(limit)
        )
    )


@dataclass
class WishSweep:
    """What the wish sweep found and did."""

    claim_reminders: list[Wish]
    released: list[Wish]
    # (wish, user id of the claimer it was taken from), to tell them.
    released_from: list[tuple[Wish, int]]
    confirm_reminders: list[Wish]
    auto_closed: list[Wish]  # fulfilled, receipt never confirmed
    # "Not received" and not settled in time (no new delivery): closed, everyone told.
    disputes_closed: list[Wish]
    # Submitted and still not reviewed after the reminder time: the reviewers are told.
    review_reminders: list[Wish]
    # Claimed by someone who may no longer claim (a removed cadre): back on offer.
    claimer_gone: list[Wish] = field(default_factory=list)
    # Released (idle, or the claimer gone) while the owner's request to withdraw it waited
    # for the claimer: withdrawn as asked instead of published again.
    withdrawn_as_asked: list[Wish] = field(default_factory=list)
    # Returned for edits and not resubmitted in time: withdrawn, the young person told.
    lapsed: list[Wish] = field(default_factory=list)


async def sweep(
    session: AsyncSession,
    *,
    now: datetime,
    claim_reminder_after: timedelta,
    claim_release_after: timedelta,
    confirm_reminder_after: timedelta,
    confirm_close_after: timedelta,
    review_reminder_after: timedelta,
    returned_lapse_after: timedelta,
) -> WishSweep:
    """Remind idle claimers, release claims idle too long, chase confirmations, remind
    the reviewers of submissions waiting longer than ``review_reminder_after``, and
    withdraw wishes returned for edits ``returned_lapse_after`` ago and not resubmitted."""
    report = WishSweep([], [], [], [], [], [], [])
    returned_at = (
        select(func.max(WishEvent.created_at))
        .where(WishEvent.wish_id == Wish.id, WishEvent.trigger == "return_for_edits")
        .scalar_subquery()
    )
    for wish, owner_chat in (
        await session.execute(
            select(Wish, User.telegram_id)
            .join(User, User.id == Wish.user_id)
            .where(Wish.status == life.RETURNED, returned_at <= now - returned_lapse_after)
            .with_for_update(of=Wish, skip_locked=True)
        )
    ).all():
        draft = await session.get(Conversation, owner_chat)
        if draft is not None and (draft.data.get("fields") or {}).get("wish_id") == wish.id:
            continue  # being changed right now: it waits for the draft (which expires)
        life.fire(wish, "withdraw", actor="system", now=now, note=life.WITHDRAWN_LAPSED)
        await _prompts_stale(session, wish)
        report.lapsed.append(wish)
    # Claims held by someone who may no longer claim go back on offer at once, a disputed
    # delivery too (nobody else could deliver it again).
    for wish, claimer in (
        await session.execute(
            select(Wish, User)
            .join(User, User.id == Wish.claimer_user_id)
            .where(Wish.status.in_((life.CLAIMED, life.DISPUTED)))
            .with_for_update(of=Wish, skip_locked=True)
        )
    ).all():
        if not may_claim(claimer):
            if _release(wish, note="claimer no longer a cadre", now=now):
                report.withdrawn_as_asked.append(wish)
            else:
                report.claimer_gone.append(wish)
            await _prompts_stale(session, wish)
    for wish in list(
        await session.scalars(
            select(Wish)
            .where(review_overdue(now, review_reminder_after), Wish.review_reminded.is_(False))
            .order_by(Wish.submitted_at)
            .with_for_update(skip_locked=True)
        )
    ):
        wish.review_reminded = True
        report.review_reminders.append(wish)
    for wish in list(
        await session.scalars(
            select(Wish)
            .where(Wish.status == life.CLAIMED, Wish.progress_at <= now - claim_reminder_after)
            .with_for_update(skip_locked=True)
        )
    ):
        assert wish.progress_at is not None
        if wish.progress_at <= now - claim_release_after:
            if wish.claimer_user_id is not None:
                report.released_from.append((wish, wish.claimer_user_id))
            if _release(wish, note="no progress", now=now):
                report.withdrawn_as_asked.append(wish)
            else:
                report.released.append(wish)
            await _prompts_stale(session, wish)
        elif not wish.claim_reminded:
            wish.claim_reminded = True
            report.claim_reminders.append(wish)
    for wish in list(
        await session.scalars(
            select(Wish)
            .where(
                Wish.status.in_((life.FULFILLED, life.DISPUTED)),
                Wish.fulfilled_at <= now - confirm_reminder_after,
            )
            .with_for_update(skip_locked=True)
        )
    ):
        assert wish.fulfilled_at is not None
        if wish.status == life.DISPUTED:
            if _dispute_clock(wish) <= now - confirm_close_after:
                # Nobody settled the dispute in time (counted from "not received", or the
                # claimer's last "still working on it"): close it, and tell everyone.
                life.fire(wish, "close", actor="system", now=now, note=life.CLOSED_UNSETTLED)
                wish.closed_at = now
                await _prompts_stale(session, wish)
                report.disputes_closed.append(wish)
            continue
        if wish.fulfilled_at <= now - confirm_close_after:
            life.fire(wish, "close", actor="system", now=now, note=life.CLOSED_UNCONFIRMED)
            wish.closed_at = now
            await _prompts_stale(session, wish)
            report.auto_closed.append(wish)
        elif not wish.confirm_reminded:
            wish.confirm_reminded = True
            report.confirm_reminders.append(wish)
    return report


def _release(wish: Wish, *, note: str, now: datetime) -> bool:
    """Take the claim off ``wish``; if its owner asked to withdraw it under this claim,
    withdraw it as asked rather than publish it again: nobody holds it to say otherwise
    (a claimer who answered "keep" and then let the claim lapse no longer does). Return
    whether it was withdrawn."""
    request = life.withdraw_request(wish)
    life.fire(wish, "release", actor="system", now=now, note=note)
    wish.claimer_user_id, wish.claimed_at, wish.progress_at = None, None, None
    if request is None:
        return False
    life.fire(wish, "withdraw", actor="system", now=now, note=life.WITHDRAWN_ASKED)
    wish.closed_at = now
    return True


def _dispute_clock(wish: Wish) -> datetime:
    """Since when a disputed wish has waited to be settled: the young person's "not
    received", or the claimer's latest "still working on it" after it."""
    moments = [e.created_at for e in wish.events if e.trigger in ("dispute", "progress")]
    assert wish.fulfilled_at is not None
    return max([wish.fulfilled_at, *moments])


def review_overdue(now: datetime, after: timedelta) -> ColumnElement[bool]:
    """Submitted ``after`` ago or more and not decided on (the sweep and the digest)."""
    return (Wish.status == life.SUBMITTED) & (Wish.submitted_at <= now - after)


def unclaimed(now: datetime, after: timedelta) -> ColumnElement[bool]:
    """On offer, unclaimed for ``after`` or more: since it was published, or since the
    last claim on it was released (the sweep and the digest)."""
    released_since = (
        select(WishEvent.id)
        .where(
            WishEvent.wish_id == Wish.id,
            WishEvent.trigger == "release",
            WishEvent.created_at > now - after,
        )
        .exists()
    )
    return (Wish.status == life.APPROVED) & (Wish.published_at <= now - after) & ~released_since


async def unclaimed_for_too_long(
    session: AsyncSession, *, now: datetime, after: timedelta
) -> list[Wish]:
    """Published wishes nobody claimed within ``after`` (flagged in the weekly digest)."""
    return list(
        await session.scalars(
            select(Wish).where(unclaimed(now, after)).order_by(Wish.published_at)
        )
    )
