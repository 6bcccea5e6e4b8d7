"""The durable intake: an update is stored before Telegram is told it arrived.

PTB's updater confirms a batch of updates (the next ``getUpdates`` offset) as soon as it
has put them into ``application.update_queue``, long before they are handled. An
in-memory queue would lose every update waiting in it when the process is killed.
:class:`DurableUpdateQueue` is that queue with one change: the updates ``put`` into it
are stored in the inbound log, and queued for handling only once that is committed.

They are stored as a group: ``put`` collects a fetched batch, and :meth:`flush` stores
all of it in one transaction. :class:`IntakeRequest`, the request object PTB uses for
``getUpdates`` alone, flushes before each call, so a batch is on disk before the next
call's offset confirms it; if the commit fails, the call fails too (PTB retries it) and
nothing is confirmed. It then waits until the queue is empty (every update taken for
handling) before fetching more: under load the updates wait with Telegram, not in this
process, and each fetch brings what arrived meanwhile, one commit for all of it. Polling
only: a webhook update is stored by the edge (``bot/edge.py``).

After a crash the log holds the updates stored but never handled (still ``received``);
:func:`recover` queues them again at start-up, before any new update, in arrival order.
An update that failed for good stays ``failed`` until an operator queues it again
(``voy updates retry``); :func:`take_requeued` then hands it to this instance's queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, Update
from telegram.request import BaseRequest, RequestData

from bot.context import Services
from bot.polling_watch import PollingWatch
from bot.services import inbox

_log = logging.getLogger(__name__)

# The longest a getUpdates call waits for the updates fetched before to be taken.
DRAIN_WAIT_S = 30.0
# Requeued updates taken at a time (the rest wait for the next look).
REQUEUE_BATCH = 100


class DurableUpdateQueue(asyncio.Queue[object]):
    """``application.update_queue``: queues updates once they are stored and committed."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Create the queue over ``sessions``."""
        super().__init__()
        self._sessions = sessions
        # Updates put but not yet stored, in arrival order.
        self._unstored: list[Update] = []
        self._flushing = asyncio.Lock()
        self._drained = asyncio.Event()
        # Row ids of the updates queued here and not yet taken by the edge, by fingerprint:
        # saves the edge a lookup per update.
        self._stored: dict[str, int] = {}
        # When the requeued updates among them first arrived (their sender is told).
        self._late: dict[str, datetime] = {}

    def take_stored(self, update: Update) -> int | None:
        """The inbound row id this queue stored ``update`` under, once (None if not known)."""
        return self._stored.pop(inbox.fingerprint(update), None)

    def take_late(self, update: Update) -> datetime | None:
        """When ``update`` first arrived, if it is one an operator requeued (once)."""
        return self._late.pop(inbox.fingerprint(update), None) if self._late else None

    async def put_stored(
        self, update: Update, inbound_id: int, *, late_since: datetime | None = None
    ) -> None:
        """Queue an update that is stored already (recovery after a crash; with
        ``late_since``, a failed update an operator queued again)."""
        key = inbox.fingerprint(update)
        self._stored[key] = inbound_id
        if late_since is not None:
            self._late[key] = late_since
        await super().put(update)

    def get_nowait(self) -> object:
        """Take the next item (``get`` comes here too); note when the queue is empty."""
        item = super().get_nowait()
        if self.empty():
            self._drained.set()
        return item

    async def drained(self) -> None:
        """Wait until every queued item has been taken."""
        while not self.empty():
            self._drained.clear()
            await self._drained.wait()

    async def put(self, item: object) -> None:
        """Collect ``item`` if it is an update (:meth:`flush` stores and queues it);
        queue anything else (PTB's stop signal) after the updates put before it."""
        if isinstance(item, Update):
            self._unstored.append(item)
            return
        await self.flush()
        await super().put(item)

    async def flush(self) -> int:
        """Store the collected updates in one transaction, then queue them; return how
        many were queued.

        A redelivered update (its batch was not confirmed when the process died) is
        already in the log: :func:`recover` queued it at start-up, or it was handled; it
        is not queued again. If storing the batch fails, its updates are stored one by
        one (:meth:`_one_by_one`); if the database itself fails, the error propagates and
        the updates not stored stay collected for the next flush: the ``getUpdates`` that
        would confirm them is not sent, and if the process dies Telegram delivers them
        again.
        """
        async with self._flushing:
            batch = self._unstored[:]
            if not batch:
                return 0
            try:
                async with self._sessions() as session:
                    stored = [await inbox.store(session, update) for update in batch]
                    await session.commit()
            except Exception:
                # One update that cannot be stored must not hold up the rest for good
                # (the batch would be tried again forever): one by one instead.
                _log.exception("could not store %d updates together; one by one", len(batch))
                return await self._one_by_one(batch)
            return self._hand_on(batch, stored)

    async def _one_by_one(self, batch: list[Update]) -> int:
        """Store ``batch`` an update per transaction; one that cannot be stored as it
        came is kept as far as it can be (:func:`inbox.store_unstorable`). If even that
        fails (the database), the updates stored so far are queued and the error raised:
        the rest stay for the next flush."""
        stored: list[int | None] = []
        try:
            for update in batch:
                try:
                    async with self._sessions() as session:
                        inbound_id = await inbox.store(session, update)
                        await session.commit()
                except Exception as exc:
                    _log.exception("update %s cannot be stored as it came", update.update_id)
                    async with self._sessions() as session:
                        await inbox.store_unstorable(session, update, exc)
                        await session.commit()
                    inbound_id = None  # failed: for an operator, not handled
                stored.append(inbound_id)
        finally:
            queued = self._hand_on(batch[: len(stored)], stored)
        return queued

    def _hand_on(self, batch: list[Update], stored: list[int | None]) -> int:
        """Drop ``batch`` (stored) from the collected updates and queue those to handle."""
        del self._unstored[: len(batch)]
        queued = 0
        for update, inbound_id in zip(batch, stored, strict=True):
            if inbound_id is None:
                _log.info(
                    "update %s is not handled now (stored before, or unstorable)", update.update_id
                )
                continue
            self._stored[inbox.fingerprint(update)] = inbound_id
            self.put_nowait(update)
            queued += 1
        return queued


class IntakeRequest(BaseRequest):
    """PTB's request object for ``getUpdates``: stores the updates fetched so far before
    asking for more, which confirms them. The calls themselves go through ``inner``;
    ``watch`` hears of each one answered (another instance's 409s end with those)."""

    def __init__(
        self, intake: DurableUpdateQueue, inner: BaseRequest, watch: PollingWatch | None = None
    ) -> None:
        """Flush ``intake`` before every call made through ``inner``."""
        self._intake = intake
        self._inner = inner
        self._watch = watch

    @property
    def read_timeout(self) -> float | None:
        """``inner``'s read timeout."""
        return self._inner.read_timeout

    async def initialize(self) -> None:
        """Initialise ``inner``."""
        await self._inner.initialize()

    async def shutdown(self) -> None:
        """Shut ``inner`` down."""
        await self._inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Flush the intake and wait until it is taken, then make the call (a failed
        flush fails the call)."""
        await self._intake.flush()
        # Bounded, so a fetcher that stopped taking updates cannot hang the updater.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_WAIT_S):
                await self._intake.drained()
        code, payload = await self._inner.do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        if self._watch is not None and code < 300:
            self._watch.answered()
        return code, payload


async def recover(
    queue: DurableUpdateQueue,
    sessions: async_sessionmaker[AsyncSession],
    bot: Bot,
    *,
    received_before: datetime | None = None,
) -> int:
    """Queue the stored updates that were never handled; return how many.

    Run once at start-up, before updates are fetched. With several instances, an
    instance starting while another still holds unhandled updates in memory would
    queue those too; the edge's conditional "handled" mark keeps the database work
    single, but replies could go out twice (see ``bot/edge.py``). ``received_before``
    leaves the newer ones alone (a webhook instance: others may be handling those), and
    the requeued ones another instance took since. A requeued update is handled as late.
    """
    async with sessions() as session:
        rows = await inbox.unhandled(session, stranded_before=received_before)
    for row in rows:
        update = _revive(row.payload, bot)
        if update is not None:
            late = row.received_at if row.requeued_at is not None else None
            await queue.put_stored(update, row.id, late_since=late)
    if rows:
        _log.warning("recovered %d stored updates that were never handled", len(rows))
    return len(rows)


async def take_requeued(
    queue: DurableUpdateQueue,
    sessions: async_sessionmaker[AsyncSession],
    bot: Bot,
    *,
    limit: int = REQUEUE_BATCH,
) -> int:
    """Take the updates an operator queued again (``voy updates retry``) and queue them
    here; return how many. Several instances may look at once: each row goes to one.

    Taken rows are "received" once this commits, so a crash before they are handled
    leaves them to :func:`recover`, like any update in hand.
    """
    async with sessions() as session:
        claimed = await inbox.claim_requeued(session, limit=limit)
        revived = []
        for row in claimed:
            update = _revive(row.payload, bot)
            if update is None:
                await inbox.mark_done(session, inbound_id=row.id, error="could not be rebuilt")
            else:
                revived.append((update, row))
        await session.commit()
    for update, row in revived:
        await queue.put_stored(update, row.id, late_since=row.received_at)
    if claimed:
        _log.warning("took %d updates queued again by an operator", len(claimed))
    return len(revived)


def register_requeue(application: Any, services: Services) -> None:
    """Look for requeued updates every ``VOY_REQUEUE_INTERVAL_S`` (one job id)."""
    queue = application.update_queue
    assert isinstance(queue, DurableUpdateQueue)
    interval = services.settings.requeue_interval_s

    async def job(_context: object) -> None:
        # A failure reaches the error handler (logged, ops chat alerted); the rows stay
        # requeued and the next run takes them.
        await take_requeued(queue, services.sessions, application.bot)

    application.job_queue.run_repeating(
        job,
        interval=interval,
        first=interval,
        name="requeue",
        job_kwargs={"id": "requeue", "replace_existing": True, "max_instances": 1},
    )


def _revive(payload: dict[str, Any], bot: Bot) -> Update | None:
    try:
        # Stored without the other people it carried: PTB reads it with blanks there.
        return Update.de_json(inbox.readable(payload), bot)
    except Exception:  # a payload this PTB version cannot read: keep it, log it
        _log.exception("could not rebuild stored update %s", payload.get("update_id"))
        return None
