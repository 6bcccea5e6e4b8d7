"""`voy demo` as a newcomer runs it: a real process, driven through the control API."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from sandbox import SandboxClient

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _start_demo(
    tmp_path: Path, port: int, **env: str
) -> tuple[asyncio.subprocess.Process, list[str]]:
    """``voy demo`` in a child process, once it printed its URL (and the lines so far)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VOY_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "demo",
        "--port",
        str(port),
        "--no-browser",
        "--data-dir",
        str(tmp_path / "demo"),
        cwd=ROOT,
        env={**environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    output: list[str] = []
    async with asyncio.timeout(60):
        while True:
            line = (await process.stdout.readline()).decode()
            assert line, "demo exited early:\n" + "".join(output)
            output.append(line)
            if line.startswith("Database:"):
                return process, output


async def _stop_demo(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """SIGINT the demo; its exit status and the rest of its output."""
    assert process.stdout is not None
    process.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        rest = (await process.stdout.read()).decode()
        code = await process.wait()
    return code, rest


@pytest.mark.sqlite_only("the demo keeps its own SQLite file by design")
async def test_demo_serves_the_web_chat_and_the_bot_answers(tmp_path: Path) -> None:
    port = _free_port()
    process, output = await _start_demo(tmp_path, port)
    try:
        assert any(f"http://127.0.0.1:{port}/" in line for line in output), output
        client = SandboxClient(f"http://127.0.0.1:{port}")
        async with httpx.AsyncClient() as http:
            page = await http.get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        seq = await client.last_seq()
        await client.send_text({"id": 4242, "first_name": "访客", "language_code": "en"}, "/start")
        reply = await client.wait_for_bot_message(4242, after_seq=seq, timeout=15)
        assert "Voice of Youth" in reply["text"]
        assert await client.violations() == []
        await client.aclose()
    finally:
        code, rest = await _stop_demo(process)
    assert code == 0, "".join(output) + rest
    assert "Demo stopped." in rest
    assert (tmp_path / "demo" / "voy.sqlite3").exists()


@pytest.mark.sqlite_only("the demo keeps its own SQLite file by design")
async def test_demo_never_uses_the_database_of_voy_db_and_voy_run(tmp_path: Path) -> None:
    """The README has an operator `export VOY_DATABASE_URL=` production's database; a
    `make demo` from that shell loaded the demo org into it (every real cadre not in the
    demo file deactivated, the committee chat replaced) and its deliverer sent the due
    pushes of real young people to the sandbox, where they failed for good."""
    production = tmp_path / "production.sqlite3"
    process, output = await _start_demo(
        tmp_path, _free_port(), VOY_DATABASE_URL=f"sqlite+aiosqlite:///{production}"
    )
    code, rest = await _stop_demo(process)
    assert code == 0, "".join(output) + rest
    assert output[-1] == f"Database: sqlite+aiosqlite:///{tmp_path / 'demo' / 'voy.sqlite3'}\n"
    assert not production.exists()
