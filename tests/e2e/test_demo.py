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


@pytest.mark.sqlite_only("the demo keeps its own SQLite file by design")
async def test_demo_serves_the_web_chat_and_the_bot_answers(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOY_")}
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
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    output: list[str] = []
    try:
        async with asyncio.timeout(60):
            while True:
                line = (await process.stdout.readline()).decode()
                assert line, "demo exited early:\n" + "".join(output)
                output.append(line)
                if f"http://127.0.0.1:{port}/" in line:
                    break
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
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            rest = (await process.stdout.read()).decode()
            code = await process.wait()
    assert code == 0, "".join(output) + rest
    assert "Demo stopped." in rest
    assert (tmp_path / "demo" / "voy.sqlite3").exists()
