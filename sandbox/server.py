"""SandboxServer: the fake Bot API, control API and web chat on one loopback port."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from sandbox import bot_api, control_api
from sandbox.core import SandboxCore
from sandbox.persona import Persona


class SandboxServer:
    """An offline stand-in for api.telegram.org that a real PTB Application talks to.

    Example::

        server = SandboxServer(token="123456:TEST", personas=[Persona(1001, "小明")])
        await server.start()
        app = ApplicationBuilder().token(server.token).base_url(server.base_url)
        ...
        await server.stop()
    """

    def __init__(
        self,
        token: str = "123456:TEST",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        bot_username: str = "voice_of_youth_bot",
        bot_first_name: str = "青年之声",
        personas: Sequence[Persona] = (),
    ) -> None:
        self.token = token
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self.core = SandboxCore(
            token=token,
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            personas=list(personas),
        )
        self._runner: web.AppRunner | None = None

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=60 * 1024 * 1024)  # sendDocument allows 50 MB
        app[bot_api.CORE_KEY] = self.core
        bot_api.add_routes(app)
        control_api.add_routes(app)
        return app

    async def start(self) -> None:
        """Start serving on the running asyncio loop (port 0 picks a free port)."""
        if self._runner is not None:
            raise RuntimeError("SandboxServer is already running")
        # handler_cancellation: a long poll whose client hung up stops waiting at once.
        runner = web.AppRunner(self._app(), handler_cancellation=True, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        site = web.SockSite(runner, sock)
        await site.start()
        self._port = sock.getsockname()[1]
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving and release the port; pending long polls are cut off."""
        await self.core.updates.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port actually bound (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("SandboxServer.start() has not been awaited yet")
        return self._port

    @property
    def url(self) -> str:
        """The web chat, e.g. ``http://127.0.0.1:PORT/``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def base_url(self) -> str:
        """Pass to ``ApplicationBuilder().base_url()``; PTB appends the token itself."""
        return f"{self.url}bot"

    @property
    def base_file_url(self) -> str:
        """Pass to ``ApplicationBuilder().base_file_url()``."""
        return f"{self.url}file/bot"

    @property
    def violations(self) -> list[dict[str, Any]]:
        """Calls the real Telegram would refuse (and, marked ``soft``, silently ignore)."""
        return self.core.violations

    @property
    def personas(self) -> list[Persona]:
        """The personas offered by the web chat."""
        return self.core.personas
