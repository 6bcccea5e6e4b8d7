"""Fixtures shared by the whole suite: databases, the sandbox and the running bot."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from bot.app import build_application
from bot.clock import Clock
from bot.config import Settings
from bot.data import DEMO_ORG
from bot.runner import polling
from bot.services import org
from knowledge import store
from knowledge.entries import read_entries
from sandbox import Persona, SandboxClient, SandboxServer
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work
from tests.support import COMMITTEE_CHAT, TOKEN, BotHarness

POSTGRES_ENV = "VOY_TEST_POSTGRES_URL"
# The demo org's staff have started the bot (their chats exist), as in the demo.
STAFF = [
    Persona(id=telegram_id, first_name=name, kind="cadre")
    for telegram_id, name in (
        (2001, "王老师"),
        (2002, "李老师"),
        (2003, "张老师"),
        (3001, "爱心人士"),
    )
]
# Tests start on a Wednesday morning in Shanghai: outside quiet hours, and 王老师
# (duty days Mon, Wed, Fri) is on duty.
DAYTIME = datetime(2026, 11, 18, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
# A small, fixed knowledge base, so conversation tests do not move with the starter FAQ.
MINI_FAQ = Path(__file__).parent / "data" / "mini_faq.yaml"
_POSTGRES_NOTICE = (
    f"PostgreSQL tests skipped: no server configured. Set {POSTGRES_ENV}="
    "postgresql+asyncpg://postgres@127.0.0.1:5432/test to run them."
)


def pytest_report_header(config: pytest.Config) -> str:
    """Say up front whether the PostgreSQL tests will run."""
    url = os.environ.get(POSTGRES_ENV)
    return f"postgres: {url}" if url else f"postgres: {_POSTGRES_NOTICE}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file for one test."""
    return f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        if os.environ.get("VOY_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"VOY_REQUIRE_POSTGRES=1 but {POSTGRES_ENV} is not set")
        pytest.skip(_POSTGRES_NOTICE)
    import asyncpg

    dsn = base.replace("postgresql+asyncpg://", "postgresql://")
    name = f"voy_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield base.rsplit("/", 1)[0] + f"/{name}"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for a test bot on the sandbox."""
    values: dict[str, object] = {
        "telegram_token": SecretStr(TOKEN),
        "database_url": database_url,
        "rate_limit": False,
        "outbox_interval_s": 0.1,
        "outbox_rate_per_s": 1000.0,
        "sweep_interval_s": 3600.0,  # tests sweep by hand after moving the clock
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def prepare(
    database_url: str, org_file: Path = DEMO_ORG, kb_file: Path | None = MINI_FAQ
) -> None:
    """Migrate ``database_url`` and load an org file and a knowledge base into it."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        async with unit_of_work(create_session_factory(engine)) as session:
            await org.load_org(session, org.parse_org_file(org_file), default_locale="zh-Hans")
            if kb_file is not None:
                await store.import_entries(session, read_entries(kb_file), changed_by="test")
    finally:
        await engine.dispose()


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    """A sandbox Bot API server; the test fails if the bot broke any Bot API rule."""
    server = SandboxServer(token=TOKEN, port=0, personas=STAFF)
    await server.start()
    yield server
    await server.stop()
    assert not server.violations, f"the bot broke Bot API rules: {server.violations}"


@pytest.fixture
async def harness(sandbox: SandboxServer, sqlite_url: str) -> AsyncIterator[BotHarness]:
    """The real bot, polling the sandbox over HTTP, on a fresh SQLite database."""
    async for running in run_harness(sandbox, sqlite_url):
        yield running


async def run_harness(
    server: SandboxServer,
    database_url: str,
    kb_file: Path | None = MINI_FAQ,
    **overrides: object,
) -> AsyncIterator[BotHarness]:
    """Prepare the database, start the bot on ``server`` and yield a harness."""
    await prepare(database_url, kb_file=kb_file)
    settings = make_settings(database_url, **overrides)
    clock = Clock()
    clock.set(DAYTIME)
    application = build_application(
        settings, base_url=server.base_url, base_file_url=server.base_file_url, clock=clock
    )
    client = SandboxClient(server.url.rstrip("/"))
    # The demo org's committee group, with 王老师 as its admin, as in the demo.
    await client.set_chat(COMMITTEE_CHAT, title="团委", type_="supergroup", admins=[2001])
    async with polling(application, poll_timeout=1):
        yield BotHarness(
            app=application,
            server=server,
            client=client,
            sessions=application.bot_data.services.sessions,
            settings=settings,
        )
    await client.aclose()
