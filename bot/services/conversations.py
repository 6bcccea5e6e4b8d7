"""What the bot waits for in a chat (a cadre's answer, a follow-up), kept in the database
so a restart in the middle of it loses nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.questions import Conversation

AWAIT_ANSWER = "await_answer"
AWAIT_DEPARTMENT = "await_department"
AWAIT_FOLLOW_UP = "await_follow_up"
AWAIT_WISH_REASON = "await_wish_reason"
AWAIT_WISH_PROOF = "await_wish_proof"
# Waits for the one text that follows a button. They lapse (see ``lapsed``); the wish
# and broadcast drafts are conversations of their own, with their own clocks.
ONE_STEP = frozenset(
    {AWAIT_ANSWER, AWAIT_DEPARTMENT, AWAIT_FOLLOW_UP, AWAIT_WISH_REASON, AWAIT_WISH_PROOF}
)


# The drafts kept in the same row (bot.services.wish_drafts, broadcast_drafts): a
# one-step wait must not replace one, or what was written so far is lost.
DRAFTS = frozenset({"wish_draft", "broadcast_draft"})


class DraftPending(Exception):
    """The chat has a draft in progress; a one-step wait would throw it away."""

    def __init__(self, kind: str) -> None:
        """Keep the draft's kind for the message."""
        super().__init__(kind)
        self.kind = kind


async def expect(
    session: AsyncSession, *, chat_id: int, kind: str, now: datetime, **data: Any
) -> None:
    """Wait for the next text in ``chat_id`` to be a ``kind`` (replacing any other wait,
    but never a draft: :class:`DraftPending`)."""
    conversation = await session.get(Conversation, chat_id) or Conversation(chat_id=chat_id)
    if conversation.kind in DRAFTS and kind in ONE_STEP:
        raise DraftPending(conversation.kind)
    conversation.kind, conversation.data, conversation.updated_at = kind, data, now
    session.add(conversation)
    await session.flush()


async def expect_again(
    session: AsyncSession, *, chat_id: int, kind: str, now: datetime, **data: Any
) -> bool:
    """Wait again for a text that was refused (too long): like :func:`expect`, but a
    draft in progress is kept without complaint; return whether the wait was set (if not,
    only a reply to the card reaches the item: the sender must be told so)."""
    try:
        await expect(session, chat_id=chat_id, kind=kind, now=now, **data)
    except DraftPending:
        return False
    return True


# Built once: every text message asks (``session.get`` builds its statement each time,
# which costs more than running it).
_IN_CHAT = select(Conversation).where(Conversation.chat_id == bindparam("chat_id"))


async def pending(session: AsyncSession, chat_id: int) -> Conversation | None:
    """What the bot waits for in ``chat_id``, if anything."""
    return await session.scalar(_IN_CHAT, {"chat_id": chat_id})


async def stamp(session: AsyncSession, chat_id: int | None) -> str:
    """What ``chat_id`` is in the middle of, as a short mark that changes whenever that
    changes: the conversation's kind and last change, or ``-`` for nothing."""
    conversation = await pending(session, chat_id) if chat_id is not None else None
    if conversation is None:
        return "-"
    return f"{conversation.kind}@{conversation.updated_at.isoformat()}"[:64]


async def clear(session: AsyncSession, chat_id: int) -> bool:
    """Stop waiting; return whether anything was pending."""
    conversation = await session.get(Conversation, chat_id)
    if conversation is None:
        return False
    await session.delete(conversation)
    await session.flush()
    return True


def lapsed(conversation: Conversation, *, now: datetime, after: timedelta) -> bool:
    """Whether a one-step wait was started ``after`` ago or more: the text that comes so
    much later is likely meant for something else, so it must not be taken as the answer
    to the old button (a cadre's answer sent to the wrong young person)."""
    return conversation.kind in ONE_STEP and conversation.updated_at <= now - after
