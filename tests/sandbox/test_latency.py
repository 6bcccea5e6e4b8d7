"""ReplyClock pairs each user update with the bot's next reaction in the same chat."""

from __future__ import annotations

import asyncio

from sandbox.events import EventLog
from sandbox.latency import ReplyClock


async def test_pairs_updates_with_first_reactions_per_chat() -> None:
    """Latency runs to the first reaction; later ones and other chats do not count."""
    events = EventLog()
    clock = ReplyClock(events)
    events.append("user_message", chat_id=1)
    events.append("user_message", chat_id=2)
    events.append("bot_message", chat_id=99)  # a card to a cadre: nobody waits for it
    events.append("bot_message", chat_id=2)
    events.append("bot_message", chat_id=2)  # a second message for the same update
    events.append("callback_query", chat_id=1)
    events.append("callback_answer", chat_id=1)  # answers the message, then the press
    events.append("bot_edit", chat_id=1)

    assert [kind for kind, _, _ in clock.samples] == [
        "user_message",
        "user_message",
        "callback_query",
    ]
    assert all(latency >= 0 for _, _, latency in clock.samples)
    assert clock.reactions(1) == 2 and clock.reactions(2) == 1 and clock.reactions(99) == 0


async def test_wait_reaction_wakes_on_the_bot_and_times_out_without_it() -> None:
    """A waiter wakes when the bot reacts and gives up after its timeout otherwise."""
    events = EventLog()
    clock = ReplyClock(events)
    events.append("user_message", chat_id=7)
    waiting = asyncio.create_task(clock.wait_reaction(7, 0, timeout=5))
    await asyncio.sleep(0)
    events.append("bot_message", chat_id=7)
    assert await waiting
    assert not await clock.wait_reaction(7, 1, timeout=0.05)
