"""The control API (``/sandbox/api/...``) and the web chat's static files.

Documented request by request in ``sandbox/README.md``; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.bot_api import CORE_KEY
from sandbox.core import SandboxCore
from sandbox.render import view_message
from sandbox.user_actions import post_message, press_button

_MAX_WAIT = 60.0
_STATIC = Path(str(resources.files("sandbox").joinpath("static")))

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _fail(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


def _guarded(handler: Callable[[SandboxCore, web.Request], Awaitable[Any]]) -> Route:
    """Run a handler with the core; map bad input to 400 and missing things to 404."""

    async def route(request: web.Request) -> web.StreamResponse:
        try:
            result = await handler(request.app[CORE_KEY], request)
        except (ValueError, TypeError) as exc:
            return _fail(400, str(exc))
        except LookupError as exc:
            return _fail(404, str(exc).strip("'\""))
        return web.json_response(result)

    return route


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError as exc:
        raise ValueError("request body must be JSON") from exc
    if not isinstance(body, dict):
        raise ValueError("request body must be a JSON object")
    return body


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer") from exc


def _query_int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    return None if value in (None, "") else int(value)


async def messages_post(core: SandboxCore, request: web.Request) -> Any:
    return post_message(core, await _json(request))


async def callbacks_post(core: SandboxCore, request: web.Request) -> Any:
    return press_button(core, await _json(request))


async def callback_get(core: SandboxCore, request: web.Request) -> Any:
    query = core.callbacks[request.match_info["query_id"]]
    keys = ("answered", "text", "show_alert", "url", "data", "chat_id", "message_id")
    return {key: query[key] for key in keys}


async def chats_get(core: SandboxCore, request: web.Request) -> Any:
    chats = [
        {
            **chat.telegram(),
            "messages": len(chat.messages),
            "blocked": chat.id in core.world.blocked,
        }
        for chat in core.world.chats.values()
    ]
    return {"chats": chats}


async def chat_messages(core: SandboxCore, request: web.Request) -> Any:
    chat = core.world.chats[_int(request, "chat_id")]
    return {"messages": [view_message(m) for m in chat.messages.values()]}


async def chat_post(core: SandboxCore, request: web.Request) -> Any:
    body = await _json(request)
    if body.get("type") not in (None, "group", "supergroup"):
        raise ValueError('type must be "group" or "supergroup"')
    chat = core.world.group(
        _int(request, "chat_id"), title=body.get("title"), type_=body.get("type")
    )
    if "admins" in body:
        chat.admins = {int(a) for a in body["admins"]}
    if "creator" in body:
        chat.creator = None if body["creator"] is None else int(body["creator"])
    return {**chat.telegram(), "admins": sorted(chat.admins), "creator": chat.creator}


async def events_get(core: SandboxCore, request: web.Request) -> Any:
    after = _query_int(request, "after")
    if after is None:  # "where are we?": lets a client start listening from now
        return {"events": [], "last_seq": core.events.last_seq}
    wait = min(float(request.query.get("wait") or 0), _MAX_WAIT)
    events = await core.events.wait(after, wait, _query_int(request, "chat_id"))
    return {"events": events, "last_seq": core.events.last_seq}


async def violations_get(core: SandboxCore, request: web.Request) -> Any:
    return {"violations": core.violations}


async def violations_delete(core: SandboxCore, request: web.Request) -> Any:
    core.violations.clear()
    return {"violations": []}


async def block(core: SandboxCore, request: web.Request) -> Any:
    user_id = _int(request, "user_id")
    blocked = request.match_info["action"] == "block"
    (core.world.blocked.add if blocked else core.world.blocked.discard)(user_id)
    core.events.append("block" if blocked else "unblock", chat_id=user_id, user_id=user_id)
    return {"user_id": user_id, "blocked": blocked}


async def personas_get(core: SandboxCore, request: web.Request) -> Any:
    return {"personas": [p.to_dict() for p in core.personas], "bot": core.bot_user}


async def calls_get(core: SandboxCore, request: web.Request) -> Any:
    after = _query_int(request, "after") or 0
    return {"calls": [c for c in core.calls if c["seq"] > after]}


async def index(request: web.Request) -> web.StreamResponse:
    """The web chat page."""
    return web.FileResponse(_STATIC / "index.html")


def add_routes(app: web.Application) -> None:
    """Register the control API and the web chat on ``app``."""
    api = "/sandbox/api"
    app.router.add_post(f"{api}/messages", _guarded(messages_post))
    app.router.add_post(f"{api}/callbacks", _guarded(callbacks_post))
    app.router.add_get(f"{api}/callbacks/{{query_id}}", _guarded(callback_get))
    app.router.add_get(f"{api}/chats", _guarded(chats_get))
    app.router.add_get(f"{api}/chats/{{chat_id}}/messages", _guarded(chat_messages))
    app.router.add_post(f"{api}/chats/{{chat_id}}", _guarded(chat_post))
    app.router.add_get(f"{api}/events", _guarded(events_get))
    app.router.add_get(f"{api}/violations", _guarded(violations_get))
    app.router.add_delete(f"{api}/violations", _guarded(violations_delete))
    app.router.add_post(f"{api}/users/{{user_id}}/{{action:block|unblock}}", _guarded(block))
    app.router.add_get(f"{api}/personas", _guarded(personas_get))
    app.router.add_get(f"{api}/calls", _guarded(calls_get))
    app.router.add_get("/", index)
    app.router.add_static("/static/", _STATIC)
