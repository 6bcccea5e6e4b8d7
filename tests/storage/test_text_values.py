"""Text values survive the database on both backends, NUL characters included."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from storage import migrate
from storage.db import create_engine, create_session_factory, to_json, unit_of_work
from storage.models import InboundMessage, User


async def test_nul_characters_do_not_stop_a_message_being_stored(database_url: str) -> None:
    """PostgreSQL text cannot hold U+0000, so it becomes U+FFFD there; SQLite keeps it."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        sessions = create_session_factory(engine)
        async with unit_of_work(sessions) as session:
            session.add(User(telegram_id=2**40, first_name="a\x00b", locale="en", roles=[]))
            session.add(
                InboundMessage(
                    update_id=1,
                    fingerprint="1",
                    kind="text",
                    text="hi\x00there",
                    payload={"message": {"text": "hi\x00there"}},
                )
            )
        expected = "\ufffd" if engine.dialect.name == "postgresql" else "\x00"
        async with sessions() as session:
            user = await session.scalar(select(User))
            row = await session.scalar(select(InboundMessage))
        assert user is not None and user.first_name == f"a{expected}b"
        assert row is not None and row.text == f"hi{expected}there"
        assert row.payload == {"message": {"text": "hi\x00there"}}  # JSON escapes it
    finally:
        await engine.dispose()


def test_json_columns_take_what_an_update_can_carry() -> None:
    """A date PTB leaves as a datetime is written as the Bot API writes it; anything
    else JSON cannot hold is still an error, not quietly turned into text."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert json.loads(to_json({"date": epoch, "n": [1, "二"]})) == {"date": 0, "n": [1, "二"]}
    with pytest.raises(TypeError, match="Decimal"):
        to_json({"odd": Decimal("1.5")})
