"""``voy demo``: the sandbox and the bot in one process, with SQLite and the demo org."""

from __future__ import annotations

import asyncio
import logging
import signal
import webbrowser
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from bot.app import build_application
from bot.config import Settings
from bot.data import DEMO_ORG
from bot.runner import polling
from bot.services import org
from knowledge import store
from knowledge.entries import STARTER_FAQ, read_entries
from sandbox import Persona, SandboxServer
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work

_log = logging.getLogger(__name__)

DEMO_TOKEN = "123456789:SANDBOX-demo-token"

YOUTH_PERSONAS = (
    Persona(id=1001, first_name="小明", language_code="zh-hans", kind="youth"),
    Persona(id=1002, first_name="小美", language_code="zh-hant", kind="youth"),
    Persona(id=1003, first_name="Alex", language_code="en", kind="youth"),
)


@dataclass(frozen=True)
class DemoOptions:
    """Options of ``voy demo``."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    open_browser: bool = True
    database_url: str | None = None


def demo_settings(options: DemoOptions) -> Settings:
    """Demo settings: the sandbox token, SQLite in the data dir (or ``database_url``)."""
    url = options.database_url or f"sqlite+aiosqlite:///{options.data_dir / 'voy.sqlite3'}"
    return Settings(telegram_token=SecretStr(DEMO_TOKEN), database_url=url)


async def prepare_database(settings: Settings, org_file: Path = DEMO_ORG) -> org.OrgFile:
    """Migrate the database and load the demo org file into it."""
    engine = create_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
        org_spec = org.parse_org_file(org_file)
        async with unit_of_work(create_session_factory(engine)) as session:
            await org.load_org(session, org_spec, default_locale=settings.default_locale)
            # Only into an empty store: a restarted demo keeps what it has learned.
            if not await store.current_version(session):
                await store.import_entries(
                    session, read_entries(STARTER_FAQ), changed_by="starter-faq"
                )
    finally:
        await engine.dispose()
    return org_spec


def personas_for(org_spec: org.OrgFile) -> list[Persona]:
    """The web chat's personas: three young people, the cadres and the committee group."""
    personas = list(YOUTH_PERSONAS)
    personas += [
        Persona(id=c.telegram_id, first_name=c.name, language_code="zh-hans", kind="cadre")
        for c in org_spec.cadres
    ]
    personas += [
        Persona(id=donor, first_name=f"爱心人士 {donor}", language_code="zh-hans", kind="cadre")
        for donor in org_spec.donors
    ]
    if org_spec.committee.chat_id is not None and org_spec.committee.admins:
        personas.append(
            Persona(
                id=org_spec.committee.admins[0],
                first_name="团委",
                language_code="zh-hans",
                kind="committee",
                chat_id=org_spec.committee.chat_id,
            )
        )
    return personas


async def run_demo(options: DemoOptions, stop: asyncio.Event | None = None) -> None:
    """Serve the demo until ``stop`` is set (or Ctrl-C)."""
    settings = demo_settings(options)
    org_spec = await prepare_database(settings)
    server = SandboxServer(
        token=DEMO_TOKEN, host=options.host, port=options.port, personas=personas_for(org_spec)
    )
    await server.start()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        application = build_application(
            settings, base_url=server.base_url, base_file_url=server.base_file_url
        )
        async with polling(application):
            print(f"Voice of Youth demo: open {server.url} to chat with the bot.", flush=True)
            print(f"Database: {settings.database_url}", flush=True)
            print("Press Ctrl-C to stop.", flush=True)
            if options.open_browser:
                webbrowser.open(server.url)
            await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.stop()
        print("Demo stopped.", flush=True)
