"""The polling intake stores a fetched batch together; one update that cannot be stored
as it came must not hold up the others (the batch would be tried again forever)."""

from __future__ import annotations

from sqlalchemy import select
from telegram import Update

from bot.intake import DurableUpdateQueue
from storage.db import create_engine, create_session_factory
from storage.models import INBOUND_FAILED, INBOUND_RECEIVED, InboundMessage
from tests.conftest import prepare


def _update(update_id: int, text: str) -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 1_763_000_000,
                "chat": {"id": 1001, "type": "private", "first_name": "小明"},
                "from": {"id": 1001, "is_bot": False, "first_name": "小明"},
                "text": text,
            },
        },
        None,
    )


async def test_an_update_that_cannot_be_stored_as_it_came_holds_up_nothing(
    db_url: str,
) -> None:
    """A text with a lone surrogate (a broken emoji; Telegram's own servers would not send
    one, a self-hosted Bot API server might) cannot be written to either database."""
    await prepare(db_url)
    engine = create_engine(db_url)
    try:
        queue = DurableUpdateQueue(create_session_factory(engine))
        for update in (
            _update(1, "团费怎么交"),
            _update(2, "团费 \ud83d 怎么交"),
            _update(3, "好"),
        ):
            await queue.put(update)
        assert await queue.flush() == 2  # the two others, queued to be handled
        assert [queue.get_nowait(), queue.get_nowait()] == [_update(1, "x"), _update(3, "x")]
        assert await queue.flush() == 0  # nothing left to try again
        async with create_session_factory(engine)() as session:
            rows = list(await session.scalars(select(InboundMessage).order_by(InboundMessage.id)))
        assert [(r.update_id, r.status) for r in rows] == [
            (1, INBOUND_RECEIVED),
            (2, INBOUND_FAILED),
            (3, INBOUND_RECEIVED),
        ]
        assert rows[1].text == "团费 ? 怎么交" and "not stored as it came" in (rows[1].error or "")
    finally:
        await engine.dispose()
