"""The fake Bot API over HTTP: ``/bot<token>/<method>`` and ``/file/bot<token>/<path>``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox import methods_edit, methods_send, methods_service
from sandbox.core import SandboxCore, chat_of
from sandbox.errors import ApiError, UploadedFile

log = logging.getLogger(__name__)

Handler = Callable[[SandboxCore, dict[str, Any]], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {
    **methods_send.HANDLERS,
    **methods_edit.HANDLERS,
    **methods_service.HANDLERS,
}
CORE_KEY = web.AppKey("sandbox_core", SandboxCore)


def _error(code: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=code)


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Decode query, JSON, form-urlencoded or multipart parameters, as Telegram accepts."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.method != "POST" or not request.can_read_body:
        return params, files
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise ApiError(400, "Bad Request: can't parse JSON object") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request: can't parse JSON object")
        params.update(body)
        return params, files
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            upload = UploadedFile(
                key, value.filename or "", value.content_type or "", value.file.read()
            )
            params[key] = files[key] = upload
        else:
            params[key] = value
    return params, files


async def handle_method(request: web.Request) -> web.Response:
    """Serve one Bot API call: check it against the spec, run it, log it."""
    core = request.app[CORE_KEY]
    if request.match_info["token"] != core.token:
        return _error(401, "Unauthorized")
    name = request.match_info["method"]
    raw: dict[str, Any] = {}
    try:
        raw, files = await _read_params(request)
        shape = core.spec.method(name)
        if shape is None:
            raise ApiError(404, "Not Found")
        handler = HANDLERS.get(name.lower())
        if handler is None:
            raise ApiError(400, f"Bad Request: sandbox: method {shape.name} is not implemented")
        checked = core.checker.check(shape, raw, files)
        for note in checked.soft:
            core.record_violation(shape.name, raw, f"sandbox: {note}", code=200, soft=True)
        delay = core.latency.get(shape.name.lower())
        if delay:  # the control API slows this method down (a slow Telegram)
            core.events.append("api_held", chat_id=chat_of(raw), method=shape.name, seconds=delay)
            await asyncio.sleep(delay)
        fault = core.faults.get(shape.name.lower())
        if fault and fault.get("chat_id") in (None, chat_of(raw)):
            # The control API makes this method fail (a Telegram outage, a flaky network).
            raise ApiError(
                fault["error_code"],
                fault["description"],
                violation=False,
                retry_after=fault.get("retry_after"),
            )
        result = await handler(core, checked.params)
    except ApiError as exc:
        core.record_call(name, raw, ok=False, code=exc.code, error=exc.description)
        if exc.violation and not _client_gone(request):
            core.record_violation(name, raw, exc.description, code=exc.code, soft=False)
        if exc.code == 403:
            core.events.append("blocked", chat_id=chat_of(raw), method=name)
        return _error(exc.code, exc.description, exc.retry_after)
    except Exception as exc:  # a sandbox bug must not look like a network failure
        log.exception("sandbox failed on %s", name)
        description = f"Internal Server Error: sandbox bug: {exc!r}"
        core.record_call(name, raw, ok=False, code=500, error=description)
        return _error(500, description)
    core.record_call(name, raw, ok=True)
    return web.Response(
        text=json.dumps({"ok": True, "result": result}, ensure_ascii=False),
        content_type="application/json",
    )


def _client_gone(request: web.Request) -> bool:
    """A 409 on a long poll nobody waits for any more is not the bot's fault."""
    transport = request.transport
    return transport is None or transport.is_closing()


async def handle_file(request: web.Request) -> web.StreamResponse:
    """Serve a file's bytes at the path getFile returned."""
    core = request.app[CORE_KEY]
    if request.match_info["token"] != core.token:
        return _error(401, "Unauthorized")
    record = core.files.by_path(request.match_info["path"])
    if record is None:
        return _error(404, "Not Found")
    return web.Response(body=record.content(), content_type=record.mime_type)


def add_routes(app: web.Application) -> None:
    """Register the Bot API routes on ``app``."""
    app.router.add_route("*", "/bot{token}/{method}", handle_method)
    app.router.add_get("/file/bot{token}/{path:.+}", handle_file)
