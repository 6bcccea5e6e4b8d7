"""A database error while handling a message: neither the log nor the inbound log's
``error`` column may carry what the person wrote or their name (SQLAlchemy puts the
statement's parameters into the exception's text)."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select, text

from bot.logs import JsonFormatter
from sandbox import SandboxServer
from storage.db import unit_of_work
from storage.models import InboundMessage
from tests.conftest import run_harness
from tests.support import XIAOMING, BotHarness

SECRET_TEXT = "BASKETBALL-SECRET-7731 周末开放吗"
SECRET_NAME = "NAME-SECRET-5519"

_SQLITE = {
    "users": "CREATE TRIGGER boom_users BEFORE INSERT ON users "
    "BEGIN SELECT RAISE(ABORT, 'boom'); END",
    "questions": "CREATE TRIGGER boom_questions BEFORE INSERT ON questions "
    "BEGIN SELECT RAISE(ABORT, 'boom'); END",
}
_POSTGRES_FUNCTION = (
    "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$ "
    "LANGUAGE plpgsql"
)
_POSTGRES = {
    table: f"CREATE TRIGGER boom_{table} BEFORE INSERT ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION boom()"
    for table in ("users", "questions")
}


async def _fail_inserts(harness: BotHarness, table: str, *, on: bool) -> None:
    async with unit_of_work(harness.sessions) as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        if not on:
            await session.execute(text(f"DROP TRIGGER boom_{table}" + (f" ON {table}" * postgres)))
            return
        if postgres and table == "users":
            await session.execute(text(_POSTGRES_FUNCTION))
        await session.execute(text((_POSTGRES if postgres else _SQLITE)[table]))


async def test_db_errors_keep_personal_data_out_of_logs_and_the_inbound_log(
    sandbox: SandboxServer, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    stranger = {"id": 7_700_001, "first_name": SECRET_NAME, "language_code": "zh-hans"}
    async for harness in run_harness(sandbox, db_url):
        await harness.send(XIAOMING, "/start")  # 小明 exists before users fail
        await _fail_inserts(harness, "users", on=True)
        await harness.send(stranger, "/help")  # registering the sender fails
        await _fail_inserts(harness, "users", on=False)
        await _fail_inserts(harness, "questions", on=True)
        replies = await harness.send(XIAOMING, SECRET_TEXT)  # storing the question fails
        # The person is told, although the failed flush left the session unusable.
        assert any("出了点问题" in (m.get("text") or "") for m in replies), replies
        async with harness.sessions() as session:
            errors = list(
                await session.scalars(
                    select(InboundMessage.error).where(InboundMessage.error.isnot(None))
                )
            )
    assert len(errors) == 2, errors
    json_lines = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    for logged in (caplog.text, json_lines, json.dumps(errors, ensure_ascii=False)):
        assert "Error" in logged  # the failures are there
        assert "BASKETBALL-SECRET" not in logged and SECRET_NAME not in logged
    # Only the exception's type is kept: its message may quote the database's values.
    assert all("boom" not in e and "[parameters" not in e for e in errors), errors
