"""``/forget``: erase a person's personal data, keeping only anonymous counts.

Rows stay (state, timestamps, region, topic, ticket numbers), so the digest's weekly
counts do not change; every text the person wrote or was sent, their name, language and
Telegram id go. Open questions and wishes are withdrawn with a system event, and whoever
holds them is told (the caller schedules that from :class:`ForgetReport`). Everything
happens in the caller's session: one transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, delete, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import SUPPORTED_LOCALES
from bot.i18n import translator
from bot.services import inbox, lifecycle, org
from bot.services import wish_lifecycle as wish_life
from bot.services.data_rights import PURGED, forgotten_telegram_id
from bot.services.digest import DIGEST_KIND, EXAMPLE_LABELS, GAP_EXAMPLE_CUT, GAP_REASONS
from bot.services.privacy import MASK_KINDS, mask_personal_data
from bot.services.promotion import PROMOTED_PREFIX
from knowledge import store
from storage.broadcasts import AnnouncementPreference, Subscription
from storage.db import insert_for, lock_for_writing
from storage.faq import FaqEntry, FaqPhrasing, FaqRevision, MatchLog
from storage.models import INBOUND_HANDLED, Cadre, InboundMessage, User
from storage.outbox import STATE_CANCELLED, STATE_PENDING, OutboxMessage
from storage.privacy import Erasure
from storage.questions import Conversation, Question
from storage.wishes import Wish

_log = logging.getLogger(__name__)

NOTE = "owner asked to be forgotten"
# Wish events whose note is free text someone typed (a reviewer's reason).
_FREE_TEXT_TRIGGERS = ("return_for_edits", "reject", "approve")


class StaffAccount(Exception):
    """Staff accounts are managed by the committee, not erased from the chat."""


@dataclass(frozen=True)
class Holder:
    """Someone holding an item the person withdrew, to be told (no personal data)."""

    chat_id: int
    recipient_user_id: int | None
    item_kind: str  # "question" or "wish"
    item_id: int


@dataclass
class Preview:
    """What /forget would do, for the confirmation."""

    questions: int
    open_questions: int
    wishes: int
    open_wishes: int


@dataclass
class ForgetReport:
    """What was erased and whom to tell."""

    questions: int = 0
    wishes: int = 0
    holders: list[Holder] = field(default_factory=list)


def _check(user: User) -> None:
    if user.roles:
        raise StaffAccount(user.id)


async def preview(session: AsyncSession, *, user: User) -> Preview:
    """Count what the person has, for the confirmation text; refuses staff accounts."""
    _check(user)
    statuses = list(
        await session.scalars(select(Question.status).where(Question.user_id == user.id))
    )
    wish_statuses = list(await session.scalars(select(Wish.status).where(Wish.user_id == user.id)))
    return Preview(
        questions=len(statuses),
        open_questions=sum(s in lifecycle.OPEN for s in statuses),
        wishes=len(wish_statuses),
        open_wishes=sum(s in wish_life.OPEN for s in wish_statuses),
    )


def erasure_key(telegram_id: int, secret: str) -> str:
    """The key an erasure is recorded under: HMAC-SHA256 of the Telegram id under the
    pseudonym secret, in hex (the id cannot be read back from it without the secret)."""
    return hmac.new(secret.encode(), f"erased:{telegram_id}".encode(), hashlib.sha256).hexdigest()


def secret_check(secret: str) -> str:
    """Eight hex characters that tell which secret keys were made under (not the secret):
    keys of another secret name nobody, so applying them would quietly do nothing."""
    return hmac.new(secret.encode(), b"erasure-check", hashlib.sha256).hexdigest()[:8]


@dataclass(frozen=True)
class Recorded:
    """One erasure as kept outside the database: its key, when it was made, and which
    secret it was made under (:func:`secret_check`)."""

    key: str
    at: datetime
    check: str


def erasure_line(recorded: Recorded) -> str:
    """An erasure as exported and logged: key, time (ISO 8601, UTC) and secret check."""
    at = recorded.at.astimezone(UTC).isoformat(timespec="microseconds")
    return f"{recorded.key} {at} {recorded.check}"


async def _record(session: AsyncSession, recorded: Recorded) -> bool:
    """Keep ``recorded`` in the database (the latest time per key); True if it was new."""
    insert = insert_for(session)
    added = await session.execute(
        insert(Erasure)
        .values(key=recorded.key, forgotten_at=recorded.at, secret_check=recorded.check)
        .on_conflict_do_nothing(index_elements=[Erasure.key])
    )
    if added.rowcount == 1:  # type: ignore[attr-defined]
        return True
    await session.execute(
        update(Erasure)
        .where(Erasure.key == recorded.key, Erasure.forgotten_at < recorded.at)
        .values(forgotten_at=recorded.at)
        .execution_options(synchronize_session=False)
    )
    return False


async def forget(
    session: AsyncSession,
    *,
    user: User,
    now: datetime,
    default_locale: str,
    secret: str,
    erased_at: datetime | None = None,
) -> ForgetReport:
    """Erase ``user``'s personal data (flushed, committed by the caller), and record the
    erasure under :func:`erasure_key` (``secret``: the pseudonym secret), in the database
    and in the log, so that it can be applied again after a restore (:func:`reapply`);
    ``erased_at``: the erasure being applied again, when it was first made (``now`` for a
    new one).

    Raises:
        StaffAccount: the user holds a staff role.
    """
    _check(user)
    report = ForgetReport()
    me, tg, ghost = user.id, user.telegram_id, forgotten_telegram_id(user.id)
    recorded = Recorded(erasure_key(tg, secret), erased_at or now, secret_check(secret))
    await _record(session, recorded)
    _log.info("erasure recorded: %s", erasure_line(recorded))
    quoted = await _quoted_forms(session, user_id=me)  # before their texts go
    question_ids = set(await session.scalars(select(Question.id).where(Question.user_id == me)))
    wish_ids = set(await session.scalars(select(Wish.id).where(Wish.user_id == me)))
    await _questions(session, user_id=me, now=now, report=report)
    await _wishes(session, user_id=me, now=now, report=report)
    await _match_log(session, user_id=me, telegram_id=tg, ghost=ghost)
    await _phrasings(session, user_id=me)
    await _outbox(session, user_id=me, telegram_id=tg, ghost=ghost)
    await _inbound(session, telegram_id=tg, ghost=ghost)
    await _quoting_unhandled(session, telegram_id=tg, questions=question_ids, wishes=wish_ids)
    await _digests(session, quoted)
    await session.execute(delete(Conversation).where(Conversation.chat_id == tg))
    await session.execute(delete(Subscription).where(Subscription.user_id == me))
    await session.execute(
        delete(AnnouncementPreference).where(AnnouncementPreference.user_id == me)
    )
    user.first_name, user.language_code, user.locale = "", None, default_locale
    user.roles, user.unreachable_at = [], None
    user.telegram_id, user.forgotten_at = ghost, now
    await session.flush()
    return report


@dataclass
class Reapplied:
    """What :func:`reapply` did."""

    # People back from a restored backup, erased again.
    erased: list[ForgetReport] = field(default_factory=list)
    # Erasures added to the database's record (it lacked them: made after the backup).
    recorded: int = 0
    # Users a key names who first wrote after that erasure (they came back): kept.
    returned: int = 0
    # Users a key names who hold a staff role now: not erased (the committee decides).
    staff: list[int] = field(default_factory=list)


async def reapply(
    session: AsyncSession,
    *,
    erasures: Collection[Recorded],
    now: datetime,
    default_locale: str,
    secret: str,
) -> Reapplied:
    """Apply recorded erasures again (after a restore): every person whose Telegram id
    gives a key, and whose row is from before that erasure, is erased again (a person
    who came back afterwards is a new user and stays); every erasure is recorded."""
    latest: dict[str, datetime] = {}
    for item in erasures:
        latest[item.key] = max(item.at, latest.get(item.key, item.at))
    done = Reapplied()
    check = secret_check(secret)
    for key, at in sorted(latest.items()):
        done.recorded += await _record(session, Recorded(key, at, check))
    people = await session.execute(
        select(User.id, User.telegram_id, User.created_at)
        .where(User.forgotten_at.is_(None))
        .order_by(User.id)
    )
    named = []
    for user_id, telegram_id, created_at in people:
        erased_at = latest.get(erasure_key(telegram_id, secret))
        if erased_at is None:
            continue
        if created_at > erased_at:
            done.returned += 1
            continue
        named.append(user_id)
    for user_id in named:
        user = await session.get(User, user_id)
        assert user is not None  # read in this transaction
        try:
            erased_at = latest[erasure_key(user.telegram_id, secret)]
            report = await forget(
                session,
                user=user,
                now=now,
                default_locale=default_locale,
                secret=secret,
                erased_at=erased_at,
            )
        except StaffAccount:
            done.staff.append(user.id)
            continue
        done.erased.append(report)
    return done


def _theirs_locked(model: type[Question] | type[Wish], user_id: int) -> Any:
    """Select ``user_id``'s rows of ``model`` locked (``FOR UPDATE``) and freshly loaded."""
    return (
        select(model)
        .where(model.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _questions(
    session: AsyncSession, *, user_id: int, now: datetime, report: ForgetReport
) -> None:
    committee = await org.get_setting(session, "committee_chat_id")
    # Locked, as every change to a question is (questions.get): a cadre's answer being
    # written at this moment is waited for and erased too, not written in after.
    await lock_for_writing(session)
    for question in await session.scalars(_theirs_locked(Question, user_id)):
        report.questions += 1
        if question.status in lifecycle.OPEN:
            cadre = (
                await session.get(Cadre, question.assigned_cadre_id)
                if question.assigned_cadre_id
                else None
            )
            if cadre is not None:
                report.holders.append(
                    Holder(cadre.telegram_id, cadre.telegram_id, "question", question.id)
                )
            elif question.status == lifecycle.ROUTED and committee is not None:
                report.holders.append(Holder(int(committee), None, "question", question.id))
            lifecycle.fire(question, "withdraw", actor="system", now=now, note=NOTE)
        question.text, question.identity_shared = PURGED, False
        for message in question.thread:
            message.text = PURGED


async def _wishes(
    session: AsyncSession, *, user_id: int, now: datetime, report: ForgetReport
) -> None:
    for wish in await session.scalars(_theirs_locked(Wish, user_id)):
        report.wishes += 1
        claimer = wish.claimer_user_id
        trigger = {
            wish_life.SUBMITTED: "withdraw",
            wish_life.RETURNED: "withdraw",
            wish_life.APPROVED: "withdraw",
            wish_life.CLAIMED: "owner_left",
            wish_life.FULFILLED: "close",
            wish_life.DISPUTED: "close",
        }.get(wish.status)
        if trigger is not None:
            wish_life.fire(wish, trigger, actor="system", now=now, note=NOTE)
            wish.closed_at = now
            person = await session.get(User, claimer) if claimer is not None else None
            if person is not None:
                report.holders.append(
                    Holder(person.telegram_id, person.telegram_id, "wish", wish.id)
                )
        wish.text, wish.photo_file_id, wish.relation, wish.place = PURGED, None, None, None
        wish.reason = PURGED if wish.reason else None
        wish.proof_text = PURGED if wish.proof_text else None
        wish.proof_file_id = None
        for event in wish.events:
            if event.trigger in _FREE_TEXT_TRIGGERS and event.note:
                event.note = PURGED
            event.telegram_user_id = None
    await session.flush()


async def _match_log(session: AsyncSession, *, user_id: int, telegram_id: int, ghost: int) -> None:
    own_questions = select(Question.id).where(Question.user_id == user_id)
    await session.execute(
        update(MatchLog)
        .where(
            or_(MatchLog.telegram_user_id == telegram_id, MatchLog.question_id.in_(own_questions))
        )
        .values(query=PURGED, telegram_user_id=ghost)
        .execution_options(synchronize_session=False)
    )


async def learned_phrasings(
    session: AsyncSession, *, user_id: int, own: set[int] | None = None
) -> list[FaqPhrasing]:
    """The FAQ phrasings in the person's words: learned from a suggestion they chose
    (``user:{id}``), or added by a cadre from one of their questions (``…:q{id}``; ``own``
    their question ids, looked up if not given). /forget deletes them; /mydata lists them.
    """
    if own is None:
        own = set(await session.scalars(select(Question.id).where(Question.user_id == user_id)))
    learned = await session.scalars(
        select(FaqPhrasing)
        .where(
            or_(
                FaqPhrasing.created_by == f"user:{user_id}",
                FaqPhrasing.created_by.contains(":q"),
            )
        )
        .order_by(FaqPhrasing.id)
    )
    return [p for p in learned if p.created_by == f"user:{user_id}" or source_question(p) in own]


async def _phrasings(session: AsyncSession, *, user_id: int) -> None:
    """The person's wording leaves the FAQ and its history.

    That is phrasings learned from their own choices (``user:{id}``) and phrasings a cadre
    added from one of their questions (``…:q{question id}``, see
    :func:`bot.services.promotion.promote`). An entry a cadre made from their question
    (``cadre-q{id}``) keeps the cadre's answer, which is the committee's knowledge, but
    its question (their wording) becomes ``⊘`` and the entry is switched off until the
    committee words the question anew.
    """
    own = set(await session.scalars(select(Question.id).where(Question.user_id == user_id)))
    learned = await learned_phrasings(session, user_id=user_id, own=own)
    promoted = list(
        await session.scalars(
            select(FaqEntry).where(FaqEntry.slug.in_([f"{PROMOTED_PREFIX}{q}" for q in own]))
        )
    )
    if not learned and not promoted:
        return
    texts = {p.text for p in learned}
    entry_ids = {p.entry_id for p in learned} | {e.id for e in promoted}
    for phrasing in learned:
        await session.delete(phrasing)
    for entry in promoted:
        first = await session.scalar(
            select(FaqRevision)
            .where(FaqRevision.entry_id == entry.id)
            .order_by(FaqRevision.version, FaqRevision.id)
            .limit(1)
        )
        wording = (first.snapshot or {}).get("question") if first is not None else None
        texts |= {wording or entry.question}
        if entry.question in texts:  # not reworded by the committee since
            entry.question, entry.active = PURGED, False
    for revision in await session.scalars(
        select(FaqRevision).where(FaqRevision.entry_id.in_(entry_ids))
    ):
        snapshot = dict(revision.snapshot or {})
        alternatives = list(snapshot.get("alt_questions") or [])
        if snapshot.get("question") in texts or any(text in texts for text in alternatives):
            if snapshot.get("question") in texts:
                snapshot["question"] = PURGED
            snapshot["alt_questions"] = [PURGED if t in texts else t for t in alternatives]
            revision.snapshot = snapshot  # a new dict, so the change is seen
    await store.bump_version(session)  # running indexes drop the phrasings too


def source_question(phrasing: FaqPhrasing) -> int | None:
    """The question a promoted phrasing came from (``…:q{id}``), if any."""
    _, _, tail = phrasing.created_by.rpartition(":q")
    return int(tail) if tail.isdigit() else None


async def _outbox(session: AsyncSession, *, user_id: int, telegram_id: int, ghost: int) -> None:
    """Cancel what is still to be sent about the person; blank what was."""
    to_them = or_(
        OutboxMessage.recipient_user_id == telegram_id, OutboxMessage.chat_id == telegram_id
    )
    about_them = or_(
        (OutboxMessage.ref_type == "question")
        & OutboxMessage.ref_id.in_(select(Question.id).where(Question.user_id == user_id)),
        (OutboxMessage.ref_type == "wish")
        & OutboxMessage.ref_id.in_(select(Wish.id).where(Wish.user_id == user_id)),
    )
    quiet = {"synchronize_session": False}
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.state == STATE_PENDING, or_(to_them, about_them))
        .values(state=STATE_CANCELLED, lease_until=None)
        .execution_options(**quiet)
    )
    await session.execute(
        update(OutboxMessage)
        .where(about_them)
        .values(text=PURGED, reply_markup=None, attachment=None, file_id=None)
        .execution_options(**quiet)
    )
    await session.execute(
        update(OutboxMessage)
        .where(to_them)
        .values(
            text=PURGED,
            reply_markup=None,
            attachment=None,
            file_id=None,
            chat_id=ghost,
            recipient_user_id=ghost,
        )
        .execution_options(**quiet)
    )
    # Dedupe keys may name their chat (``wish_draft:{chat_id}:…``): the id becomes the
    # placeholder there too. Only a whole ``:``-separated part is the id.
    number = str(telegram_id)
    keyed = await session.execute(
        select(OutboxMessage.id, OutboxMessage.dedupe_key).where(
            OutboxMessage.dedupe_key.contains(number)
        )
    )
    for row_id, key in keyed.all():
        parts = key.split(":")
        if number in parts:
            renamed = ":".join(str(ghost) if part == number else part for part in parts)
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id)
                .values(dedupe_key=renamed)
                .execution_options(**quiet)
            )


async def _inbound(session: AsyncSession, *, telegram_id: int, ghost: int) -> None:
    """Everything they sent loses its text, raw update and ids; the row (a count) stays.

    The fingerprint loses its chat id but keeps the update's id, message id and date, so
    an update Telegram re-sends after the erasure is still seen as a duplicate (and does
    not bring the person's name back).
    """
    theirs = or_(
        InboundMessage.telegram_user_id == telegram_id, InboundMessage.chat_id == telegram_id
    )
    rows = (
        await session.execute(select(InboundMessage.id, InboundMessage.fingerprint).where(theirs))
    ).all()
    for row_id, key in rows:
        await session.execute(
            update(InboundMessage)
            .where(InboundMessage.id == row_id)
            .values(fingerprint=inbox.anonymous_fingerprint(key))
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        update(InboundMessage)
        .where(theirs)
        .values(
            text=None,
            payload={},
            error=case((InboundMessage.error.is_(None), None), else_=literal(PURGED)),
            telegram_user_id=ghost,
            chat_id=ghost,
        )
        .execution_options(synchronize_session=False)
    )


async def _quoted_forms(session: AsyncSession, *, user_id: int) -> set[tuple[str, str]]:
    """How the weekly digest may quote the person's questions, and what replaces each: an
    FAQ gap's example is the masked text cut short, HTML-escaped, in any catalog's mask
    labels, between that catalog's quotation marks. The marks go with it, so a short
    question ("团员") matches only an example that is all of it, not a word in another."""
    texts = list(
        await session.scalars(
            select(Question.text).where(
                Question.user_id == user_id, Question.reason.in_(GAP_REASONS)
            )
        )
    )
    forms: set[tuple[str, str]] = set()
    if not texts:
        return forms
    for locale in SUPPORTED_LOCALES:
        tr = translator(locale)
        kinds = {kind: tr.plain(f"mask.{kind}") for kind in MASK_KINDS}
        line = tr("digest.gap_line", n=0, first="\x00", second="\x01")
        marks = [(line[line.index(m) - 1], line[line.index(m) + 1]) for m in "\x00\x01"]
        for text in texts:
            shown = mask_personal_data(mask_personal_data(text, EXAMPLE_LABELS), kinds)
            form = html.escape(shown[:GAP_EXAMPLE_CUT], quote=False)
            if form.strip():
                forms |= {(f"{a}{form}{b}", f"{a}{PURGED}{b}") for a, b in marks}
    return forms


async def _digests(session: AsyncSession, forms: set[tuple[str, str]]) -> None:
    """The person's words quoted in a weekly digest, sent or to be sent, become the
    placeholder there (the digest's figures stay)."""
    if not forms:
        return
    rows = (
        await session.execute(
            select(OutboxMessage.id, OutboxMessage.text).where(OutboxMessage.kind == DIGEST_KIND)
        )
    ).all()
    for row_id, text in rows:
        blanked = text or ""
        for form, placeholder in sorted(forms, key=lambda f: len(f[0]), reverse=True):
            blanked = blanked.replace(form, placeholder)
        if blanked != text:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id)
                .values(text=blanked)
                .execution_options(synchronize_session=False)
            )


# How a staff card or notice names a question or a wish: "#12", "W7".
_QUESTION_REF = re.compile(r"#(\d+)")
_WISH_REF = re.compile(r"\bW(\d+)")


async def _quoting_unhandled(
    session: AsyncSession, *, telegram_id: int, questions: set[int], wishes: set[int]
) -> None:
    """Someone else's update not yet handled (failed, or in hand) that quotes a card about
    the person's question or wish (a reply to it, a press under it) keeps the card's text
    in its stored form: that text goes. (A handled update keeps no quoted text at all:
    ``inbox.unquoted``.)"""
    if not questions and not wishes:
        return
    rows = (
        await session.execute(
            select(InboundMessage.id, InboundMessage.payload).where(
                InboundMessage.status != INBOUND_HANDLED,
                InboundMessage.telegram_user_id != telegram_id,
            )
        )
    ).all()
    for row_id, payload in rows:
        quoted = inbox.quoted_texts(payload or {})
        named_q = {int(n) for text in quoted for n in _QUESTION_REF.findall(text)}
        named_w = {int(n) for text in quoted for n in _WISH_REF.findall(text)}
        if named_q & questions or named_w & wishes:
            await session.execute(
                update(InboundMessage)
                .where(InboundMessage.id == row_id)
                .values(payload=inbox.strip_quotes(payload))
                .execution_options(synchronize_session=False)
            )
