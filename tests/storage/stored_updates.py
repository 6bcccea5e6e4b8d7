"""Shared steps of the tests of migrations that strip other people from stored updates:
rows stored before the migration, upgraded, then read back and checked."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update

from bot.services import inbox
from storage import migrate
from storage.models import InboundMessage

# Every status a stored update can have: handled or not, each is stripped.
STATUSES = ("handled", "failed", "received", "requeued")


def rows_of(
    payloads: dict[str, dict[str, Any]], row: Callable[[int, str, str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """A row per payload, in turn of every status; ``plain`` (nobody else in it) last."""
    rows = [
        row(n, name, STATUSES[n % len(STATUSES)])
        for n, name in enumerate(payloads)
        if name != "plain"
    ]
    rows.append(row(99, "plain", "handled"))
    return rows


async def upgraded(
    engine: AsyncEngine, rows: list[dict[str, Any]], *, before: str
) -> dict[str, Any]:
    """Store ``rows`` at revision ``before``, upgrade to the newest, and return each row's
    payload by its text."""
    table = InboundMessage.__table__
    await migrate.upgrade(engine, before)
    async with engine.begin() as connection:
        for row in rows:
            await connection.execute(insert(table).values(**row))
    await migrate.upgrade(engine)
    async with engine.connect() as connection:
        found = (await connection.execute(select(table.c.text, table.c.payload))).all()
    return {text: payload for text, payload in found}


def assert_stripped(
    found: dict[str, Any], rows: list[dict[str, Any]], third_party: tuple[str, ...]
) -> None:
    """No payload names any of ``third_party``; PTB reads each back; ``plain`` is as it
    was stored."""
    for name, payload in found.items():
        if name == "plain":
            continue
        stored = json.dumps(payload, ensure_ascii=False)
        assert not [t for t in third_party if t in stored], (name, stored)
        # What was not handled yet can still be: PTB reads it.
        assert Update.de_json(inbox.readable(payload), None) is not None, name
    assert found["plain"] == rows[-1]["payload"]  # the sender's own words stay
