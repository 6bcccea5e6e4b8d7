"""The edge of every update: one DB session, the inbound log, and the single commit.

PTB hands each update to an update processor; ours opens the session, stores the update
and commits that alone first (so nothing a user sent is lost, whatever happens next),
registers the sender, runs the handlers, then commits their work or rolls it back.

Nothing may escape from here: with sequential processing PTB awaits this inside its
update fetcher, and an exception would stop the bot from fetching updates at all.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.context import UpdateScope, scope_var
from bot.services import inbox, users

_log = logging.getLogger(__name__)


class SessionUpdateProcessor(BaseUpdateProcessor):
    """Wraps the handling of each update in its own unit of work."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        default_locale: str,
        max_concurrent_updates: int = 1,
    ) -> None:
        """Create the processor over ``sessions``."""
        super().__init__(max_concurrent_updates)
        self._sessions = sessions
        self._default_locale = default_locale

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Record the update, run the handlers in one session, and commit once."""
        if not isinstance(update, Update):
            await coroutine
            return
        try:
            await self._process(update, coroutine)
        except Exception:
            _log.exception("update %s could not be processed", update.update_id)
        finally:
            if inspect.iscoroutine(coroutine) and inspect.getcoroutinestate(coroutine) == (
                inspect.CORO_CREATED
            ):
                coroutine.close()  # never started: avoid "never awaited" warnings

    async def _process(self, update: Update, coroutine: Awaitable[Any]) -> None:
        async with self._sessions() as session:
            inbound = await inbox.record(session, update)
            if inbound is None:
                _log.info("update %s was delivered before; skipping", update.update_id)
                return
            inbound_id = inbound.id
            await session.commit()

            scope = UpdateScope(session=session, locale=self._default_locale)
            scope.inbound_id = inbound_id
            try:
                await self._register_sender(session, update, scope)
            except Exception as exc:
                _log.exception("could not register the sender of update %s", update.update_id)
                scope.error = f"registering the sender failed: {exc!r}"
                await self._finish(session, scope, inbound_id)
                return

            token = scope_var().set(scope)
            try:
                await coroutine
            finally:
                scope_var().reset(token)
            await self._finish(session, scope, inbound_id)

    async def _register_sender(
        self, session: AsyncSession, update: Update, scope: UpdateScope
    ) -> None:
        sender = update.effective_user
        if sender is None or sender.is_bot:
            return
        scope.user, scope.is_new_user = await users.touch(
            session,
            telegram_id=sender.id,
            first_name=sender.first_name,
            language_code=sender.language_code,
            default_locale=self._default_locale,
        )
        scope.locale = scope.user.locale

    async def _finish(self, session: AsyncSession, scope: UpdateScope, inbound_id: int) -> None:
        if scope.error is None:
            try:
                await inbox.mark_done(session, inbound_id=inbound_id)
                await session.commit()
                return
            except Exception as exc:
                _log.exception("committing update work failed")
                scope.error = f"commit failed: {exc!r}"
        await session.rollback()
        await inbox.mark_done(session, inbound_id=inbound_id, error=scope.error)
        if scope.unreachable_user_id is not None:
            await users.mark_unreachable(session, telegram_id=scope.unreachable_user_id)
        await session.commit()
