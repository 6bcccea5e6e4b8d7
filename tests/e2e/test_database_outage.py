"""A database outage reaches the ops chat: the alert goes straight through the Bot API
(the outbox is a table in the database that is down), once per kind of failure and
window, and one notice follows when the database is back (it answers, and nothing failed
for ``outage.QUIET_S``, here 1 s)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from bot import outage
from bot.i18n import html_to_plain, load_catalog
from bot.runner import metrics_server
from sandbox import SandboxServer
from tests.conftest import prepare, run_harness
from tests.support import XIAOMING, BotHarness
from tests.webhook_support import start_webhook_bot, stop_webhook_bot

OPS_CHAT = -1009000000003
ASK = "请问几岁能入团啊？我叫小明，住在幸福路 12 号"

pytestmark = pytest.mark.sqlite_only("makes the database unreachable by replacing the file")


@pytest.fixture(autouse=True)
def _short_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outage, "QUIET_S", 1.0)


def _take_away(url: str) -> tuple[Path, Path]:
    """Move the SQLite file aside and put a folder in its place (SQLite cannot open a
    folder; a missing file it would create, empty)."""
    path = Path(url.split("///", 1)[1])
    away = path.with_name(path.name + ".away")
    path.rename(away)
    path.mkdir()
    return path, away


def _bring_back(path: Path, away: Path) -> None:
    path.rmdir()
    away.rename(path)


async def _ops_texts(harness: BotHarness) -> list[str]:
    return [m["text"] for m in await harness.client.messages(OPS_CHAT) if m["from_bot"]]


async def _ops_count(harness: BotHarness, count: int, timeout: float = 15.0) -> list[str]:
    """Wait until the ops chat holds ``count`` bot messages; return their texts."""
    deadline = asyncio.get_running_loop().time() + timeout
    while len(texts := await _ops_texts(harness)) < count:
        assert asyncio.get_running_loop().time() < deadline, f"ops chat: {texts}"
        await asyncio.sleep(0.05)
    return texts


async def _back(harness: BotHarness) -> None:
    """The ops chat holds exactly the alert and, after it, the notice that it is back."""
    template = load_catalog(harness.settings.default_locale)["ops.db_back"]
    back = html_to_plain(template.split("{")[0]).strip()
    await _ops_count(harness, 2)
    await asyncio.sleep(0.5)  # nothing more comes
    texts = await _ops_texts(harness)
    assert len(texts) == 2 and texts[1].startswith(back), texts


async def _health(port: int) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as r:
        return r.status, json.loads(await r.text())


def _pause_jobs(harness: BotHarness) -> None:
    """Stop the repeating jobs, so only the update under test meets the outage."""
    assert harness.app.job_queue is not None
    for job in harness.app.job_queue.jobs():
        job.schedule_removal()


def _private(text: str, url: str) -> None:
    """Nothing of the database's address nor of what a person wrote is in ``text``."""
    assert Path(url.split("///", 1)[1]).name not in text and "aiosqlite" not in text
    assert "小明" not in text and "幸福路" not in text


async def test_a_job_meeting_the_outage_alerts_ops_directly_then_says_when_it_is_back(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    """The deliverer's runs fail every 0.1 s while the database is away: one alert, sent
    while the database is still away; /healthz says so; one notice when it is back."""
    async for harness in run_harness(sandbox, sqlite_url, ops_chat_id=OPS_CHAT):
        await harness.client.set_chat(OPS_CHAT, title="ops", type_="supergroup")
        async with metrics_server(harness.app, host="127.0.0.1", port=0) as server:
            assert (await _health(server.port))[0] == 200
            await harness.app.bot_data.services.engine.dispose()
            path, away = _take_away(sqlite_url)
            try:
                await _ops_count(harness, 1)
                await asyncio.sleep(1.0)  # ten more failed runs: no second alert
                (alert,) = await _ops_texts(harness)
                assert "OperationalError" in alert
                _private(alert, sqlite_url)
                status, body = await _health(server.port)
                assert status == 503 and body["database"] is False
            finally:
                _bring_back(path, away)
            await _back(harness)
            assert (await _health(server.port))[0] == 200


async def test_a_polled_update_meeting_the_outage_alerts_ops_without_its_text(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    """Polling: the update cannot be stored (the intake's commit fails), so getUpdates is
    not called again; the alert goes out meanwhile, and the update is handled after."""
    async for harness in run_harness(sandbox, sqlite_url, ops_chat_id=OPS_CHAT):
        await harness.client.set_chat(OPS_CHAT, title="ops", type_="supergroup")
        _pause_jobs(harness)
        await harness.app.bot_data.services.engine.dispose()
        path, away = _take_away(sqlite_url)
        try:
            sent = await harness.client.send_text(XIAOMING, ASK)
            await _ops_count(harness, 1)
            (alert,) = await _ops_texts(harness)
            _private(alert, sqlite_url)
        finally:
            _bring_back(path, away)
        await harness.settled(sent["update_id"], timeout=30)
        messages = await harness.client.messages(XIAOMING["id"])
        assert any(m["from_bot"] for m in messages)  # answered once it could be stored
        await _back(harness)


async def test_a_webhook_update_meeting_the_outage_alerts_ops_directly(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    """Webhook: the edge cannot store the update and answers 503 (Telegram sends it
    again); that failure never reached the error handler, so nobody was told."""
    await prepare(sqlite_url)
    bot = await start_webhook_bot(sandbox, sqlite_url, ops_chat_id=OPS_CHAT)
    try:
        await bot.client.set_chat(OPS_CHAT, title="ops", type_="supergroup")
        _pause_jobs(bot)
        await bot.app.bot_data.services.engine.dispose()
        path, away = _take_away(sqlite_url)
        try:
            sent = await bot.client.send_text(XIAOMING, ASK)
            await _ops_count(bot, 1)
            await asyncio.sleep(1.0)  # Telegram sends it again meanwhile: no second alert
            (alert,) = await _ops_texts(bot)
            _private(alert, sqlite_url)
        finally:
            _bring_back(path, away)
        await bot.settled(sent["update_id"], timeout=30)
        await _back(bot)
    finally:
        await stop_webhook_bot(bot)
