"""`voy cadre`: add, list, away, remove and invite, on VOY_DATABASE_URL."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings
from bot.data import DEMO_ORG
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import Cadre

runner = CliRunner()


@pytest.fixture
def db(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VOY_DATABASE_URL", database_url)
    monkeypatch.setenv("VOY_BOT_USERNAME", "voice_of_youth_bot")
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["org", "load", str(DEMO_ORG)]).exit_code == 0
    return database_url


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_add_list_away_remove(db: str) -> None:
    _ok(
        [
            "cadre",
            "add",
            "4001",
            "--name",
            "赵老师",
            "--region",
            "district-b",
            "--topic",
            "league",
            "--duty",
            "mon",
            "--duty",
            "thu",
            "--capacity",
            "3",
        ]
    )
    listing = _ok(["cadre", "list"])
    assert re.search(
        r"4001\s+赵老师\s+regions=district-b\s+topics=league\s+duty=1,4\s+load=0/3\s+active\s+\(cli\)",
        listing,
    )
    later = (date.today() + timedelta(days=30)).isoformat()
    assert f"away until {later}" in _ok(["cadre", "away", "4001", "--until", later])
    assert f"away until {later}" in _ok(["cadre", "list"])
    # An absence that is over reads as active (routing takes the cadre again).
    _set_away_until(db, 4001, datetime.now(UTC) - timedelta(days=3))
    assert re.search(r"4001\s+赵老师.*load=0/3\s+active", _ok(["cadre", "list"]))
    assert "back" in _ok(["cadre", "away", "4001", "--back"])
    _ok(["cadre", "remove", "4001"])
    assert re.search(r"4001\s+赵老师.*removed", _ok(["cadre", "list"]))
    # Reloading the org file leaves cadres it does not manage alone.
    _ok(["cadre", "add", "4002", "--name", "钱老师", "--region", "city"])
    _ok(["org", "load", str(DEMO_ORG)])
    assert re.search(r"4002\s+钱老师.*active", _ok(["cadre", "list"]))


def _set_away_until(url: str, telegram_id: int, until: datetime) -> None:
    """An absence as it stands once its day has passed (the CLI refuses a past day)."""

    async def write() -> None:
        engine = create_engine(url)
        try:
            async with unit_of_work(create_session_factory(engine)) as session:
                await session.execute(
                    update(Cadre).where(Cadre.telegram_id == telegram_id).values(away_until=until)
                )
        finally:
            await engine.dispose()

    asyncio.run(write())


def test_away_until_a_day_that_is_not_ahead_is_refused(db: str) -> None:
    """`voy cadre away 2002 --until 2020-01-01` said "away until 2020-01-01" and changed
    nothing that routing sees: a typo in the year goes unnoticed."""
    today = datetime.now(Settings().tz).date()
    for day in ("2020-01-01", today.isoformat()):
        result = runner.invoke(app, ["cadre", "away", "2002", "--until", day])
        assert result.exit_code == 2, result.output
        assert f"voy: {day} is not after today" in result.output
        assert len(result.output.strip().splitlines()) == 1
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert f"away until {tomorrow}" in _ok(["cadre", "away", "2002", "--until", tomorrow])


def test_a_removed_cadre_cannot_be_sent_away_or_back(db: str) -> None:
    """`voy cadre away ID --back` on a removed cadre said "is back" although routing
    still skips them (removed)."""
    _ok(["cadre", "remove", "2003"])
    result = runner.invoke(app, ["cadre", "away", "2003", "--back"])
    assert result.exit_code == 2, result.output
    assert "removed" in result.output and "is back" not in result.output


def test_bad_input_is_explained(db: str) -> None:
    result = runner.invoke(app, ["cadre", "add", "1", "--name", "x", "--region", "atlantis"])
    assert result.exit_code == 2 and "unknown region or topic codes" in result.output
    result = runner.invoke(app, ["cadre", "away", "999", "--back"])
    assert result.exit_code == 2 and "no cadre with Telegram id 999" in result.output
    result = runner.invoke(app, ["cadre", "add", "1", "--name", "x", "--duty", "funday"])
    assert result.exit_code == 2 and "weekday" in result.output


def test_invite_prints_a_one_time_deep_link(db: str) -> None:
    output = _ok(
        ["cadre", "invite", "--name", "孙老师", "--region", "district-c", "--topic", "study"]
    )
    link = re.search(r"https://t\.me/voice_of_youth_bot\?start=(cadre-[\w-]+)", output)
    assert link is not None and f"/start {link.group(1)}" in output
