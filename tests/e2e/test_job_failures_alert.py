"""Jobs that fail reach the error handler: logged, and the ops chat alerted once per window
(the outbox deliverer and the retention purge used to swallow every exception)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from bot.services import inbox, outbox
from sandbox import SandboxServer
from storage.db import unit_of_work
from storage.outbox import OutboxMessage
from storage.questions import Conversation
from tests.conftest import run_harness
from tests.support import XIAOMING, BotHarness

OPS_CHAT = -1009000000002
FAILED = "error while handling a job"


async def _fault(harness: BotHarness, table: str, event: str, *, on: bool) -> None:
    """Make every ``event`` (UPDATE, DELETE) on ``table`` fail in the database."""
    async with unit_of_work(harness.sessions) as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        name = f"boom_{table}_{event.lower()}"
        if not on:
            await session.execute(text(f"DROP TRIGGER {name}" + f" ON {table}" * postgres))
        elif postgres:
            await session.execute(
                text(
                    "CREATE OR REPLACE FUNCTION boom() RETURNS trigger AS "
                    "$$ BEGIN RAISE EXCEPTION 'boom'; END $$ LANGUAGE plpgsql"
                )
            )
            await session.execute(
                text(
                    f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION boom()"
                )
            )
        else:
            await session.execute(
                text(
                    f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'boom'); END"
                )
            )


async def _alert_rows(harness: BotHarness) -> int:
    async with harness.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "ops_alert")
        )
    return int(count or 0)


async def _notice_due(harness: BotHarness, now: datetime) -> None:
    """An ordinary notice to the ops chat, due now (its delivery run is what fails)."""
    async with unit_of_work(harness.sessions) as session:
        await outbox.enqueue(
            session,
            kind="notice",
            chat_id=OPS_CHAT,
            text="due",
            due_at=now,
            dedupe_key="t:due",
            audience="staff",
        )


def _failures(caplog: pytest.LogCaptureFixture) -> int:
    return sum(FAILED in record.getMessage() for record in caplog.records)


async def test_a_failing_delivery_run_alerts_ops_once_per_window(
    sandbox: SandboxServer, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async for harness in run_harness(sandbox, db_url, ops_chat_id=OPS_CHAT, outbox_interval_s=0.1):
        await harness.client.set_chat(OPS_CHAT, title="ops", type_="supergroup")
        now = harness.app.bot_data.services.clock.now()
        # Claiming a row is an UPDATE: with it failing, every delivery run raises.
        await _fault(harness, "outbox", "UPDATE", on=True)
        await _notice_due(harness, now)
        for _ in range(200):
            if _failures(caplog) >= 3:
                break
            await asyncio.sleep(0.05)
        assert _failures(caplog) >= 3  # the runs failed, and each reached the handler
        assert await _alert_rows(harness) == 1  # one alert for the window
        await _fault(harness, "outbox", "UPDATE", on=False)
        alerts = await _ops_alerts(harness, 1)
        assert len(alerts) == 1 and "Error" in alerts[0]  # the exception type is named


async def test_a_failing_retention_run_alerts_ops_once_per_window(
    sandbox: SandboxServer, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async for harness in run_harness(sandbox, db_url, ops_chat_id=OPS_CHAT):
        await harness.client.set_chat(OPS_CHAT, title="ops", type_="supergroup")
        services = harness.app.bot_data.services
        old = services.clock.now() - timedelta(days=services.settings.retention_days + 1)
        async with unit_of_work(harness.sessions) as session:
            session.add(Conversation(chat_id=987_654, kind="stale", data={}, updated_at=old))
        await _fault(harness, "conversations", "DELETE", on=True)
        (job,) = harness.app.job_queue.get_jobs_by_name("retention")  # type: ignore[union-attr]
        for _ in range(3):
            await job.run(harness.app)
        for _ in range(100):
            if _failures(caplog) >= 3:
                break
            await asyncio.sleep(0.05)
        assert _failures(caplog) == 3
        assert await _alert_rows(harness) == 1
        await _fault(harness, "conversations", "DELETE", on=False)


async def _ops_alerts(harness: BotHarness, count: int) -> list[str]:
    """Wait until the ops chat holds ``count`` alerts from the bot; return them."""
    alerts: list[str] = []
    for _ in range(200):
        messages = [m for m in await harness.client.messages(OPS_CHAT) if m["from_bot"]]
        alerts = [m["text"] for m in messages if m["text"] != "due"]
        if len(alerts) >= count:
            break
        await asyncio.sleep(0.05)
    return alerts


async def test_an_alert_the_outbox_cannot_take_goes_to_the_ops_chat_directly(
    sandbox: SandboxServer, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A job fails with an error that is no outage, and the alert cannot be queued
    either (the outbox takes no rows): it goes straight through the Bot API, once per
    window."""
    caplog.set_level(logging.INFO)
    async for harness in run_harness(sandbox, db_url, ops_chat_id=OPS_CHAT, outbox_interval_s=0.1):
        await harness.client.set_chat(OPS_CHAT, title="ops", type_="supergroup")
        now = harness.app.bot_data.services.clock.now()
        await _notice_due(harness, now)
        await _fault(harness, "outbox", "INSERT", on=True)
        await _fault(harness, "outbox", "UPDATE", on=True)
        for _ in range(200):
            if _failures(caplog) >= 3:
                break
            await asyncio.sleep(0.05)
        assert _failures(caplog) >= 3
        alerts = await _ops_alerts(harness, 1)
        assert len(alerts) == 1 and "Error" in alerts[0]
        assert "could not queue the ops alert" in caplog.text
        assert await _alert_rows(harness) == 0
        await _fault(harness, "outbox", "UPDATE", on=False)
        await _fault(harness, "outbox", "INSERT", on=False)


async def test_an_update_whose_alert_the_outbox_cannot_take_reaches_the_ops_chat(
    sandbox: SandboxServer, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The same for an update (its FAQ match cannot be logged): its alert, queued after
    the rollback, fails."""
    caplog.set_level(logging.INFO)
    async for harness in run_harness(sandbox, db_url, ops_chat_id=OPS_CHAT):
        await harness.client.set_chat(OPS_CHAT, title="ops", type_="supergroup")
        await _fault(harness, "outbox", "INSERT", on=True)
        await _fault(harness, "match_log", "INSERT", on=True)
        await harness.client.send_text(XIAOMING, "请问几岁能入团？")
        alerts = await _ops_alerts(harness, 1)
        assert len(alerts) == 1 and "Error" in alerts[0], alerts
        assert await _alert_rows(harness) == 0
        assert "work kept after a failed update could not be done" in caplog.text
        await _fault(harness, "match_log", "INSERT", on=False)
        await _fault(harness, "outbox", "INSERT", on=False)


async def test_an_update_whose_alert_fails_is_still_stored_as_failed(
    sandbox: SandboxServer, db_url: str
) -> None:
    """The update's failed mark does not depend on its alert: the alert, queued after the
    rollback, fails (and goes out directly), and the update stays stored as failed, with
    its error, to be inspected and retried (``voy updates``); it was left "received", as
    if never handled, and on PostgreSQL a webhook update's row went with the rollback."""
    async for harness in run_harness(sandbox, db_url, ops_chat_id=OPS_CHAT):
        await harness.client.set_chat(OPS_CHAT, title="ops", type_="supergroup")
        await _fault(harness, "outbox", "INSERT", on=True)
        await _fault(harness, "match_log", "INSERT", on=True)
        sent = await harness.client.send_text(XIAOMING, "请问几岁能入团？")
        alerts = await _ops_alerts(harness, 1)
        assert len(alerts) == 1 and "Error" in alerts[0], alerts
        row = await harness.settled(sent["update_id"], timeout=5)
        assert row.status == "failed" and row.error and "Error" in row.error, row
        async with harness.sessions() as session:
            assert [f.id for f in await inbox.failed(session, limit=10)] == [row.id]
        await _fault(harness, "match_log", "INSERT", on=False)
        await _fault(harness, "outbox", "INSERT", on=False)
