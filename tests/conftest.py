"""Fixtures shared by the whole suite: databases, the sandbox and the running bot."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bot.app import build_application
from bot.clock import Clock
from bot.config import Settings
from bot.context import BotApplication
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
# Which database the general fixtures (`database_url`, `harness`) use: sqlite or postgres.
BACKEND_ENV = "VOY_TEST_BACKEND"
BACKENDS = ("sqlite", "postgres")
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


def run_backend() -> str:
    """The backend of the general database fixtures, from ``VOY_TEST_BACKEND``."""
    backend = os.environ.get(BACKEND_ENV, "sqlite") or "sqlite"
    if backend not in BACKENDS:
        raise pytest.UsageError(f"{BACKEND_ENV} must be one of {BACKENDS}, not {backend!r}")
    return backend


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say up front which backend the suite runs on and whether the PostgreSQL tests run."""
    url = os.environ.get(POSTGRES_ENV)
    return [
        f"database backend: {run_backend()} (set {BACKEND_ENV}=postgres for PostgreSQL)",
        f"postgres: {url}" if url else f"postgres: {_POSTGRES_NOTICE}",
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL run, skip the tests marked ``sqlite_only`` (they say why)."""
    if run_backend() != "postgres":
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"SQLite-specific: {reason}"))


@pytest.fixture
def sqlite_file_url(tmp_path: Path) -> str:
    """A fresh SQLite database file for one test, whatever the backend of the run."""
    return f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}"


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database for one test, on the backend ``VOY_TEST_BACKEND`` selects."""
    name = "postgres_url" if run_backend() == "postgres" else "sqlite_file_url"
    return str(request.getfixturevalue(name))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh database on each backend in turn, for code whose SQL differs between them
    (bulk statements, locks, driver errors); the PostgreSQL case skips without a server."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def sqlite_url(database_url: str) -> str:
    """The old name of ``database_url``: the general database, which follows the backend."""
    return database_url


def postgres_server_url() -> str:
    """The configured PostgreSQL server's URL; the test skips with a notice when none is
    configured, and fails when the run requires PostgreSQL."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        if os.environ.get("VOY_REQUIRE_POSTGRES") == "1" or run_backend() == "postgres":
            pytest.fail(f"this run needs PostgreSQL but {POSTGRES_ENV} is not set")
        pytest.skip(_POSTGRES_NOTICE)
    return base


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    base = postgres_server_url()
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
        "digest_enabled": False,  # tests/e2e/test_digest.py turns the weekly digest on
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


# Prepared SQLite databases, one per (org file, knowledge base): a test's database is a
# copy (migrating and loading takes most of a second; copying, milliseconds).
_TEMPLATES: dict[tuple[str, str], Path] = {}


async def prepare(
    database_url: str, org_file: Path = DEMO_ORG, kb_file: Path | None = MINI_FAQ
) -> None:
    """Migrate ``database_url`` and load an org file and a knowledge base into it.

    A new SQLite file is a copy of a database prepared once per run for the same files.
    """
    target = _new_sqlite_file(database_url)
    if target is None:  # PostgreSQL, or a restart on the same database: keep what is in it
        await _prepare(database_url, org_file, kb_file)
        return
    key = (str(org_file), str(kb_file))
    template = _TEMPLATES.get(key)
    if template is None:
        folder = Path(tempfile.mkdtemp(prefix="voy-template-"))
        atexit.register(shutil.rmtree, folder, True)
        template = folder / "template.sqlite3"
        await _prepare(f"sqlite+aiosqlite:///{template}", org_file, kb_file)
        with contextlib.closing(sqlite3.connect(template)) as db:  # all in the main file
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _TEMPLATES[key] = template
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)


def _new_sqlite_file(database_url: str) -> str | None:
    """The file of a SQLite URL whose database does not exist yet; else None."""
    url = make_url(database_url)
    target = url.database
    if url.get_backend_name() != "sqlite" or not target or target == ":memory:":
        return None
    return None if os.path.exists(target) else target


async def _prepare(database_url: str, org_file: Path, kb_file: Path | None) -> None:
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
async def harness(sandbox: SandboxServer, database_url: str) -> AsyncIterator[BotHarness]:
    """The real bot, polling the sandbox over HTTP, on a fresh database of the run's backend."""
    async for running in run_harness(sandbox, database_url):
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
    if settings.sweep_interval_s >= 3600:
        # Tests that sweep by hand: the job's one run (1 s after start) would otherwise
        # sweep whenever the test's clock happens to stand then, taking their work.
        post_init = application.post_init
        assert post_init is not None

        async def without_sweeper_job(app: BotApplication) -> None:
            await post_init(app)
            app.job_queue.scheduler.remove_job("sweeper")  # type: ignore[union-attr]

        application.post_init = without_sweeper_job
    client = SandboxClient(server.url.rstrip("/"))
    # The demo org's committee group, with 王老师 as its admin, as in the demo.
    await client.set_chat(COMMITTEE_CHAT, title="团委", type_="supergroup", admins=[2001])
    async with polling(application, poll_timeout=1):
        # Tests sweep by hand after moving the clock: the job's first run (a second after
        # the start) could otherwise sweep the same items at the same time and win.
        assert application.job_queue is not None
        for job in application.job_queue.get_jobs_by_name("sweeper"):
            job.schedule_removal()
        yield BotHarness(
            app=application,
            server=server,
            client=client,
            sessions=application.bot_data.services.sessions,
            settings=settings,
        )
    await client.aclose()
