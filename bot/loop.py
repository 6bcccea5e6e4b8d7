"""The event loop the bot runs on: uvloop where it is installed, else asyncio's own.

The bot is CPU-bound on one core under load (bench/README.md), and uvloop's loop, written
in C over libuv, spends less of that core on scheduling callbacks and on sockets than
asyncio's. Nothing in the bot depends on which loop runs it; the tests run on asyncio's.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from bot.config import ConfigError

T = TypeVar("T")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def uvloop_available() -> bool:
    """Whether uvloop can be imported here (it does not exist on Windows)."""
    return importlib.util.find_spec("uvloop") is not None


def loop_factory(choice: str) -> LoopFactory | None:
    """The factory for ``choice`` ("auto", "uvloop" or "asyncio"); None is asyncio's own.

    Raises:
        ConfigError: "uvloop" was asked for and is not installed.
    """
    if choice == "asyncio" or (choice == "auto" and not uvloop_available()):
        return None
    try:
        import uvloop
    except ImportError as exc:
        raise ConfigError(
            "VOY_EVENT_LOOP=uvloop, but uvloop is not installed; "
            "install it or set VOY_EVENT_LOOP=auto"
        ) from exc
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], *, choice: str) -> T:
    """Run ``main`` to completion on a new loop of the chosen kind (like ``asyncio.run``)."""
    try:
        factory = loop_factory(choice)
    except BaseException:
        main.close()  # never started: no "never awaited" warning
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
