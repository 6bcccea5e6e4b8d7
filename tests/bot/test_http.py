"""bot/http.py: PTB's Bot API calls over aiohttp, against a small local HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import NetworkError, TimedOut

from bot.config import Settings
from bot.http import AiohttpRequest, new_request

TOKEN = "123:http-test"
# Built here so that no source line a traceback quotes holds it.
SECRET = "".join(("tok", "en", "-", "s3cr3t"))
BOT_USER = {"id": 123, "is_bot": True, "first_name": "bot", "username": "voy_bot"}


@dataclass
class Seen:
    """What the server was sent."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    delay_s: float = 0.0


def _message(chat_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "message_id": len(extra) + 1,
        "date": 1_700_000_000,
        "chat": {"id": chat_id, "type": "private", "first_name": "A"},
        "from": BOT_USER,
        **extra,
    }


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Seen]]:
    """A Bot API stand-in: records each call's host, method, fields and files."""
    seen = Seen()

    async def call(request: web.Request) -> web.Response:
        await asyncio.sleep(seen.delay_s)
        method = request.path.rsplit("/", 1)[-1]
        if method == "moved":
            raise web.HTTPFound("/elsewhere")
        fields: dict[str, Any] = {}
        files: dict[str, tuple[str | None, bytes, str | None]] = {}
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                assert not isinstance(part, type(reader))
                body = await part.read()  # type: ignore[union-attr]
                if part.filename is not None:  # type: ignore[union-attr]
                    files[part.name or ""] = (
                        part.filename,  # type: ignore[union-attr]
                        bytes(body),
                        part.headers.get("Content-Type"),
                    )
                else:
                    fields[part.name or ""] = bytes(body).decode()
        else:
            fields = dict(await request.post())  # type: ignore[arg-type]
        seen.calls.append(
            {
                "host": request.host,
                # A call through a proxy names the whole URL in its request line.
                "target": request.raw_path,
                "method": method,
                "fields": fields,
                "files": files,
            }
        )
        chat_id = int(fields.get("chat_id", 0))
        result: Any = BOT_USER if method == "getMe" else _message(chat_id, text="ok")
        if method == "sendDocument":
            result = _message(chat_id, document={"file_id": "f1", "file_unique_id": "u1"})
        return web.json_response({"ok": True, "result": result})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", call)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


@contextlib.asynccontextmanager
async def _opened(request: AiohttpRequest) -> AsyncIterator[AiohttpRequest]:
    """``request`` initialised, and shut down afterwards."""
    await request.initialize()
    try:
        yield request
    finally:
        await request.shutdown()


@contextlib.asynccontextmanager
async def _bot(url: str, request: AiohttpRequest, *, get_me: bool = True) -> AsyncIterator[Bot]:
    """A bot on ``request`` against the stand-in; without ``get_me`` it skips PTB's getMe
    at start (a slow server would time it out)."""
    bot = Bot(TOKEN, base_url=f"{url}/bot", base_file_url=f"{url}/file/bot", request=request)
    async with _opened(request):
        if get_me:
            await bot.initialize()
        yield bot


async def test_a_call_sends_its_parameters_and_returns_the_parsed_result(
    server: tuple[str, Seen],
) -> None:
    url, seen = server
    async with _bot(url, AiohttpRequest()) as bot:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("是", callback_data="a:1")]])
        message = await bot.send_message(42, "你好 <b>世界</b>", reply_markup=keyboard)
    assert message.chat.id == 42 and message.text == "ok"
    sent = seen.calls[-1]
    assert sent["method"] == "sendMessage"
    assert sent["fields"]["chat_id"] == "42"
    assert sent["fields"]["text"] == "你好 <b>世界</b>"
    assert json.loads(sent["fields"]["reply_markup"]) == {
        "inline_keyboard": [[{"text": "是", "callback_data": "a:1"}]]
    }


async def test_a_file_goes_as_multipart_with_its_name_and_the_other_fields(
    server: tuple[str, Seen],
) -> None:
    url, seen = server
    async with _bot(url, AiohttpRequest()) as bot:
        await bot.send_document(
            42, InputFile(b'{"a": 1}', filename="我的数据.json"), caption="导出"
        )
    sent = seen.calls[-1]
    assert sent["method"] == "sendDocument"
    assert sent["fields"]["chat_id"] == "42" and sent["fields"]["caption"] == "导出"
    assert sent["files"] == {"document": ("我的数据.json", b'{"a": 1}', "application/json")}


async def test_a_slow_server_times_out_as_ptb_expects(server: tuple[str, Seen]) -> None:
    url, seen = server
    seen.delay_s = 1.0
    async with _bot(url, AiohttpRequest(read_timeout=0.2), get_me=False) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(42, "hi")


async def test_no_server_is_a_network_error_without_the_token() -> None:
    async with _opened(AiohttpRequest()) as request:
        with pytest.raises(NetworkError, match="aiohttp") as raised:
            await request.do_request(f"http://127.0.0.1:9/bot1:{SECRET}/getMe", "POST")
    await request.shutdown()  # twice is harmless
    _without_token(raised.value)


async def test_waiting_too_long_for_a_connection_times_out_without_the_token(
    server: tuple[str, Seen],
) -> None:
    """aiohttp's own timeout error names the URL, and so the token: a log of the error
    (with its cause) must not show it."""
    url, seen = server
    seen.delay_s = 1.0
    target = f"{url}/bot1:{SECRET}/getMe"
    tight = AiohttpRequest(connection_pool_size=1, connect_timeout=0.1, pool_timeout=0.1)
    async with _opened(tight) as request:
        first = asyncio.create_task(request.do_request(target, "POST"))
        await asyncio.sleep(0.1)  # the one connection is taken
        with pytest.raises(TimedOut) as raised:
            await request.do_request(target, "POST")
        await first
    _without_token(raised.value)


def _without_token(error: BaseException) -> None:
    import traceback

    shown = "".join(traceback.format_exception(error))
    assert SECRET not in shown, shown


async def test_redirects_are_not_followed(server: tuple[str, Seen]) -> None:
    """As with httpx: a redirect is the server's answer, not a second call (aiohttp
    would turn a POST into a GET without its body)."""
    url, seen = server
    async with _opened(AiohttpRequest()) as request:
        status, _ = await request.do_request(f"{url}/bot{TOKEN}/moved", "POST")
    assert status == 302
    assert [call["method"] for call in seen.calls] == []


async def test_a_file_handle_can_be_sent_twice(server: tuple[str, Seen]) -> None:
    """A handle PTB passes unread (read_file_handle=False) is read, not closed: a retry
    of the call sends the same bytes."""
    url, seen = server
    handle = io.BytesIO(b"chart")
    upload = InputFile(handle, filename="chart.png", read_file_handle=False)
    async with _bot(url, AiohttpRequest()) as bot:
        await bot.send_document(42, upload)
        await bot.send_document(42, upload)
    assert [call["files"]["document"][1] for call in seen.calls[-2:]] == [b"chart", b"chart"]
    assert not handle.closed


async def test_calls_before_initialize_are_refused() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:9/x", "POST")


async def test_the_environment_s_proxy_is_used_and_no_proxy_is_respected(
    server: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY sends the call through the proxy (here the stand-in itself, which sees
    the real host); NO_PROXY hosts go straight."""
    url, seen = server
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with _opened(AiohttpRequest()) as request:
        status, _ = await request.do_request(f"http://api.telegram.test/bot{TOKEN}/getMe", "POST")
        assert status == 200
        assert seen.calls[-1]["host"] == "api.telegram.test"
        assert seen.calls[-1]["target"] == f"http://api.telegram.test/bot{TOKEN}/getMe"
        status, _ = await request.do_request(f"{url}/bot{TOKEN}/getMe", "POST")
        assert status == 200 and seen.calls[-1]["target"] == f"/bot{TOKEN}/getMe"


def test_the_setting_picks_the_client() -> None:
    from telegram.request import HTTPXRequest

    assert isinstance(new_request("aiohttp"), AiohttpRequest)
    assert isinstance(new_request("httpx", connection_pool_size=1), HTTPXRequest)
    assert Settings(telegram_token="1:a").http_client == "aiohttp"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="HTTP client"):
        Settings(telegram_token="1:a", http_client="curl")  # type: ignore[arg-type]
