"""SandboxClient: an async client for the sandbox's control API (tests and scripts)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from sandbox.persona import Persona

User = Persona | Mapping[str, Any]
Predicate = Callable[[dict[str, Any]], bool]
_BOT_EVENTS = ("bot_message", "bot_edit")


def _user(user: User) -> dict[str, Any]:
    return user.user_payload() if isinstance(user, Persona) else dict(user)


def _chat(user: User, chat_id: int | None) -> int | None:
    """Explicit chat_id wins; a group persona speaks in its group by default."""
    if chat_id is None and isinstance(user, Persona):
        return user.chat_id
    return chat_id


def _describe(event: dict[str, Any]) -> str:
    kind = event["type"]
    if kind in ("bot_message", "bot_edit", "user_message"):
        msg = event["message"]
        body = msg.get("text") if msg.get("text") is not None else msg.get("caption", "")
        return f"#{event['seq']} {kind} chat={event['chat_id']} msg={msg['message_id']}: {body!r}"
    if kind == "violation":
        return f"#{event['seq']} violation: {event['violation']['description']}"
    return f"#{event['seq']} {kind} chat={event.get('chat_id')}"


class SandboxClient:
    """Talks to ``/sandbox/api``; ``base`` is the server's root URL (``SandboxServer.url``)."""

    def __init__(self, base: str, *, timeout: float = 30.0) -> None:
        self.base = base.rstrip("/")
        self._http = httpx.AsyncClient(base_url=f"{self.base}/sandbox/api", timeout=timeout)

    async def __aenter__(self) -> SandboxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"sandbox {method} {path}: {response.status_code} {response.text}")
        return response.json()

    async def _post_message(
        self, user: User, chat_id: int | None, **fields: Any
    ) -> dict[str, Any]:
        body = {"user": _user(user), **{k: v for k, v in fields.items() if v is not None}}
        chat = _chat(user, chat_id)
        if chat is not None:
            body["chat_id"] = chat
        result: dict[str, Any] = await self._call("POST", "/messages", json=body)
        return result

    async def send_text(
        self,
        user: User,
        text: str,
        chat_id: int | None = None,
        reply_to: int | None = None,
        forward_origin: Mapping[str, Any] | None = None,
        text_mentions: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Post a text message as ``user`` (with ``forward_origin``, one they forward; with
        ``text_mentions``, mentions of people by their User object, see sandbox/README.md);
        returns ``{"update_id", "message_id", "chat_id"}``."""
        return await self._post_message(
            user,
            chat_id,
            text=text,
            reply_to_message_id=reply_to,
            forward_origin=dict(forward_origin) if forward_origin is not None else None,
            text_mentions=[dict(m) for m in text_mentions] if text_mentions else None,
        )

    async def edit_text(
        self, user: User, message_id: int, text: str, chat_id: int | None = None
    ) -> dict[str, Any]:
        """Edit the text of a message ``user`` sent: the bot gets an ``edited_message``."""
        body: dict[str, Any] = {"user": _user(user), "message_id": message_id, "text": text}
        chat = _chat(user, chat_id)
        if chat is not None:
            body["chat_id"] = chat
        result: dict[str, Any] = await self._call("POST", "/messages/edit", json=body)
        return result

    async def pin(self, user: User, chat_id: int, message_id: int) -> dict[str, Any]:
        """Pin message ``message_id`` of group ``chat_id`` as ``user`` (one the chat's
        history does not hold arrives as an InaccessibleMessage)."""
        body = {"user": _user(user), "chat_id": chat_id, "message_id": message_id}
        result: dict[str, Any] = await self._call("POST", "/messages/pin", json=body)
        return result

    async def send_photo(
        self,
        user: User,
        caption: str | None = None,
        chat_id: int | None = None,
        file_name: str | None = None,
        reply_to: int | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        """Post a (placeholder) photo with an optional caption; ``media_group_id`` makes it
        one photo of an album (Telegram sends each as a message of its own)."""
        photo: Any = {"file_name": file_name} if file_name else True
        return await self._post_message(
            user,
            chat_id,
            photo=photo,
            caption=caption,
            reply_to_message_id=reply_to,
            media_group_id=media_group_id,
        )

    async def send_contact(
        self, user: User, contact: Mapping[str, Any], chat_id: int | None = None
    ) -> dict[str, Any]:
        """Post a shared contact (``{"phone_number", "first_name", "last_name"?,
        "user_id"?, "vcard"?}``)."""
        return await self._post_message(user, chat_id, contact=dict(contact))

    async def send_sticker(
        self, user: User, emoji: str = "🙂", chat_id: int | None = None
    ) -> dict[str, Any]:
        """Post a sticker."""
        return await self._post_message(user, chat_id, sticker={"emoji": emoji})

    async def send_voice(
        self, user: User, duration: int = 3, chat_id: int | None = None
    ) -> dict[str, Any]:
        """Post a voice message."""
        return await self._post_message(user, chat_id, voice={"duration": duration})

    async def send_document(
        self,
        user: User,
        file_name: str,
        size: int = 1024,
        chat_id: int | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """Post a document, with an optional caption."""
        document = {"file_name": file_name, "size": size}
        return await self._post_message(user, chat_id, document=document, caption=caption)

    async def press(
        self, user: User, message_id: int, data: str, chat_id: int | None = None
    ) -> dict[str, Any]:
        """Press an inline button (any ``data``, forged or not); returns the query id."""
        body: dict[str, Any] = {"user": _user(user), "message_id": message_id, "data": data}
        chat = _chat(user, chat_id)
        body["chat_id"] = chat if chat is not None else body["user"]["id"]
        result: dict[str, Any] = await self._call("POST", "/callbacks", json=body)
        return result

    async def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """Every message of a chat as it stands now."""
        return list((await self._call("GET", f"/chats/{chat_id}/messages"))["messages"])

    async def events(
        self, after: int, wait: float = 0, chat_id: int | None = None
    ) -> dict[str, Any]:
        """Events after ``after``; long-polls up to ``wait`` s. ``{"events", "last_seq"}``."""
        params: dict[str, Any] = {"after": after, "wait": wait}
        if chat_id is not None:
            params["chat_id"] = chat_id
        result: dict[str, Any] = await self._call(
            "GET", "/events", params=params, timeout=wait + 10
        )
        return result

    async def last_seq(self) -> int:
        """The newest event's sequence number: take it before acting, then wait after it."""
        return int((await self._call("GET", "/events"))["last_seq"])

    async def wait_for_event(
        self, predicate: Predicate, *, after_seq: int, timeout: float = 5
    ) -> dict[str, Any]:
        """Wait for the first event after ``after_seq`` matching ``predicate``."""
        seen: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seq = after_seq
        while (remaining := deadline - loop.time()) > 0:
            batch = await self.events(seq, wait=remaining)
            for event in batch["events"]:
                seq = max(seq, event["seq"])
                if predicate(event):
                    return event
                seen.append(event)
        arrived = "\n  ".join(_describe(e) for e in seen) or "(nothing)"
        raise TimeoutError(f"no matching event within {timeout}s; what arrived:\n  {arrived}")

    async def wait_for_bot_message(
        self,
        chat_id: int,
        *,
        after_seq: int,
        timeout: float = 5,
        predicate: Predicate | None = None,
    ) -> dict[str, Any]:
        """Wait until the bot sends or edits a message in ``chat_id`` matching ``predicate``.

        Returns:
            The message view (as in :meth:`messages`) plus ``"event"`` (``"bot_message"`` or
            ``"bot_edit"``) and ``"seq"``.

        Raises:
            TimeoutError: Nothing matched in time; the message lists what did arrive.
        """

        def matches(event: dict[str, Any]) -> bool:
            if event["type"] not in _BOT_EVENTS or event["chat_id"] != chat_id:
                return False
            return predicate is None or predicate(event["message"])

        event = await self.wait_for_event(matches, after_seq=after_seq, timeout=timeout)
        return {**event["message"], "event": event["type"], "seq": event["seq"]}

    async def violations(self) -> list[dict[str, Any]]:
        """Recorded violations."""
        return list((await self._call("GET", "/violations"))["violations"])

    async def clear_violations(self) -> None:
        """Forget recorded violations."""
        await self._call("DELETE", "/violations")

    async def block(self, user_id: int) -> None:
        """Make ``user_id`` block the bot (sends then fail with 403)."""
        await self._call("POST", f"/users/{user_id}/block")

    async def unblock(self, user_id: int) -> None:
        """Undo :meth:`block`."""
        await self._call("POST", f"/users/{user_id}/unblock")

    async def callback_answer(self, callback_query_id: str) -> dict[str, Any]:
        """The bot's answer to a button press: ``{"answered", "text", "show_alert", ...}``."""
        result: dict[str, Any] = await self._call("GET", f"/callbacks/{callback_query_id}")
        return result

    async def set_chat(
        self,
        chat_id: int,
        *,
        title: str | None = None,
        type_: str | None = None,
        admins: list[int] | None = None,
        creator: int | None = None,
    ) -> dict[str, Any]:
        """Create or update a group chat."""
        body = {"title": title, "type": type_, "admins": admins, "creator": creator}
        payload = {k: v for k, v in body.items() if v is not None}
        result: dict[str, Any] = await self._call("POST", f"/chats/{chat_id}", json=payload)
        return result

    async def calls(self, after: int = 0) -> list[dict[str, Any]]:
        """The raw Bot API calls the bot made."""
        return list((await self._call("GET", "/calls", params={"after": after}))["calls"])

    async def personas(self) -> list[dict[str, Any]]:
        """The personas the server was started with."""
        return list((await self._call("GET", "/personas"))["personas"])

    async def webhook(self) -> dict[str, Any]:
        """The webhook as getWebhookInfo shows it, plus ``targets``."""
        result: dict[str, Any] = await self._call("GET", "/webhook")
        return result

    async def set_webhook_targets(self, urls: list[str]) -> None:
        """Deliver webhook updates round-robin to ``urls`` (a load balancer)."""
        await self._call("POST", "/webhook/targets", json={"urls": urls})

    async def set_webhook_timeout(self, seconds: float) -> None:
        """Count a webhook attempt as failed (and retry it) after ``seconds``."""
        await self._call("POST", "/webhook/timeout", json={"seconds": seconds})

    async def set_latency(self, method: str, seconds: float) -> None:
        """Answer the Bot API ``method`` only after ``seconds`` (0 removes the delay)."""
        await self._call("POST", "/latency", json={"method": method, "seconds": seconds})

    async def set_fault(
        self,
        method: str,
        error_code: int,
        *,
        description: str = "Internal Server Error",
        chat_id: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Make the Bot API ``method`` fail with ``error_code`` (0 removes the fault); a
        429 with ``retry_after`` is Telegram's flood control."""
        body: dict[str, Any] = {
            "method": method,
            "error_code": error_code,
            "description": description,
        }
        if chat_id is not None:
            body["chat_id"] = chat_id
        if retry_after is not None:
            body["retry_after"] = retry_after
        await self._call("POST", "/faults", json=body)
