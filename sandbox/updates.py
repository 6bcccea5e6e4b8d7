"""Pending updates: served by getUpdates long polling, or pushed to a webhook."""

from __future__ import annotations

import asyncio
import contextlib
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
_RETRY_DELAYS = (0.1, 0.5)  # webhook retries after the first attempt


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

    def info(self) -> dict[str, Any]:
        """The WebhookInfo object."""
        data: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending),
        }
        if self.webhook.get("url"):
            data["max_connections"] = self.webhook.get("max_connections", 40)
            if self.allowed:
                data["allowed_updates"] = self.allowed
        if self.last_error:
            data["last_error_date"], data["last_error_message"] = self.last_error
        return data

    async def _push_forever(self) -> None:
        """Deliver pending updates one by one, in order, while a webhook is set."""
        while True:
            await self._pushed.wait()
            self._pushed.clear()
            while self.webhook.get("url") and self._ready(1):
                update = self.pending[0]
                delivered = await self._push(update)
                if self.pending and self.pending[0] is update:
                    self.pending.pop(0)
                if delivered:
                    self.events.append("webhook_delivered", update_id=update["update_id"])

    async def _push(self, update: dict[str, Any]) -> bool:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        headers = {"Content-Type": "application/json"}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
        error = "no attempt"
        for delay in (0.0, *_RETRY_DELAYS):
            await asyncio.sleep(delay)
            try:
                async with self._session.post(
                    self.webhook["url"], data=json.dumps(update), headers=headers
                ) as response:
                    if 200 <= response.status < 300:
                        return True
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"Connection failed: {exc.__class__.__name__}"
        self.last_error = (int(time.time()), error)
        self.events.append("webhook_error", update_id=update["update_id"], error=error)
        log.warning("sandbox webhook gave up on update %s: %s", update["update_id"], error)
        return False

    async def close(self) -> None:
        """Stop the webhook pusher and release its HTTP session."""
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
            self._pusher = None
        if self._session is not None:
            await self._session.close()
            self._session = None
