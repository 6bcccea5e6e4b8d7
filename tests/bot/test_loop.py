"""The event loop `voy run` chooses (bot/loop.py)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot import loop
from bot.config import ConfigError, Settings


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_runs_on_uvloop_where_it_is_installed() -> None:
    assert loop.uvloop_available()
    assert loop.run(_loop_module(), choice="auto").startswith("uvloop")
    assert loop.run(_loop_module(), choice="uvloop").startswith("uvloop")


def test_asyncio_runs_on_asyncios_own_loop() -> None:
    assert loop.run(_loop_module(), choice="asyncio").startswith("asyncio")


def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop, "uvloop_available", lambda: False)
    assert loop.loop_factory("auto") is None
    assert loop.run(_loop_module(), choice="auto").startswith("asyncio")


def test_asking_for_uvloop_without_it_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # the import fails
    coroutine = _loop_module()
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        loop.run(coroutine, choice="uvloop")
    assert coroutine.cr_frame is None  # closed, not left "never awaited"


def test_the_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOY_EVENT_LOOP", "trio")
    with pytest.raises(ValueError, match="unsupported event loop"):
        Settings()
    monkeypatch.setenv("VOY_EVENT_LOOP", "asyncio")
    assert Settings().event_loop == "asyncio"
