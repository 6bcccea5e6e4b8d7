"""Operations audit: what an operator meets at the command line and in the logs.

Each test here failed on the code it was written against; see the audit report.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from telegram import BotCommandScopeChat
from typer.testing import CliRunner

from bot import menus
from bot.cli import app
from bot.data import DEMO_ORG
from bot.services import org
from sandbox import SandboxClient, SandboxServer
from tests.conftest import postgres_server_url
from tests.support import COMMITTEE_CHAT, TOKEN, BotHarness, run_voy

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


# --- the org file -----------------------------------------------------------------------


def test_an_empty_org_file_is_refused_not_loaded_as_an_empty_organisation(
    db_env: str, tmp_path: Path
) -> None:
    """A truncated or empty org file (a failed copy, ``> org.yaml``) must not wipe the org:
    today it loads as "no regions, no topics, no cadres, no committee" and deactivates
    every cadre, removes every region and topic and clears the committee chat."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["org", "load", str(DEMO_ORG)]).exit_code == 0
    empty = tmp_path / "org.yaml"
    empty.write_text("", encoding="utf-8")
    result = runner.invoke(app, ["org", "load", str(empty)])
    listing = runner.invoke(app, ["cadre", "list"]).output
    assert result.exit_code != 0, f"an empty org file was loaded: {result.output}"
    assert "removed" not in listing, listing


# --- one-line refusals instead of tracebacks --------------------------------------------


def test_run_with_an_unknown_log_level_says_so_in_one_line(tmp_path: Path) -> None:
    """``VOY_LOG_LEVEL`` is not validated: ``voy run`` dies in logging.basicConfig."""
    result = run_voy(
        ["run"],
        tmp_path,
        VOY_TELEGRAM_TOKEN="123456:real-looking",
        VOY_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}",
        VOY_LOG_LEVEL="verbose",
    )
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    assert result.returncode == 2 and "VOY_LOG_LEVEL" in result.stderr


def test_a_malformed_database_url_says_so_in_one_line(tmp_path: Path) -> None:
    result = run_voy(["db", "current"], tmp_path, VOY_DATABASE_URL="postgres://voy@db-host/voy")
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    assert result.returncode == 2 and "VOY_DATABASE_URL" in result.stderr


@pytest.mark.parametrize("timeout", ["abc", "nan", "-1"])
def test_a_sqlite_wait_that_is_no_number_says_so_in_one_line(tmp_path: Path, timeout: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}?timeout={timeout}"
    result = run_voy(["db", "current"], tmp_path, VOY_DATABASE_URL=url)
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    assert result.returncode == 2 and "?timeout=" in result.stderr, result.stderr


def test_an_unreachable_database_says_so_in_one_line(tmp_path: Path) -> None:
    result = run_voy(
        ["db", "upgrade"],
        tmp_path,
        VOY_DATABASE_URL="postgresql+asyncpg://voy:pw@127.0.0.1:1/voy",
    )
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    assert result.returncode == 75  # EX_TEMPFAIL: may pass by itself, unlike a setting
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        'voy: cannot connect to the database "voy" named in VOY_DATABASE_URL '
        "(postgresql+asyncpg://voy:***@127.0.0.1:1/voy): ConnectionRefusedError: "
    ), line


def test_a_database_without_a_route_says_so_in_one_line(tmp_path: Path) -> None:
    """No route to the server (2001:db8::/32 is the documentation prefix, routed nowhere):
    a plain OSError, not a ConnectionError. It ended in a traceback with status 1."""
    result = run_voy(
        ["db", "current"],
        tmp_path,
        VOY_DATABASE_URL="postgresql+asyncpg://voy:pw@[2001:db8::1]:5432/voy",
    )
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    assert result.returncode == 75, result.stderr[-600:]  # the network may come back
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith('voy: cannot connect to the database "voy"'), line


def test_an_unknown_database_host_is_named_with_what_to_check(tmp_path: Path) -> None:
    """A host name that does not resolve may be a typo or a server not started yet: the
    exit stays 75 (restarted), and the line names the host and what to check, so a typo
    is not mistaken for an outage while it is restarted again and again."""
    result = run_voy(
        ["db", "current"],
        tmp_path,
        VOY_DATABASE_URL="postgresql+asyncpg://voy:pw@db-hots.invalid:5432/voy",
    )
    assert result.returncode == 75, result.stderr[-600:]
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith('voy: cannot connect to the database "voy"'), line
    assert line.endswith(
        '; the host name "db-hots.invalid" could not be resolved: check its spelling in '
        "VOY_DATABASE_URL, or that its server is up and its name published (a container "
        "not started yet); under systemd voy is started again until the name resolves"
    ), line
    # The host given as an option of the URL, as for a Unix socket's folder.
    url = "postgresql+asyncpg://voy:pw@/voy?host=db-hots.invalid"
    result = run_voy(["db", "current"], tmp_path, VOY_DATABASE_URL=url)
    assert result.returncode == 75, result.stderr[-600:]
    assert 'the host name "db-hots.invalid" could not be resolved' in result.stderr


def test_run_tells_a_database_out_of_reach_from_a_refused_configuration(
    tmp_path: Path,
) -> None:
    """Under systemd (deploy/systemd/voy@.service) a refused configuration must not be
    restarted, a database not up yet must be: both exited 2. Out of reach is 75
    (sysexits.h's EX_TEMPFAIL), what only the operator can fix stays 2."""
    env = {
        "VOY_TELEGRAM_TOKEN": "123456:real-looking",
        "VOY_PSEUDONYM_SECRET": "9f2c1e7a5b3d4c6e8f0a1b2c3d4e5f60",
    }
    for url in (
        "postgresql+asyncpg://voy:pw@127.0.0.1:1/voy",  # the server is down
        "postgresql+asyncpg://voy:pw@db-host.invalid/voy",  # no such host (yet)
    ):
        down = run_voy(["run"], tmp_path, VOY_DATABASE_URL=url, **env)
        assert down.returncode == 75, down.stderr[-600:]
        (line,) = down.stderr.strip().splitlines()
        assert line.startswith('voy: cannot connect to the database "voy"'), line
    refused = run_voy(
        ["run"], tmp_path, VOY_DATABASE_URL="postgresql+asyncpg://voy:pw@127.0.0.1:1/voy"
    )
    assert refused.returncode == 2 and "VOY_TELEGRAM_TOKEN" in refused.stderr
    old = f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}"
    upgrade = ["db", "upgrade", "--revision", "0001"]
    assert run_voy(upgrade, tmp_path, VOY_DATABASE_URL=old).returncode == 0
    stale = run_voy(["run"], tmp_path, VOY_DATABASE_URL=old, **env)
    assert stale.returncode == 2 and "voy db upgrade" in stale.stderr, stale.stderr[-600:]


def test_a_sqlite_file_another_process_holds_locked_is_out_of_reach_for_now(
    tmp_path: Path,
) -> None:
    """A backup or a long `voy db upgrade` holding the file: it passes, so exit 75 (a
    systemd unit restarts it), not 2 (left down); and the URL's ?timeout= is the wait
    (our own 30 s used to override it)."""
    path = tmp_path / "voy.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    assert run_voy(["db", "upgrade"], tmp_path, VOY_DATABASE_URL=url).returncode == 0
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        result = run_voy(
            ["kb", "match", "怎么入团"], tmp_path, VOY_DATABASE_URL=f"{url}?timeout=1"
        )
        waited = time.monotonic() - started
    finally:
        holder.close()
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    assert result.returncode == 75, result.stderr[-600:]
    (line,) = result.stderr.strip().splitlines()
    assert "database is locked" in line and "another process held it locked" in line, line
    assert waited < 20, waited  # one second's wait, not 30


def test_a_database_that_does_not_exist_says_how_to_create_it(tmp_path: Path) -> None:
    """A PostgreSQL server without the database VOY_DATABASE_URL names (not created yet,
    or a typo) printed `Error: database "…" does not exist`: an exception's type name
    that says nothing, and nothing about what to do."""
    base = postgres_server_url()
    name = f"voy_nope_{uuid.uuid4().hex[:8]}"
    url = make_url(base).set(database=name, password="s3cret-pw")
    result = run_voy(
        ["db", "upgrade"], tmp_path, VOY_DATABASE_URL=url.render_as_string(hide_password=False)
    )
    assert result.returncode == 2, result.stderr[-600:]
    (line,) = result.stderr.strip().splitlines()
    assert "Traceback" not in line and "s3cret-pw" not in line and "***" in line
    assert f'cannot connect to the database "{name}" named in VOY_DATABASE_URL' in line, line
    assert "does not exist" in line and re.search(rf"`createdb [^`]*\b{name}`", line), line
    assert "Error:" not in line


def test_a_login_the_server_refuses_is_not_out_of_reach(tmp_path: Path) -> None:
    """Exit status 2, not 75: trying again every few seconds does not make it valid."""
    url = make_url(postgres_server_url()).set(
        username=f"voy_nope_{uuid.uuid4().hex[:8]}", password="s3cret-pw"
    )
    result = run_voy(
        ["db", "current"], tmp_path, VOY_DATABASE_URL=url.render_as_string(hide_password=False)
    )
    assert result.returncode == 2 and "(SQLSTATE 28" in result.stderr, result.stderr[-600:]


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["db", "upgrade"],
        ["db", "current"],
        ["kb", "lint"],
        ["org", "load", str(DEMO_ORG)],
    ],
)
def test_a_sqlite_folder_that_cannot_be_made_says_so_in_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    """A SQLite path under a regular file (a typo, a file where the folder should be):
    each command that opens the database ended in mkdir's traceback."""
    (tmp_path / "state").write_text("", encoding="utf-8")
    database = tmp_path / "state" / "voy" / "voy.sqlite3"
    result = run_voy(
        command,
        tmp_path,
        VOY_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        VOY_TELEGRAM_TOKEN="123456:real-looking",
        VOY_PSEUDONYM_SECRET="9f2c1e7a5b3d4c6e8f0a1b2c3d4e5f60",  # no warning before
    )
    assert result.returncode == 2, result.stderr[-600:]
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        f"voy: cannot create the folder {database.parent} for the SQLite database "
        f"{database} named in VOY_DATABASE_URL: Not a directory"
    ), line


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc here")
def test_a_sqlite_folder_where_none_can_be_made_says_so_in_one_line(tmp_path: Path) -> None:
    """/proc takes no new folders, not even root's (whom a read-only folder lets through)."""
    result = run_voy(
        ["db", "upgrade"], tmp_path, VOY_DATABASE_URL="sqlite+aiosqlite:////proc/nope/voy.db"
    )
    assert result.returncode == 2, result.stderr[-600:]
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        "voy: cannot create the folder /proc/nope for the SQLite database /proc/nope/voy.db "
        "named in VOY_DATABASE_URL: No such file or directory"
    ), line


def test_a_demo_folder_that_cannot_be_made_says_so_in_one_line(tmp_path: Path) -> None:
    """It said "cannot start the demo on 127.0.0.1:PORT", as if the port were the trouble."""
    (tmp_path / "state").write_text("", encoding="utf-8")
    data_dir = tmp_path / "state" / "demo"
    result = run_voy(
        ["demo", "--data-dir", str(data_dir), "--no-browser", "--port", "0"], tmp_path
    )
    assert result.returncode == 2, result.stderr[-600:]
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        f"voy: cannot create the folder {data_dir} (--data-dir) for the demo's database "
        f"{data_dir / 'voy.sqlite3'}: Not a directory"
    ), line


def test_db_downgrade_to_an_unknown_revision_says_so_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}"
    assert run_voy(["db", "upgrade"], tmp_path, VOY_DATABASE_URL=url).returncode == 0
    result = run_voy(["db", "downgrade", "0099_typo"], tmp_path, VOY_DATABASE_URL=url)
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    assert result.returncode == 2 and "0099_typo" in result.stderr


def test_kb_import_of_a_file_not_in_utf8_says_so_in_one_line(tmp_path: Path) -> None:
    """A GBK-encoded FAQ (what Excel on a Chinese Windows writes) is a likely input."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}"
    assert run_voy(["db", "upgrade"], tmp_path, VOY_DATABASE_URL=url).returncode == 0
    faq = tmp_path / "faq.csv"
    faq.write_bytes("id,question,answer\n1,几岁能入团,年满十四周岁\n".encode("gbk"))
    result = run_voy(["kb", "import", str(faq)], tmp_path, VOY_DATABASE_URL=url)
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    assert result.returncode == 2 and "faq.csv" in result.stderr


def test_run_when_the_bot_api_is_unreachable_says_so_in_one_line(tmp_path: Path) -> None:
    """api.telegram.org blocked, or HTTPS_PROXY unset: a traceback, and an unclosed session."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}"
    assert run_voy(["db", "upgrade"], tmp_path, VOY_DATABASE_URL=url).returncode == 0
    result = run_voy(
        ["run", "--bot-api-url", "http://127.0.0.1:9/bot"],  # nothing listens there
        tmp_path,
        VOY_TELEGRAM_TOKEN="123456:real-looking",
        VOY_DATABASE_URL=url,
    )
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    assert result.returncode == 75  # EX_TEMPFAIL: the network may come back


def test_digest_refuses_an_unknown_locale(db_env: str, tmp_path: Path) -> None:
    """``--help`` says "zh-Hans, zh-Hant or en"; ``--locale fr`` silently writes zh-Hans."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["digest", "--locale", "fr", "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output


# --- logs name people by pseudonym, never by Telegram id ------------------------------


async def test_the_menu_sync_never_logs_a_former_staff_members_telegram_id(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """README, Logs: people are named as ``u:`` and a keyed code, never by Telegram id.
    bot/menus.py logs a former staff member's raw id when removing their menu fails."""
    services = harness.app.bot_data.services
    # The start-up menus, set in the background (calling set_all here too would race
    # it for the menus' record: two inserts of one key on PostgreSQL).
    for _ in range(100):
        found = await harness.app.bot.get_my_commands(scope=BotCommandScopeChat(COMMITTEE_CHAT))
        if found:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the start-up menus were never set")
    # The donor 3001 leaves: an org file without donors.
    spec = org.parse_org_file(DEMO_ORG).model_copy(update={"donors": []})
    async with services.sessions() as session, session.begin():
        await org.load_org(session, spec, default_locale="zh-Hans")
    await harness.client.set_fault("deleteMyCommands", 400)
    with caplog.at_level(logging.INFO):
        await menus.sync(harness.app.bot, services.sessions, services.settings)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("bot.")]
    leaks = [line for line in lines if "3001" in line]
    assert not leaks, leaks


# --- cadre invites ----------------------------------------------------------------------


def test_cadre_invite_refuses_a_validity_of_no_days(db_env: str) -> None:
    """``--days 0`` or ``--days -3`` prints a link "valid for -3 days" that is dead already."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["org", "load", str(DEMO_ORG)]).exit_code == 0
    result = runner.invoke(app, ["cadre", "invite", "--name", "赵老师", "--days", "-3"])
    assert result.exit_code == 2, result.output


def test_a_database_never_migrated_says_to_upgrade_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}"
    result = run_voy(["kb", "match", "怎么入团"], tmp_path, VOY_DATABASE_URL=url)
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    assert result.returncode == 2 and "voy db upgrade" in result.stderr, result.stderr


# --- the pseudonyms' key ------------------------------------------------------------------


def test_run_warns_at_start_when_the_pseudonym_secret_is_unset(tmp_path: Path) -> None:
    """Unset, VOY_PSEUDONYM_SECRET is derived from the token: setting it later, or revoking
    the token, changes every pseudonym cadres know people by. `voy run` said nothing."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}"
    assert run_voy(["db", "upgrade"], tmp_path, VOY_DATABASE_URL=url).returncode == 0
    env = {"VOY_TELEGRAM_TOKEN": "123456:real-looking", "VOY_DATABASE_URL": url}
    run = ["run", "--bot-api-url", "http://127.0.0.1:9/bot"]  # nothing listens: it stops
    unset = run_voy(run, tmp_path, **env)
    (warning,) = [line for line in unset.stderr.splitlines() if "VOY_PSEUDONYM_SECRET" in line]
    assert "WARNING" in warning and "token" in warning
    secret = "9f2c1e7a5b3d4c6e8f0a1b2c3d4e5f60"
    chosen = run_voy(run, tmp_path, **env, VOY_PSEUDONYM_SECRET=secret)
    assert "VOY_PSEUDONYM_SECRET" not in chosen.stderr and secret not in chosen.stderr
    assert unset.returncode == chosen.returncode == 75  # the Bot API is not there


async def _run_webhook(
    sandbox: SandboxServer, tmp_path: Path, port: int
) -> subprocess.CompletedProcess[str]:
    """``voy run`` in webhook mode on ``port`` against the sandbox, on a new database."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}"
    upgraded = await asyncio.to_thread(run_voy, ["db", "upgrade"], tmp_path, VOY_DATABASE_URL=url)
    assert upgraded.returncode == 0
    return await asyncio.to_thread(
        run_voy,
        [
            *("run", "--bot-api-url", sandbox.base_url),
            *("--webhook-url", "https://bot.example.org/tg"),
            *("--listen", "127.0.0.1", "--port", str(port)),
        ],
        tmp_path,
        VOY_TELEGRAM_TOKEN=TOKEN,
        VOY_DATABASE_URL=url,
        VOY_WEBHOOK_SECRET="s" * 40,
    )


async def test_run_whose_webhook_port_is_taken_says_so_and_is_not_restarted(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    """The port is the operator's to change: one line, exit 2. (Every OSError at run was
    called a listen error, so a database lost at start-up was one too.)"""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await _run_webhook(sandbox, tmp_path, port)
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    assert result.returncode == 2, result.stderr[-600:]
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


async def test_run_under_flood_control_at_start_is_restarted(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Two instances starting together can meet Telegram's flood control on setWebhook:
    it passes, so exit 75 (restarted), not 2 (which systemd leaves down for good), after
    sitting out the wait (restarted 5 s later, it met the flood control again)."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    client = SandboxClient(sandbox.url.rstrip("/"))
    try:
        await client.set_fault(
            "setWebhook", 429, description="Too Many Requests: retry after 2", retry_after=2
        )
        result = await _run_webhook(sandbox, tmp_path, port)
        exited = time.time()
        (*_, last_call) = [c for c in await client.calls() if c["method"] == "setWebhook"]
    finally:
        await client.aclose()
    assert result.returncode == 75, result.stderr[-600:]
    assert exited - last_call["time"] >= 2, "exited before the flood-control wait was over"
    # (PTB's rate limiter logs its last retry with a traceback; ours is the last line.)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("voy: the Bot API asked to wait 2 s"), last
    assert "flood control at start: waiting 2 s before exiting" in result.stderr
