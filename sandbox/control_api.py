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
from sandbox.user_actions import edit_message, pin_message, post_message, press_button

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


async def messages_edit(core: SandboxCore, request: web.Request) -> Any:
    return edit_message(core, await _json(request))


async def messages_pin(core: SandboxCore, request: web.Request) -> Any:
    return pin_message(core, await _json(request))


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


async def webhook_get(core: SandboxCore, request: web.Request) -> Any:
    """The webhook as getWebhookInfo shows it, plus the round-robin targets."""
    return {**core.updates.info(), "targets": core.updates.targets}


async def webhook_targets(core: SandboxCore, request: web.Request) -> Any:
    """Deliver webhook updates round-robin to these URLs (a load balancer)."""
    urls = (await _json(request)).get("urls")
    if not isinstance(urls, list) or not all(
        isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls
    ):
        raise ValueError("urls must be a list of http(s) URLs")
    core.updates.set_targets(urls)
    return {"targets": urls}


async def webhook_timeout(core: SandboxCore, request: web.Request) -> Any:
    """How long one webhook attempt may take before it counts as failed (and is retried)."""
    seconds = (await _json(request)).get("seconds")
    if not isinstance(seconds, int | float) or not 0 < seconds <= 60:
        raise ValueError("seconds must be a number above 0, at most 60")
    core.updates.timeout_s = float(seconds)
    return {"timeout": core.updates.timeout_s}


async def latency_post(core: SandboxCore, request: web.Request) -> Any:
    """Answer one Bot API method only after a delay (0 removes it)."""
    body = await _json(request)
    method, seconds = body.get("method"), body.get("seconds", 0)
    if not isinstance(method, str) or core.spec.method(method) is None:
        raise ValueError("method must name a Bot API method")
    if not isinstance(seconds, int | float) or not 0 <= seconds <= 60:
        raise ValueError("seconds must be a number from 0 to 60")
    if seconds:
        core.latency[method.lower()] = float(seconds)
    else:
        core.latency.pop(method.lower(), None)
    return {"latency": core.latency}


async def faults_post(core: SandboxCore, request: web.Request) -> Any:
    """Make one Bot API method fail (for one chat, or all); error_code 0 removes it."""
    body = await _json(request)
    method, code = body.get("method"), body.get("error_code", 0)
    chat_id = body.get("chat_id")
    if not isinstance(method, str) or core.spec.method(method) is None:
        raise ValueError("method must name a Bot API method")
    if not isinstance(code, int) or not (code == 0 or 400 <= code <= 599):
        raise ValueError("error_code must be 0 or an HTTP error status")
    if chat_id is not None and not isinstance(chat_id, int):
        raise ValueError("chat_id must be an integer")
    retry_after = body.get("retry_after")
    if retry_after is not None and (not isinstance(retry_after, int) or code != 429):
        raise ValueError("retry_after must be an integer, with error_code 429")
    if code:
        description = str(body.get("description") or "Internal Server Error")
        core.faults[method.lower()] = {
            "error_code": code,
            "description": description,
            "chat_id": chat_id,
            "retry_after": retry_after,
        }
    else:
        core.faults.pop(method.lower(), None)
    return {"faults": core.faults}


async def index(request: web.Request) -> web.StreamResponse:
    """The web chat page."""
    return web.FileResponse(_STATIC / "index.html")


def add_routes(app: web.Application) -> None:
    """Register the control API and the web chat on ``app``."""
    api = "/sandbox/api"
    app.router.add_post(f"{api}/messages", _guarded(messages_post))
    app.router.add_post(f"{api}/messages/edit", _guarded(messages_edit))
    app.router.add_post(f"{api}/messages/pin", _guarded(messages_pin))
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
    app.router.add_get(f"{api}/webhook", _guarded(webhook_get))
    app.router.add_post(f"{api}/webhook/targets", _guarded(webhook_targets))
    app.router.add_post(f"{api}/webhook/timeout", _guarded(webhook_timeout))
    app.router.add_post(f"{api}/latency", _guarded(latency_post))
    app.router.add_post(f"{api}/faults", _guarded(faults_post))
    app.router.add_get("/", index)
    app.router.add_static("/static/", _STATIC)
