"""The deliverer's rate limit as the receiving end sees it: network jitter must not
squeeze more than ``rate_per_s`` messages into any one second at Telegram."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.bench_broadcast import max_in_window
from bot.clock import Clock
from bot.delivery import Deliverer, DeliverySettings
from bot.services import outbox
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work

RATE = 10


class SlowFirstBot:
    """Stands in for Telegram: the first message takes 150 ms to get there, the rest none.

    Sends start 1/RATE s apart, so message RATE starts one second after the first and,
    without more care, arrives inside the same one-second window as the first did.
    """

    def __init__(self) -> None:
        self.arrivals: list[float] = []

    async def send_message(self, chat_id: int, text: str, **_: Any) -> SimpleNamespace:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0.15 if not self.arrivals else 0)
        self.arrivals.append(loop.time())
        return SimpleNamespace(message_id=len(self.arrivals))


@pytest.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(sqlite_url)
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    await engine.dispose()


async def test_no_second_at_the_receiver_holds_more_than_the_rate(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    async with unit_of_work(sessions) as session:
        for i in range(RATE + 2):
            await outbox.enqueue(
                session,
                kind="test",
                chat_id=-1000 - i,
                text=f"m{i}",
                due_at=clock.now(),
                dedupe_key=f"pace:{i}",
                audience="staff",
            )
    bot = SlowFirstBot()
    deliverer = Deliverer(bot, sessions, clock, DeliverySettings(rate_per_s=RATE))  # type: ignore[arg-type]
    report = await deliverer.run_once()
    assert report.sent == RATE + 2
    assert max_in_window(bot.arrivals) <= RATE
