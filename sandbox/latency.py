"""Reply latency as the sandbox sees it: from accepting a user's update to the bot's
first reaction in that chat (a message, an edit or a callback answer).

Attach a :class:`ReplyClock` to a core's event log; it pairs, per chat and in order,
each user message or button press with the next bot reaction. Updates the bot answers
with nothing leave their start pending, so use it where every update gets a reaction.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sandbox.events import EventLog

USER_EVENTS = ("user_message", "callback_query")
BOT_REACTIONS = ("bot_message", "bot_edit", "callback_answer")


@dataclass
class _Chat:
    started: deque[tuple[float, str]] = field(default_factory=deque)
    reactions: int = 0  # bot reactions that answered a user update
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class ReplyClock:
    """Measures reply latency per chat; also lets a load generator wait for replies."""

    def __init__(self, events: EventLog) -> None:
        """Start listening to ``events``."""
        self.samples: list[tuple[str, float, float]] = []  # (kind, accepted at, latency s)
        self._chats: dict[int, _Chat] = {}
        events.listeners.append(self._on_event)

    def _chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat()
        return chat

    def _on_event(self, event: dict[str, Any]) -> None:
        chat_id = event.get("chat_id")
        if chat_id is None:
            return
        if event["type"] in USER_EVENTS:
            self._chat(chat_id).started.append((event["time"], event["type"]))
        elif event["type"] in BOT_REACTIONS:
            chat = self._chat(chat_id)
            if chat.started:
                accepted, kind = chat.started.popleft()
                self.samples.append((kind, accepted, event["time"] - accepted))
                chat.reactions += 1
            changed, chat.changed = chat.changed, asyncio.Event()
            changed.set()

    def reactions(self, chat_id: int) -> int:
        """How many user updates in ``chat_id`` the bot has reacted to so far."""
        return self._chat(chat_id).reactions

    async def wait_reaction(self, chat_id: int, more_than: int, timeout: float) -> bool:
        """Wait until the bot reacted to more than ``more_than`` updates in the chat."""
        return await self.wait_for(
            chat_id, lambda: self._chat(chat_id).reactions > more_than, timeout
        )

    async def wait_for(self, chat_id: int, ready: Any, timeout: float) -> bool:
        """Wait until ``ready()`` is true, re-checking at each bot event in the chat."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        chat = self._chat(chat_id)
        while not ready():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(chat.changed.wait(), remaining)
            except TimeoutError:
                return bool(ready())
        return True
