"""Benchmark the weekly digest on a year of activity: 1,000,000 questions, 100,000 wishes.

Run ``python -m bench.bench_digest`` (SQLite in ``var/bench-digest.sqlite3``) or with
``--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test`` (a fresh database is
made beside the one named). ``--questions 100000`` makes a quicker run. The data is
bulk-loaded (``executemany`` on SQLite, ``COPY`` through asyncpg on PostgreSQL) after the
migrations, so every index the app has is in place; then the digest of the last full
week is computed (``compute``) and rendered (summary, chart, CSV), each timed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bot.config import Settings
from bot.data import DEMO_ORG
from bot.digest_job import build_report
from bot.i18n import translator
from bot.services import org
from bot.services.digest import compute
from bot.services.digest_week import Week
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import Cadre, User
from storage.questions import Question, QuestionEvent
from storage.wishes import Wish, WishEvent

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=TZ).astimezone(UTC)
WEEK = Week(2026, 47)
USERS = 50_000
CADRES = 60
TEXTS = [
    "入团需要什么条件",
    "志愿者活动怎么报名",
    "大学生实习岗位在哪里找",
    "青年创业补贴怎么申请",
    "团员证丢了怎么补办",
    "怎么转团组织关系",
    "暑期社会实践有哪些项目",
    "心理咨询热线是多少",
    "青年之家活动时间",
    "奖学金申请需要什么材料",
    "毕业生就业见习补贴",
    "团费怎么交",
]
REGIONS = ["district-a", "district-b", "district-c", "street-a1", "street-b1", None]
TOPICS = ["league", "volunteer", "employment", "study", "wellbeing", None]


def _row(table: Any, values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(column.name) for column in table.columns)


def generate(
    questions: int, wishes: int, seed: int = 5
) -> dict[str, tuple[Any, list[tuple[Any, ...]]]]:
    """Rows for every table, in column order; timestamps are aware UTC datetimes."""
    rng = random.Random(seed)
    span = timedelta(days=365).total_seconds()
    start = NOW - timedelta(days=365)
    users = [
        _row(
            User.__table__,
            {
                "id": 1000 + i,
                "telegram_id": 10_000_000 + i,
                "first_name": f"u{i}",
                "locale": "zh-Hans",
                "region_code": None,
                "roles": "[]",
                "last_seen_at": NOW,
                "created_at": start,
                "updated_at": start,
            },
        )
        for i in range(USERS)
    ]
    cadres = [
        _row(
            Cadre.__table__,
            {
                "id": 100 + i,
                "telegram_id": 20_000_000 + i,
                "name": f"干部{i}",
                "duty_days": "[1, 3, 5]",
                "capacity": 50,
                "active": True,
                "source": "cli",
                "created_at": start,
                "updated_at": start,
            },
        )
        for i in range(CADRES)
    ]
    qrows: list[tuple[Any, ...]] = []
    erows: list[tuple[Any, ...]] = []
    event_id = 0

    def event(qid: int, trigger: str, src: str, dst: str, at: datetime, note: str = "") -> None:
        nonlocal event_id
        event_id += 1
        erows.append((event_id, qid, trigger, src, dst, "system", note, at))

    qcols = Question.__table__
    for qid in range(1, questions + 1):
        asked = start + timedelta(seconds=rng.random() * span)
        text = rng.choice(TEXTS)
        if rng.random() < 0.02:
            text += f"，我的手机号是1{rng.randint(3, 9)}{rng.randint(0, 999999999):09d}"
        values: dict[str, Any] = {
            "id": qid,
            "user_id": 1000 + rng.randrange(USERS),
            "text": text,
            "region_code": rng.choice(REGIONS),
            "topic": rng.choice(TOPICS),
            "candidates": "[]",
            "asked_at": asked,
            "escalations": 0,
            "key_suggestion": False,
            "identity_shared": False,
            "urgent": rng.random() < 0.003,
            "created_at": asked,
            "updated_at": asked,
        }
        last = asked
        if values["urgent"]:  # a call for help, as asking.ask records it
            event(qid, "alert", "new", "new", asked, "self_harm")
        if rng.random() < 0.3:
            event(qid, "auto_answer", "new", "auto_answered", asked)
            status = "auto_answered"
            if rng.random() < 0.6:
                last = asked + timedelta(minutes=rng.randint(1, 600))
                event(qid, "resolve", status, "resolved", last)
                status, values["resolved_at"] = "resolved", last
        else:
            cadre = 100 + rng.randrange(CADRES)
            values["reason"] = rng.choice(("unmatched", "none_of_these", "ask_person"))
            event(qid, "route", "new", "routed", asked, values["reason"])
            event(qid, "assign", "routed", "assigned", asked, f"to cadre:{cadre}")
            values["assigned_cadre_id"], values["assigned_at"] = cadre, asked
            values["waiting_since"] = asked  # as lifecycle.fire sets it on route/assign
            status = "assigned"
            recent = NOW - asked < timedelta(days=21)
            if not recent or rng.random() < 0.85:
                answered = asked + timedelta(hours=rng.lognormvariate(1.8, 1.1))
                if answered < NOW:
                    event(qid, "answer", status, "answered", answered)
                    status, last = "answered", answered
                    values["first_answered_at"] = values["answered_at"] = answered
                    roll = rng.random()
                    resolved = answered + timedelta(hours=rng.uniform(1, 72))
                    if roll < 0.03:
                        event(qid, "forward", status, "forwarded", answered, "市教育局")
                        status, values["department"] = "forwarded", "市教育局"
                    elif roll < 0.8 and resolved < NOW:
                        event(qid, "resolve", status, "resolved", resolved)
                        status, last, values["resolved_at"] = "resolved", resolved, resolved
                    if rng.random() < 0.01:
                        event(qid, "mark_key", status, status, answered)
                        values["key_suggestion"] = True
        values["status"], values["last_activity_at"] = status, last
        qrows.append(_row(qcols, values))
    wrows: list[tuple[Any, ...]] = []
    wevents: list[tuple[Any, ...]] = []
    steps = [("approve", "approved"), ("claim", "claimed"), ("fulfil", "fulfilled")]
    steps.append(("confirm", "confirmed"))
    for wid in range(1, wishes + 1):
        submitted = start + timedelta(seconds=rng.random() * span)
        wevents.append((len(wevents) + 1, wid, "submit", "", "submitted", "user", "", submitted))
        status, at = "submitted", submitted
        values = {
            "id": wid,
            "user_id": 1000 + rng.randrange(USERS),
            "text": "想要一套课外书",
            "category": "study",
            "beneficiary": "self",
            "age_band": "14-17",
            "guardian_consent": False,
            "region_code": rng.choice(REGIONS),
            "value_yuan": rng.randint(20, 500),
            "submitted_at": submitted,
            "claim_reminded": False,
            "confirm_reminded": False,
            "review_reminded": False,
            "version": 1,
            "created_at": submitted,
            "updated_at": submitted,
        }
        for trigger, state in steps:
            if rng.random() > 0.8:
                break
            at = at + timedelta(hours=rng.uniform(2, 120))
            if at >= NOW:
                break
            wevents.append((len(wevents) + 1, wid, trigger, status, state, "system", "", at))
            status = state
            if state == "approved":
                values["published_at"] = at
            if state == "claimed":
                values["claimer_user_id"] = 1000 + rng.randrange(USERS)
                values["claimed_at"] = values["progress_at"] = at
            if state == "fulfilled":
                values["fulfilled_at"] = at
        values["status"] = status
        wrows.append(_row(Wish.__table__, values))
    return {
        "users": (User.__table__, users),
        "cadres": (Cadre.__table__, cadres),
        "questions": (qcols, qrows),
        "question_events": (QuestionEvent.__table__, erows),
        "wishes": (Wish.__table__, wrows),
        "wish_events": (WishEvent.__table__, wevents),
    }


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):  # SQLAlchemy's SQLite DATETIME text form, in UTC
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _rows(table: Any, rows: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    # Event rows are built positionally and may stop short of the last columns.
    width = len(table.columns)
    return (row + (None,) * (width - len(row)) for row in rows)


def load_sqlite(path: Path, data: dict[str, tuple[Any, list[tuple[Any, ...]]]]) -> None:
    """Bulk insert with the standard sqlite3 module (one transaction)."""
    connection = sqlite3.connect(path)
    try:
        # A throwaway database: no journal, no fsync (the app turns WAL on again).
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")
        for table, rows in data.values():
            names = [c.name for c in table.columns]
            sql = (
                f"INSERT INTO {table.name} ({', '.join(f'{chr(34)}{n}{chr(34)}' for n in names)})"
                f" VALUES ({', '.join('?' for _ in names)})"
            )
            connection.executemany(
                sql, ([_sqlite_value(v) for v in row] for row in _rows(table, rows))
            )
        connection.commit()
        connection.execute("ANALYZE")
    finally:
        connection.close()


async def load_postgres(dsn: str, data: dict[str, tuple[Any, list[tuple[Any, ...]]]]) -> None:
    """Bulk insert with COPY through asyncpg."""
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        for table, rows in data.values():
            names = [c.name for c in table.columns]
            await connection.copy_records_to_table(
                table.name, records=list(_rows(table, rows)), columns=names
            )
        for table in data:
            await connection.execute(f"ANALYZE {table}")
    finally:
        await connection.close()


async def prepare(url: str) -> None:
    """Migrate and load the demo org (regions, topics, the committee chat)."""
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        async with unit_of_work(create_session_factory(engine)) as session:
            await org.load_org(session, org.parse_org_file(DEMO_ORG), default_locale="zh-Hans")
    finally:
        await engine.dispose()


async def measure(url: str, repeats: int) -> dict[str, float]:
    """Seconds for compute() and for the whole report, best and worst of ``repeats``."""
    settings = Settings(database_url=url, timezone="Asia/Shanghai")
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    tr = translator("zh-Hans")
    compute_s: list[float] = []
    report_s: list[float] = []
    try:
        for _ in range(repeats):
            async with sessions() as session:
                began = time.perf_counter()
                digest = await compute(session, week=WEEK, now=NOW, settings=settings)
                compute_s.append(time.perf_counter() - began)
            async with sessions() as session:
                began = time.perf_counter()
                report = await build_report(session, week=WEEK, now=NOW, settings=settings, tr=tr)
                report_s.append(time.perf_counter() - began)
    finally:
        await engine.dispose()
    print(
        f"  week {WEEK.label}: new {digest.this.new}, routed {digest.this.routed}, "
        f"first answers {len(digest.this.first_answer_hours)}, overdue {digest.overdue_total}, "
        f"summary {len(report.summary)} chars, chart {len(report.chart)} B, "
        f"csv {len(report.csv)} B"
    )
    figures: dict[str, float] = {
        "compute_best_s": min(compute_s),
        "compute_worst_s": max(compute_s),
        "report_best_s": min(report_s),
        "report_worst_s": max(report_s),
    }
    if url.startswith("sqlite"):
        # How long the whole report holds the event loop at a time: the bot's own engine
        # runs SQLite on the loop's thread; the digest's report engine on aiosqlite's.
        for name, inline in (("inline", True), ("report_engine", False)):
            figures[f"loop_stall_{name}_s"] = await _loop_stall(url, settings, inline=inline)
    return figures


async def _loop_stall(url: str, settings: Settings, *, inline: bool) -> float:
    """The longest the event loop went without running a 5 ms ticker during a report."""
    engine = create_engine(url, inline=inline)
    tr = translator("zh-Hans")
    longest = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            longest, last = max(longest, now - last), now

    try:
        async with create_session_factory(engine)() as session:
            await build_report(session, week=WEEK, now=NOW, settings=settings, tr=tr)  # warm
            ticking = asyncio.create_task(ticker())
            await build_report(session, week=WEEK, now=NOW, settings=settings, tr=tr)
            done.set()
            await ticking
    finally:
        await engine.dispose()
    return longest


def _fresh_file(name: str) -> Path:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return path


async def run(args: argparse.Namespace) -> None:
    """Generate, load and measure on each requested backend."""
    began = time.perf_counter()
    data = generate(args.questions, args.wishes)
    counts = {name: len(rows) for name, (_, rows) in data.items()}
    print(f"generated {counts} in {time.perf_counter() - began:.1f} s")
    targets: list[tuple[str, str]] = []
    if not args.skip_sqlite:
        targets.append(("sqlite", f"sqlite+aiosqlite:///{_fresh_file(args.sqlite_path)}"))
    if args.postgres:
        import asyncpg

        dsn = args.postgres.replace("postgresql+asyncpg://", "postgresql://")
        name = f"voy_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(dsn)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        targets.append(("postgres", args.postgres.rsplit("/", 1)[0] + f"/{name}"))
    for backend, url in targets:
        began = time.perf_counter()
        await prepare(url)
        if backend == "sqlite":
            load_sqlite(Path(args.sqlite_path), data)
        else:
            await load_postgres(url.replace("postgresql+asyncpg://", "postgresql://"), data)
        print(f"{backend}: loaded in {time.perf_counter() - began:.1f} s")
        figures = await measure(url, args.repeats)
        print(f"{backend}: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()))
        if backend == "postgres" and not args.keep:
            dsn = args.postgres.replace("postgresql+asyncpg://", "postgresql://")
            admin = await asyncpg.connect(dsn)
            await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
            await admin.close()


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=1_000_000)
    parser.add_argument("--wishes", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sqlite-path", default="var/bench-digest.sqlite3")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--postgres", help="postgresql+asyncpg://… (a fresh database is made)")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
