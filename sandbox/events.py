"""The global event log with long polling: how tests and the web page see the bot react."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

_KEEP = 20_000  # events kept in memory; sequence numbers keep counting past it


class EventLog:
    """Append-only, monotonically numbered log of everything that happens in the sandbox."""

    def __init__(self) -> None:
        self._events: deque[dict[str, Any]] = deque(maxlen=_KEEP)
        self._seq = 0
        self._changed = asyncio.Event()
        # Called with each new event, in order (e.g. sandbox.latency.ReplyClock).
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest event (0 when none yet)."""
        return self._seq

    def append(self, type_: str, *, chat_id: int | None = None, **data: Any) -> dict[str, Any]:
        """Record an event and wake every long-poller."""
        self._seq += 1
        event = {"seq": self._seq, "type": type_, "time": time.time(), "chat_id": chat_id, **data}
        self._events.append(event)
        for listener in self.listeners:
            listener(event)
        # Swap the Event so that waiters woken now do not see a stale "set" next time.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        return event

    def after(self, seq: int, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Events with a sequence number above ``seq``, optionally only for one chat."""
        return [
            e
            for e in self._events
            if e["seq"] > seq and (chat_id is None or e["chat_id"] == chat_id)
        ]

    async def wait(
        self, seq: int, timeout: float, chat_id: int | None = None
    ) -> list[dict[str, Any]]:
        """Return events after ``seq``, waiting up to ``timeout`` seconds for the first one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        while True:
            found = self.after(seq, chat_id)
            remaining = deadline - loop.time()
            if found or remaining <= 0:
                return found
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return self.after(seq, chat_id)
