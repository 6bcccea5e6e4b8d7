"""0015_unquote_inbound strips the quoted messages of the updates handled before it (a
reply to a card, a press under one, a pinned card, a reply's quoted words), so the young
person's words in a card do not stay with a staff member's stored messages; and counts
every user so far as reachable in private."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from storage import migrate
from storage.db import create_engine
from storage.models import InboundMessage, User
from tests.support import user_as_of_old_revision

CARD = {"message_id": 59, "date": 1, "text": "📨 问题 #1\nSECRET-A 我想问篮球活动"}


def _row(n: int, status: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "update_id": n,
        "fingerprint": f"m15:{n}",
        "telegram_user_id": 2001,
        "chat_id": 2001,
        "message_id": n,
        "kind": "message",
        "text": "周六下午三点",
        "status": status,
        "payload": {"update_id": n, **payload},
    }


async def test_handled_rows_lose_quoted_text_and_others_stay(db_url: str) -> None:
    engine = create_engine(db_url)
    table = InboundMessage.__table__
    reply = {"message_id": 60, "text": "周六下午三点", "reply_to_message": CARD}
    rows = {
        "reply": _row(1, "handled", {"message": {**reply, "quote": {"text": "SECRET-A"}}}),
        "press": _row(
            2, "handled", {"callback_query": {"id": "q", "data": "v1:qans:1", "message": CARD}}
        ),
        "pin": _row(3, "handled", {"message": {"message_id": 61, "pinned_message": CARD}}),
        "failed": _row(4, "failed", {"message": reply}),  # kept whole, to be handled again
        "plain": _row(5, "handled", {"message": {"message_id": 62, "text": "SECRET-A 我的"}}),
    }
    try:
        await migrate.upgrade(engine, "0014_alert_events")
        async with engine.begin() as connection:
            for row in rows.values():
                await connection.execute(insert(table).values(**row))
            user_id = await user_as_of_old_revision(connection, 1001)
        # This revision alone: a later one (0018) strips the rows it leaves whole.
        await migrate.upgrade(engine, "0015_unquote_inbound")
        async with engine.connect() as connection:
            since = await connection.scalar(
                select(User.__table__.c.private_since).where(User.__table__.c.id == user_id)
            )
        assert since is not None  # everyone so far counts as reachable in private
        async with engine.connect() as connection:
            found = {
                key: payload
                for key, payload in (
                    await connection.execute(select(table.c.fingerprint, table.c.payload))
                ).all()
            }
        for name in ("reply", "press", "pin"):
            assert "SECRET-A" not in repr(found[rows[name]["fingerprint"]]), name
        assert found["m15:1"]["message"]["reply_to_message"] == {"message_id": 59, "date": 1}
        assert "quote" not in found["m15:1"]["message"]
        assert found["m15:2"]["callback_query"]["data"] == "v1:qans:1"
        assert found["m15:4"] == rows["failed"]["payload"]
        assert found["m15:5"] == rows["plain"]["payload"]  # the sender's own words stay
        await migrate.downgrade(engine, "0014_alert_events")
    finally:
        await engine.dispose()
