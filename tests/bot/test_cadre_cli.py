"""`voy cadre`: add, list, away, remove and invite, on VOY_DATABASE_URL."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.data import DEMO_ORG

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
    earlier = (date.today() - timedelta(days=3)).isoformat()
    _ok(["cadre", "away", "4001", "--until", earlier])
    assert re.search(r"4001\s+赵老师.*load=0/3\s+active", _ok(["cadre", "list"]))
    assert "back" in _ok(["cadre", "away", "4001", "--back"])
    _ok(["cadre", "remove", "4001"])
    assert re.search(r"4001\s+赵老师.*removed", _ok(["cadre", "list"]))
    # Reloading the org file leaves cadres it does not manage alone.
    _ok(["cadre", "add", "4002", "--name", "钱老师", "--region", "city"])
    _ok(["org", "load", str(DEMO_ORG)])
    assert re.search(r"4002\s+钱老师.*active", _ok(["cadre", "list"]))


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
