"""Fixtures for the sandbox tests: a running server, its client, raw Bot API calls, PTB."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest
from telegram.ext import Application, ApplicationBuilder

from sandbox import Persona, SandboxClient, SandboxServer

TOKEN = "123456:TEST"
YOUTH = Persona(id=1001, first_name="小明", language_code="zh-hans", kind="youth")
CADRE = Persona(id=2001, first_name="李老师", kind="cadre", username="teacher_li")
COMMITTEE = Persona(
    id=3001, first_name="王书记", kind="committee", chat_id=-100123, chat_title="团委工作群"
)

BotCall = Callable[..., Coroutine[Any, Any, tuple[int, dict[str, Any]]]]


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    """A sandbox on a free loopback port."""
    sandbox = SandboxServer(
        token=TOKEN,
        bot_username="voice_of_youth_bot",
        bot_first_name="青年之声",
        personas=[YOUTH, CADRE, COMMITTEE],
    )
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest.fixture
async def client(server: SandboxServer) -> AsyncIterator[SandboxClient]:
    """A control-API client for ``server``."""
    async with SandboxClient(server.url) as sandbox_client:
        yield sandbox_client


@pytest.fixture
async def bot_call(server: SandboxServer) -> AsyncIterator[BotCall]:
    """Call the fake Bot API directly, form-encoded like PTB (nested values as JSON).

    ``bot_call("sendMessage", chat_id=1, text="x")`` returns ``(http_status, body)``; pass
    ``_json=True`` to send a JSON body instead, ``_token=`` to use another token.
    """
    async with httpx.AsyncClient(timeout=10) as http:

        async def call(
            method: str, _json: bool = False, _token: str = TOKEN, **params: Any
        ) -> Any:
            url = f"{server.url}bot{_token}/{method}"
            if _json:
                response = await http.post(url, json=params)
            else:
                form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
                response = await http.post(url, data=form)
            return response.status_code, response.json()

        yield call


@pytest.fixture
def build_app(server: SandboxServer) -> Callable[[], Application[Any, Any, Any, Any, Any, Any]]:
    """Return a factory for PTB Applications wired to ``server`` (not started)."""

    def build() -> Application[Any, Any, Any, Any, Any, Any]:
        return (
            ApplicationBuilder()
            .token(server.token)
            .base_url(server.base_url)
            .base_file_url(server.base_file_url)
            .build()
        )

    return build


async def start_polling(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Initialize, start and poll fast (the sandbox answers long polls immediately)."""
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)


async def stop_polling(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Undo :func:`start_polling`."""
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
