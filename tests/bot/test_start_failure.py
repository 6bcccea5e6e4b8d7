"""A start that fails after the bot is initialised (its start-up hook: stranded updates
queued, jobs registered, menus set) still shuts everything down: HTTP clients closed,
database engine disposed, background tasks cancelled."""

from __future__ import annotations

import pytest

from bot.app import build_application
from bot.clock import Clock
from bot.context import BotApplication
from bot.runner import polling
from sandbox import SandboxServer
from tests.conftest import make_settings, prepare


class _Refused(RuntimeError):
    pass


async def test_a_failing_start_up_hook_still_shuts_the_bot_down(
    sandbox: SandboxServer, database_url: str
) -> None:
    await prepare(database_url)
    application = build_application(
        make_settings(database_url),
        base_url=sandbox.base_url,
        base_file_url=sandbox.base_file_url,
        clock=Clock(),
    )
    post_init = application.post_init
    assert post_init is not None

    async def failing(app: BotApplication) -> None:
        await post_init(app)  # the whole hook ran, then something after it failed
        raise _Refused("refused")

    application.post_init = failing
    shut: list[str] = []

    async def post_shutdown(app: BotApplication) -> None:
        shut.append("post_shutdown")
        await original_shutdown(app)

    original_shutdown = application.post_shutdown
    assert original_shutdown is not None
    application.post_shutdown = post_shutdown
    with pytest.raises(_Refused):
        async with polling(application, poll_timeout=1):
            raise AssertionError("the bot must not start")
    assert shut == ["post_shutdown"]  # the engine disposed, the leases released
    assert not application._initialized  # PTB's shutdown ran: its HTTP clients closed
    request = application.bot.request
    assert getattr(request, "_session", None) is None
