"""The periodic sweep of the question loop: escalation after the SLA, auto-resolve.

It reads state from the database and moves questions by their lifecycle, so running it
twice (after a restart, or on two instances) changes nothing the second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import leases, notify, wish_notify
from bot.context import Services
from bot.i18n import translator
from bot.services import (
    asking,
    broadcast_drafts,
    lifecycle,
    outbox,
    questions,
    users,
    wish_drafts,
    wishes,
)
from bot.services.wish_lifecycle import APPROVED, withdraw_request
from storage.db import lock_for_writing, unit_of_work
from storage.models import Cadre, User
from storage.outbox import AUDIENCE_STAFF, AUDIENCE_YOUTH
from storage.questions import Question

_log = logging.getLogger(__name__)

# After this many escalations a question goes to the committee's pool, not another cadre.
MAX_ESCALATIONS = 2
# The lease name under which one instance at a time sweeps.
SWEEPER_LEASE = "sweeper"


@dataclass
class SweepReport:
    """What one sweep did."""

    escalated: int = 0
    # Held by a cadre who can no longer answer (removed, or blocked the bot): routed again.
    rerouted: int = 0
    # Waited in the pool past the escalation time: offered again (routed, or reminded).
    pool_reoffered: int = 0
    auto_resolved: int = 0
    # Suggestions nobody chose from in time: handed to a person.
    unchosen_routed: int = 0
    wishes_released: int = 0
    wishes_closed: int = 0
    wishes_review_reminded: int = 0
    # Returned for edits and never resubmitted: withdrawn.
    wishes_lapsed: int = 0
    drafts_expired: int = 0


async def sweep(services: Services) -> SweepReport:
    """Escalate questions past the SLA and auto-resolve long-answered ones (one session)."""
    report = SweepReport()
    async with unit_of_work(services.sessions) as session:
        # Read what to move under the write lock, so a concurrent writer (another sweep,
        # an update on the same question) cannot change it between our read and write.
        await lock_for_writing(session)
        await _unheld(session, services, report)
        await _unchosen(session, services, report)
        await _escalate(session, services, report)
        await _pool(session, services, report)
        await _auto_resolve(session, services, report)
        await _wishes(session, services, report)
        await _drafts(session, services, report)
    return report


async def _wishes(session: AsyncSession, services: Services, report: SweepReport) -> None:
    settings, now = services.settings, services.clock.now()
    found = await wishes.sweep(
        session,
        now=now,
        claim_reminder_after=timedelta(days=settings.wish_claim_reminder_days),
        claim_release_after=timedelta(days=settings.wish_claim_release_days),
        confirm_reminder_after=timedelta(days=settings.wish_confirm_reminder_days),
        confirm_close_after=timedelta(days=settings.wish_confirm_close_days),
        review_reminder_after=timedelta(hours=settings.wish_review_reminder_hours),
        returned_lapse_after=timedelta(days=settings.wish_returned_lapse_days),
    )
    for wish in found.lapsed:
        await wish_notify.to_owner(
            session,
            wish,
            key="wish.lapsed_notice",
            settings=settings,
            now=now,
            days=f"{settings.wish_returned_lapse_days:g}",
        )
    left = f"{settings.wish_claim_release_days - settings.wish_claim_reminder_days:g}"
    for wish in found.claim_reminders:
        request = withdraw_request(wish)
        if request is not None and request.pending:  # the reminder asks for that answer
            await wish_notify.withdraw_request(
                session, wish, request, settings=settings, now=now, reminder_days=left
            )
            continue
        await wish_notify.to_claimer(
            session, wish, key="wish.claim_reminder", settings=settings, now=now, days=left
        )
    for wish in found.released:
        await wish_notify.to_owner(
            session, wish, key="wish.released_notice", settings=settings, now=now
        )
    for wish in found.claimer_gone:
        await wish_notify.to_owner(
            session, wish, key="wish.claimer_gone_notice", settings=settings, now=now
        )
    for wish in found.withdrawn_as_asked:
        await wish_notify.to_owner(
            session, wish, key="wish.withdrawn_as_asked_notice", settings=settings, now=now
        )
    for wish, claimer in found.released_from:
        # Withdrawn instead of published again if its owner's request was waiting.
        key = "wish.released_claimer" if wish.status == APPROVED else "wish.released_asked_claimer"
        await wish_notify.to_user(session, wish, claimer, key=key, settings=settings, now=now)
    for wish in found.auto_closed:
        await wish_notify.to_owner(
            session, wish, key="wish.auto_closed_notice", settings=settings, now=now
        )
        if wish.claimer_user_id is not None:
            await wish_notify.to_user(
                session,
                wish,
                wish.claimer_user_id,
                key="wish.auto_closed_claimer",
                settings=settings,
                now=now,
            )
    for wish in found.disputes_closed:
        await wish_notify.to_owner(
            session, wish, key="wish.dispute_closed_notice", settings=settings, now=now
        )
        if wish.claimer_user_id is not None:
            await wish_notify.to_user(
                session,
                wish,
                wish.claimer_user_id,
                key="wish.dispute_closed_claimer",
                settings=settings,
                now=now,
            )
        await wish_notify.to_committee(
            session, wish, key="wish.dispute_closed_committee", settings=settings, now=now
        )
    for wish in found.confirm_reminders:
        await wish_notify.to_owner(
            session,
            wish,
            key="wish.confirm_reminder",
            settings=settings,
            now=now,
            markup="receipt",
        )
    for wish in found.review_reminders:
        check = await wishes.checklist(session, wish, value_cap=settings.wish_value_cap)
        told = await wish_notify.review_cards(
            session, wish, check=check, settings=settings, now=now, reminder=True
        )
        if told == 0 and not await wish_notify.review_unstaffed(
            session, wish, settings=settings, now=now
        ):
            _log.warning("wish %s waits for review and nobody can review it", wish.id)
    report.wishes_released += (
        len(found.released) + len(found.claimer_gone) + len(found.withdrawn_as_asked)
    )
    report.wishes_closed += len(found.auto_closed) + len(found.disputes_closed)
    report.wishes_lapsed += len(found.lapsed)
    report.wishes_review_reminded += len(found.review_reminders)


async def _drafts(session: AsyncSession, services: Services, report: SweepReport) -> None:
    """Remind the writer of an idle wish draft once, then delete it; cancel an idle
    broadcast draft."""
    settings, now = services.settings, services.clock.now()
    remind, expire = await wish_drafts.idle(
        session,
        now=now,
        remind_after=timedelta(hours=settings.wish_draft_reminder_hours),
        expire_after=timedelta(hours=settings.wish_draft_expiry_hours),
    )
    for row in remind:
        row.data = {**(row.data or {}), "reminded": True}
        await _draft_notice(session, services, row.chat_id, "wish.draft_reminder")
    for row in expire:
        await session.delete(row)
        await _draft_notice(session, services, row.chat_id, "wish.draft_expired")
        report.drafts_expired += 1
    # A broadcast draft left as long is cancelled too: it would otherwise hold the
    # admin's chat (a button that waits for a text refuses to replace a draft).
    expire_after = timedelta(hours=settings.wish_draft_expiry_hours)
    for chat_id in await broadcast_drafts.idle(session, now=now, after=expire_after):
        if await broadcast_drafts.cancel(session, chat_id):
            await _draft_notice(
                session, services, chat_id, "broadcast.draft_expired", AUDIENCE_STAFF
            )
            report.drafts_expired += 1
    # A draft whose chat went on to something else: cancelled as well, its author told.
    for broadcast in await broadcast_drafts.orphaned(session, now=now, after=expire_after):
        author = await session.get(User, broadcast.author_user_id or 0)
        if author is not None:
            await _draft_notice(
                session, services, author.telegram_id, "broadcast.draft_expired", AUDIENCE_STAFF
            )
        report.drafts_expired += 1


async def _draft_notice(
    session: AsyncSession,
    services: Services,
    chat_id: int,
    key: str,
    audience: str = AUDIENCE_YOUTH,
) -> None:
    settings, now = services.settings, services.clock.now()
    user = await users.get_by_telegram_id(session, chat_id)
    tr = translator(user.locale if user else settings.default_locale, settings.default_locale)
    await outbox.enqueue(
        session,
        kind="wish_draft",
        chat_id=chat_id,
        text=tr(key, hours=f"{settings.wish_draft_expiry_hours:g}"),
        due_at=now,
        dedupe_key=f"wish_draft:{chat_id}:{key}:{now:%Y%m%d%H}",
        audience=audience,
        recipient_user_id=chat_id,
    )


async def _unheld(session: AsyncSession, services: Services, report: SweepReport) -> None:
    """A question held by a cadre who can no longer answer it, removed from the org file
    or unreachable (they blocked the bot: its card or reminder bounced), is routed again
    at once, not left to the escalation: nobody would see it until then."""
    settings, now = services.settings, services.clock.now()
    held = await session.scalars(
        select(Question)
        .join(Cadre, Cadre.id == Question.assigned_cadre_id)
        .outerjoin(User, User.telegram_id == Cadre.telegram_id)
        .where(
            Question.status == lifecycle.ASSIGNED,
            Cadre.active.is_(False) | User.unreachable_at.is_not(None),
        )
        .with_for_update(of=Question, skip_locked=True)
    )
    for question in list(held):
        # Not back to anyone who held it before (an escalation took it from them), as
        # for the pool; one the SLA moved on twice already goes to the committee.
        before = questions.previous_cadres(question)
        lifecycle.fire(question, "unassign", actor="system", now=now, note="cadre cannot answer")
        question.assigned_cadre_id = None
        cadre = None
        if question.escalations < MAX_ESCALATIONS:
            assignment = await questions.route(
                session, question, reason="reassigned", now=now, tz=settings.tz, exclude=before
            )
            cadre = assignment.cadre
        await notify.resolved(session, question)  # drop the old cadre's reminder
        await _hand_on(session, services, question, cadre, header=None)
        report.rerouted += 1


async def _unchosen(session: AsyncSession, services: Services, report: SweepReport) -> None:
    """Suggestions the young person left without a choice: the question goes to a
    person, and they are told (with the helpline, as every reply that hands on does)."""
    settings, now = services.settings, services.clock.now()
    found = await asking.route_unchosen(
        session, now=now, after=timedelta(hours=settings.suggest_route_hours), tz=settings.tz
    )
    for routed in found.routed:
        await _hand_on(session, services, routed.question, routed.cadre, header="card.no_choice")
        await notify.youth_notice(
            session,
            routed.question,
            key="youth.no_choice_routed",
            settings=settings,
            now=now,
            helpline=True,
            asked=routed.question.text[:60],
        )
        report.unchosen_routed += 1


async def _hand_on(
    session: AsyncSession,
    services: Services,
    question: Question,
    cadre: Cadre | None,
    *,
    header: str | None,
) -> None:
    await notify.hand_on(
        session,
        question,
        cadre=cadre,
        settings=services.settings,
        now=services.clock.now(),
        index=services.knowledge,
        header=header,
    )


async def _escalate(session: AsyncSession, services: Services, report: SweepReport) -> None:
    settings, now = services.settings, services.clock.now()
    limit = now - timedelta(hours=settings.sla_escalation_hours)
    stale = await session.scalars(
        select(Question)
        .where(Question.status == lifecycle.ASSIGNED, Question.assigned_at <= limit)
        .with_for_update(skip_locked=True)
    )
    for question in list(stale):
        held = questions.previous_cadres(question)
        lifecycle.fire(question, "unassign", actor="system", now=now, note="SLA escalation")
        question.assigned_cadre_id = None
        question.escalations += 1
        if question.escalations >= MAX_ESCALATIONS:
            # Passed on twice without an answer: the committee decides who takes it.
            assignment = questions.Assignment(question, None)
        else:
            assignment = await questions.route(
                session, question, reason="escalation", now=now, tz=settings.tz, exclude=held
            )
        await notify.resolved(session, question)  # drop the old cadre's reminder
        await _hand_on(
            session,
            services,
            question,
            assignment.cadre,
            header="card.escalated" if assignment.cadre else "card.escalated_pool",
        )
        report.escalated += 1


async def _pool(session: AsyncSession, services: Services, report: SweepReport) -> None:
    """A question nobody took from the pool within the escalation time is offered again,
    every escalation time: to a cadre if one fits now (back from leave, newly joined),
    else to the committee's group once more. One the SLA already moved on twice stays
    with the committee, which decides."""
    settings, now = services.settings, services.clock.now()
    limit = now - timedelta(hours=settings.sla_escalation_hours)
    waiting = await session.scalars(
        select(Question)
        .where(
            Question.status == lifecycle.ROUTED,
            Question.assigned_cadre_id.is_(None),
            Question.last_activity_at <= limit,
        )
        .with_for_update(skip_locked=True)
    )
    for question in list(waiting):
        question.last_activity_at = now  # the next offer is one escalation time away
        cadre = None
        if question.escalations < MAX_ESCALATIONS:
            assignment = await questions.route(
                session,
                question,
                reason="pool",
                now=now,
                tz=settings.tz,
                exclude=questions.previous_cadres(question),  # not back to who let it go
            )
            cadre = assignment.cadre
        if cadre is None:
            lifecycle.fire(question, "remind", actor="system", now=now, note="still in the pool")
        await _hand_on(
            session,
            services,
            question,
            cadre,
            header="card.escalated" if cadre is not None else "card.pool_again",
        )
        report.pool_reoffered += 1


async def _auto_resolve(session: AsyncSession, services: Services, report: SweepReport) -> None:
    now = services.clock.now()
    limit = now - timedelta(days=services.settings.auto_resolve_days)
    quiet = await session.scalars(
        select(Question)
        .where(
            ((Question.status == lifecycle.ANSWERED) & (Question.answered_at <= limit))
            | ((Question.status == lifecycle.FORWARDED) & (Question.last_activity_at <= limit))
        )
        .with_for_update(skip_locked=True)
    )
    for question in list(quiet):
        lifecycle.fire(question, "resolve", actor="system", now=now, note="no reply in time")
        question.resolved_at = now
        await notify.resolved(session, question)
        report.auto_resolved += 1


def register(application: object, services: Services) -> None:
    """Run the sweep on the JobQueue (one job id, so a restart never doubles it)."""
    from telegram.ext import Application

    assert isinstance(application, Application)
    assert application.job_queue is not None

    # With several instances, the lease lets one of them sweep at a time; it outlives a
    # few intervals so a dead holder is replaced within them.
    ttl = timedelta(seconds=max(3 * services.settings.sweep_interval_s, 60.0))

    async def job(_context: object) -> None:
        # A failure reaches the error handler (logged, ops chat alerted); the job runs
        # again next interval all the same.
        await leases.run_exclusive(services, SWEEPER_LEASE, lambda: sweep(services), ttl=ttl)

    application.job_queue.run_repeating(
        job,
        interval=services.settings.sweep_interval_s,
        first=1.0,
        name="sweeper",
        job_kwargs={"id": "sweeper", "replace_existing": True, "max_instances": 1},
    )
