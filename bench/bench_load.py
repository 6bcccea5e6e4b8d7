"""Load benchmark: simulated young people against the real bot, beside a bare echo bot.

``python -m bench.bench_load [--db sqlite|postgres] [--users 500] [--messages 5000]``

The sandbox runs in this process (with :class:`sandbox.latency.ReplyClock` on its event
log); each bot runs as its own process (``bench.bot_process``) and talks to the sandbox
over real HTTP; the simulated people post their messages and button presses over HTTP
to the sandbox's control API.

Load model: **closed loop per user**. Each user sends one message (or presses one
button), waits for the bot's first reaction in their chat, thinks for a random time
(uniform between 0.5 and 1.5 times ``--think-ms``: bounded, so a phase does not wait
on one user's long pause), and goes on. Two phases per bot:

- ``max``: no think time, all users at once: the throughput the bot sustains;
- ``paced``: think time on (mean 30 s, 3 interactions each by default), a "school
  assembly" where everyone writes at a human pace: the latency people see at that
  offered rate (about users / think time, ~16/s by default). Each user's first message
  comes at a random moment within the first think time, so the rate is steady from the
  start; until session 4 everyone started at once, and that burst, not the bot, set
  the p99 (the ``max`` phase is the burst).

Latency is measured by the sandbox: from accepting a user's update to the bot's first
reaction in that chat (message, edit or callback answer). Throughput is interactions
per second from the first send to the last reaction.

The bot's mix (per user, 10 interactions): 80 % of the users ask 7 FAQ questions (exact
starter-FAQ wordings, answered automatically) and 3 questions nobody can answer (routed
to a cadre or the committee's pool, each with a card through the outbox); 20 % write a
micro-wish (/wish, text, five button presses, two typed steps, submit). The echo bot
gets the same number of text messages from the same number of users.

``--instances N`` (N > 1, PostgreSQL only) runs the real bot as N ``voy run`` processes
in webhook mode, with the sandbox posting updates round-robin to them (a load balancer in
front of the instances, one update per chat at a time as Telegram does); ``--webhook``
runs a single instance that way, for comparison. The echo bot always long-polls alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.spawn import ROOT, BotProcess, free_port
from bot.config import EVENT_LOOPS, Settings
from bot.demo import STARTER_FAQ, personas_for, prepare_database
from knowledge.entries import read_entries
from sandbox import SandboxServer
from sandbox.latency import ReplyClock

TOKEN = "123456789:BENCH-load-token"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REPLY_TIMEOUT_S = 120.0
RESULTS = ROOT / "bench" / "results"

Step = tuple[str, str]  # ("text", text) or ("press", button label)


@dataclass
class PhaseResult:
    """What one phase of one bot measured."""

    bot: str
    phase: str
    interactions: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    bot_cpu_s: float = 0.0
    sandbox_cpu_s: float = 0.0  # this process: the sandbox and the load generator

    @property
    def throughput(self) -> float:
        """Interactions per second."""
        return self.interactions / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The ``q`` quantile of the latencies, in ms."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def row(self) -> dict[str, Any]:
        """The figures as a dict for the JSON results."""
        return {
            "bot": self.bot,
            "phase": self.phase,
            "interactions": self.interactions,
            "seconds": round(self.seconds, 2),
            "throughput": round(self.throughput, 1),
            "p50_ms": round(self.percentile(0.5), 1),
            "p99_ms": round(self.percentile(0.99), 1),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 1)
            if self.latencies_ms
            else None,
            "bot_cpu_s": round(self.bot_cpu_s, 1),
            "sandbox_cpu_s": round(self.sandbox_cpu_s, 1),
            "errors": len(self.errors),
        }


def bot_script(user_id: int, rng: random.Random, faq: list[str], steps: int) -> list[Step]:
    """One young person's interactions with the real bot."""
    if user_id % 5 == 0:
        wish: list[Step] = [
            ("text", "/wish"),
            ("text", f"想要一辆自行车上学（{user_id}）"),
            ("press", "跳过"),
            ("press", "生活用品"),
            ("press", "我自己"),
            ("press", "14–17 岁"),
            ("press", "高新区"),
            ("text", "西山社区"),
            ("text", "300"),
            ("press", "提交"),
        ]
        return wish[:steps]
    script: list[Step] = [("text", question) for question in rng.sample(faq, 7)]
    script += [
        ("text", f"我们小区篮球场的灯坏了好几天，能不能帮忙反映一下？编号{user_id}-{n}")
        for n in range(3)
    ]
    rng.shuffle(script)
    return script[:steps]


def echo_script(user_id: int, rng: random.Random, faq: list[str], steps: int) -> list[Step]:
    """The same number of plain texts for the echo bot."""
    return [("text", question) for question in rng.choices(faq, k=steps)]


class LoadGenerator:
    """Simulated users posting to the sandbox over HTTP and waiting for replies."""

    def __init__(self, server: SandboxServer, clock: ReplyClock) -> None:
        """Drive ``server``; ``clock`` measures and signals the replies."""
        self.server = server
        self.clock = clock
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> LoadGenerator:
        connector = aiohttp.TCPConnector(limit=200)
        self._http = aiohttp.ClientSession(
            base_url=self.server.url, connector=connector, timeout=aiohttp.ClientTimeout(30)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.close()

    async def set_webhook_targets(self, urls: list[str]) -> None:
        """Have the sandbox post updates round-robin to ``urls`` (a load balancer)."""
        await self._post("webhook/targets", {"urls": urls})

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self._http is not None
        async with self._http.post(f"/sandbox/api/{path}", json=body) as response:
            data: dict[str, Any] = await response.json()
            if response.status >= 400:
                raise RuntimeError(f"{path}: {response.status} {data}")
            return data

    def _button(self, chat_id: int, label: str) -> tuple[int, str] | None:
        chat = self.server.core.world.chats.get(chat_id)
        if chat is None:
            return None
        for message in reversed(list(chat.messages.values())):
            if not message.from_bot or not message.reply_markup:
                continue
            for row in message.reply_markup.get("inline_keyboard", []):
                for button in row:
                    if label in button.get("text", "") and "callback_data" in button:
                        return message.message_id, button["callback_data"]
        return None

    async def user(
        self, user_id: int, script: list[Step], think_s: float, rng: random.Random
    ) -> list[str]:
        """Play one user's script (closed loop); return the errors met."""
        person = {"id": user_id, "first_name": f"青年{user_id}", "language_code": "zh-hans"}
        errors: list[str] = []
        if think_s > 0:
            # Arrivals spread over one think time: a steady rate from the start, not a
            # synchronized first message (the max phase is the burst).
            await asyncio.sleep(rng.uniform(0, think_s))
        for kind, value in script:
            done = self.clock.reactions(user_id)
            if kind == "text":
                await self._post("messages", {"user": person, "text": value})
            else:
                found: list[tuple[int, str]] = []

                def ready(label: str = value, out: list[tuple[int, str]] = found) -> bool:
                    button = self._button(user_id, label)
                    if button is not None:
                        out.append(button)
                    return button is not None

                if not await self.clock.wait_for(user_id, ready, REPLY_TIMEOUT_S):
                    errors.append(f"user {user_id}: no button {value!r}")
                    return errors
                message_id, data = found[-1]
                body = {"user": person, "message_id": message_id, "data": data}
                await self._post("callbacks", body)
            if not await self.clock.wait_reaction(user_id, done, REPLY_TIMEOUT_S):
                errors.append(f"user {user_id}: no reply to {kind} {value!r}")
                return errors
            if think_s > 0:
                await asyncio.sleep(rng.uniform(0.5 * think_s, 1.5 * think_s))
        return errors


def _proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def run_phase(
    generator: LoadGenerator,
    bots: list[BotProcess],
    *,
    name: str,
    phase: str,
    first_user: int,
    users: int,
    messages: int,
    think_s: float,
    make_script: Callable[[int, random.Random, list[str], int], list[Step]],
    faq: list[str],
) -> PhaseResult:
    """Run ``users`` users sending ``messages`` in all; measure it."""
    steps = max(1, messages // users)
    rng = random.Random(first_user)
    scripts = {first_user + n: make_script(first_user + n, rng, faq, steps) for n in range(users)}
    clock = generator.clock
    sample_start = len(clock.samples)
    cpu_before = sum(_proc_cpu_s(bot.pid) for bot in bots)
    own_before = time.process_time()
    started = time.time()
    tasks: list[Awaitable[list[str]]] = [
        generator.user(uid, script, think_s, random.Random(uid)) for uid, script in scripts.items()
    ]
    results = await asyncio.gather(*tasks)
    samples = [s for s in clock.samples[sample_start:] if s[1] >= started - 1]
    ended = max((accepted + latency for _, accepted, latency in samples), default=time.time())
    return PhaseResult(
        bot=name,
        phase=phase,
        interactions=sum(len(s) for s in scripts.values()),
        seconds=ended - started,
        latencies_ms=[latency * 1000 for _, _, latency in samples],
        errors=[e for errors in results for e in errors],
        bot_cpu_s=sum(_proc_cpu_s(bot.pid) for bot in bots) - cpu_before,
        sandbox_cpu_s=time.process_time() - own_before,
    )


async def _postgres_database(base: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    import asyncpg

    dsn = base.replace("postgresql+asyncpg://", "postgresql://")
    name = f"voy_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()

    async def drop() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    return base.rsplit("/", 1)[0] + f"/{name}", drop


def _bot_env(database_url: str, args: argparse.Namespace) -> dict[str, str]:
    return {
        "VOY_TELEGRAM_TOKEN": TOKEN,
        "VOY_DATABASE_URL": database_url,
        # The sandbox has no flood limits and the echo bot has no limiter either.
        "VOY_RATE_LIMIT": "false",
        "VOY_QUIET_HOURS_START": "00:00",
        "VOY_QUIET_HOURS_END": "00:00",
        "VOY_LOG_LEVEL": "WARNING",
        "VOY_CONCURRENT_UPDATES": str(args.concurrent_updates),
        "VOY_EVENT_LOOP": args.loop,
    }


async def run(args: argparse.Namespace) -> list[PhaseResult]:
    """Run every phase for the echo bot and the real bot; return the results."""
    if args.instances < 1:
        raise SystemExit("--instances must be at least 1")
    if args.instances > 1 and args.db != "postgres":
        raise SystemExit("--instances > 1 needs --db postgres (SQLite is one process's)")
    workdir = Path(tempfile.mkdtemp(prefix="voy-bench-load-"))
    drop: Callable[[], Awaitable[None]] | None = None
    if args.db == "postgres":
        database_url, drop = await _postgres_database(args.postgres_url)
    else:
        database_url = f"sqlite+aiosqlite:///{workdir / 'voy.sqlite3'}"
    settings = Settings(telegram_token=TOKEN, database_url=database_url)  # type: ignore[arg-type]
    org_spec = await prepare_database(settings)
    faq = [entry.question for entry in read_entries(STARTER_FAQ)]
    server = SandboxServer(token=TOKEN, port=0, personas=personas_for(org_spec))
    await server.start()
    clock = ReplyClock(server.core.events)
    results: list[PhaseResult] = []
    phases = [("max", 0.0, args.messages), ("paced", args.think_ms / 1000, args.paced_messages)]
    if args.phase != "both":
        phases = [p for p in phases if p[0] == args.phase]
    kinds = [("echo", True, echo_script), ("voy", False, bot_script)]
    if args.skip_echo:
        kinds = kinds[1:]
    try:
        async with LoadGenerator(server, clock) as generator:
            first_user = 100_000
            for name, echo, make_script in kinds:
                webhook = not echo and (args.webhook or args.instances > 1)
                count = args.instances if not echo else 1
                bots = [
                    BotProcess(
                        server.base_url,
                        _bot_env(database_url, args),
                        log_path=workdir / f"{name}-{n}.log",
                        echo=echo,
                        webhook_port=free_port() if webhook else None,
                        loop=args.echo_loop if echo else None,
                    )
                    for n in range(count)
                ]
                try:
                    for bot in bots:
                        await bot.start()
                    if webhook:
                        urls = [bot.webhook_url for bot in bots]
                        await generator.set_webhook_targets(urls)
                    for phase, think_s, messages in phases:
                        result = await run_phase(
                            generator,
                            bots,
                            name=name,
                            phase=phase,
                            first_user=first_user,
                            users=args.users,
                            messages=messages,
                            think_s=think_s,
                            make_script=make_script,
                            faq=faq,
                        )
                        first_user += args.users
                        results.append(result)
                        print(_line(result), flush=True)
                finally:
                    for bot in bots:
                        await bot.stop()
                    if webhook:
                        server.core.updates.delete_webhook(drop_pending=True)
                        await generator.set_webhook_targets([])
    finally:
        await server.stop()
        if drop is not None:
            await drop()
    print(f"bot logs: {workdir}")
    return results


def _line(result: PhaseResult) -> str:
    row = result.row()
    return (
        f"{row['bot']:>5} {row['phase']:>6}: {row['interactions']} interactions in "
        f"{row['seconds']} s = {row['throughput']}/s; p50 {row['p50_ms']} ms, "
        f"p99 {row['p99_ms']} ms; CPU bot {row['bot_cpu_s']} s, sandbox+load "
        f"{row['sandbox_cpu_s']} s; errors {row['errors']}"
        + (f" (first: {result.errors[0]})" if result.errors else "")
    )


def _summary(results: list[PhaseResult], args: argparse.Namespace) -> str:
    by = {(r.bot, r.phase): r for r in results}
    lines = []
    echo, voy = by.get(("echo", "max")), by.get(("voy", "max"))
    if echo and voy and echo.throughput:
        ratio = voy.throughput / echo.throughput
        lines.append(f"max throughput: voy/echo {ratio:.2f} (target >= 0.5)")
    for name in ("echo", "voy"):
        paced = by.get((name, "paced"))
        if paced:
            lines.append(
                f"paced latency, {name}: p50 {paced.percentile(0.5):.0f} ms, "
                f"p99 {paced.percentile(0.99):.0f} ms (target for voy: p99 < 250 ms)"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the benchmark, print and save the results."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_load", description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("VOY_TEST_POSTGRES_URL") or DEFAULT_POSTGRES
    )
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--messages", type=int, default=5000, help="interactions, max phase")
    parser.add_argument(
        "--paced-messages", type=int, default=1500, help="interactions, paced phase"
    )
    parser.add_argument(
        "--think-ms", type=float, default=30_000, help="mean think time in the paced phase"
    )
    parser.add_argument("--phase", choices=("max", "paced", "both"), default="both")
    parser.add_argument("--skip-echo", action="store_true")
    parser.add_argument(
        "--loop", choices=EVENT_LOOPS, default="auto", help="the real bot's event loop"
    )
    parser.add_argument(
        "--echo-loop",
        choices=EVENT_LOOPS,
        default="asyncio",
        help="the echo bot's event loop (default: asyncio's own, as a bare PTB bot runs)",
    )
    parser.add_argument("--concurrent-updates", type=int, default=1)
    parser.add_argument(
        "--instances", type=int, default=1, help="bot processes (> 1: webhook, PostgreSQL)"
    )
    parser.add_argument("--webhook", action="store_true", help="webhook mode with 1 instance")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    results = asyncio.run(run(args))
    load_after = os.getloadavg()
    summary = _summary(results, args)
    print(summary)
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (2 cores)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"bench_load-{args.db}-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "args": vars(args),
                "results": [r.row() for r in results],
                "load_average": [load_before, load_after],
            },
            indent=2,
        )
    )
    print(f"results: {out}")


if __name__ == "__main__":
    main()
