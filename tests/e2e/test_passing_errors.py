"""A passing error (Telegram timing out or answering 502, the database connection gone)
does not lose an update: its work is rolled back, it is not stored as failed, and it is
handled again: a polled update after a pause, a webhook update when Telegram sends it
again (the webhook answers 503 until the update's outcome is committed)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from bot import edge, ops_alerts
from bot.services import users
from sandbox import SandboxServer
from storage.db import unit_of_work
from storage.models import INBOUND_HANDLED, INBOUND_RECEIVED, InboundMessage
from storage.outbox import OutboxMessage
from storage.questions import Question
from tests.conftest import prepare, run_harness
from tests.e2e.test_question_loop_edges import LI, _ask, _setup, _wait
from tests.support import XIAOMING, BotHarness, button_data
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


async def _ask_while_telegram_fails(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch, pause: float
) -> dict[str, Any]:
    """Every sendMessage fails with 502; retries come ``pause`` seconds apart."""
    monkeypatch.setattr(edge, "RETRY_PAUSES_S", (pause,) * 3)
    await harness.client.set_fault("sendMessage", 502, description="Bad Gateway")
    return await harness.client.send_text(XIAOMING, ASK)


async def test_a_polled_update_is_tried_again_after_a_telegram_outage(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = await _ask_while_telegram_fails(harness, monkeypatch, 0.5)
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
    sent = await _ask_while_telegram_fails(harness, monkeypatch, 0.1)
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


async def _refused_with_503(hooked: WebhookBot) -> dict[str, Any]:
    """Send the question by webhook; wait until the bot refuses it with 503 (so Telegram
    sends it again)."""
    seq = await hooked.client.last_seq()
    sent = await hooked.client.send_text(XIAOMING, ASK)
    refused = await hooked.client.wait_for_event(
        lambda e: e["type"] == "webhook_error" and e["update_id"] == sent["update_id"],
        after_seq=seq,
        timeout=10,
    )
    assert "503" in refused["error"]
    return sent


async def test_a_webhook_update_is_refused_until_committed(hooked: WebhookBot) -> None:
    await hooked.client.set_fault("sendMessage", 502, description="Bad Gateway")
    sent = await _refused_with_503(hooked)
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
        sent = await _refused_with_503(hooked)
    finally:
        _bring_back(path, away)
        await engine.dispose()
    handled = await hooked.settled(sent["update_id"], timeout=20)
    assert (handled.status, handled.error) == (INBOUND_HANDLED, None)
    assert sum("年满十四周岁" in text for text in await _replies(hooked)) == 1


async def test_a_retried_press_keeps_its_place_in_its_chat(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """✍️ pressed while Telegram fails, then the answer typed: the press is tried again
    before the text is handled, so the text is the answer (it once became a question of
    the cadre's own, and the young person never got the answer)."""
    monkeypatch.setattr(edge, "RETRY_PAUSES_S", (0.5, 0.5, 0.5))
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    await harness.client.set_fault("answerCallbackQuery", 502, description="Bad Gateway")
    seq = await harness.client.last_seq()
    await harness.client.press(LI, card["message_id"], button_data(card, "答复"))
    typed = await harness.client.send_text(LI, "在青年之家报名。")
    await asyncio.sleep(0.3)
    await harness.client.set_fault("answerCallbackQuery", 0)
    await harness.settled(typed["update_id"], timeout=15)
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    assert "在青年之家报名" in answer["text"]
    assert await _questions(harness) == 1
    staff_side = [m["text"] for m in await harness.client.messages(LI["id"]) if m["from_bot"]]
    assert not any("出了点问题" in text for text in staff_side)  # no apology: it was retried


async def test_the_retry_holds_when_the_ops_alert_cannot_be_saved(
    sandbox: SandboxServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alert is queued in the database, which may be what is failing: its failure
    must not cost the retry (it once left the update waiting until a restart)."""
    monkeypatch.setattr(edge, "RETRY_PAUSES_S", (0.5, 0.5, 0.5))

    async def cannot_save(session: AsyncSession, **_kwargs: object) -> None:
        session.add(OutboxMessage())  # a flush that fails leaves the session to roll back
        await session.flush()

    monkeypatch.setattr(ops_alerts, "enqueue_alert", cannot_save)
    async for harness in run_harness(sandbox, sqlite_url, ops_chat_id=-1009000000001):
        await harness.client.set_fault("sendMessage", 502, description="Bad Gateway")
        sent = await harness.client.send_text(XIAOMING, ASK)
        await asyncio.sleep(0.3)
        await harness.client.set_fault("sendMessage", 0)
        handled = await harness.settled(sent["update_id"], timeout=10)
        assert (handled.status, handled.error) == (INBOUND_HANDLED, None)
        assert any("年满十四周岁" in text for text in await _replies(harness))


@contextlib.contextmanager
def _commit_fails_once() -> Iterator[list[str]]:
    """The update's "handled" mark fails once, as when the database connection drops
    just before the commit: after the handlers have sent their replies."""
    failed: list[str] = []

    def drop(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        mark = statement.lstrip().upper().startswith("UPDATE INBOUND_MESSAGES SET")
        if not failed and mark and "handled_at" in statement and "requeued_at" not in statement:
            failed.append(statement)
            raise sa_exc.OperationalError(statement, {}, ConnectionError("dropped (injected)"))

    event.listen(Engine, "before_cursor_execute", drop)
    try:
        yield failed
    finally:
        event.remove(Engine, "before_cursor_execute", drop)


async def test_a_reply_sent_before_a_passing_failure_is_not_sent_again(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(edge, "RETRY_PAUSES_S", (0.3,) * 3)
    with _commit_fails_once() as failed:
        sent = await harness.client.send_text(XIAOMING, ASK)
        handled = await harness.settled(sent["update_id"], timeout=10)
    assert failed and (handled.status, handled.error) == (INBOUND_HANDLED, None)
    (reply,) = await _replies(harness)
    assert "年满十四周岁" in reply


async def test_a_reply_reading_differently_on_the_retry_is_corrected_not_sent_again(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry takes a new question number (another question came in between): the
    reply already sent is edited to it; the person never sees the number that was rolled
    back, nor two replies."""
    monkeypatch.setattr(edge, "RETRY_PAUSES_S", (1.0,) * 3)
    await harness.send(XIAOMING, "/help")
    with _commit_fails_once() as failed:
        sent = await harness.client.send_text(XIAOMING, "小区篮球场坏了找谁修")
        for _ in range(100):
            if failed:
                break
            await asyncio.sleep(0.01)
        async with unit_of_work(harness.sessions) as session:  # someone else's question
            other = await users.get_by_telegram_id(session, XIAOMING["id"])
            assert other is not None
            session.add(Question(user_id=other.id, text="另一个问题", status="routed"))
        await harness.settled(sent["update_id"], timeout=10)
    async with harness.sessions() as session:
        taken = await session.scalar(
            select(Question.id).where(Question.inbound_update_id == sent["update_id"])
        )
    replies = [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]]
    ticket = [m for m in replies if "问题编号" in m["text"]]
    assert len(ticket) == 1, [m["text"] for m in replies]
    assert f"问题编号 {taken}" in ticket[0]["text"] and ticket[0]["edited"]
