"""Updates Telegram cannot deliver to the webhook (a reverse proxy refusing or misrouting
them) never reach an instance: the bot reads Telegram's getWebhookInfo and says so, in
/healthz, the metrics and one ops alert per episode, with a notice once deliveries go
through again. The sandbox plays the proxy: its delivery targets are set to a path the
bot does not serve."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import leases, webhook_watch
from sandbox import SandboxServer
from tests.conftest import prepare
from tests.support import XIAOMING
from tests.webhook_support import (
    SECRET,
    WebhookBot,
    free_port,
    start_webhook_bot,
    stop_webhook_bot,
)

OPS_CHAT = -1009000000005
# The test's checks come five times a second (production's: every minute).
INTERVAL_S = 0.2


@pytest.fixture
async def watched(sandbox: SandboxServer, database_url: str) -> AsyncIterator[WebhookBot]:
    """The bot by webhook, reading getWebhookInfo every INTERVAL_S, with an ops chat."""
    await prepare(database_url)
    bot = await start_webhook_bot(
        sandbox, database_url, ops_chat_id=OPS_CHAT, webhook_check_interval_s=INTERVAL_S
    )
    await bot.client.set_chat(OPS_CHAT, title="ops", type_="supergroup")
    yield bot
    if not bot.task.done():
        await stop_webhook_bot(bot)


async def _health(bot: WebhookBot) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{bot.base}/healthz") as response:
        return response.status, json.loads(await response.text())


async def _metric(bot: WebhookBot, name: str) -> float | None:
    async with aiohttp.ClientSession() as http, http.get(f"{bot.base}/metrics") as response:
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    return None


async def _checked(bot: WebhookBot) -> bool:
    """Whether the bot has read getWebhookInfo (the gauges appear then)."""
    return await _metric(bot, "voy_webhook_pending_updates") is not None


async def _ops(bot: WebhookBot) -> list[str]:
    try:
        return [m["text"] for m in await bot.client.messages(OPS_CHAT) if m["from_bot"]]
    except RuntimeError:  # the sandbox has not seen the chat yet
        return []


async def _until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return result


async def test_a_misrouted_webhook_is_reported_until_deliveries_go_through(
    watched: WebhookBot,
) -> None:
    assert await _health(watched) == (200, {"status": "ok", "database": True})
    await _until(lambda: _checked(watched), "a first check")
    assert await _metric(watched, "voy_webhook_pending_updates") == 0
    # The proxy sends Telegram's POSTs to a path the bot does not serve: 404.
    await watched.client.set_webhook_targets([f"{watched.base}/wrong/path"])
    sent_at, seq = time.time(), await watched.client.last_seq()
    await watched.client.send_text(XIAOMING, "请问几岁能入团啊？")

    async def failing() -> dict[str, Any] | None:
        body = (await _health(watched))[1]
        return body if body.get("reason") == webhook_watch.FAILING else None

    body = await _until(failing, "/healthz to report the failing webhook")
    assert body["status"] == "degraded" and body["database"] is True
    # Not 503: an orchestrator would take every instance out for a fault before them,
    # and deliveries could never succeed again.
    assert (await _health(watched))[0] == 200
    assert (await _metric(watched, "voy_webhook_pending_updates") or 0) >= 1
    last_error = await _metric(watched, "voy_webhook_last_error_timestamp")
    assert last_error is not None and last_error >= int(sent_at)
    (alert,) = await _until(lambda: _ops(watched), "the ops alert")
    assert "404" in alert and f"{watched.base}/telegram" in alert  # Telegram's error, our URL
    await asyncio.sleep(10 * INTERVAL_S)  # Telegram keeps failing: still one alert
    assert await _ops(watched) == [alert]
    assert (await _health(watched))[1]["reason"] == webhook_watch.FAILING

    # The proxy is fixed: the update waiting at Telegram arrives and is answered.
    await watched.client.set_webhook_targets([])
    reply = await watched.client.wait_for_bot_message(XIAOMING["id"], after_seq=seq, timeout=15)
    assert "年满十四周岁" in reply["text"]
    texts = await _until(
        lambda: _ops_when(watched, lambda texts: len(texts) == 2), "the notice that it works"
    )
    assert texts[0] == alert and "🟢" in texts[1]
    assert await _health(watched) == (200, {"status": "ok", "database": True})
    assert await _metric(watched, "voy_webhook_pending_updates") == 0


async def _ops_when(bot: WebhookBot, ready: Callable[[list[str]], bool]) -> list[str] | None:
    texts = await _ops(bot)
    return texts if ready(texts) else None


async def test_a_webhook_registered_elsewhere_is_reported(watched: WebhookBot) -> None:
    """Another deployment called setWebhook with its URL (or an instance run by polling
    deleted the webhook): this one receives nothing."""
    own = f"{watched.base}/telegram"
    await _until(lambda: _checked(watched), "a first check")
    elsewhere = f"http://127.0.0.1:{free_port()}/other-deployment"
    await watched.app.bot.set_webhook(elsewhere, secret_token=SECRET)

    async def replaced() -> dict[str, Any] | None:
        body = (await _health(watched))[1]
        return body if body.get("reason") == webhook_watch.REPLACED else None

    body = await _until(replaced, "/healthz to report the webhook elsewhere")
    assert body["status"] == "degraded"
    (alert,) = await _until(lambda: _ops(watched), "the ops alert")
    assert elsewhere in alert and own in alert
    # Deleted now (an instance started by polling): said again, in its own words.
    await watched.app.bot.delete_webhook()
    texts = await _until(lambda: _ops_when(watched, lambda t: len(t) == 2), "a second alert")
    assert texts[0] == alert and elsewhere not in texts[1] and own in texts[1]
    await asyncio.sleep(5 * INTERVAL_S)
    assert len(await _ops(watched)) == 2
    # Registered again (a restart of an instance does it).
    await watched.app.bot.set_webhook(own, secret_token=SECRET)
    texts = await _until(lambda: _ops_when(watched, lambda t: len(t) == 3), "the notice")
    assert "🟢" in texts[2]
    assert await _health(watched) == (200, {"status": "ok", "database": True})


async def test_with_two_instances_one_alert_per_episode(
    sandbox: SandboxServer, database_url: str
) -> None:
    """Every instance reads getWebhookInfo and reports in its own /healthz; the ops chat
    hears it from the one holding the watch's lease, once."""
    await prepare(database_url)
    ports = free_port(), free_port()
    url = f"http://127.0.0.1:{ports[0]}/telegram"
    options: dict[str, Any] = {"ops_chat_id": OPS_CHAT, "webhook_check_interval_s": INTERVAL_S}
    bots = [
        await start_webhook_bot(
            sandbox, database_url, port=port, url=url, instance_id=name, **options
        )
        for port, name in zip(ports, ("watcher-a", "watcher-b"), strict=True)
    ]
    one = bots[0]
    try:
        await one.client.set_chat(OPS_CHAT, title="ops", type_="supergroup")
        await one.client.set_webhook_targets([f"{bot.base}/wrong/path" for bot in bots])
        await one.client.send_text(XIAOMING, "请问几岁能入团啊？")
        for bot in bots:

            async def failing(bot: WebhookBot = bot) -> bool:
                return (await _health(bot))[1].get("reason") == webhook_watch.FAILING

            await _until(failing, "each instance to report the failing webhook")
        (alert,) = await _until(lambda: _ops(one), "the ops alert")
        async with one.sessions() as session:
            holder = await leases.current_holder(session, webhook_watch.LEASE)
        assert holder in ("watcher-a", "watcher-b") and holder in alert
        await asyncio.sleep(10 * INTERVAL_S)
        assert await _ops(one) == [alert]
        await one.client.set_webhook_targets([f"{bot.base}/telegram" for bot in bots])
        texts = await _until(lambda: _ops_when(one, lambda t: len(t) == 2), "the notice")
        assert "🟢" in texts[1]
        await asyncio.sleep(5 * INTERVAL_S)
        assert len(await _ops(one)) == 2
        for bot in bots:
            assert (await _health(bot))[1]["status"] == "ok"
    finally:
        for bot in bots:
            await stop_webhook_bot(bot)
