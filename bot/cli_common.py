"""What every ``voy`` command shares: settings, one-line failures, a database session."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import SecretStr, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from storage.db import create_engine, create_session_factory, unit_of_work

T = TypeVar("T")

# Exit statuses (README, "The command line"; deploy/systemd/voy@.service restarts on
# UNAVAILABLE, not on REFUSED). A command that fails otherwise exits 1.
# What stays wrong until someone fixes it: a setting, the token, an input, the schema.
REFUSED = 2
# What may pass by itself: the database or the Bot API out of reach (sysexits.h's
# EX_TEMPFAIL, "try again later").
UNAVAILABLE = 75


def fail(message: str, code: int = REFUSED) -> NoReturn:
    """Print a one-line error and exit."""
    typer.echo(f"voy: {message}", err=True)
    raise typer.Exit(code)


def load_settings(**overrides: object) -> Settings:
    """Read the settings (``overrides``, from command-line options, over the environment),
    or exit with a one-line message saying what is wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # options, checked here
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors())
        fail(f"invalid configuration: {problems}")


def _problem(error: Any) -> str:
    """One setting's problem, with the value given unless it is a secret."""
    name = "_".join(map(str, error["loc"]))
    if not name:  # a rule between settings: its message names them
        return str(error["msg"])
    field = Settings.model_fields.get(name)
    # A database URL may carry its password.
    secret = name == "database_url" or (field is not None and field.annotation is SecretStr)
    given = "" if secret or isinstance(error["input"], dict) else f" (got {error['input']!r})"
    return f"VOY_{name.upper()}: {error['msg']}{given}"


def fail_logged(settings: Settings, message: str, code: int = REFUSED) -> NoReturn:
    """:func:`fail`, once logging is set up: with JSON logs, the line is a JSON record
    too, so a log collector reads every line of the process."""
    if settings.log_format != "json":
        fail(message, code)
    logging.getLogger("bot.cli").critical("voy: %s", message)
    raise typer.Exit(code)


async def in_session(
    settings: Settings, action: Callable[[AsyncSession], Awaitable[T]], *, write: bool
) -> T:
    """Run ``action`` in one session on the configured database; commit if ``write``."""
    engine = create_engine(settings.database_url)
    try:
        sessions = create_session_factory(engine)
        if write:
            async with unit_of_work(sessions) as session:
                return await action(session)
        async with sessions() as session:
            return await action(session)
    finally:
        await engine.dispose()
