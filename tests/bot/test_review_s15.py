"""What a second review of session 15's fixes found, without Telegram: each test failed
on the code before its fix. (Rows handled before that code quoted whole cards: migration
0015 strips them, tests/storage/test_unquote_migration.py.)"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update

from bot.services import inbox, outbox
from bot.services.digest import DIGEST_KIND
from storage.db import unit_of_work
from storage.outbox import OutboxMessage
from tests.bot.test_data_rights import (  # noqa: F401  (fixtures)
    A_NAME,
    A_TG,
    NOW,
    _question,
    _youth,
    sessions,
)
from tests.bot.test_data_rights_gaps import _forget

OTHERS = "· 5 条，例如：“团员证丢了怎么补办” / “怎么交团费”"


async def test_forget_of_a_short_question_leaves_other_peoples_digest_words(
    sessions: async_sessionmaker[AsyncSession],  # noqa: F811
) -> None:
    """data_forget._quoted_forms takes the person's whole question as a "quoted form"
    when it is shorter than the 40-character cut, and _digests replaces it everywhere in
    every digest: a two-character question ("团员") blanks that word in other people's
    examples and in the digest's own wording."""
    async with unit_of_work(sessions) as session:
        youth = await _youth(session, A_TG, A_NAME)
        session.add(_question(youth, "团员", "answered", reason="unmatched"))
        await outbox.enqueue(
            session,
            kind=DIGEST_KIND,
            chat_id=-100,
            text=f"<b>📚 知识库缺口</b>\n{OTHERS}",
            due_at=NOW,
            dedupe_key="digest:test:summary",
            audience="staff",
        )
    await _forget(sessions)
    async with sessions() as session:
        text = await session.scalar(
            select(OutboxMessage.text).where(OutboxMessage.kind == DIGEST_KIND)
        )
    assert text is not None and OTHERS in text, text


def test_a_handled_reply_that_quotes_part_of_a_card_keeps_no_card_text() -> None:
    """inbox.unquoted keeps only the ids of ``reply_to_message``, but a reply that quotes
    part of the card (Bot API ``quote``, what Telegram sends when a cadre selects text of
    the card and replies) keeps the quoted words of the young person's question in the
    stored payload of a handled update."""
    chat = {"id": 2001, "type": "private", "first_name": "王老师"}
    sender = {"id": 2001, "is_bot": False, "first_name": "王老师"}
    card = {
        "message_id": 40,
        "date": 1_795_000_000,
        "chat": chat,
        "text": "📨 问题 #7\nSECRET-A 我想问篮球活动",
    }
    update = Update.de_json(
        {
            "update_id": 1,
            "message": {
                "message_id": 41,
                "date": 1_795_000_100,
                "chat": chat,
                "from": sender,
                "text": "周六下午三点",
                "reply_to_message": card,
                "quote": {"text": "SECRET-A 我想问篮球活动", "position": 8},
            },
        },
        None,
    )
    assert update is not None
    stored = inbox.unquoted(update)
    assert stored is not None and "SECRET-A" not in repr(stored), stored


def test_a_handled_pin_of_a_card_in_the_committee_chat_keeps_no_card_text() -> None:
    """The same gap for a service message: an admin pins a question card in the committee
    chat; the update's ``pinned_message`` is the whole card, and inbox.unquoted (which
    looks only at reply_to_message and a callback's message) stores it as it came."""
    group = {"id": -100123, "type": "supergroup", "title": "团委"}
    admin = {"id": 2001, "is_bot": False, "first_name": "王老师"}
    bot = {"id": 1, "is_bot": True, "first_name": "bot"}
    update = Update.de_json(
        {
            "update_id": 2,
            "message": {
                "message_id": 71,
                "date": 1_795_000_100,
                "chat": group,
                "from": admin,
                "pinned_message": {
                    "message_id": 70,
                    "date": 1_795_000_000,
                    "chat": group,
                    "from": bot,
                    "text": "📨 问题 #7\nSECRET-A 我想问篮球活动",
                },
            },
        },
        None,
    )
    assert update is not None
    stored = inbox.unquoted(update)
    assert stored is not None and "SECRET-A" not in repr(stored), stored
