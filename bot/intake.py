"""The durable intake: an update is stored before Telegram is told it arrived.

PTB's updater confirms a batch of updates (the next ``getUpdates`` offset) as soon as it
has put them into ``application.update_queue``, long before they are handled; the
webhook answers 200 the same way. An in-memory queue would lose every update waiting
in it when the process is killed. :class:`DurableUpdateQueue` is that queue with one
change: ``put`` stores the update in the inbound log and commits before queuing it, so
the updater (or webhook) acknowledges only what is on disk.

After a crash the log holds the updates stored but never handled (still ``received``);
:func:`recover` queues them again at start-up, before any new update, in arrival order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, Update

from bot.services import inbox
from storage.models import INBOUND_RECEIVED, InboundMessage

_log = logging.getLogger(__name__)


class DurableUpdateQueue(asyncio.Queue[object]):
    """``application.update_queue``: stores each update (and commits) before queuing it."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Create the queue over ``sessions``."""
        super().__init__()
        self._sessions = sessions
        # Row ids of the updates queued here and not yet taken by the edge, by fingerprint:
        # saves the edge a lookup per update.
        self._stored: dict[str, int] = {}

    def take_stored(self, update: Update) -> int | None:
        """The inbound row id this queue stored ``update`` under, once (None if not known)."""
        return self._stored.pop(inbox.fingerprint(update), None)

    async def put_stored(self, update: Update, inbound_id: int) -> None:
        """Queue an update that is stored already (recovery after a crash)."""
        self._stored[inbox.fingerprint(update)] = inbound_id
        await super().put(update)

    async def put(self, item: object) -> None:
        """Store ``item`` if it is an update, then queue it unless it was stored before.

        A redelivered update (the batch was not yet confirmed when the process died) is
        already in the log: :func:`recover` queued it at start-up, or it was handled.
        If storing fails the error propagates, so the updater does not confirm it and
        Telegram delivers it again.
        """
        if isinstance(item, Update):
            async with self._sessions() as session:
                stored = await inbox.store(session, item)
                await session.commit()
            if stored is None:
                _log.info("update %s was delivered before; not queued again", item.update_id)
                return
            self._stored[inbox.fingerprint(item)] = stored
        await super().put(item)


async def recover(
    queue: DurableUpdateQueue,
    sessions: async_sessionmaker[AsyncSession],
    bot: Bot,
) -> int:
    """Queue the stored updates that were never handled; return how many.

    Run once at start-up, before updates are fetched. With several instances, an
    instance starting while another still holds unhandled updates in memory would
    queue those too; the edge's conditional "handled" mark keeps the database work
    single, but replies could go out twice (see ``bot/edge.py``).
    """
    async with sessions() as session:
        rows = list(
            await session.execute(
                select(InboundMessage.id, InboundMessage.payload)
                .where(InboundMessage.status == INBOUND_RECEIVED)
                .order_by(InboundMessage.id)
            )
        )
    for inbound_id, payload in rows:
        update = _revive(payload, bot)
        if update is not None:
            await queue.put_stored(update, inbound_id)
    if rows:
        _log.warning("recovered %d stored updates that were never handled", len(rows))
    return len(rows)


def _revive(payload: dict[str, Any], bot: Bot) -> Update | None:
    try:
        return Update.de_json(payload, bot)
    except Exception:  # a payload this PTB version cannot read: keep it, log it
        _log.exception("could not rebuild stored update %s", payload.get("update_id"))
        return None
