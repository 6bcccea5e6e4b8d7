"""Operations audit, end to end: the real ``voy run`` in a child process on the sandbox.

Each test here failed on the code it was written against; see the audit report.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import aiohttp

from sandbox import SandboxClient, SandboxServer
from tests.conftest import prepare

ROOT = Path(__file__).resolve().parents[2]


async def _voy_run(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 60
) -> tuple[int, str]:
    """Run this worktree's ``voy run`` to its end; its exit code and stderr."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VOY_")}
    environ.update(env)
    environ["PYTHONPATH"] = str(ROOT)  # this tree's code, not an editable install's
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        *args,
        cwd=cwd,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, (stdout + stderr).decode(errors="replace")


async def test_a_rejected_token_is_not_written_to_the_log(
    sandbox: SandboxServer, sqlite_url: str, tmp_path: Path
) -> None:
    """A revoked token (BotFather /revoke after a leak) or a typo: ``voy run`` prints PTB's
    InvalidToken traceback, whose message quotes the whole token, to stderr, i.e. into
    journald or the log collector; and, with VOY_LOG_FORMAT=json, as non-JSON lines."""
    await prepare(sqlite_url)
    token = "987654321:AAH-revoked-but-still-secret-Zq9"
    code, output = await _voy_run(
        ["--bot-api-url", sandbox.base_url],
        tmp_path,
        {
            "VOY_TELEGRAM_TOKEN": token,
            "VOY_DATABASE_URL": sqlite_url,
            "VOY_LOG_FORMAT": "json",
            "VOY_RATE_LIMIT": "false",
        },
    )
    assert code != 0
    assert token.split(":", 1)[1] not in output, output[-800:]
    not_json = []
    for line in output.splitlines():
        try:
            json.loads(line)
        except ValueError:
            not_json.append(line)
    assert not not_json, not_json[:5]


async def test_a_webhook_port_out_of_range_says_so_in_one_line(
    sandbox: SandboxServer, sqlite_url: str, tmp_path: Path
) -> None:
    """``--port 70000`` (a typo for 7000): an OverflowError traceback from socket.bind,
    after the Application has started and taken over stranded updates."""
    await prepare(sqlite_url)
    code, output = await _voy_run(
        [
            "--webhook-url",
            "https://bot.example.org/tg/hook",
            "--listen",
            "127.0.0.1",
            "--port",
            "70000",
            "--bot-api-url",
            sandbox.base_url,
        ],
        tmp_path,
        {
            "VOY_TELEGRAM_TOKEN": "123456789:SANDBOX-test-token",
            "VOY_DATABASE_URL": sqlite_url,
            "VOY_RATE_LIMIT": "false",
        },
    )
    assert "Traceback" not in output, output[-800:]
    assert code == 2 and "70000" in output


async def test_a_stray_polling_run_does_not_turn_the_webhook_off(
    sandbox: SandboxServer, sqlite_url: str, tmp_path: Path
) -> None:
    """The bot runs by webhook (several instances behind a proxy); someone starts a plain
    ``voy run`` on the host. Polling deletes the webhook: the instances would get nothing
    more. It refuses instead, and says how to switch on purpose."""
    await prepare(sqlite_url)
    token = "123456789:SANDBOX-test-token"
    hook = "https://bot.example.org/tg/hook"
    set_webhook = f"{sandbox.base_url}{token}/setWebhook"
    async with aiohttp.ClientSession() as http, http.post(set_webhook, json={"url": hook}) as r:
        assert (await r.json())["ok"]
    code, output = await _voy_run(
        ["--bot-api-url", sandbox.base_url],
        tmp_path,
        {"VOY_TELEGRAM_TOKEN": token, "VOY_DATABASE_URL": sqlite_url, "VOY_RATE_LIMIT": "false"},
    )
    assert code == 2 and "--replace-webhook" in output, output[-800:]
    assert "Traceback" not in output, output[-800:]
    assert (await SandboxClient(sandbox.url.rstrip("/")).webhook())["url"] == hook
