"""Pending updates: served by getUpdates long polling, or pushed to a webhook."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from typing import Any

import aiohttp

from sandbox.errors import ApiError
from sandbox.events import EventLog

log = logging.getLogger(__name__)

# Types delivered when allowed_updates is empty, as documented for getUpdates.
_OPT_IN = {"chat_member", "message_reaction", "message_reaction_count"}
# Pauses between webhook attempts for one update; the last repeats until it is accepted.
_RETRY_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0)


def _chat_key(update: dict[str, Any]) -> object:
    """The chat an update belongs to (updates of one chat are delivered in order)."""
    body = next(v for k, v in update.items() if k != "update_id")
    if isinstance(body, dict):
        chat = body.get("chat") or (body.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return chat["id"]
        sender = body.get("from") or body.get("user")
        if isinstance(sender, dict) and "id" in sender:
            return ("user", sender["id"])
    return ("update", update["update_id"])


class UpdateQueue:
    """Updates waiting for the bot, with Telegram's acknowledge-by-offset semantics."""

    def __init__(self, events: EventLog) -> None:
        self.events = events
        self.pending: list[dict[str, Any]] = []
        self.allowed: list[str] = []
        self.webhook: dict[str, Any] = {}
        self.last_error: tuple[int, str] | None = None
        self._next_id = 1
        self._waiter: asyncio.Future[str] | None = None
        self._pushed = asyncio.Event()
        self._pusher: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        # Webhook delivery: round-robin targets (control API), updates and chats in flight.
        self.targets: list[str] = []
        self.timeout_s = 10.0
        self._turn = itertools.count()
        self._in_flight: set[int] = set()
        # The target each update in flight was posted to, until it answers.
        self._posting: dict[int, tuple[str, dict[str, Any]]] = {}
        self._busy_chats: set[object] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> bool:
        """Whether a getUpdates long poll is parked waiting for updates."""
        return self._waiter is not None and not self._waiter.done()

    def put(self, payload_key: str, payload: dict[str, Any]) -> int:
        """Queue an update carrying ``payload`` under ``payload_key``; return its update_id."""
        update_id = self._next_id
        self._next_id += 1
        self.pending.append({"update_id": update_id, payload_key: payload})
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result("update")
        self._pushed.set()
        return update_id

    def _allowed(self, update: dict[str, Any]) -> bool:
        kind = next(k for k in update if k != "update_id")
        return kind in self.allowed if self.allowed else kind not in _OPT_IN

    def _ready(self, limit: int) -> list[dict[str, Any]]:
        self.pending = [u for u in self.pending if self._allowed(u)]
        return self.pending[:limit]

    async def get_updates(
        self, offset: int | None, limit: int, timeout: float, allowed: list[str] | None
    ) -> list[dict[str, Any]]:
        """Serve one getUpdates call (long polling up to ``timeout`` seconds)."""
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if offset is not None and offset < 0:
            self.pending = self.pending[offset:]
        elif offset:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        if allowed is not None:
            self.allowed = list(allowed)  # like Telegram, the setting sticks for later calls
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result("conflict")  # the older long poll loses, as on Telegram
        ready = self._ready(limit)
        if ready or timeout <= 0:
            return ready
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if await waiter == "conflict":
                        raise ApiError(
                            409,
                            "Conflict: terminated by other getUpdates request; "
                            "make sure that only one bot instance is running",
                        )
                    ready = self._ready(limit)
                    if ready:
                        return ready
                    waiter = self._waiter = asyncio.get_running_loop().create_future()
        except TimeoutError:
            return []
        finally:
            if self._waiter is waiter:
                self._waiter = None

    def set_webhook(self, params: dict[str, Any]) -> None:
        """Store the webhook (an empty url removes it) and start pushing updates."""
        self.webhook = {k: v for k, v in params.items() if k != "certificate"}
        if params.get("drop_pending_updates"):
            self.pending.clear()
        if params.get("allowed_updates") is not None:
            self.allowed = list(params["allowed_updates"])
        if self.webhook.get("url") and self._pusher is None:
            self._pusher = asyncio.create_task(self._push_forever())
        self._pushed.set()

    def delete_webhook(self, drop_pending: bool) -> None:
        """Remove the webhook; pending updates wait for getUpdates again."""
        self.webhook = {}
        if drop_pending:
            self.pending.clear()

    def set_targets(self, urls: list[str]) -> None:
        """Post to these URLs in turn instead of the webhook's (a load balancer in front
        of several instances); an empty list goes back to the webhook's URL."""
        self.targets = list(urls)
        self._pushed.set()

    def info(self) -> dict[str, Any]:
        """The WebhookInfo object."""
        data: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending),
        }
        if self.webhook.get("url"):
            data["max_connections"] = self._max_connections()
            if self.allowed:
                data["allowed_updates"] = self.allowed
        if self.last_error:
            data["last_error_date"], data["last_error_message"] = self.last_error
        return data

    def posted_to(self, url: str) -> list[dict[str, Any]]:
        """The updates posted to ``url`` that it has not answered yet (what that instance
        holds, for a test that kills it)."""
        return [update for target, update in self._posting.values() if target == url]

    def _max_connections(self) -> int:
        return int(self.webhook.get("max_connections") or 40)

    def _next_target(self) -> str:
        if self.targets:
            return self.targets[next(self._turn) % len(self.targets)]
        return str(self.webhook["url"])

    def _deliverable(self) -> dict[str, Any] | None:
        """The oldest pending update not in flight whose chat has nothing in flight."""
        for update in self._ready(len(self.pending)):
            if update["update_id"] in self._in_flight:
                continue
            if _chat_key(update) not in self._busy_chats:
                return update
        return None

    async def _push_forever(self) -> None:
        """Deliver pending updates while a webhook is set: up to max_connections at once,
        one at a time per chat so each chat's updates arrive in order."""
        while True:
            await self._pushed.wait()
            self._pushed.clear()
            while self.webhook.get("url") and len(self._in_flight) < self._max_connections():
                update = self._deliverable()
                if update is None:
                    break
                self._in_flight.add(update["update_id"])
                self._busy_chats.add(_chat_key(update))
                task = asyncio.create_task(self._deliver(update))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _deliver(self, update: dict[str, Any]) -> None:
        """Post one update until an instance accepts it (Telegram keeps retrying too)."""
        attempt = 0
        try:
            while self.webhook.get("url") and update in self.pending:
                target = self._next_target()
                self._posting[update["update_id"]] = (target, update)
                try:
                    error = await self._post(target, update)
                finally:
                    self._posting.pop(update["update_id"], None)
                if error is None:
                    if update in self.pending:
                        self.pending.remove(update)
                    self.events.append(
                        "webhook_delivered", update_id=update["update_id"], url=target
                    )
                    return
                self.last_error = (int(time.time()), error)
                self.events.append(
                    "webhook_error", update_id=update["update_id"], error=error, url=target
                )
                log.info("sandbox webhook: update %s: %s", update["update_id"], error)
                await asyncio.sleep(_RETRY_DELAYS[min(attempt, len(_RETRY_DELAYS) - 1)])
                attempt += 1
        finally:
            self._in_flight.discard(update["update_id"])
            self._busy_chats.discard(_chat_key(update))
            self._pushed.set()

    async def _post(self, url: str, update: dict[str, Any]) -> str | None:
        """One attempt; return None when accepted, else Telegram's error description."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json"}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
        try:
            async with self._session.post(
                url,
                data=json.dumps(update),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            ) as reply:
                if 200 <= reply.status < 300:
                    return None
                return f"Wrong response from the webhook: {reply.status} {reply.reason}"
        except TimeoutError:
            return "Read timeout expired"
        except aiohttp.ClientError as exc:
            return f"Connection failed: {exc.__class__.__name__}"

    async def close(self) -> None:
        """Stop the webhook pusher and release its HTTP session."""
        for task in [self._pusher, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._pusher = None
        if self._session is not None:
            await self._session.close()
            self._session = None
