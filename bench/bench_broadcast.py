"""Benchmark a committee broadcast to many young people through the sandbox.

Run ``python -m bench.bench_broadcast --recipients 10000 --rate 30``. The real
Application polls the offline sandbox over real HTTP; a committee admin composes the
broadcast through the sandbox's control API (text, every region, any topic), reads the
recipient count from the preview and presses "send"; the deliverer then sends one
message per recipient through the outbox at ``--rate`` messages per second.

Measured: the time to put every recipient's row in the outbox (the bulk insert alone,
and the whole "send" button update until it committed), the total delivery time, the
achieved messages per second, and the most messages the sandbox received in any one
second (sliding window), which must not exceed the rate limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from sqlalchemy import func, insert, select

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import broadcast_notify
from bot.app import build_application
from bot.clock import Clock
from bot.config import Settings
from bot.data import DEMO_ORG
from bot.runner import polling
from bot.services import org
from handlers import broadcasts as broadcast_handlers
from sandbox import Persona, SandboxClient, SandboxServer
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import INBOUND_RECEIVED, InboundMessage, User
from storage.outbox import OutboxMessage

RESULTS = Path(__file__).resolve().parent / "results"
TOKEN = "123456789:SANDBOX-bench-token"
ADMIN: dict[str, Any] = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}
FIRST_YOUTH_ID = 10_000_000
TEXT = "全市青年志愿者招募：本周六上午九点，青年之家集合。"


def max_in_window(times: Sequence[float], window: float = 1.0) -> int:
    """The most timestamps that fall within any half-open interval of ``window`` seconds."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def _prepare(url: str, recipients: int) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        sessions = create_session_factory(engine)
        async with unit_of_work(sessions) as session:
            await org.load_org(session, org.parse_org_file(DEMO_ORG), default_locale="zh-Hans")
        regions = ["a-street-1", "a-street-2", "b-street-1", "b-street-2", "district-c"]
        rows = [
            {
                "telegram_id": FIRST_YOUTH_ID + i,
                "first_name": f"青年{i}",
                "locale": "zh-Hans",
                "region_code": regions[i % len(regions)],
                "roles": [],
            }
            for i in range(recipients)
        ]
        async with unit_of_work(sessions) as session:
            await session.execute(insert(User), rows)
    finally:
        await engine.dispose()


async def _settled(sessions: Any, update_id: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with sessions() as session:
            row = await session.scalar(
                select(InboundMessage)
                .where(InboundMessage.update_id == update_id)
                .order_by(InboundMessage.id.desc())
                .limit(1)
            )
        if row is not None and row.status != INBOUND_RECEIVED:
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"update {update_id} was not handled")


async def _bot_messages(client: SandboxClient) -> list[dict[str, Any]]:
    return [m for m in await client.messages(int(ADMIN["id"])) if m["from_bot"]]


def _button(message: dict[str, Any], label: str) -> str:
    markup = message.get("reply_markup") or []
    rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else markup
    for row in rows:
        for button in row:
            if label in button["text"]:
                return str(button["callback_data"])
    raise LookupError(label)


async def _say(client: SandboxClient, sessions: Any, text: str) -> dict[str, Any]:
    sent = await client.send_text(ADMIN, text)
    await _settled(sessions, sent["update_id"])
    return (await _bot_messages(client))[-1]


async def _press(
    client: SandboxClient, sessions: Any, message: dict[str, Any], label: str
) -> None:
    sent = await client.press(ADMIN, message["message_id"], _button(message, label))
    await _settled(sessions, sent["update_id"])


async def run(recipients: int, rate: float, interval: float, database_url: str | None) -> dict:
    """Compose, confirm and deliver one broadcast; return the measurements."""
    workdir = Path(tempfile.mkdtemp(prefix="voy-bench-broadcast-"))
    url = database_url or f"sqlite+aiosqlite:///{workdir / 'voy.sqlite3'}"
    await _prepare(url, recipients)

    server = SandboxServer(
        token=TOKEN, port=0, personas=[Persona(id=2001, first_name="王老师", kind="committee")]
    )
    await server.start()
    # Every recipient has started the bot before: their private chats exist.
    world = server.core.world
    for i in range(recipients):
        world.private_chat(world.user({"id": FIRST_YOUTH_ID + i, "first_name": f"青年{i}"}))
    # The sandbox's own view of when each message to a young person arrived.
    arrivals: list[float] = []
    all_arrived = asyncio.Event()
    original = server.core.bot_sent

    def recording(chat: Any, msg: Any) -> None:
        if chat.id >= FIRST_YOUTH_ID:
            arrivals.append(time.monotonic())
            if len(arrivals) >= recipients:
                all_arrived.set()
        original(chat, msg)

    server.core.bot_sent = recording  # type: ignore[method-assign]

    # The bulk insert alone, timed where the handler calls it.
    enqueue_seconds: list[float] = []
    real_enqueue = broadcast_notify.enqueue

    async def timed_enqueue(*args: Any, **kwargs: Any) -> int:
        started = time.perf_counter()
        count = await real_enqueue(*args, **kwargs)
        enqueue_seconds.append(time.perf_counter() - started)
        return count

    broadcast_handlers.broadcast_notify.enqueue = timed_enqueue

    settings = Settings(
        telegram_token=SecretStr(TOKEN),
        database_url=url,
        rate_limit=True,  # PTB's AIORateLimiter, as in production
        outbox_rate_per_s=rate,
        outbox_interval_s=interval,
        sweep_interval_s=3600.0,
        broadcast_check_interval_s=1.0,
    )
    clock = Clock()  # 10:00 in Shanghai: outside quiet hours
    zone = ZoneInfo(settings.timezone)
    today = datetime.now(zone).date()
    clock.set(datetime.combine(today, clock_time(10), zone).astimezone(UTC))
    application = build_application(
        settings, base_url=server.base_url, base_file_url=server.base_file_url, clock=clock
    )
    client = SandboxClient(server.url.rstrip("/"))
    sessions = application.bot_data.services.sessions
    result: dict[str, Any] = {"recipients": recipients, "rate_limit": rate, "interval_s": interval}
    try:
        async with polling(application, poll_timeout=1):
            await _say(client, sessions, "/broadcast")
            step = await _say(client, sessions, TEXT)
            await _press(client, sessions, step, "下一步")
            step = (await _bot_messages(client))[-1]
            await _press(client, sessions, step, "下一步")
            summary = (await _bot_messages(client))[-1]
            result["preview_count"] = int(summary["text"].split("接收人数：")[1].split()[0])
            pressed = time.monotonic()
            sent = await client.press(ADMIN, summary["message_id"], _button(summary, "发送"))
            await _settled(sessions, sent["update_id"])
            result["confirm_update_s"] = round(time.monotonic() - pressed, 3)
            result["enqueue_s"] = round(enqueue_seconds[0], 3) if enqueue_seconds else None
            deadline = pressed + recipients / rate * 3 + 60
            # On timeout, fewer are reported delivered than there are recipients.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_arrived.wait(), deadline - time.monotonic())
            # The author's one-time "finished" message.
            while time.monotonic() < deadline:
                if any("已发送完毕" in (m.get("text") or "") for m in await _bot_messages(client)):
                    result["author_told_s"] = round(time.monotonic() - pressed, 1)
                    break
                await asyncio.sleep(0.5)
        async with sessions() as session:
            states = dict(
                (
                    await session.execute(
                        select(OutboxMessage.state, func.count(OutboxMessage.id))
                        .where(OutboxMessage.kind == "broadcast")
                        .group_by(OutboxMessage.state)
                    )
                ).all()
            )
    finally:
        await client.aclose()
        await server.stop()
        broadcast_handlers.broadcast_notify.enqueue = real_enqueue
    result["delivered"] = len(arrivals)
    result["outbox_states"] = states
    result["violations"] = len(server.violations)
    if arrivals:
        result["delivery_total_s"] = round(arrivals[-1] - pressed, 1)
        span = arrivals[-1] - arrivals[0]
        result["achieved_per_s"] = round((len(arrivals) - 1) / span, 2) if span > 0 else None
        result["max_in_any_1s"] = max_in_window(arrivals)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run once, print and store the result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=30.0, help="VOY_OUTBOX_RATE_PER_S")
    parser.add_argument(
        "--interval",
        type=float,
        default=Settings.model_fields["outbox_interval_s"].default,
        help="VOY_OUTBOX_INTERVAL_S (how often the deliverer wakes)",
    )
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.recipients, args.rate, args.interval, args.database_url))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"bench_broadcast-{stamp}.json").write_text(json.dumps(result, indent=2))
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    ok = (
        result["delivered"] == args.recipients
        and result.get("max_in_any_1s", 0) <= args.rate
        and result["violations"] == 0
    )
    print("within the rate limit, all delivered" if ok else "CHECK FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
