"""The sandbox core: shared state plus the logs both HTTP faces write to."""

from __future__ import annotations

import itertools
import secrets
import time
from collections import deque
from typing import Any

from sandbox.checker import Checker
from sandbox.errors import UploadedFile
from sandbox.events import EventLog
from sandbox.files import FileStore
from sandbox.persona import Persona
from sandbox.render import telegram_message, view_message
from sandbox.spec import ApiSpec
from sandbox.store import Chat, StoredMessage, World
from sandbox.updates import UpdateQueue

_KEEP_CALLS = 5_000
_MAX_SHOWN = 300  # characters of a string parameter kept in logs


def summarize(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters fit for logs: files described, long strings cut."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, UploadedFile):
            out[key] = value.summary()
        elif isinstance(value, str) and len(value) > _MAX_SHOWN:
            out[key] = value[:_MAX_SHOWN] + f"… ({len(value)} chars)"
        else:
            out[key] = value
    return out


def chat_of(params: dict[str, Any]) -> int | None:
    """The chat a call is about, as an int, whether it came as JSON or as a form string."""
    value = params.get("chat_id")
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value if isinstance(value, int) else None


class SandboxCore:
    """Everything the fake Bot API and the control API share."""

    def __init__(
        self, *, token: str, bot_username: str, bot_first_name: str, personas: list[Persona]
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot_user: dict[str, Any] = {
            "id": int(prefix) if prefix.isdigit() else 1,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.spec = ApiSpec.load()
        self.checker = Checker(self.spec)
        self.world = World()
        self.files = FileStore()
        self.events = EventLog()
        self.updates = UpdateQueue(self.events)
        self.calls: deque[dict[str, Any]] = deque(maxlen=_KEEP_CALLS)
        self.violations: list[dict[str, Any]] = []
        self.callbacks: dict[str, dict[str, Any]] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.bot_texts: dict[str, str] = {}
        # Bot API methods answered only after this many seconds (lower-case name → s).
        self.latency: dict[str, float] = {}
        # Bot API methods made to fail (lower-case name → error_code, description, chat_id).
        self.faults: dict[str, dict[str, Any]] = {}
        self.personas = list(personas)
        self._call_seq = itertools.count(1)
        for persona in self.personas:
            user = self.world.user(persona.user_payload())
            if persona.kind != "youth":
                # Staff have started the bot before: their private chats exist, so
                # cards reach them before they first type anything in the web chat.
                self.world.private_chat(user)
            if persona.chat_id is not None and persona.chat_id < 0:
                group = self.world.group(persona.chat_id, title=persona.chat_title)
                group.members.add(user["id"])

    def record_call(
        self, method: str, params: dict[str, Any], *, ok: bool, code: int = 200, error: str = ""
    ) -> None:
        """Log one raw Bot API call (for /sandbox/api/calls)."""
        self.calls.append(
            {
                "seq": next(self._call_seq),
                "time": time.time(),
                "method": method,
                "params": summarize(params),
                "ok": ok,
                "error_code": None if ok else code,
                "error": error or None,
            }
        )

    def record_violation(
        self, method: str, params: dict[str, Any], description: str, *, code: int, soft: bool
    ) -> dict[str, Any]:
        """Record a call the real Telegram would refuse (or, when soft, silently ignore)."""
        violation = {
            "time": time.time(),
            "method": method,
            "params": summarize(params),
            "description": description,
            "error_code": code,
            "soft": soft,
        }
        self.violations.append(violation)
        event = self.events.append("violation", chat_id=chat_of(params), violation=violation)
        violation["seq"] = event["seq"]
        return violation

    def bot_sent(self, chat: Chat, msg: StoredMessage) -> None:
        """Log a message the bot sent."""
        self.events.append("bot_message", chat_id=chat.id, message=view_message(msg))

    def bot_edited(self, chat: Chat, msg: StoredMessage) -> None:
        """Log an edit the bot made."""
        self.events.append("bot_edit", chat_id=chat.id, message=view_message(msg))

    def new_callback_query(
        self, user: dict[str, Any], chat: Chat, msg: StoredMessage, data: str
    ) -> tuple[int, str]:
        """Queue a callback_query update for a button press; return (update_id, query id)."""
        query_id = f"{next(self._call_seq)}{secrets.randbelow(10**9):09d}"
        self.callbacks[query_id] = {
            "id": query_id,
            "user_id": user["id"],
            "chat_id": chat.id,
            "message_id": msg.message_id,
            "data": data,
            "answered": False,
            "text": None,
            "show_alert": False,
            "url": None,
        }
        query = {
            "id": query_id,
            "from": user,
            "message": telegram_message(chat, msg),
            "chat_instance": str(abs(hash((chat.id, self.token))) % 10**18),
            "data": data,
        }
        update_id = self.updates.put("callback_query", query)
        self.events.append(
            "callback_query",
            chat_id=chat.id,
            update_id=update_id,
            callback_query_id=query_id,
            message_id=msg.message_id,
            data=data,
            user_id=user["id"],
        )
        return update_id, query_id
