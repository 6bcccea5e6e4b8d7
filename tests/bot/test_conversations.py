"""Which waits lapse: the one-step waits after a button, not the drafts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services import broadcast_drafts, conversations, wish_drafts
from storage.questions import Conversation

NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _wait(kind: str, age: timedelta) -> Conversation:
    return Conversation(chat_id=1, kind=kind, data={}, updated_at=NOW - age)


def test_one_step_waits_lapse_at_the_limit_and_drafts_never() -> None:
    for kind in conversations.ONE_STEP:
        fresh = _wait(kind, HOUR - timedelta(seconds=1))
        assert not conversations.lapsed(fresh, now=NOW, after=HOUR)
        assert conversations.lapsed(_wait(kind, HOUR), now=NOW, after=HOUR)
    for kind in (wish_drafts.KIND, broadcast_drafts.KIND):
        assert not conversations.lapsed(_wait(kind, 30 * HOUR), now=NOW, after=HOUR)
