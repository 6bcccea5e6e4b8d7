"""Deployment audit: the README followed literally by an operator setting the bot up.

Each test here failed on the code it was written against; see the audit report.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings
from bot.data import DEMO_ORG
from tests.support import run_voy

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


# --- settings out of range: one line, exit status 2 (README, The command line) -----------


def test_run_with_no_concurrent_updates_says_so_in_one_line(tmp_path: Path) -> None:
    """``VOY_CONCURRENT_UPDATES=0`` passed the settings and ended `voy run` in PTB's
    ValueError traceback, exit status 1."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'voy.sqlite3'}"
    assert run_voy(["db", "upgrade"], tmp_path, VOY_DATABASE_URL=url).returncode == 0
    result = run_voy(
        ["run", "--bot-api-url", "http://127.0.0.1:9/bot"],  # nothing listens there
        tmp_path,
        VOY_TELEGRAM_TOKEN="123456:real-looking",
        VOY_DATABASE_URL=url,
        VOY_CONCURRENT_UPDATES="0",
    )
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    assert result.returncode == 2 and "VOY_CONCURRENT_UPDATES" in result.stderr


@pytest.mark.parametrize(
    ("answer", "suggest"),
    [
        (5.0, None),  # out of 0..1
        (None, -0.1),
        (0.1, None),  # below the default suggest threshold (0.15)
        (None, 0.9),  # above the default answer threshold (0.8)
        (0.4, 0.5),
    ],
)
def test_matcher_thresholds_that_cannot_work_are_refused_with_the_settings(
    answer: float | None, suggest: float | None
) -> None:
    """They passed the settings and ended `voy run`, `voy demo` and `voy kb match` in
    a traceback from the matcher's own check."""
    with pytest.raises(ValidationError, match=r"(?i)match_(answer|suggest)_threshold"):
        Settings(  # type: ignore[call-arg]
            match_answer_threshold=answer, match_suggest_threshold=suggest, _env_file=None
        )


@pytest.mark.parametrize(("answer", "suggest"), [(None, None), (0.9, 0.2), (0.5, 0.5), (1, 0)])
def test_matcher_thresholds_that_work_are_accepted(
    answer: float | None, suggest: float | None
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        match_answer_threshold=answer, match_suggest_threshold=suggest, _env_file=None
    )
    thresholds = settings.thresholds()
    assert thresholds.suggest <= thresholds.answer


def test_inconsistent_thresholds_are_one_line_naming_both_settings(tmp_path: Path) -> None:
    result = run_voy(["db", "current"], tmp_path, VOY_MATCH_ANSWER_THRESHOLD="0.1")
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "VOY_MATCH_ANSWER_THRESHOLD" in line and "VOY_MATCH_SUGGEST_THRESHOLD" in line


# --- the README's own examples ------------------------------------------------------------


def test_the_readmes_org_file_example_loads(db_env: str, tmp_path: Path) -> None:
    """Its cadre named a topic (volunteer) the example did not define: refused as written."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The org file") :]
    example = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert example is not None
    org_file = tmp_path / "org.yaml"
    org_file.write_text(example.group(1), encoding="utf-8")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["org", "load", str(org_file)])
    assert result.exit_code == 0, result.output
    assert "1 cadres" in result.output


def test_the_readmes_command_keeps_the_pseudonyms_in_use(tmp_path: Path) -> None:
    """A bot running without VOY_PSEUDONYM_SECRET keeps its pseudonyms by setting it to
    what the README's command prints."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**The pseudonyms' key.**") :]
    command = re.search(r"```sh\n(.*?)\n```", section, re.DOTALL)
    assert command is not None
    token = "123456:real-looking"
    printed = subprocess.run(
        ["sh", "-c", command.group(1).replace("python3", shlex.quote(sys.executable), 1)],
        env={**os.environ, "VOY_TELEGRAM_TOKEN": token},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    derived = Settings(telegram_token=SecretStr(token), _env_file=None)  # type: ignore[call-arg]
    chosen = Settings(  # type: ignore[call-arg]
        telegram_token=SecretStr("654321:another-token"),
        pseudonym_secret=SecretStr(printed),
        _env_file=None,
    )
    assert chosen.pseudonym_key() == derived.pseudonym_key()
    assert chosen.pseudonym_secret_warning() is None


# --- cadre invites ----------------------------------------------------------------------


def test_an_invite_link_works_with_the_bot_username_written_with_its_at(
    db_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: VOY_BOT_USERNAME is "the bot's @username"; written so, the link printed
    was https://t.me/@voice_of_youth_bot?start=…, which does not open the bot."""
    monkeypatch.setenv("VOY_BOT_USERNAME", "@voice_of_youth_bot")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["org", "load", str(DEMO_ORG)]).exit_code == 0
    result = runner.invoke(app, ["cadre", "invite", "--name", "孙老师", "--region", "city"])
    assert result.exit_code == 0, result.output
    assert "https://t.me/voice_of_youth_bot?start=cadre-" in result.output, result.output
