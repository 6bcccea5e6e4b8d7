"""``/mydata``: everything stored about a person, as one JSON document.

Staff appear by pseudonym (``staff-3F2A``), never by Telegram id or name; other young
people's data never appears (wishes someone claimed show only the claim and its proof).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import html_to_plain
from bot.services import access_log, data_forget
from bot.services.asking import RESPONSE_NO_CHOICE, RESPONSE_SUPERSEDED
from bot.services.data_rights import describe_actor, pseudonymise_refs, staff_code
from storage.broadcasts import AnnouncementPreference, Subscription
from storage.faq import FaqEntry, FaqRevision, MatchLog
from storage.models import Cadre, InboundMessage, User
from storage.outbox import OutboxMessage
from storage.questions import Conversation, Question, QuestionEvent
from storage.wishes import Wish

FORMAT = "voy-mydata/1"
# Telegram bots may send documents up to 50 MB; beyond this the JSON goes zipped.
MAX_PLAIN_BYTES = 45 * 1024 * 1024
# Commands and button presses carry no content of the person's own: alone, they make an
# export "empty" (the reply says what that means instead of sending a near-empty file).
_NOT_CONTENT = ("command", "callback")
# Turns an audit actor or note into what the person may see (staff by pseudonym).
Rename = Callable[[str], str]


@dataclass
class Export:
    """The person's data, and whether there is anything beyond what Telegram sends anyway."""

    data: dict[str, Any]
    empty: bool


def _at(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _yours(response: str | None) -> str | None:
    """A button the person pressed; None for what the bot recorded when they pressed
    none (the suggestions went to a person, or were asked again)."""
    return None if response in (RESPONSE_NO_CHOICE, RESPONSE_SUPERSEDED) else response


# What the bot said at once to each message (the match log's band).
_REPLY_OF_BAND = {"answer": "faq_answer", "suggest": "did_you_mean", "route": "passed_to_a_person"}


async def export(
    session: AsyncSession,
    *,
    user: User,
    secret: str,
    now: datetime,
    notes: dict[str, str] | None = None,
) -> Export:
    """Collect everything stored about ``user`` (a read; nothing changes).

    ``notes``: what the document's sections mean, in the person's language (from the
    catalog), by section name; kept as the document's ``notes``.
    """
    me, tg = user.id, user.telegram_id

    def actor(value: str) -> str:
        return describe_actor(value, self_user_id=me, secret=secret)

    def note(value: str) -> str:
        return pseudonymise_refs(value, self_user_id=me, secret=secret)

    questions = list(
        await session.scalars(select(Question).where(Question.user_id == me).order_by(Question.id))
    )
    wishes = list(await session.scalars(select(Wish).where(Wish.user_id == me).order_by(Wish.id)))
    claimed = list(
        await session.scalars(select(Wish).where(Wish.claimer_user_id == me).order_by(Wish.id))
    )
    matches = list(
        await session.scalars(
            select(MatchLog).where(MatchLog.telegram_user_id == tg).order_by(MatchLog.id)
        )
    )
    # The FAQ answers their questions got (the reply itself is not stored: its entry is).
    answered_with = {
        e.note for q in questions for e in q.events if e.trigger == "auto_answer" and e.note
    }
    faq = {
        entry.slug: entry
        for entry in await session.scalars(
            select(FaqEntry).where(FaqEntry.slug.in_(answered_with))
        )
    }
    # The entries the bot offered on the spot: its FAQ answers and "did you mean" choices.
    offered_ids = {i for m in matches for i in m.offered or []}
    offered = {
        entry.id: entry
        for entry in await session.scalars(select(FaqEntry).where(FaqEntry.id.in_(offered_ids)))
    }
    # Their revisions, oldest first: what each read when the bot sent or offered it.
    revisions: dict[int, list[FaqRevision]] = {}
    for revision in await session.scalars(
        select(FaqRevision)
        .where(FaqRevision.entry_id.in_(offered_ids | {e.id for e in faq.values()}))
        .order_by(FaqRevision.changed_at, FaqRevision.id)
    ):
        revisions.setdefault(revision.entry_id, []).append(revision)
    phrasings = await data_forget.learned_phrasings(session, user_id=me)
    slugs = dict(
        (
            await session.execute(
                select(FaqEntry.id, FaqEntry.slug).where(
                    FaqEntry.id.in_({p.entry_id for p in phrasings})
                )
            )
        ).all()
    )
    learned = [(p, slugs.get(p.entry_id)) for p in phrasings]
    conversation = await session.get(Conversation, tg)
    inbound = list(
        await session.scalars(
            select(InboundMessage)
            .where(or_(InboundMessage.telegram_user_id == tg, InboundMessage.chat_id == tg))
            .order_by(InboundMessage.id)
        )
    )
    outbound = list(
        await session.scalars(
            select(OutboxMessage)
            .where(or_(OutboxMessage.recipient_user_id == tg, OutboxMessage.chat_id == tg))
            .order_by(OutboxMessage.id)
        )
    )
    seen = await access_log.of_subject(session, me)
    followed = list(
        await session.scalars(
            select(Subscription.topic_code)
            .where(Subscription.user_id == me)
            .order_by(Subscription.topic_code)
        )
    )
    preference = await session.get(AnnouncementPreference, me)
    cadre = await session.scalar(select(Cadre).where(Cadre.telegram_id == tg))

    profiles: list[dict[str, Any]] = []
    for row in inbound:
        sender = _sender(row.payload)
        if sender and sender not in profiles:
            profiles.append(sender)

    data: dict[str, Any] = {
        "format": FORMAT,
        "generated_at": _at(now),
        "notes": dict(notes or {}),
        "profile": {
            "id": me,
            "telegram_id": tg,
            "first_name": user.first_name,
            "language_code": user.language_code,
            "locale": user.locale,
            "region": user.region_code,
            "roles": list(user.roles or []),
            "registered_at": _at(user.created_at),
            "last_seen_at": _at(user.last_seen_at),
            "unreachable_since": _at(user.unreachable_at),
            "telegram_profiles_seen": profiles,
        },
        "consents": {
            "name_shared_with_cadres_on_questions": [q.id for q in questions if q.identity_shared],
            "guardian_consent_on_wishes": [w.id for w in wishes if w.guardian_consent],
        },
        "questions": [_question(q, actor, note, secret, faq, revisions) for q in questions],
        "faq_matches": [
            {
                "ticket": m.question_id,
                "query": m.query,
                "band": m.band,
                "faq_entry": m.entry_slug,
                "your_response": _yours(m.response),
                "chosen_entry": m.chosen_slug,
                "at": _at(m.created_at),
            }
            for m in matches
        ],
        "replies_on_the_spot": [_on_the_spot(m, offered, revisions) for m in matches],
        # Chosen by them from "did you mean", or added by a cadre from their question.
        "faq_phrasings_learned_from_you": [
            {
                "faq_entry": slug,
                "text": p.text,
                "from_your_question": data_forget.source_question(p),
                "at": _at(p.created_at),
            }
            for p, slug in learned
        ],
        "wishes": [_wish(w, actor, note, secret) for w in wishes],
        "wishes_you_took_on": [
            {
                "wish": w.id,
                "status": w.status,
                "claimed_at": _at(w.claimed_at),
                "fulfilled_at": _at(w.fulfilled_at),
                "your_proof_text": w.proof_text,
                "your_proof_photo": w.proof_file_id,
            }
            for w in claimed
        ],
        "waiting_for": {
            "kind": conversation.kind,
            "data": conversation.data,
            "since": _at(conversation.updated_at),
        }
        if conversation is not None
        else None,
        "messages_you_sent": [
            {
                "at": _at(m.received_at),
                "kind": m.kind,
                "text": m.text,
                "handled": m.status,
            }
            for m in inbound
        ],
        "messages_sent_to_you": [
            {
                "kind": m.kind,
                "text": m.text,
                "attachment": m.attachment_name,
                "state": m.state,
                "due_at": _at(m.due_at),
                "sent_at": _at(m.sent_at),
            }
            for m in outbound
        ],
        "announcements": {
            "topics_followed": followed,
            "turned_off": bool(preference and preference.opted_out),
        },
        "who_was_shown_your_data": [
            {
                "at": _at(a.created_at),
                "shown_to": staff_code("user", a.viewer_user_id, secret)
                if a.viewer_user_id
                else "committee-group",
                "item": f"{a.item_kind}:{a.item_id}",
                "purpose": a.purpose,
                "fields": list(a.fields or []),
            }
            for a in seen
        ],
    }
    if cadre is not None:
        data["cadre_record"] = {
            "name": cadre.name,
            "regions": [r.code for r in cadre.regions],
            "topics": [t.code for t in cadre.topics],
            "duty_days": list(cadre.duty_days or []),
            "capacity": cadre.capacity,
            "away_until": _at(cadre.away_until),
            "active": cadre.active,
        }
    empty = not (
        questions
        or wishes
        or claimed
        or matches
        or learned
        or conversation
        or outbound
        or seen
        or followed
        or preference is not None
        or cadre
        or any(m.kind not in _NOT_CONTENT for m in inbound)
    )
    return Export(data, empty)


def _as_of(
    entry: FaqEntry, revisions: list[FaqRevision], moment: datetime
) -> tuple[dict[str, Any], str]:
    """``entry``'s content when the bot offered it at ``moment`` (its latest revision
    from before then) and ``"sent"``; its content now and ``"now"`` when no revision is
    that old."""
    then = [r for r in revisions if r.changed_at <= moment]
    if then and isinstance(then[-1].snapshot, dict):
        return then[-1].snapshot, "sent"
    return {"question": entry.question, "answer": entry.answer}, "now"


def _on_the_spot(
    log: MatchLog, entries: dict[int, FaqEntry], revisions: dict[int, list[FaqRevision]]
) -> dict[str, Any]:
    """What the bot replied at once to one message: the reply itself is not stored, so it
    is rebuilt from the match log and the FAQ entries it offered, as they read then (from
    the entry's revision history; as they read now, marked so, when it holds none that
    old): an answer with its text, "did you mean" choices by their questions."""
    answered = log.band == "answer"
    shown = []
    for entry_id in log.offered or []:
        entry = entries.get(entry_id)
        if entry is None:
            continue
        content, as_of = _as_of(entry, revisions.get(entry_id, []), log.created_at)
        item = {"faq_entry": entry.slug, "question": str(content.get("question", ""))}
        if answered:
            item["answer"] = html_to_plain(str(content.get("answer", "")), keep_links=True)
        shown.append({**item, "text_as_of": as_of})
    return {
        "at": _at(log.created_at),
        "ticket": log.question_id,
        "your_message": log.query,
        "reply": _REPLY_OF_BAND.get(log.band, log.band),
        "faq_entries": shown,
        "your_response": _yours(log.response),
        "chosen_entry": log.chosen_slug,
    }


def _sender(payload: dict[str, Any] | None) -> dict[str, Any] | None:
    """The Telegram profile a stored update was sent with (name, username, language)."""
    if not payload:
        return None
    for key in ("message", "edited_message", "callback_query"):
        part = payload.get(key)
        if isinstance(part, dict) and isinstance(part.get("from"), dict):
            sender = part["from"]
            fields = ("first_name", "last_name", "username", "language_code")
            return {k: sender[k] for k in fields if sender.get(k) is not None}
    return None


def _events(events: Iterable[Any], actor: Rename, note: Rename) -> list[dict[str, Any]]:
    """An audit log (a question's or a wish's moves), with actors and notes renamed."""
    return [
        {
            "what": e.trigger,
            "from": e.from_state,
            "to": e.to_state,
            "by": actor(e.actor),
            "note": note(e.note),
            "at": _at(e.created_at),
        }
        for e in events
    ]


def _question(
    q: Question,
    actor: Rename,
    note: Rename,
    secret: str,
    faq: dict[str, FaqEntry],
    revisions: dict[int, list[FaqRevision]],
) -> dict[str, Any]:
    """One ticket with its thread, the FAQ answers it got (``faq``: the entries by slug;
    each answer as it read when sent, from ``revisions``, see :func:`_as_of`) and its
    audit log."""
    return {
        "ticket": q.id,
        "text": q.text,
        "status": q.status,
        "region": q.region_code,
        "topic": q.topic,
        "how_it_reached_a_person": q.reason,
        "asked_at": _at(q.asked_at),
        "assigned_to": staff_code("cadre", q.assigned_cadre_id, secret)
        if q.assigned_cadre_id
        else None,
        "first_answered_at": _at(q.first_answered_at),
        "resolved_at": _at(q.resolved_at),
        "forwarded_to_department": q.department,
        "key_suggestion": q.key_suggestion,
        "name_shared": q.identity_shared,
        "urgent": q.urgent,
        "faq_entries_suggested": [c.get("slug") for c in q.candidates or []],
        "messages": [
            {
                "from": "you"
                if m.author == "youth"
                else staff_code("cadre", m.cadre_id, secret)
                if m.cadre_id
                else "staff",
                "text": m.text,
                "forwarded": m.forwarded,
                "at": _at(m.created_at),
            }
            for m in q.thread
        ],
        "faq_answers": [
            _faq_answer(e, faq[e.note], revisions)
            for e in q.events
            if e.trigger == "auto_answer" and e.note in faq
        ],
        "events": _events(q.events, actor, note),
    }


def _faq_answer(
    event: QuestionEvent, entry: FaqEntry, revisions: dict[int, list[FaqRevision]]
) -> dict[str, Any]:
    """An FAQ answer a ticket got, as it read when it was sent (or now, marked so)."""
    content, as_of = _as_of(entry, revisions.get(entry.id, []), event.created_at)
    return {
        "faq_entry": entry.slug,
        "answer": html_to_plain(str(content.get("answer", "")), keep_links=True),
        "text_as_of": as_of,
        "at": _at(event.created_at),
    }


def _wish(wish: Wish, actor: Rename, note: Rename, secret: str) -> dict[str, Any]:
    """One wish with its audit log."""
    return {
        "wish": wish.id,
        "text": wish.text,
        "photo": wish.photo_file_id,
        "category": wish.category,
        "for_whom": wish.beneficiary,
        "relation": wish.relation,
        "age_band": wish.age_band,
        "guardian_consent": wish.guardian_consent,
        "region": wish.region_code,
        "school_or_community": wish.place,
        "value_yuan": wish.value_yuan,
        "status": wish.status,
        "reason_given_by_reviewer": wish.reason,
        "submitted_at": _at(wish.submitted_at),
        "published_at": _at(wish.published_at),
        "taken_on_by": staff_code("user", wish.claimer_user_id, secret)
        if wish.claimer_user_id
        else None,
        "proof_text": wish.proof_text,
        "proof_photo": wish.proof_file_id,
        "fulfilled_at": _at(wish.fulfilled_at),
        "closed_at": _at(wish.closed_at),
        "events": _events(wish.events, actor, note),
    }


def encode(data: dict[str, Any], *, day: str, limit: int = MAX_PLAIN_BYTES) -> tuple[bytes, str]:
    """The document's bytes and file name: JSON, or zipped JSON when over ``limit``."""
    name = f"voy-mydata-{day}.json"
    raw = json.dumps(data, ensure_ascii=False, indent=1).encode()
    if len(raw) <= limit:
        return raw, name
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, raw)
    return buffer.getvalue(), f"{name}.zip"
