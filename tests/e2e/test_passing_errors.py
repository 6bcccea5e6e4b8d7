"""A passing error (Telegram timing out or answering 502, the database connection gone)
does not lose an update: its work is rolled back, it is not stored as failed, and it is
handled again: a polled update after a pause, a webhook update when Telegram sends it
again (the webhook answers 503 until the update's outcome is committed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import edge
from sandbox import SandboxServer
from storage.models import INBOUND_HANDLED, INBOUND_RECEIVED, InboundMessage
from storage.questions import Question
from tests.conftest import prepare
from tests.support import XIAOMING, BotHarness
from tests.webhook_support import WebhookBot, start_webhook_bot, stop_webhook_bot

ASK = "请问几岁能入团啊？"


async def _rows(bot: BotHarness, update_id: int) -> list[InboundMessage]:
    async with bot.sessions() as session:
        return list(
            await session.scalars(
                select(InboundMessage).where(InboundMessage.update_id == update_id)
            )
        )


async def _questions(bot: BotHarness) -> int:
    async with bot.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Question)) or 0)


async def _replies(bot: BotHarness) -> list[str]:
    return [m["text"] for m in await bot.client.messages(XIAOMING["id"]) if m["from_bot"]]


async def test_a_polled_update_is_tried_again_after_a_telegram_outage(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(edge, "RETRY_PAUSES_S", (0.5, 0.5, 0.5))
    await harness.client.set_fault("sendMessage", 502, description="Bad Gateway")
    sent = await harness.client.send_text(XIAOMING, ASK)
    await asyncio.sleep(0.3)  # the first attempt fails
    (row,) = await _rows(harness, sent["update_id"])
    assert row.status == INBOUND_RECEIVED and row.error is None  # not stored as failed
    assert await _questions(harness) == 0  # its work was rolled back
    await harness.client.set_fault("sendMessage", 0)
    handled = await harness.settled(sent["update_id"])
    assert (handled.status, handled.error) == (INBOUND_HANDLED, None)
    assert await _questions(harness) == 1
    assert any("年满十四周岁" in text for text in await _replies(harness))
    processor = harness.app.update_processor
    assert isinstance(processor, edge.SessionUpdateProcessor)
    assert processor._outcomes == processor._watchers == {}  # no webhook waits: none kept


async def test_an_update_failing_for_good_is_stored_as_failed_after_its_attempts(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(edge, "RETRY_PAUSES_S", (0.1, 0.1, 0.1))
    await harness.client.set_fault("sendMessage", 502, description="Bad Gateway")
    sent = await harness.client.send_text(XIAOMING, ASK)
    row = await harness.settled(sent["update_id"])
    assert row.status != INBOUND_HANDLED and row.error is not None
    assert "NetworkError" in row.error
    await harness.client.set_fault("sendMessage", 0)


@pytest.fixture
async def hooked(sandbox: SandboxServer, sqlite_url: str) -> AsyncIterator[WebhookBot]:
    await prepare(sqlite_url)
    bot = await start_webhook_bot(sandbox, sqlite_url)
    yield bot
    if not bot.task.done():
        await stop_webhook_bot(bot)


async def test_a_webhook_update_is_refused_until_committed(hooked: WebhookBot) -> None:
    await hooked.client.set_fault("sendMessage", 502, description="Bad Gateway")
    seq = await hooked.client.last_seq()
    sent = await hooked.client.send_text(XIAOMING, ASK)
    refused = await hooked.client.wait_for_event(
        lambda e: e["type"] == "webhook_error" and e["update_id"] == sent["update_id"],
        after_seq=seq,
        timeout=10,
    )
    assert "503" in refused["error"]  # Telegram is asked to send it again
    assert await _questions(hooked) == 0
    await hooked.client.set_fault("sendMessage", 0)
    handled = await hooked.settled(sent["update_id"], timeout=20)
    assert (handled.status, handled.error) == (INBOUND_HANDLED, None)
    assert len(await _rows(hooked, sent["update_id"])) == 1
    assert await _questions(hooked) == 1
    assert sum("年满十四周岁" in text for text in await _replies(hooked)) == 1


def _take_away(path: Path) -> Path:
    """Move the database file aside and put a folder in its place: SQLite cannot open a
    folder (a missing file it would create, empty)."""
    away = path.with_name(path.name + ".away")
    path.rename(away)
    path.mkdir()
    return away


def _bring_back(path: Path, away: Path) -> None:
    path.rmdir()
    away.rename(path)


@pytest.mark.sqlite_only("makes the database unreachable by replacing the SQLite file")
async def test_a_webhook_update_is_refused_while_the_database_is_away(
    hooked: WebhookBot, sqlite_url: str
) -> None:
    """It was once answered 200 and never stored: Telegram would not send it again."""
    engine = hooked.app.bot_data.services.engine
    await engine.dispose()
    path = Path(sqlite_url.split("///", 1)[1])
    away = _take_away(path)
    try:
        seq = await hooked.client.last_seq()
        sent = await hooked.client.send_text(XIAOMING, ASK)
        refused = await hooked.client.wait_for_event(
            lambda e: e["type"] == "webhook_error" and e["update_id"] == sent["update_id"],
            after_seq=seq,
            timeout=10,
        )
        assert "503" in refused["error"]
    finally:
        _bring_back(path, away)
        await engine.dispose()
    handled = await hooked.settled(sent["update_id"], timeout=20)
    assert (handled.status, handled.error) == (INBOUND_HANDLED, None)
    assert sum("年满十四周岁" in text for text in await _replies(hooked)) == 1
