"""What an audit of the data rights found, without Telegram: each test failed on the
code before its fix."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import data_export, promotion, users
from knowledge import store
from knowledge.entries import EntryData
from knowledge.index import KnowledgeIndex
from storage.db import unit_of_work
from storage.models import INBOUND_FAILED, InboundMessage
from storage.questions import QuestionMessage
from tests.bot.test_data_rights import (  # noqa: F401  (fixtures)
    A_TG,
    NOW,
    SECRET,
    _question,
    sessions,
)
from tests.bot.test_data_rights_gaps import LABELS, _admin, _answered, _forget


async def test_export_holds_the_phrasing_a_cadre_taught_the_faq_from_their_question(
    sessions: async_sessionmaker[AsyncSession],  # noqa: F811
) -> None:
    """/forget treats a phrasing a cadre added from the person's question (``…:q{id}``)
    as the person's wording and deletes it; /mydata ("phrasings learned from their
    words") does not list it, so the person cannot see that their words are in the FAQ."""
    index = KnowledgeIndex()
    async with unit_of_work(sessions) as session:
        youth, _first = await _answered(session, "别的问题")
        second = _question(youth, "x", "answered")
        second.text = "PHRASING SECRET-A 可以吗"
        second.thread.append(QuestionMessage(author="cadre", text="ok", created_at=NOW))
        session.add(second)
        await store.import_entries(
            session, [EntryData(id="kept", question="入团条件", answer="见章程")], changed_by="t"
        )
        await session.flush()
        kept = await store.get_entry(session, "kept")
        assert kept is not None
        await promotion.promote(
            session,
            question_id=second.id,
            user=await _admin(session),
            entry_id=kept.id,
            index=index,
            mask_labels=LABELS,
            now=NOW,
        )
    async with sessions() as session:
        user = await users.get_by_telegram_id(session, A_TG)
        assert user is not None
        entry = await store.get_entry(session, "kept")
        assert entry is not None
        assert any("PHRASING SECRET-A" in p.text for p in entry.phrasings)  # in the FAQ now
        result = await data_export.export(session, user=user, secret=SECRET, now=NOW)
    learned = result.data["faq_phrasings_learned_from_you"]
    assert any("PHRASING SECRET-A" in p["text"] for p in learned), json.dumps(
        learned, ensure_ascii=False
    )


async def test_forget_blanks_a_card_quoted_by_a_staff_update_not_yet_handled(
    sessions: async_sessionmaker[AsyncSession],  # noqa: F811
) -> None:
    """A handled update keeps no quoted text (inbox.unquoted), but a cadre's reply to the
    person's card that failed (kept whole, to be handled again) still quotes the card:
    /forget takes the card's text out of it, and leaves a card about another question."""
    async with unit_of_work(sessions) as session:
        _youth, question = await _answered(session, "SECRET-A 我想问篮球活动")
        cards = {question.id: "SECRET-A card", 999_999: "other card"}
        for n, (qid, words) in enumerate(cards.items()):
            session.add(
                InboundMessage(
                    update_id=900 + n,
                    fingerprint=f"audit:{n}",
                    telegram_user_id=2001,
                    chat_id=2001,
                    message_id=50 + n,
                    kind="message",
                    text="周六下午三点",
                    status=INBOUND_FAILED,
                    payload={
                        "update_id": 900 + n,
                        "message": {
                            "message_id": 50 + n,
                            "text": "周六下午三点",
                            "reply_to_message": {
                                "message_id": 40 + n,
                                "date": 1,
                                "text": f"📨 问题 #{qid}\n{words}",
                            },
                        },
                    },
                )
            )
    await _forget(sessions)
    async with sessions() as session:
        rows = {
            row.fingerprint: json.dumps(row.payload, ensure_ascii=False)
            for row in await session.scalars(select(InboundMessage))
        }
    assert "SECRET-A" not in rows["audit:0"] and '"message_id": 40' in rows["audit:0"]
    assert "other card" in rows["audit:1"]
