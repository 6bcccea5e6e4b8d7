"""Gaps a review found in erasure and retention: stuck inbound rows, redelivered updates,
outbox dedupe keys, and FAQ content a cadre promoted from the person's questions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update

from bot.services import data_forget, inbox, lifecycle, outbox, promotion, retention, users
from bot.services.data_rights import PURGED
from bot.services.privacy import MASK_KINDS
from knowledge import store
from knowledge.entries import EntryData
from knowledge.index import KnowledgeIndex
from storage.db import unit_of_work
from storage.faq import FaqEntry, FaqPhrasing, FaqRevision
from storage.models import InboundMessage, User
from storage.outbox import OutboxMessage
from storage.questions import Question, QuestionMessage
from tests.bot.test_data_rights import (  # noqa: F401  (fixtures)
    A_NAME,
    A_TG,
    NOW,
    _inbound,
    _question,
    _youth,
    sessions,
)

LABELS = {kind: f"[{kind}]" for kind in MASK_KINDS}


async def test_retention_purges_stuck_inbound_rows_and_their_errors(
    sessions: async_sessionmaker[AsyncSession],  # noqa: F811
) -> None:
    now = NOW + timedelta(days=400)
    cutoff = now - timedelta(days=30)
    async with unit_of_work(sessions) as session:
        stuck = _inbound(A_TG, 1, "STUCK SECRET", A_NAME)
        stuck.status, stuck.received_at = "received", cutoff  # a crash mid-update
        failed = _inbound(A_TG, 2, "FAILED SECRET", A_NAME)
        failed.status, failed.received_at = "failed", cutoff
        failed.error = "IntegrityError ... FAILED SECRET"
        blank_failed = _inbound(A_TG, 3, "x", A_NAME)
        blank_failed.status, blank_failed.received_at = "failed", cutoff
        blank_failed.text, blank_failed.payload = None, {}
        blank_failed.error = "left over from before: FAILED SECRET"
        session.add_all([stuck, failed, blank_failed])
    async with unit_of_work(sessions) as session:
        done = await retention.purge(session, now=now, days=30, batch=10)
        assert done.inbound == 3
    async with sessions() as session:
        rows = list(await session.scalars(select(InboundMessage)))
        assert [(r.text, r.payload, r.error) for r in rows] == [(None, {}, None)] * 3
        assert {r.status for r in rows} == {"received", "failed"}  # the counts stay
    async with unit_of_work(sessions) as session:
        assert (await retention.purge(session, now=now, days=30, batch=10)).inbound == 0


def _update(update_id: int) -> Update:
    sender = {"id": A_TG, "is_bot": False, "first_name": A_NAME}
    chat = {"id": A_TG, "type": "private", "first_name": A_NAME}
    message = {"message_id": 7, "date": 1_795_000_000, "chat": chat, "from": sender, "text": "hi"}
    update = Update.de_json({"update_id": update_id, "message": message}, None)
    assert update is not None
    return update


async def _forget(factory: async_sessionmaker[AsyncSession]) -> None:
    async with unit_of_work(factory) as session:
        user = await users.get_by_telegram_id(session, A_TG)
        assert user is not None
        await data_forget.forget(session, user=user, now=NOW, default_locale="zh-Hans", secret="s")


async def test_an_update_redelivered_after_forget_is_still_a_duplicate(
    sessions: async_sessionmaker[AsyncSession],  # noqa: F811
) -> None:
    async with unit_of_work(sessions) as session:
        await _youth(session, A_TG, A_NAME)
        assert await inbox.store(session, _update(900)) is not None
    await _forget(sessions)
    async with unit_of_work(sessions) as session:
        stored = await session.scalar(select(InboundMessage.fingerprint))
        assert stored is not None and str(A_TG) not in stored
        # Telegram re-sends the update (the webhook answer came too late): skipped.
        assert await inbox.store(session, _update(900)) is None
        assert await inbox.to_handle(session, _update(900)) is None
        # A genuinely new update is still stored.
        assert await inbox.store(session, _update(901)) is not None


async def test_forget_rewrites_outbox_dedupe_keys_holding_the_telegram_id(
    sessions: async_sessionmaker[AsyncSession],  # noqa: F811
) -> None:
    async with unit_of_work(sessions) as session:
        await _youth(session, A_TG, A_NAME)
        for key in (f"wish_draft:{A_TG}:wish.draft_reminder:2026111810", f"x:{A_TG}"):
            await outbox.enqueue(
                session,
                kind="wish_draft",
                chat_id=A_TG,
                recipient_user_id=A_TG,
                text="t",
                due_at=NOW,
                dedupe_key=key,
                audience="youth",
            )
        await outbox.enqueue(  # someone else's key that merely contains the digits
            session,
            kind="notice",
            chat_id=2001,
            text="t",
            due_at=NOW,
            dedupe_key=f"n:1{A_TG}",
            audience="staff",
        )
    await _forget(sessions)
    async with sessions() as session:
        keys = list(await session.scalars(select(OutboxMessage.dedupe_key)))
    assert [k for k in keys if str(A_TG) in k] == [f"n:1{A_TG}"]
    assert len(set(keys)) == 3


async def _answered(session: AsyncSession, text: str) -> tuple[User, Question]:
    youth = await _youth(session, A_TG, A_NAME)
    question = _question(youth, text, lifecycle.ANSWERED)
    question.thread.append(QuestionMessage(author="cadre", text="CADRE ANSWER", created_at=NOW))
    session.add(question)
    await session.flush()
    return youth, question


async def _admin(session: AsyncSession) -> User:
    # The demo org's committee admin may act on any question.
    for user in await session.scalars(select(User)):
        if "admin" in (user.roles or []):
            return user
    raise AssertionError("the demo org has an admin")


async def test_forget_removes_faq_wording_promoted_from_the_persons_questions(
    sessions: async_sessionmaker[AsyncSession],  # noqa: F811
) -> None:
    index = KnowledgeIndex()
    async with unit_of_work(sessions) as session:
        _, first = await _answered(session, "NEW ENTRY SECRET-A 怎么办")
        second = _question(first_user := await session.get(User, first.user_id), "x", "answered")
        assert first_user is not None
        second.text = "PHRASING SECRET-A 可以吗"
        second.thread.append(QuestionMessage(author="cadre", text="ok", created_at=NOW))
        session.add(second)
        await store.import_entries(
            session,
            [EntryData(id="kept", question="入团条件", answer="见章程")],
            changed_by="test",
        )
        await session.flush()
        admin = await _admin(session)
        slug = await promotion.promote(
            session,
            question_id=first.id,
            user=admin,
            entry_id=None,
            index=index,
            mask_labels=LABELS,
            now=NOW,
        )
        kept = await store.get_entry(session, "kept")
        assert kept is not None
        await promotion.promote(
            session,
            question_id=second.id,
            user=admin,
            entry_id=kept.id,
            index=index,
            mask_labels=LABELS,
            now=NOW,
        )
    await _forget(sessions)
    async with sessions() as session:
        entry = await store.get_entry(session, slug)
        assert entry is not None
        # The cadre's answer stays for the committee; the youth's wording is gone and the
        # entry waits, inactive, for a committee member to word the question anew.
        assert entry.answer == "CADRE ANSWER" and entry.question == PURGED
        assert not entry.active
        found: list[Any] = []
        for model in (FaqEntry, FaqPhrasing, FaqRevision):
            for row in await session.scalars(select(model)):
                text = str([getattr(row, c.name) for c in row.__table__.columns])
                if "SECRET-A" in text:
                    found.append(text)
        assert found == []
        kept_phrasings = [p.text for p in await session.scalars(select(FaqPhrasing))]
        assert kept_phrasings == []  # "kept" has no phrasing left but its own question
