"""The data migrations that rewrite stored updates (0015, 0017, 0018, 0020, 0021) walk
inbound_messages in batches: every row they strip is reached wherever its id falls (ids
with gaps, more rows than one batch), and on PostgreSQL each row is read about once, not
the whole table again for each batch."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection

from storage import migrate
from storage.db import create_engine
from storage.models import InboundMessage

ME = {"id": 1001, "is_bot": False, "first_name": "小明"}
FRIEND = {"id": 853_274_619, "is_bot": False, "first_name": "张三丰"}
GROUP = {"id": -100555, "type": "supergroup", "title": "初二(3)班"}
MENTION = {"type": "text_mention", "offset": 0, "length": 2, "user": FRIEND}
# What each of the migrations strips: a classmate's message replied to (0015, 0018), a
# forward's first writer (0017), a mention in a poll (0020), who opened the topic (0021).
CARRIES = {
    "message_id": 60,
    "date": 2,
    "chat": GROUP,
    "from": ME,
    "text": "班长 说",
    "reply_to_message": {"message_id": 30, "date": 1, "chat": GROUP, "from": FRIEND, "text": "好"},
    "forward_origin": {"type": "user", "date": 1, "sender_user": FRIEND},
    "forward_date": 1,
    "direct_messages_topic": {"topic_id": 7, "user": FRIEND},
    "poll": {
        "id": "p1",
        "question": "班长 说的对吗",
        "question_entities": [MENTION],
        "options": [{"text": "对", "voter_count": 0}],
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
    },
}
PLAIN = {"message_id": 61, "date": 2, "chat": GROUP, "from": ME, "text": "周六下午三点"}
# Each migration, and the revision before it.
MIGRATIONS = [
    ("0014_alert_events", "0015_unquote_inbound"),
    ("0016_forwarded_messages", "0017_forward_origin_cleanup"),
    ("0017_forward_origin_cleanup", "0018_third_parties_cleanup"),
    ("0019_erasures", "0020_third_parties_in_parts"),
    ("0020_third_parties_in_parts", "0021_topics_callers_chats"),
]
# How many times a migration reads the whole table besides stripping it: 0015 builds an
# index on chat_id.
OTHER_READS = {"0015_unquote_inbound": 1}


def _row(n: int, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": n,
        "update_id": 7,  # alike, so that rows stripped alike are equal
        "fingerprint": f"mb:{n}",
        "telegram_user_id": 1001,
        "chat_id": GROUP["id"],
        "message_id": n,
        "kind": "text",
        "text": "x",
        "status": "handled",
        "payload": {"update_id": 7, "message": message},
    }


@pytest.mark.parametrize(("before", "revision"), MIGRATIONS)
async def test_every_row_is_stripped_wherever_its_id_falls(
    db_url: str, before: str, revision: str
) -> None:
    engine = create_engine(db_url)
    table = InboundMessage.__table__
    # More rows to strip than one batch, then ids far apart and either side of round
    # numbers, with rows to keep between them.
    carrying = [*range(1, 1201), 5000, 9999, 10_000, 10_001, 20_000, 20_001, 250_000]
    plain = [*range(1201, 1301), 30_000, 250_001]
    try:
        await migrate.upgrade(engine, before)
        async with engine.begin() as connection:
            stored = [_row(n, CARRIES) for n in carrying] + [_row(n, PLAIN) for n in plain]
            await connection.execute(insert(table), stored)
        await migrate.upgrade(engine, revision)
        async with engine.connect() as connection:
            found = dict((await connection.execute(select(table.c.id, table.c.payload))).all())
        stripped = found[1]
        assert stripped != {"update_id": 7, "message": CARRIES}
        assert [n for n in carrying if found[n] != stripped] == []
        assert [n for n in plain if found[n] != {"update_id": 7, "message": PLAIN}] == []
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("before", "revision"), MIGRATIONS)
async def test_each_row_is_read_about_once(postgres_url: str, before: str, revision: str) -> None:
    engine = create_engine(postgres_url)
    table = InboundMessage.__table__
    rows = 3000  # all to strip
    try:
        await migrate.upgrade(engine, before)
        async with engine.begin() as connection:
            await connection.execute(insert(table), [_row(n, CARRIES) for n in range(1, rows + 1)])

        def upgrade(connection: Connection) -> None:
            config = migrate.alembic_config(postgres_url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

        async with engine.begin() as connection:
            await connection.run_sync(upgrade)
            # The rows this transaction read, by scanning the table or through an index.
            read = await connection.scalar(
                text(
                    "SELECT seq_tup_read + coalesce(idx_tup_fetch, 0)"
                    " FROM pg_stat_xact_user_tables WHERE relname = 'inbound_messages'"
                )
            )
        # Each row read once to be stripped and once to be rewritten, and a few where each
        # batch starts. Batches of the next thousand rows to strip read 9,000 here: all
        # those after the previous batch, again for each.
        assert read <= (2 + OTHER_READS.get(revision, 0)) * rows + 10
    finally:
        await engine.dispose()
