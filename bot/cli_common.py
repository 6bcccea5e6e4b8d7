"""What every ``voy`` command shares: settings, one-line failures, a database session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from storage.db import create_engine, create_session_factory, unit_of_work

T = TypeVar("T")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error and exit."""
    typer.echo(f"voy: {message}", err=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    """Read the settings, or exit with a one-line message saying what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"VOY_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        fail(f"invalid configuration: {problems}")


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
