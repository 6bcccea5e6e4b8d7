"""Two instances polling one token: Telegram ends one long poll with 409 Conflict each
time the other starts one. The instance says so (/healthz, one ops alert, one log line)
instead of looping on it with a traceback per retry while reporting itself healthy."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import aiohttp
import pytest
from telegram.error import Conflict

from bot import polling_watch
from bot.runner import metrics_server
from sandbox import SandboxServer
from tests.conftest import run_harness
from tests.support import BotHarness

OPS_CHAT = -1009000000004


async def _health(port: int) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as r:
        return r.status, json.loads(await r.text())


async def _health_becomes(port: int, status: int, timeout: float) -> dict[str, object]:
    """Wait until ``/healthz`` answers ``status``; return its body."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (health := await _health(port))[0] != status:
        assert asyncio.get_running_loop().time() < deadline, f"/healthz: {health}"
        await asyncio.sleep(0.05)
    return health[1]


async def _ops_texts(harness: BotHarness) -> list[str]:
    return [m["text"] for m in await harness.client.messages(OPS_CHAT) if m["from_bot"]]


async def test_a_second_instance_polling_the_token_is_reported(
    sandbox: SandboxServer,
    sqlite_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    # The test's polls last 1 s: 3 conflicts within 6 s, and healthy after 6 s without.
    monkeypatch.setattr(polling_watch, "CONFLICT_WINDOW_S", 6.0)
    other_db = f"sqlite+aiosqlite:///{tmp_path / 'other' / 'voy.sqlite3'}"
    async for first in run_harness(sandbox, sqlite_url, ops_chat_id=OPS_CHAT, instance_id="first"):
        await first.client.set_chat(OPS_CHAT, title="ops", type_="supergroup")
        async with metrics_server(first.app, host="127.0.0.1", port=0) as server:
            assert (await _health(server.port))[0] == 200
            # A second instance on the same token (a stray copy on another host, with a
            # database of its own).
            async for _second in run_harness(
                sandbox, other_db, ops_chat_id=OPS_CHAT, instance_id="second"
            ):
                body = await _health_becomes(server.port, 503, timeout=20)
                assert body["database"] is True and body["reason"] == "polling_conflict"
                deadline = asyncio.get_running_loop().time() + 10
                while not any("first" in text for text in await _ops_texts(first)):
                    assert asyncio.get_running_loop().time() < deadline, "no alert"
                    await asyncio.sleep(0.05)
                await asyncio.sleep(2.0)  # more conflicts: still one alert each
                texts = await _ops_texts(first)
                assert sum("first" in text for text in texts) == 1
                assert len(texts) <= 2 and all("409" in text for text in texts)
            await _health_becomes(server.port, 200, timeout=40)
    conflicts = [r for r in caplog.records if "another instance" in r.getMessage()]
    assert 1 <= len([r for r in conflicts if r.levelno >= logging.WARNING]) <= 2
    tracebacks = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], Conflict)]
    assert tracebacks == []
    # Telegram's 409s were the test's doing, not the bot's breaking a rule.
    assert {v["error_code"] for v in sandbox.violations} <= {409}
    sandbox.violations.clear()


async def test_a_webhook_set_while_polling_is_reported_as_such(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    """Telegram answers getUpdates 409 while a webhook is set (an instance started by
    webhook on the same token): not "another instance polling"."""
    async for harness in run_harness(sandbox, sqlite_url, ops_chat_id=OPS_CHAT):
        await harness.client.set_chat(OPS_CHAT, title="ops", type_="supergroup")
        async with metrics_server(harness.app, host="127.0.0.1", port=0) as server:
            await harness.app.bot.set_webhook("https://voy.example.org/telegram")
            try:
                body = await _health_becomes(server.port, 503, timeout=20)
                assert body["reason"] == "webhook_set"
                deadline = asyncio.get_running_loop().time() + 10
                while not (texts := await _ops_texts(harness)):
                    assert asyncio.get_running_loop().time() < deadline, "no alert"
                    await asyncio.sleep(0.05)
                (alert,) = texts
                assert "webhook" in alert and "Another instance" not in alert
            finally:
                await harness.app.bot.delete_webhook()
    assert {v["error_code"] for v in sandbox.violations} <= {409}
    sandbox.violations.clear()
