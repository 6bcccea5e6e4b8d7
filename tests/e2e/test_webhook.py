"""Webhook mode through the sandbox: the real Application behind our aiohttp server.

The sandbox posts updates to the bot's webhook with the secret header, as Telegram does;
the bot answers through the sandbox's Bot API. Health, metrics, graceful shutdown and the
ops chat's alerts are checked from outside, over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import func, select, update
from telegram import Update

from bot.config import Settings
from bot.digest_render import cjk_font
from bot.services import inbox, outbox
from bot.services.privacy import log_pseudonym
from bot.webhook import SECRET_HEADER, BotWebServer
from sandbox import SandboxClient, SandboxServer
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import InboundMessage
from storage.outbox import OutboxMessage
from tests.conftest import prepare
from tests.support import COMMITTEE_CHAT, TOKEN, XIAOMING, BotHarness
from tests.webhook_support import (
    SECRET,
    WebhookBot,
    free_port,
    start_webhook_bot,
    stop_webhook_bot,
)

OPS_CHAT = -1009000000001
# `voy run` in a child process runs this tree's code, not an editable install's.
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def hooked(sandbox: SandboxServer, sqlite_url: str) -> AsyncIterator[WebhookBot]:
    """The bot on a fresh SQLite database, receiving by webhook, with an ops chat."""
    await prepare(sqlite_url)
    bot = await start_webhook_bot(sandbox, sqlite_url, ops_chat_id=OPS_CHAT)
    await bot.client.set_chat(COMMITTEE_CHAT, title="团委", type_="supergroup", admins=[2001])
    await bot.client.set_chat(OPS_CHAT, title="ops", type_="supergroup")
    yield bot
    if not bot.task.done():
        await stop_webhook_bot(bot)


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def _post(url: str, body: Any, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as r:
        return r.status


def _message_update(update_id: int, text: str, *, user: dict[str, Any] = XIAOMING) -> dict:
    chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    sender = {"id": user["id"], "is_bot": False, "first_name": user["first_name"]}
    message = {"message_id": 90_000 + update_id, "date": 1_795_000_000, "chat": chat}
    return {"update_id": update_id, "message": {**message, "from": sender, "text": text}}


async def _bot_messages(bot: BotHarness, chat_id: int = XIAOMING["id"]) -> int:
    return len([m for m in await bot.client.messages(chat_id) if m["from_bot"]])


async def _inbound_count(bot: BotHarness) -> int:
    async with bot.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(InboundMessage)) or 0)


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus exposition (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def test_messages_arrive_by_webhook_and_get_replies(hooked: WebhookBot) -> None:
    info = await hooked.client.webhook()
    assert info["url"] == f"{hooked.base}/telegram" and info["pending_update_count"] == 0
    # Only the kinds it handles: not chat_member or reactions, which name other people.
    assert sorted(info["allowed_updates"]) == ["callback_query", "edited_message", "message"]
    assert hooked.app.updater is not None and not hooked.app.updater.running  # no polling
    seq = await hooked.client.last_seq()
    (reply,) = await hooked.send(XIAOMING, "请问几岁能入团啊？")
    assert "年满十四周岁" in reply["text"]
    delivered = await hooked.client.wait_for_event(
        lambda e: e["type"] == "webhook_delivered", after_seq=seq
    )
    assert delivered["url"] == f"{hooked.base}/telegram"


async def test_wrong_or_missing_secret_is_refused_and_nothing_processed(
    hooked: WebhookBot, caplog: pytest.LogCaptureFixture
) -> None:
    await hooked.send(XIAOMING, "/help")  # the chat exists in the sandbox
    before, replies = await _inbound_count(hooked), await _bot_messages(hooked)
    url = f"{hooked.base}/telegram"
    update = _message_update(777_001, "/help")
    assert await _post(url, update, {SECRET_HEADER: "wrong"}) == 403
    assert await _post(url, update, {}) == 403
    assert await _inbound_count(hooked) == before
    assert await _bot_messages(hooked) == replies
    refused = [r for r in caplog.records if "wrong secret token" in r.getMessage()]
    assert len(refused) == 2 and all(r.levelname == "WARNING" for r in refused)
    # The right secret is accepted, and the update is handled before the answer.
    assert await _post(url, update, {SECRET_HEADER: SECRET}) == 200
    assert await _inbound_count(hooked) == before + 1
    assert await _bot_messages(hooked) == replies + 1
    assert await _post(url, {"not": "an update"}, {SECRET_HEADER: SECRET}) == 400
    for body in ([update], "text", 7, None):  # valid JSON, not an update object
        assert await _post(url, body, {SECRET_HEADER: SECRET}) == 400


@pytest.mark.sqlite_only("makes the database unreachable by replacing the SQLite file")
async def test_healthz_reports_the_database(hooked: WebhookBot, sqlite_url: str) -> None:
    status, body = await _get(f"{hooked.base}/healthz")
    assert status == 200 and '"database": true' in body
    # Make the database unreachable: drop the pooled connections and put a folder where
    # the file was, so SQLite cannot open it again.
    await hooked.app.bot_data.services.engine.dispose()
    path = Path(sqlite_url.split("///", 1)[1])
    _replace_with_folder(path)
    try:
        status, body = await _get(f"{hooked.base}/healthz")
        assert status == 503 and '"database": false' in body
    finally:
        shutil.rmtree(path)


def _replace_with_folder(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.mkdir()


async def test_metrics_move_with_updates(hooked: WebhookBot) -> None:
    _, before = await _get(f"{hooked.base}/metrics")
    await hooked.send(XIAOMING, "请问几岁能入团啊？")  # answered by the FAQ
    await hooked.send(XIAOMING, "我们学校的操场什么时候翻新？")  # nobody knows: routed
    _, after = await _get(f"{hooked.base}/metrics")

    def moved(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert moved("voy_updates_total", type="message") == 2
    assert moved("voy_matcher_band_total", band="answer") == 1
    assert moved("voy_matcher_band_total", band="route") == 1
    # The routed question's card goes to a cadre through the outbox.
    for _ in range(200):
        _, after = await _get(f"{hooked.base}/metrics")
        if moved("voy_outbox_deliveries_total", outcome="sent") >= 1:
            break
        await asyncio.sleep(0.05)
    assert moved("voy_outbox_deliveries_total", outcome="sent") >= 1
    assert "voy_outbox_pending " in after and "voy_outbox_lag_seconds " in after


async def test_outbox_gauges_show_depth_and_lag(hooked: WebhookBot) -> None:
    from bot.leases import database_now

    services = hooked.app.bot_data.services
    now = services.clock.now()
    # A push due ten minutes ago, still being sent by another instance (its lease runs for
    # an hour on the database's clock, which leases are judged on): our deliverer leaves
    # it alone, so the gauges hold still while we read them.
    async with unit_of_work(services.sessions) as session:
        leased_until = await database_now(session) + timedelta(hours=1)
        row = await outbox.enqueue(
            session,
            kind="test",
            chat_id=4242,
            text="hi",
            due_at=now - timedelta(minutes=10),
            dedupe_key="gauge-test",
            audience="staff",
        )
        assert row is not None
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id)
            .values(state="sending", lease_until=leased_until)
        )
    _, text = await _get(f"{hooked.base}/metrics")
    assert _sample(text, "voy_outbox_pending") >= 1
    assert _sample(text, "voy_outbox_lag_seconds") >= 600
    await asyncio.sleep(1.0)  # several deliverer ticks: a live lease is left alone
    async with services.sessions() as session:
        still = await session.get(OutboxMessage, row.id)
    assert still is not None and still.state == "sending"


def _names(text: str) -> set[str]:
    """The names of the samples in a Prometheus exposition."""
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


@pytest.mark.sqlite_only("makes the database unreachable by replacing the SQLite file")
async def test_outbox_gauges_are_left_out_while_the_database_is_out_of_reach(
    hooked: WebhookBot, sqlite_url: str
) -> None:
    """During an outage /metrics answered 200 with the outbox depth and lag last read
    before it: an alert on the lag saw a still picture (the outbox is unreadable, the
    pushes piling up in memory or lost). Now they are left out and voy_outbox_up is 0."""
    services = hooked.app.bot_data.services
    async with unit_of_work(services.sessions) as session:
        await outbox.enqueue(
            session,
            kind="test",
            chat_id=4242,
            text="hi",
            due_at=services.clock.now() + timedelta(days=1),  # not due: it stays pending
            dedupe_key="stale-gauge-test",
            audience="staff",
        )
    status, text = await _get(f"{hooked.base}/metrics")
    assert status == 200 and _sample(text, "voy_outbox_pending") >= 1
    assert _sample(text, "voy_outbox_up") == 1

    await services.engine.dispose()
    path = Path(sqlite_url.split("///", 1)[1])
    _replace_with_folder(path)
    try:
        status, text = await _get(f"{hooked.base}/metrics")
    finally:
        shutil.rmtree(path)
    assert status == 200  # the counters still tell what the process did
    assert "voy_updates_duplicate_total" in _names(text)
    assert not {"voy_outbox_pending", "voy_outbox_lag_seconds"} & _names(text), text
    assert "voy_outbox_up" in _names(text) and _sample(text, "voy_outbox_up") == 0


async def test_graceful_shutdown_finishes_the_update_in_flight(hooked: WebhookBot) -> None:
    # Telegram answers slowly: the bot is mid-update when the shutdown starts.
    await hooked.client.set_latency("sendMessage", 1.0)
    seq = await hooked.client.last_seq()
    sent = await hooked.client.send_text(XIAOMING, "请问几岁能入团啊？")
    await hooked.client.wait_for_event(lambda e: e["type"] == "api_held", after_seq=seq)
    await stop_webhook_bot(hooked)  # returns once everything has stopped
    assert not hooked.app.running
    async with SandboxClient(hooked.server.url.rstrip("/")) as client:
        events = (await client.events(seq))["events"]
        replies = [m for m in await client.messages(XIAOMING["id"]) if m["from_bot"]]
    kinds = [(e["type"], e.get("update_id")) for e in events]
    assert ("webhook_delivered", sent["update_id"]) in kinds  # answered 200, not cut off
    assert len(replies) == 1 and "年满十四周岁" in replies[0]["text"]
    row = await hooked.settled(sent["update_id"], timeout=0.1)
    assert row.status == "handled"


async def test_a_flood_of_one_error_alerts_the_ops_chat_once_per_window(
    hooked: WebhookBot,
) -> None:
    # Telegram fails every message to this young person: each update's reply raises.
    await hooked.client.set_fault("sendMessage", 500, chat_id=XIAOMING["id"])
    secret_text = "我的电话是13800000000，请问几岁能入团？"
    for _ in range(5):
        await hooked.send(XIAOMING, secret_text)
    services = hooked.app.bot_data.services
    alerts = await _wait_for_alerts(hooked, 1)
    # A new window: the same error alerts again, once.
    services.clock.advance(minutes=services.settings.ops_alert_window_minutes)
    for _ in range(3):
        await hooked.send(XIAOMING, secret_text)
    alerts = await _wait_for_alerts(hooked, 2)
    assert len(alerts) == 2
    for alert in alerts:
        assert "NetworkError" in alert["text"] or "TelegramError" in alert["text"]
        assert "13800000000" not in alert["text"] and "入团" not in alert["text"]
    async with hooked.sessions() as session:
        rows = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "ops_alert")
        )
    assert rows == 2


async def _wait_for_alerts(bot: WebhookBot, count: int) -> list[dict[str, Any]]:
    for _ in range(200):
        try:
            alerts = [m for m in await bot.client.messages(OPS_CHAT) if m["from_bot"]]
        except RuntimeError:
            alerts = []
        if len(alerts) >= count:
            return alerts
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} alerts in the ops chat")


async def test_voy_run_serves_the_webhook_logs_json_and_stops_on_sigterm(
    sandbox: SandboxServer, sqlite_url: str, tmp_path: Path
) -> None:
    """The real command: `voy run --webhook-url …`, JSON logs, SIGTERM mid-update."""
    await prepare(sqlite_url)
    port = free_port()
    env = {
        **os.environ,
        "VOY_TELEGRAM_TOKEN": TOKEN,
        "VOY_DATABASE_URL": sqlite_url,
        "VOY_LOG_FORMAT": "json",
        "VOY_WEBHOOK_SECRET": SECRET,
        "VOY_RATE_LIMIT": "false",
        "VOY_LOG_LEVEL": "DEBUG",
        "PYTHONPATH": str(ROOT),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bot.cli import main; main()",
        "run",
        "--webhook-url",
        f"http://127.0.0.1:{port}/hook",
        "--listen",
        "127.0.0.1",
        "--port",
        str(port),
        "--bot-api-url",
        sandbox.base_url,
        env=env,
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    client = SandboxClient(sandbox.url.rstrip("/"))
    try:
        for _ in range(400):  # wait for the bot's setWebhook
            if (await client.webhook())["url"]:
                break
            await asyncio.sleep(0.05)
        assert (await client.webhook())["url"] == f"http://127.0.0.1:{port}/hook"
        await client.set_latency("sendMessage", 1.0)
        seq = await client.last_seq()
        sent = await client.send_text(XIAOMING, "请问几岁能入团啊？ZQX")
        await client.wait_for_event(lambda e: e["type"] == "api_held", after_seq=seq, timeout=15)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, stderr.decode()
        replies = [m for m in await client.messages(XIAOMING["id"]) if m["from_bot"]]
        assert len(replies) == 1 and "年满十四周岁" in replies[0]["text"]
        events = (await client.events(seq))["events"]
        assert any(
            e["type"] == "webhook_delivered" and e["update_id"] == sent["update_id"]
            for e in events
        )
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await client.aclose()
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    messages = [line["message"] for line in lines]
    assert any("receiving updates by webhook" in m for m in messages)
    assert any("finishing the updates in flight" in m for m in messages)
    # The digest chart's labels: the operator hears at start-up if they cannot be Chinese.
    assert any("fonts-noto-cjk" in m for m in messages) == (cjk_font() is None)
    tagged = [line for line in lines if line.get("update_id") == sent["update_id"]]
    # The sender appears by keyed pseudonym, never by Telegram id.
    settings = Settings(telegram_token=SecretStr(TOKEN), _env_file=None)  # type: ignore[call-arg]
    key = settings.pseudonym_key()
    who = f"u:{log_pseudonym(XIAOMING['id'], key)}"
    assert tagged and all(line["user"] == who for line in tagged)
    assert any("update handled: message" in line["message"] for line in tagged)
    leaks = [line for line in lines if "ZQX" in json.dumps(line, ensure_ascii=False)]
    assert not leaks, leaks


async def test_a_failing_job_alerts_the_ops_chat(hooked: WebhookBot) -> None:
    async def broken_job(_context: object) -> None:
        raise RuntimeError("the job broke")

    assert hooked.app.job_queue is not None
    hooked.app.job_queue.run_once(broken_job, 0.0)
    (alert,) = await _wait_for_alerts(hooked, 1)
    assert "RuntimeError" in alert["text"] and "job" in alert["text"]
    assert "the job broke" not in alert["text"]  # the exception's message stays in the log


async def test_polling_mode_serves_metrics_and_health_on_their_own_port(
    harness: BotHarness,
) -> None:
    from bot.runner import metrics_server

    async with metrics_server(harness.app, host="127.0.0.1", port=0) as server:
        base = f"http://127.0.0.1:{server.port}"
        _, before = await _get(f"{base}/metrics")
        await harness.send(XIAOMING, "/help")
        status, after = await _get(f"{base}/metrics")
        assert status == 200
        moved = _sample(after, "voy_updates_total", type="message") - _sample(
            before, "voy_updates_total", type="message"
        )
        assert moved == 1
        assert (await _get(f"{base}/healthz"))[0] == 200
        # No webhook route: polling mode does not take updates over HTTP.
        assert await _post(f"{base}/telegram", {"update_id": 1}, {SECRET_HEADER: SECRET}) in (
            404,
            405,
        )


async def test_voy_run_polls_by_default_with_a_metrics_port(
    sandbox: SandboxServer, sqlite_url: str, tmp_path: Path
) -> None:
    """`voy run --bot-api-url … --metrics-port N`: long polling, metrics beside it."""
    await prepare(sqlite_url)
    port = free_port()
    env = {
        **os.environ,
        "VOY_TELEGRAM_TOKEN": TOKEN,
        "VOY_DATABASE_URL": sqlite_url,
        "VOY_RATE_LIMIT": "false",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("VOY_WEBHOOK_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bot.cli import main; main()",
        "run",
        "--bot-api-url",
        sandbox.base_url,
        "--metrics-port",
        str(port),
        env=env,
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    client = SandboxClient(sandbox.url.rstrip("/"))
    try:
        for _ in range(400):  # wait for the metrics server
            try:
                if (await _get(f"http://127.0.0.1:{port}/healthz"))[0] == 200:
                    break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        seq = await client.last_seq()
        await client.send_text(XIAOMING, "请问几岁能入团啊？")
        reply = await client.wait_for_bot_message(XIAOMING["id"], after_seq=seq, timeout=15)
        assert "年满十四周岁" in reply["text"]
        assert (await client.webhook())["url"] == ""  # polling, no webhook
        _, text = await _get(f"http://127.0.0.1:{port}/metrics")
        assert _sample(text, "voy_updates_total", type="message") == 1
        assert _sample(text, "voy_matcher_band_total", band="answer") == 1
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, stderr.decode()
        assert "receiving updates by long polling" in stderr.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await client.aclose()


async def test_an_update_resent_after_a_timeout_is_handled_once(hooked: WebhookBot) -> None:
    # The bot is slower than Telegram's patience: Telegram gives up on the first attempt
    # and sends the same update again while the bot is still handling it.
    await hooked.client.set_webhook_timeout(0.3)
    await hooked.client.set_latency("sendMessage", 1.0)
    _, before = await _get(f"{hooked.base}/metrics")
    seq = await hooked.client.last_seq()
    sent = await hooked.client.send_text(XIAOMING, "请问几岁能入团啊？")
    await hooked.client.wait_for_event(
        lambda e: e["type"] == "webhook_delivered" and e["update_id"] == sent["update_id"],
        after_seq=seq,
        timeout=20,
    )
    await hooked.settled(sent["update_id"])
    await hooked.client.set_latency("sendMessage", 0)
    events = (await hooked.client.events(seq))["events"]
    timeouts = [e for e in events if e["type"] == "webhook_error"]
    assert timeouts and all(e["error"] == "Read timeout expired" for e in timeouts)
    replies = [m for m in await hooked.client.messages(XIAOMING["id"]) if m["from_bot"]]
    assert len(replies) == 1
    async with hooked.sessions() as session:
        rows = await session.scalar(
            select(func.count())
            .select_from(InboundMessage)
            .where(InboundMessage.update_id == sent["update_id"])
        )
    assert rows == 1
    _, after = await _get(f"{hooked.base}/metrics")
    skipped = _sample(after, "voy_updates_duplicate_total") - _sample(
        before, "voy_updates_duplicate_total"
    )
    assert skipped >= 1


async def test_a_webhook_instance_takes_over_updates_a_polling_one_left(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    """A polling process stored updates and was killed; the deployment comes back with
    webhooks. Those left long enough ago are handled; a fresh one (maybe in another
    instance's hands) is left to Telegram's redelivery."""
    await prepare(sqlite_url)
    engine = create_engine(sqlite_url)
    sessions = create_session_factory(engine)
    async with unit_of_work(sessions) as session:
        stranded = await inbox.store(
            session, Update.de_json(_message_update(7001, "请问几岁能入团啊？"), None)
        )
        fresh = await inbox.store(
            session, Update.de_json(_message_update(7002, "请问几岁能入团啊？"), None)
        )
        await session.execute(
            update(InboundMessage)
            .where(InboundMessage.id == stranded)
            .values(received_at=datetime.now(UTC) - timedelta(minutes=10))
        )
    await engine.dispose()
    world = sandbox.core.world
    world.private_chat(world.user(XIAOMING))  # 小明 wrote to the bot before
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    bot = await start_webhook_bot(sandbox, sqlite_url, port=port, url=url, webhook_url=url)
    try:
        handled = await bot.settled(7001, timeout=10)
        assert handled.error is None
        replies = [m for m in await bot.client.messages(XIAOMING["id"]) if m["from_bot"]]
        assert len(replies) == 1 and "年满十四周岁" in replies[0]["text"]
        async with bot.sessions() as session:
            left = await session.get(InboundMessage, fresh)
        assert left is not None and left.status == "received"
    finally:
        await stop_webhook_bot(bot)


async def test_a_port_in_use_is_named(
    hooked: WebhookBot, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = int(hooked.base.rsplit(":", 1)[1])
    second = BotWebServer(hooked.app, host="127.0.0.1", port=port, path="/telegram")
    with pytest.raises(OSError, match=f"127.0.0.1:{port}: .*in use"):
        await second.start()
    # A whole second bot on that port fails to start. Its start-up task setting the staff
    # menus (slowed here, as with a large org) ends with it: it did not go on after the
    # shutdown and log a failure per staff chat (the HTTP client closed) before the real
    # error.
    await hooked.client.set_latency("setMyCommands", 0.3)
    with pytest.raises(OSError, match=f"127.0.0.1:{port}: .*in use"):
        await start_webhook_bot(hooked.server, sqlite_url, port=port)
    await hooked.client.set_latency("setMyCommands", 0)
    for _ in range(200):  # what a start-up left running would still be running
        if not [t for t in asyncio.all_tasks() if t.get_name() == "staff menus"]:
            break
        await asyncio.sleep(0.05)
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [m for m in warned if "menu" in m or "not initialized" in m], warned
