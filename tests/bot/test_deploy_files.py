"""The files in ``deploy/``: the settings example an operator installs.

The example must name every setting and nothing else, read the same under systemd and
python-dotenv, and load.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import pytest
from dotenv import dotenv_values

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "voy.env.example"

# A setting, switched on (VOY_X=value) or left at its default (#VOY_X=value). A value
# without quotes, blanks, #, $ or backslashes reads the same to systemd's EnvironmentFile
# (shell-like unquoting, variable expansion) and to python-dotenv (quotes, inline
# comments, ${VAR} interpolation).
_SETTING = re.compile(r"(?P<off>#?)(?P<name>VOY_[A-Z0-9_]+)=(?P<value>[^\s'\"#$\\`]*)")
# The secrets the example leaves empty, and how the README says to make them.
_SECRETS = ("VOY_TELEGRAM_TOKEN", "VOY_PSEUDONYM_SECRET", "VOY_WEBHOOK_SECRET")


def _example() -> list[tuple[bool, str, str]]:
    """(switched on, name, value) of each setting line; any other line is a comment."""
    settings = []
    for number, line in enumerate(EXAMPLE.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line == "#" or line.startswith("# "):
            continue
        match = _SETTING.fullmatch(line)
        assert match, f"{EXAMPLE.name}:{number}: neither a comment nor NAME=value: {line!r}"
        settings.append((not match["off"], match["name"], match["value"]))
    return settings


def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str]) -> Settings:
    """The settings a process gets with exactly ``env`` (as systemd gives it), no .env."""
    for name in [name for name in os.environ if name.startswith("VOY_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def _filled_in() -> dict[str, str]:
    """What the operator fills in: a token, secrets from `openssl rand -hex 32`, a URL."""
    return {
        "VOY_TELEGRAM_TOKEN": "123456789:AAH-example-token",
        "VOY_PSEUDONYM_SECRET": secrets.token_hex(32),
        "VOY_WEBHOOK_SECRET": secrets.token_hex(32),
        "VOY_WEBHOOK_URL": "https://bot.example.org/tg/hook",
    }


# --- deploy/voy.env.example ---------------------------------------------------------------


def test_example_lists_every_setting_once_and_no_other() -> None:
    names = [name for _, name, _ in _example()]
    assert len(names) == len(set(names)), "listed twice: " + ", ".join(
        sorted({n for n in names if names.count(n) > 1})
    )
    expected = {f"VOY_{field.upper()}" for field in Settings.model_fields}
    assert not expected - set(names), f"settings missing from {EXAMPLE.name}"
    assert not set(names) - expected, f"{EXAMPLE.name} lists settings that do not exist"


def test_example_reads_as_dotenv_and_loads_once_filled_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    switched_on = {name: value for on, name, value in _example() if on}
    # python-dotenv (pydantic-settings' reader) sees exactly the lines systemd sees.
    assert dotenv_values(EXAMPLE) == switched_on
    for name in _SECRETS:
        assert switched_on.get(name) == "", f"{name} must be left empty in the example"
    settings = _settings(monkeypatch, tmp_path, {**switched_on, **_filled_in()})
    assert settings.require_token()
    assert settings.pseudonym_secret_warning() is None
    assert settings.database_url.startswith("postgresql+asyncpg://")
    # Every setting left at its default, switched on at once, loads too.
    everything = {name: value for _, name, value in _example()}
    _settings(monkeypatch, tmp_path, {**everything, **_filled_in()})


def test_example_shows_the_real_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A setting left commented out shows its default: switched on alone, it changes
    nothing (a setting without a default shows an example, which must load)."""
    defaults = _settings(monkeypatch, tmp_path, {})
    wrong = []
    for on, name, value in _example():
        if on:
            continue
        field = name.removeprefix("VOY_").lower()
        default = getattr(defaults, field)
        shown = getattr(_settings(monkeypatch, tmp_path, {name: value}), field)
        if default not in (None, "") and shown != default:
            wrong.append(f"{name}={value} (the default is {default!r})")
    assert not wrong, "the example shows wrong defaults: " + "; ".join(wrong)
