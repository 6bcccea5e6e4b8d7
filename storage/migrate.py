"""Apply and revert Alembic migrations from code (the CLI, the demo and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The advisory lock migrations take on PostgreSQL (any constant our other locks don't use).
LOCK_KEY = 0x766F79_4D4947  # "voy" "MIG"


def alembic_config(url: str) -> Config:
    """Build an Alembic config pointing at our migrations and ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the database behind ``engine`` to ``revision``; return the revisions it was
    at before and is at after (None: empty)."""
    return await _run(engine, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> tuple[str | None, str | None]:
    """Downgrade the database behind ``engine`` to ``revision``; return the revisions it
    was at before and is at after (None: empty)."""
    return await _run(engine, lambda cfg: command.downgrade(cfg, revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """Return the revision the database is at, or None for an empty database."""
    async with engine.connect() as connection:
        return await connection.run_sync(_revision)


def _revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def _run(engine: AsyncEngine, action: object) -> tuple[str | None, str | None]:
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def _with_connection(connection: Connection) -> tuple[str | None, str | None]:
        before = _revision(connection)
        config.attributes["connection"] = connection
        action(config)  # type: ignore[operator]
        return before, _revision(connection)

    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two upgrades at once (two instances' deploy steps): the second waits for the
            # first, then finds the database current. Released with the transaction.
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        return await connection.run_sync(_with_connection)
