"""The files in ``deploy/``: the settings example and the systemd unit an operator installs.

The example must name every setting and nothing else, read the same under systemd and
python-dotenv, and load; the unit must pass ``systemd-analyze verify`` and give
``voy run`` only options it has.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings
from bot.http import DEFAULT_POOL_TIMEOUT_S, DEFAULT_TIMEOUT_S
from bot.webhook import SHUTDOWN_TIMEOUT_S

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "voy.env.example"
UNIT = ROOT / "deploy" / "systemd" / "voy@.service"
# Where the unit expects the checkout (`make install` there makes .venv/bin/voy).
INSTALL_DIR = "/opt/voy"

# A setting, switched on (VOY_X=value) or left at its default (#VOY_X=value). A value
# without quotes, blanks, #, $ or backslashes reads the same to systemd's EnvironmentFile
# (shell-like unquoting, variable expansion) and to python-dotenv (quotes, inline
# comments, ${VAR} interpolation).
_SETTING = re.compile(r"(?P<off>#?)(?P<name>VOY_[A-Z0-9_]+)=(?P<value>[^\s'\"#$\\`]*)")
# The secrets the example leaves empty, and how the README says to make them.
_SECRETS = ("VOY_TELEGRAM_TOKEN", "VOY_PSEUDONYM_SECRET", "VOY_WEBHOOK_SECRET")

runner = CliRunner()


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


# --- deploy/systemd/voy@.service ----------------------------------------------------------


def _directives() -> dict[str, list[str]]:
    """The unit's directives, each with its values in order (comments left out)."""
    directives: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        directives.setdefault(key, []).append(value)
    return directives


def _one(key: str) -> str:
    (value,) = _directives()[key]
    return value


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian: apt-get install systemd)",
)
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify checks that ExecStart's program is executable: stand one in for the install.
    program = tmp_path / "opt" / ".venv" / "bin" / "voy"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    text = UNIT.read_text(encoding="utf-8")
    assert f"{INSTALL_DIR}/.venv/bin/voy " in text
    for name in (UNIT.name, "voy@8443.service"):  # the template, and an instance of it
        unit = tmp_path / name
        unit.write_text(text.replace(INSTALL_DIR, str(tmp_path / "opt")), encoding="utf-8")
        result = subprocess.run(
            ["systemd-analyze", "verify", str(unit)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        # Unknown keys and unparsable values are only warnings ("…, ignoring"), exit 0.
        said = [line for line in (result.stdout + result.stderr).splitlines() if name in line]
        assert result.returncode == 0 and not said, result.stdout + result.stderr


def test_unit_gives_voy_run_only_options_it_has() -> None:
    program, command, *arguments = shlex.split(_one("ExecStart"))
    assert program == f"{INSTALL_DIR}/.venv/bin/voy" and command == "run"
    result = runner.invoke(app, ["run", "--help"], env={"TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0, result.output
    known = set(re.findall(r"--[a-z][a-z0-9-]+", result.output))
    assert "--webhook-url" in known  # the help was read
    given = [argument for argument in arguments if argument.startswith("--")]
    assert given and not set(given) - known, f"voy run has no {set(given) - known}"
    # Each instance is a webhook server on its own port; the URL comes from the settings.
    assert arguments == [
        "--webhook-url",
        "${VOY_WEBHOOK_URL}",
        "--listen",
        "127.0.0.1",
        "--port",
        "%i",
    ]
    assert "VOY_WEBHOOK_URL" in {name for _, name, _ in _example()}


def test_unit_refuses_to_fall_back_to_polling_without_a_webhook_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """systemd gives an empty ``${VOY_WEBHOOK_URL}`` as an empty argument: `voy run`
    then took it for "no webhook" and polled, one instance per port, each cutting the
    others off (409 Conflict)."""
    _settings(monkeypatch, tmp_path, {"VOY_TELEGRAM_TOKEN": "123456789:AAH-example-token"})
    result = runner.invoke(
        app, ["run", "--webhook-url", "", "--listen", "127.0.0.1", "--port", "8443"]
    )
    assert result.exit_code == 2
    assert "--webhook-url is empty" in result.output and "VOY_WEBHOOK_URL" in result.output
    assert not (tmp_path / "var").exists()  # refused before opening any database


def test_unit_runs_as_its_user_in_its_state_folder() -> None:
    """The settings file, a dedicated user, and a working folder the service may write
    (the default SQLite path and .env are relative to it), with the rest read-only."""
    directives = _directives()
    assert _one("EnvironmentFile") == "/etc/voy/voy.env"
    assert _one("User") == "voy" and _one("Group") == "voy"
    assert _one("WorkingDirectory") == f"/var/lib/{_one('StateDirectory')}"
    assert _one("ProtectSystem") == "strict" and _one("NoNewPrivileges") == "yes"
    assert _one("Restart") == "on-failure" and _one("KillSignal") == "SIGTERM"
    # Migrations are one deliberate step before the instances start (README), not each
    # instance's: a restart would otherwise migrate under instances of the old version.
    assert not any("db" in shlex.split(line) for line in directives.get("ExecStartPre", []))


def test_unit_restarts_what_may_pass_and_not_what_the_operator_must_fix() -> None:
    """`voy` exits 2 for what stays wrong until someone fixes it (a setting, the token,
    a schema not upgraded, a wrong option): restarted every RestartSec, it failed the
    same way forever. It exits 75 for what may pass by itself (the database or the Bot
    API out of reach at start, as at boot): that is restarted, as a crash (1) is. The
    README says both."""
    from bot.cli_common import REFUSED, UNAVAILABLE

    assert (REFUSED, UNAVAILABLE) == (2, 75)
    assert _one("Restart") == "on-failure"
    assert _one("RestartPreventExitStatus").split() == [str(REFUSED)]
    text = UNIT.read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for status in (REFUSED, UNAVAILABLE):
        assert re.search(rf"(?m)^#.*\bexit(s| status) {status}\b", text), status
        assert re.search(rf"(?i)\bexit status {status}\b", readme), status


def test_unit_waits_for_the_graceful_shutdown() -> None:
    """TimeoutStopSec covers the webhook's drain of the updates in flight, then the
    outbox batch under way (it stops taking rows at half its lease, then finishes the
    send in hand, bounded by the sum of one call's timeouts)."""
    stop = _one("TimeoutStopSec")
    assert stop.endswith("s") and stop[:-1].isdigit(), stop
    lease = Settings.model_fields["outbox_lease_s"].default
    batch = lease - min(lease / 2, 30)
    call = 3 * DEFAULT_TIMEOUT_S + DEFAULT_POOL_TIMEOUT_S
    assert int(stop[:-1]) >= SHUTDOWN_TIMEOUT_S + batch + call


def test_readme_runs_voy_commands_as_the_unit_runs_the_bot() -> None:
    """README, "Running under systemd": the alias for `voy db upgrade` and the like uses
    the unit's user, working folder, settings file, umask and program, and the files
    it installs are these."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (alias,) = re.findall(r"^alias voy='(.+)'$", readme, flags=re.MULTILINE)
    words = shlex.split(alias)
    assert words[:2] == ["sudo", "systemd-run"]
    options = dict(word.split("=", 1) for word in words if word.startswith("--") and "=" in word)
    properties = dict(
        words[index + 1].split("=", 1) for index, word in enumerate(words) if word == "-p"
    )
    assert options["--uid"] == _one("User") and options["--gid"] == _one("Group")
    assert options["--working-directory"] == _one("WorkingDirectory")
    assert properties == {"UMask": _one("UMask"), "EnvironmentFile": _one("EnvironmentFile")}
    assert words[-1] == shlex.split(_one("ExecStart"))[0]
    installed = re.findall(r"sudo install -m \d+ (?:-g voy )?(deploy/\S+)", readme)
    assert set(installed) == {"deploy/voy.env.example", "deploy/systemd/voy@.service"}
    assert all((ROOT / path).is_file() for path in installed)
