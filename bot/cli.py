"""The ``voy`` command line: run, demo, database and organisation management."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import shlex
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from alembic.util import CommandError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError

from bot import logs, loop
from bot.cli_cadre import cadre_app
from bot.cli_common import REFUSED, UNAVAILABLE, fail, fail_logged, load_settings
from bot.cli_digest import digest
from bot.cli_kb import kb_app
from bot.cli_privacy import privacy_app
from bot.cli_updates import updates_app
from bot.config import ConfigError, Settings, default_database_url
from bot.delivery import retry_wait
from bot.services import org
from bot.webhook import ListenError
from storage import migrate
from storage.db import DatabaseFolderError, create_engine, create_session_factory, unit_of_work

_log = logging.getLogger("bot.cli")  # not __main__ under `python -m bot.cli`
# The longest flood-control wait sat out before exiting; a longer one is met again after
# the restart, a quarter of an hour later at most.
_MAX_FLOOD_WAIT_S = 900.0

app = typer.Typer(
    help="Voice of Youth (青年之声) Telegram bot.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
org_app = typer.Typer(help="The organisation: regions, topics, cadres.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")
app.add_typer(kb_app, name="kb")
app.add_typer(cadre_app, name="cadre")
app.add_typer(privacy_app, name="privacy")
app.add_typer(updates_app, name="updates")
app.command("digest")(digest)


def _setup_logging(settings: Settings) -> None:
    logs.setup(settings.log_level, settings.log_format)


@app.command()
def run(
    webhook_url: Annotated[
        str | None,
        typer.Option(help="Public HTTPS URL Telegram posts updates to (default: long polling)."),
    ] = None,
    listen: Annotated[
        str | None, typer.Option(help="Address the webhook and metrics server listen on.")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port of the webhook server.")] = None,
    bot_api_url: Annotated[
        str | None,
        typer.Option(help="Bot API base URL, e.g. http://127.0.0.1:8081/bot (local server)."),
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Polling mode: serve /metrics and /healthz here.")
    ] = None,
    replace_webhook: Annotated[
        bool,
        typer.Option(help="Polling mode: start even though a webhook is registered (deletes it)."),
    ] = False,
) -> None:
    """Run the bot against Telegram: long polling, or a webhook with --webhook-url."""
    from bot.app import build_application
    from bot.runner import serve

    if webhook_url is not None and not webhook_url.strip():
        # systemd gives an unset ${VOY_WEBHOOK_URL} as an empty argument: polling instead,
        # one instance per port, would cut each other off.
        fail(
            "--webhook-url is empty: give the public HTTPS URL (VOY_WEBHOOK_URL, for "
            "deploy/systemd/voy@.service), or leave the option out for long polling"
        )
    overrides = {
        "webhook_url": webhook_url,
        "listen": listen,
        "port": port,
        "bot_api_url": bot_api_url,
        "metrics_port": metrics_port,
        "replace_webhook": replace_webhook or None,
    }
    # Validated like the environment's values (a port out of range is refused here).
    settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    try:
        settings.require_token()
    except ConfigError as exc:
        fail(str(exc))
    _setup_logging(settings)
    if warning := settings.pseudonym_secret_warning():
        _log.warning("%s", warning)
    if not asyncio.run(_is_current(settings)):
        fail_logged(settings, "the database is not up to date: run `voy db upgrade` first")
    base_url = settings.bot_api_url.rstrip("/") or None
    application = build_application(
        settings, base_url=base_url, base_file_url=_file_url(base_url) if base_url else None
    )
    try:
        loop.run(serve(application, settings), choice=settings.event_loop)
    except ConfigError as exc:
        fail_logged(settings, str(exc))
    except InvalidToken:
        # PTB's message quotes the whole token: never print it.
        fail_logged(
            settings,
            "Telegram refused the bot token (VOY_TELEGRAM_TOKEN): check it with @BotFather",
        )
    except NetworkError:
        fail_logged(
            settings,
            f"cannot reach the Bot API at {base_url or 'api.telegram.org'}: check the network, "
            "a proxy (HTTPS_PROXY) or VOY_BOT_API_URL",
            UNAVAILABLE,
        )
    except RetryAfter as exc:  # flood control (instances starting together): it passes
        # Wait it out before exiting: restarted at once (systemd's 5 s), the instance would
        # meet it again, and calls made under flood control can prolong it.
        wait = min(retry_wait(exc).total_seconds(), _MAX_FLOOD_WAIT_S)
        _log.warning("flood control at start: waiting %.0f s before exiting", wait)
        time.sleep(wait)
        fail_logged(
            settings,
            f"the Bot API asked to wait {wait:.0f} s before the next call (flood control); "
            "waited, start again now",
            UNAVAILABLE,
        )
    except TelegramError as exc:
        token = settings.telegram_token.get_secret_value()
        fail_logged(
            settings, f"the Bot API refused to start the bot: {str(exc).replace(token, '***')}"
        )
    except ListenError as exc:  # other OSErrors (a database lost at start) reach main()
        fail_logged(settings, f"cannot listen on {exc.strerror or exc}")


def _file_url(base_url: str) -> str:
    """The file endpoint beside a Bot API base URL: ``…/bot`` → ``…/file/bot``."""
    head, _, tail = base_url.rpartition("/")
    return f"{head}/file/{tail}"


async def _is_current(settings: Settings) -> bool:
    from alembic.script import ScriptDirectory

    engine = create_engine(settings.database_url)
    try:
        current = await migrate.current_revision(engine)
    finally:
        await engine.dispose()
    script = ScriptDirectory.from_config(migrate.alembic_config(settings.database_url))
    return current == script.get_current_head()


@app.command()
def demo(
    data_dir: Annotated[
        Path, typer.Option(help="Where the demo keeps its SQLite database.")
    ] = Path("var/demo"),
    port: Annotated[int, typer.Option(help="Port of the sandbox and its web chat.")] = 8080,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    browser: Annotated[bool, typer.Option(help="Open the web chat in a browser.")] = True,
) -> None:
    """Run the bot against the offline sandbox and print the web chat's URL."""
    from bot.demo import DemoOptions, run_demo

    settings = load_settings()
    _setup_logging(settings)
    # Never VOY_DATABASE_URL: set for `voy run` (production's), the demo would load its
    # org file into that database and send its due pushes to the sandbox.
    options = DemoOptions(data_dir=data_dir, host=host, port=port, open_browser=browser)
    try:
        loop.run(run_demo(options), choice=settings.event_loop)
    except ConfigError as exc:
        fail(str(exc))
    except DatabaseFolderError as exc:
        fail(
            f"cannot create the folder {exc.folder} (--data-dir) for the demo's database "
            f"{exc.database}: {exc.reason}"
        )
    except OSError as exc:
        fail(f"cannot start the demo on {host}:{port}: {exc.strerror or exc}")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    settings = load_settings()
    before, after = asyncio.run(
        _migrate(settings, lambda engine: migrate.upgrade(engine, revision))
    )
    typer.echo(_moved("upgraded", before, after))


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' empties the database)."""
    settings = load_settings()
    before, after = asyncio.run(
        _migrate(settings, lambda engine: migrate.downgrade(engine, revision))
    )
    typer.echo(_moved("downgraded", before, after))


def _moved(verb: str, before: str | None, after: str | None) -> str:
    """What a migration did, by the revisions' ids (an empty database is "base")."""
    if before == after:
        return f"database already at {after or 'base (empty)'}"
    if before is None:
        return f"database {verb} to {after}"
    return f"database {verb} from {before} to {after or 'base (empty)'}"


@db_app.command("current")
def db_current() -> None:
    """Print the revision the database is at."""
    settings = load_settings()

    async def read() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    typer.echo(asyncio.run(read()) or "empty")


async def _migrate(
    settings: Settings,
    action: Callable[[AsyncEngine], Awaitable[tuple[str | None, str | None]]],
) -> tuple[str | None, str | None]:
    engine = create_engine(settings.database_url)
    try:
        return await action(engine)
    except CommandError as exc:  # an unknown revision, say
        fail(f"migration refused: {exc}")
    finally:
        await engine.dispose()


@org_app.command("load")
def org_load(path: Path) -> None:
    """Load an org file (regions, topics, cadres, reviewers, committee) into the database."""
    settings = load_settings()
    try:
        spec = org.parse_org_file(path)
    except org.OrgFileError as exc:
        fail(str(exc))

    async def load() -> org.LoadReport:
        engine = create_engine(settings.database_url)
        try:
            async with unit_of_work(create_session_factory(engine)) as session:
                return await org.load_org(session, spec, default_locale=settings.default_locale)
        finally:
            await engine.dispose()

    report = asyncio.run(load())
    removed = report.removed_regions + report.removed_topics
    typer.echo(
        f"loaded {report.regions} regions, {report.topics} topics, {report.cadres} cadres"
        + (f"; removed {', '.join(removed)}" if removed else "")
        + (
            f"; deactivated {', '.join(report.deactivated_cadres)}"
            if report.deactivated_cadres
            else ""
        )
    )


def _configured_database_url() -> str:
    """The database URL as configured (environment or .env), for a message."""
    try:
        return Settings().database_url
    except ValueError:  # an invalid setting elsewhere: the environment's value, then ours
        return os.environ.get("VOY_DATABASE_URL") or default_database_url()


# A database never migrated (SQLite's and PostgreSQL's words for a missing table).
_NO_TABLE = r"no such table|relation .* does not exist"
# PostgreSQL's SQLSTATEs of a server out of reach for now: class 08 (connection), 57P
# (shutting down, starting up), 53300 (too many connections).
_UNREACHABLE_STATES = ("08", "57P", "53300")
# Those of a connection that could not be made: also 28 (login refused) and 3D000 (no
# such database), which stay so until someone acts.
_CONNECT_STATES = (*_UNREACHABLE_STATES, "28", "3D000")
_SQLITE_CANTOPEN = 14
# SQLITE_BUSY and SQLITE_LOCKED: another process held the file longer than the wait.
_SQLITE_BUSY = (5, 6)
# A socket's errors that say the network cannot get there now (no route, network down).
_NETWORK_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}
)


def _database_error(exc: BaseException) -> str:
    """One line for a database error: the database as configured (no password), whether
    it could not be reached at all, the driver's words, and what to do where we know."""
    url = make_url(_configured_database_url())
    reason = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(reason).splitlines()[0] if str(reason) else ""
    state = getattr(reason, "sqlstate", None)
    state = state if isinstance(state, str) else ""
    code = getattr(reason, "sqlite_errorcode", None)
    connect = (
        not isinstance(exc, DBAPIError)  # the socket's error: refused, unknown host, timeout
        or state.startswith(_CONNECT_STATES)
        or (isinstance(code, int) and code & 0xFF == _SQLITE_CANTOPEN)
    )
    # asyncpg's errors reach us as SQLAlchemy's generic "Error": the SQLSTATE says more.
    detail = f"{text} (SQLSTATE {state})" if state else f"{type(reason).__name__}: {text}"
    if state == "3D000":
        hint = f"; create it (`{_createdb(url)}`), then run `voy db upgrade`"
    elif state.startswith("28"):
        hint = "; check the user and password in it, and the server's pg_hba.conf"
    elif isinstance(code, int) and code & 0xFF in _SQLITE_BUSY:
        hint = (
            "; another process held it locked for longer than the wait (30 s, or the "
            "URL's ?timeout=)"
        )
    elif re.search(_NO_TABLE, text):
        hint = " (run `voy db upgrade` first)"
    elif isinstance(reason, socket.gaierror):
        # A typo and a server not started yet look the same from here: both exit 75.
        hint = (
            f'; the host name "{url.host or url.query.get("host")}" could not be resolved: '
            "check its spelling in "
            "VOY_DATABASE_URL, or that its server is up and its name published (a "
            "container not started yet); under systemd voy is started again until the "
            "name resolves"
        )
    else:
        hint = ""
    name = f' "{url.database}"' if url.database else ""
    return (
        f"cannot {'connect to' if connect else 'use'} the database{name} named in "
        f"VOY_DATABASE_URL ({url.render_as_string(hide_password=True)}): {detail}{hint}"
    )


def _unreachable(exc: BaseException) -> bool:
    """Whether the database was out of reach (the server down or starting, the network,
    its host unknown, no connection free, a SQLite file another process holds locked),
    which may pass by itself, unlike a refused
    login, a missing database or a SQLite file that cannot be opened."""
    reason = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(reason, OSError):  # refused, unknown host, timeout
        return True
    code = getattr(reason, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _SQLITE_BUSY:  # another process's lock
        return True
    state = getattr(reason, "sqlstate", None)
    return isinstance(state, str) and state.startswith(_UNREACHABLE_STATES)


def _createdb(url: URL) -> str:
    """The ``createdb`` command that makes the database ``url`` names on its server."""
    options = [
        f"{flag} {shlex.quote(str(value))}"
        for flag, value in (("-h", url.host), ("-p", url.port), ("-U", url.username))
        if value
    ]
    return " ".join(["createdb", *options, shlex.quote(url.database or "")])


def main() -> None:
    """Entry point of the ``voy`` script: a database that cannot be reached is one line,
    whichever command found out, and exit status 75 if it may pass by itself, else 2."""
    try:
        app()
    except (ConnectionError, socket.gaierror, TimeoutError, DBAPIError) as exc:
        typer.echo(f"voy: {_database_error(exc)}", err=True)
        raise SystemExit(UNAVAILABLE if _unreachable(exc) else REFUSED) from None
    except DatabaseFolderError as exc:
        typer.echo(
            f"voy: cannot create the folder {exc.folder} for the SQLite database "
            f"{exc.database} named in VOY_DATABASE_URL: {exc.reason}",
            err=True,
        )
        raise SystemExit(REFUSED) from None
    except OSError as exc:
        if exc.errno not in _NETWORK_ERRNOS:
            raise
        typer.echo(f"voy: {_database_error(exc)}", err=True)
        raise SystemExit(UNAVAILABLE) from None


if __name__ == "__main__":
    main()
