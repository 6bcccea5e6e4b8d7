"""JSON log lines, ops alert signatures and their once-per-window dedupe."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot import logs, ops_alerts
from bot.cli import _file_url
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.outbox import OutboxMessage


def _json_logger(stream: io.StringIO) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.UpdateContextFilter())
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("voy.test.json")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def test_json_lines_carry_the_update_and_the_exception() -> None:
    stream = io.StringIO()
    logger = _json_logger(stream)
    logger.info("outside")
    with logs.update_context(42, 1001):
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("handling failed: %s", "x")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "outside" and "update_id" not in first
    assert first["level"] == "INFO" and first["logger"] == "voy.test.json"
    datetime.fromisoformat(first["time"])
    assert second["update_id"] == 42 and second["user"] == logs.who(1001)  # not the id
    assert second["message"] == "handling failed: x" and second["level"] == "ERROR"
    assert "ValueError: boom" in second["exc_info"]


def _raise_here(kind: type[Exception]) -> Exception:
    try:
        raise kind("private text of a young person")
    except Exception as exc:
        return exc


def test_signature_is_the_type_and_origin_not_the_message() -> None:
    one, two = _raise_here(ValueError), _raise_here(ValueError)
    assert ops_alerts.signature(one) == ops_alerts.signature(two)
    assert ops_alerts.signature(one) != ops_alerts.signature(_raise_here(KeyError))
    digest, where = ops_alerts.signature(one)
    assert "test_ops.py" in where and "_raise_here" in where and len(digest) == 16


async def test_one_alert_per_signature_and_window(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await migrate.upgrade(engine)
    sessions = create_session_factory(engine)
    start = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
    window = timedelta(minutes=15)

    async def alert(error: Exception, now: datetime) -> bool:
        async with unit_of_work(sessions) as session:
            return await ops_alerts.enqueue_alert(
                session,
                chat_id=-100,
                error=error,
                update_id=7,
                update_type="message",
                now=now,
                window=window,
                locale="en",
            )

    try:
        flood = [
            await alert(_raise_here(ValueError), start + timedelta(seconds=i)) for i in range(20)
        ]
        assert flood == [True] + [False] * 19
        assert await alert(_raise_here(KeyError), start)  # another error: its own alert
        assert await alert(_raise_here(ValueError), start + window)  # the next window
        async with sessions() as session:
            rows = list(await session.scalars(select(OutboxMessage.text)))
            count = await session.scalar(select(func.count()).select_from(OutboxMessage))
        assert count == 3
        assert all("private text" not in text for text in rows)
        assert "ValueError" in rows[0] and "update 7" in rows[0]
    finally:
        await engine.dispose()


def test_file_url_sits_beside_the_bot_api_url() -> None:
    assert _file_url("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"
