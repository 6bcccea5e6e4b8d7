"""0017_forward_origin_cleanup strips who first wrote a forwarded message from the
updates handled before 0016's code did so (the full forward_origin, and the legacy
forward_* fields Telegram sends beside it): the origin keeps its type and date, and of
the legacy fields only forward_date stays. Rows not yet handled stay whole."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert, select

from storage import migrate
from storage.db import create_engine
from storage.models import InboundMessage

FRIEND = {"id": 1777, "is_bot": False, "first_name": "张三丰", "username": "zhangsan_2010"}
CHANNEL = {"id": -1001777, "type": "channel", "title": "东湖青年频道"}
THIRD_PARTY = ("张三丰", "zhangsan_2010", "1777", "东湖青年频道", "李四光", "小编甲")
BASE = {"message_id": 60, "date": 2, "chat": {"id": 1001, "type": "private"}, "text": "夏令营"}
FROM_USER = {
    **BASE,
    "forward_origin": {"type": "user", "date": 1, "sender_user": FRIEND},
    "forward_from": FRIEND,
    "forward_date": 1,
}
FROM_CHANNEL = {
    **BASE,
    "forward_origin": {
        "type": "channel",
        "date": 1,
        "chat": CHANNEL,
        "message_id": 88,
        "author_signature": "小编甲",
    },
    "forward_from_chat": CHANNEL,
    "forward_from_message_id": 88,
    "forward_signature": "小编甲",
    "forward_date": 1,
}
HIDDEN = {
    **BASE,
    "forward_origin": {"type": "hidden_user", "date": 1, "sender_user_name": "李四光"},
    "forward_sender_name": "李四光",
    "forward_date": 1,
}
# Stored by 0016's code (origin already reduced), but with the legacy fields it missed.
HALF_DONE = {**BASE, "forward_origin": {"type": "user", "date": 1}, "forward_from": FRIEND}


def _row(n: int, status: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "update_id": n,
        "fingerprint": f"m17:{n}",
        "telegram_user_id": 1001,
        "chat_id": 1001,
        "message_id": n,
        "kind": "text",
        "text": "夏令营",
        "status": status,
        "payload": {"update_id": n, **payload},
    }


async def test_handled_forwards_lose_their_original_sender(db_url: str) -> None:
    engine = create_engine(db_url)
    table = InboundMessage.__table__
    rows = [
        _row(1, "handled", {"message": FROM_USER}),
        _row(2, "handled", {"message": FROM_CHANNEL}),
        _row(3, "handled", {"edited_message": HIDDEN}),
        _row(4, "handled", {"message": HALF_DONE}),
        _row(5, "failed", {"message": FROM_USER}),  # kept whole, to be handled again
        _row(6, "handled", {"message": {**BASE, "text": "张三丰 is my own word"}}),
    ]
    try:
        await migrate.upgrade(engine, "0016_forwarded_messages")
        async with engine.begin() as connection:
            for row in rows:
                await connection.execute(insert(table).values(**row))
        # This revision alone: a later one (0018) strips the rows it leaves whole.
        await migrate.upgrade(engine, "0017_forward_origin_cleanup")
        async with engine.connect() as connection:
            found = dict(
                (await connection.execute(select(table.c.update_id, table.c.payload))).all()
            )
        for n in (1, 2, 3, 4):
            text = json.dumps(found[n], ensure_ascii=False)
            for leaked in THIRD_PARTY:
                assert leaked not in text, (n, leaked, text)
        expected = {**BASE, "forward_date": 1}
        assert found[1]["message"] == {**expected, "forward_origin": {"type": "user", "date": 1}}
        assert found[2]["message"] == {
            **expected,
            "forward_origin": {"type": "channel", "date": 1},
        }
        assert found[3]["edited_message"] == {
            **expected,
            "forward_origin": {"type": "hidden_user", "date": 1},
        }
        assert found[4]["message"] == {**BASE, "forward_origin": {"type": "user", "date": 1}}
        assert found[5] == rows[4]["payload"]
        assert found[6] == rows[5]["payload"]  # the sender's own words stay
        await migrate.downgrade(engine, "0016_forwarded_messages")
        assert await migrate.current_revision(engine) == "0016_forwarded_messages"
    finally:
        await engine.dispose()
