"""Start ``bench.bot_process`` as a child process, wait for it, stop or kill it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port free right now on loopback (a webhook URL must name it up front)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """One bot process on a sandbox; its stderr goes to ``log_path``.

    By default ``bench.bot_process`` polls; with ``webhook_port`` it is ``voy run`` in
    webhook mode (the production entry point), serving on that port of 127.0.0.1.
    """

    def __init__(
        self,
        base_url: str,
        env: dict[str, str],
        *,
        log_path: Path,
        echo: bool = False,
        webhook_port: int | None = None,
        loop: str | None = None,
    ) -> None:
        """Describe the process; :meth:`start` runs it."""
        self.base_url = base_url
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.echo = echo
        self.webhook_port = webhook_port
        self.loop = loop  # bench.bot_process --loop; None: its default
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        """The running child's process id."""
        if self._process is None:
            raise RuntimeError("not started")
        return self._process.pid

    @property
    def webhook_url(self) -> str:
        """Where the webhook instance receives updates."""
        return f"http://127.0.0.1:{self.webhook_port}/telegram"

    async def start(self, timeout: float = 30.0) -> None:
        """Start the child and wait until it is ready to receive updates."""
        if self.webhook_port is not None:
            await self._start_webhook(timeout)
            return
        args = [sys.executable, "-m", "bench.bot_process", "--base-url", self.base_url]
        if self.echo:
            args.append("--echo")
        if self.loop:
            args += ["--loop", self.loop]
        with self.log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *args,
                cwd=ROOT,
                env=self.env,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self._process.stdout is not None
        try:
            line = await asyncio.wait_for(self._process.stdout.readline(), timeout)
        except TimeoutError as exc:
            await self.kill()
            raise RuntimeError(
                f"bot process not ready in {timeout} s; see {self.log_path}"
            ) from exc
        if line.strip() != b"ready":
            await self.kill()
            raise RuntimeError(f"bot process failed to start; see {self.log_path}")

    async def _start_webhook(self, timeout: float) -> None:
        args = [
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            "--webhook-url",
            self.webhook_url,
            "--listen",
            "127.0.0.1",
            "--port",
            str(self.webhook_port),
            "--bot-api-url",
            self.base_url,
        ]
        with self.log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *args, cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        health = f"http://127.0.0.1:{self.webhook_port}/healthz"
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(2)) as http:
            while time.monotonic() < deadline:
                if self._process.returncode is not None:
                    break
                try:
                    async with http.get(health) as response:
                        if response.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.2)
        await self.kill()
        raise RuntimeError(f"webhook bot not healthy in {timeout} s; see {self.log_path}")

    async def kill(self) -> None:
        """SIGKILL the child (no cleanup runs in it) and reap it."""
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGKILL)
            await self._process.wait()
        self._process = None

    async def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM the child and wait for a clean exit (SIGKILL after ``timeout``)."""
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.send_signal(signal.SIGKILL)
                await process.wait()
        self._process = None
        return process.returncode
