"""The edge of every update: one DB session, the inbound log, and the single commit.

PTB hands each update to an update processor; ours opens the session, finds the update in
the inbound log (the durable intake stored it before it was acknowledged; a webhook
update is stored here, on PostgreSQL in its own transaction), registers the sender, runs
the handlers, then commits their work together with the "handled" mark, or rolls it back
(and stores the update again, marked failed).

Crash safety: an update is marked handled in the same commit as its work. A polled
update killed while handling stays ``received`` and is handled again after the restart
(``bot.intake.recover``); a webhook update killed while handling was not acknowledged,
and Telegram sends it again (on PostgreSQL its row went with the killed transaction).
Replies the handlers sent before the kill are not undone: a kill between Telegram
accepting a reply and that commit sends the reply twice. This is the same at-least-once
window as the outbox's (bot/delivery.py).

Nothing may escape from here: with sequential processing PTB awaits this inside its
update fetcher, and an exception would stop the bot from fetching updates at all.

With ``VOY_CONCURRENT_UPDATES`` above 1, updates from different chats are handled at
once, but one chat's updates still run one at a time, in the order they arrived: a
young person's wish steps or a cadre's "answer" button and the answer typed after it
must not overtake each other. PTB starts each update's task in arrival order and
``asyncio.Lock`` wakes its waiters first come, first served, so a per-chat lock taken
before any other ``await`` keeps that order. The chat lock is taken before one of the
processor's slots (its semaphore), so updates queued behind their chat hold no slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter
from telegram.ext import BaseUpdateProcessor

from bot import logs, metrics
from bot.api_bot import compact
from bot.context import UpdateScope, scope_var
from bot.intake import DurableUpdateQueue
from bot.services import inbox, users

_log = logging.getLogger(__name__)

# PTB's update processor semaphore size when ours does the limiting (see __init__).
_ADMIT_ALL = 1 << 20
# An update that fails with a passing error is tried this many times in all. A polled
# update is tried again in place, after these pauses, holding its chat's turn so its
# chat's later updates cannot overtake it; a webhook update when Telegram sends it again.
MAX_ATTEMPTS = 4
RETRY_PAUSES_S = (1.0, 3.0, 10.0)
# What _process returns when a polled update should be tried again in place.
_AGAIN = "again"
# At most this many journals of updates waiting to be tried again are kept.
_JOURNALS_KEPT = 1000


def transient(error: BaseException | None) -> bool:
    """Whether ``error`` is passing, so the update should be tried again rather than
    stored as failed: Telegram timing out, unreachable or asking to slow down, the
    database connection dropped or refused. Telegram's refusals (a bad request, a user
    who blocked the bot) are not: trying again would fail again."""
    if isinstance(error, BadRequest | Forbidden | ChatMigrated):
        return False
    if isinstance(error, NetworkError | RetryAfter):  # TimedOut is a NetworkError
        return True
    if isinstance(error, sa_exc.DBAPIError):
        return bool(error.connection_invalidated) or isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return isinstance(error, sa_exc.TimeoutError | ConnectionError | TimeoutError)


def _kind(error: BaseException) -> tuple[str, ...]:
    """What tells one failure from another: the error's type and, for a database error,
    the driver's error type and code (SQLite's extended result code, PostgreSQL's
    SQLSTATE). Never its message: the statement's parameters are in it."""
    orig = getattr(error, "orig", None)
    code = getattr(orig, "sqlite_errorcode", None) or getattr(orig, "sqlstate", None)
    driver = () if orig is None else (type(orig).__qualname__, str(code))
    return (type(error).__qualname__, *driver)


def _close_if_unstarted(coroutine: Awaitable[Any]) -> None:
    """Close a handler coroutine that never ran (avoids "never awaited" warnings)."""
    if inspect.iscoroutine(coroutine) and inspect.getcoroutinestate(coroutine) == (
        inspect.CORO_CREATED
    ):
        coroutine.close()


class SessionUpdateProcessor(BaseUpdateProcessor):
    """Wraps the handling of each update in its own unit of work."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        default_locale: str,
        max_concurrent_updates: int = 1,
        intake: DurableUpdateQueue | None = None,
    ) -> None:
        """Create the processor over ``sessions``; ``intake`` is the application's queue."""
        # With more than one slot, PTB's semaphore (taken before do_process_update) admits
        # every update, and ours, taken after the chat lock, limits how many run.
        super().__init__(max_concurrent_updates if max_concurrent_updates <= 1 else _ADMIT_ALL)
        self._limit = max_concurrent_updates
        self._slots = asyncio.Semaphore(max_concurrent_updates)
        self._sessions = sessions
        self._default_locale = default_locale
        self._intake = intake
        # One lock per chat with an update in hand or waiting; dropped when unused.
        self._chat_locks: dict[int, tuple[asyncio.Lock, int]] = {}
        # Webhook updates that failed with a passing error: attempts so far, by update id.
        self._attempts: dict[int, int] = {}
        # Updates to be tried again, by fingerprint (an update id alone comes back after
        # a quiet week): what their handling sent so far (bot.api_bot), so the next
        # attempt does not send it again. Bounded: a webhook update may be sent again to
        # another instance, and never come back here.
        self._journals: dict[str, list[Any]] = {}
        # Runs an update's handlers again (``Application.process_update``; see :meth:`bind`).
        self._rerun: Callable[[Update], Awaitable[Any]] | None = None
        # Hears of the failures the error handler never sees (see :meth:`bind`).
        self._failed: Callable[[Update, Exception], Awaitable[Any]] | None = None
        # The failures the attempt in hand already told ``_failed`` of, by update id and
        # kind (:func:`_kind`); the update is counted failed once. A rollback failing
        # like the commit before it is not told again; another error after it is.
        self._told: dict[int, set[tuple[str, ...]]] = {}
        # For the updates a webhook request waits on (Telegram may send one again while
        # the first is in hand): how many requests wait, and whether the latest handling
        # committed its outcome (see :meth:`watch` and :meth:`take_outcome`).
        self._watchers: dict[int, int] = {}
        self._outcomes: dict[int, bool] = {}

    def bind(
        self,
        rerun: Callable[[Update], Awaitable[Any]],
        *,
        failed: Callable[[Update, Exception], Awaitable[Any]] | None = None,
    ) -> None:
        """How to run an update's handlers again (a retry): the application's
        ``process_update``. Without it a passing error fails a polled update at once.

        ``failed`` hears of the errors raised here rather than in a handler (storing the
        update, registering its sender, the commit), which the error handler never sees:
        a database out of reach fails there first (``bot.outage``).
        """
        self._rerun = rerun
        self._failed = failed

    async def _tell_failed(self, update: Update, error: Exception) -> None:
        kinds = self._told.setdefault(update.update_id, set())
        if _kind(error) in kinds:
            return  # the same failure again
        kinds.add(_kind(error))
        if self._failed is None:
            return
        try:
            await self._failed(update, error)
        except Exception:
            _log.exception("reporting the failure of update %s failed", update.update_id)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    def watch(self, update_id: int) -> None:
        """Keep the outcome of this update for :meth:`take_outcome` (the webhook's)."""
        self._watchers[update_id] = self._watchers.get(update_id, 0) + 1

    def take_outcome(self, update_id: int) -> bool:
        """Whether a watched update's outcome was committed: handled (or handled before),
        or stored as failed for good. False when it must come again: the webhook then
        answers with an error, so Telegram sends it again.

        Called right after the request's own handling returns (no ``await`` between), so
        the outcome read is that handling's.
        """
        left = self._watchers.pop(update_id, 1) - 1
        if left:
            self._watchers[update_id] = left
            return self._outcomes.get(update_id, False)
        return self._outcomes.pop(update_id, False)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the update's chat, then for a slot; record the update, run the
        handlers in one session, and commit once.

        In that order: an update waiting for its chat holds no slot, so one person's
        burst of messages cannot take every slot while other chats wait.
        """
        if not isinstance(update, Update):
            await coroutine
            return
        try:
            if self._limit == 1:  # PTB's own semaphore lets one update in at a time
                await self._logged(update, coroutine)
            else:
                async with self._in_order(update), self._slots:
                    await self._logged(update, coroutine)
        finally:
            _close_if_unstarted(coroutine)

    async def _logged(self, update: Update, coroutine: Awaitable[Any]) -> None:
        sender = update.effective_user
        durable = False
        try:
            with logs.update_context(update.update_id, sender.id if sender else None):
                # Polling: the durable intake stored and committed the update and knows
                # its row; kept across attempts.
                stored = self._intake.take_stored(update) if self._intake else None
                late = self._intake.take_late(update) if self._intake else None
                attempt = 1
                while True:
                    self._told.pop(update.update_id, None)
                    result = await self._process(update, coroutine, stored, attempt, late)
                    if result != _AGAIN or self._rerun is None:
                        durable = result is True
                        break
                    await asyncio.sleep(RETRY_PAUSES_S[attempt - 1])
                    attempt += 1
                    coroutine = self._rerun(update)
        except Exception as exc:
            _log.exception("update %s could not be processed", update.update_id)
            if update.update_id not in self._told:  # else counted already
                metrics.UPDATE_ERRORS.inc()
            await self._tell_failed(update, exc)  # unless told of this failure already
        finally:
            self._told.pop(update.update_id, None)
            _close_if_unstarted(coroutine)
            if update.update_id in self._watchers:  # a webhook request waits on it
                self._outcomes[update.update_id] = durable

    @contextlib.asynccontextmanager
    async def _in_order(self, update: Update) -> AsyncIterator[None]:
        """Hold ``update``'s chat (or sender) lock: that chat's updates run one at a time."""
        chat = update.effective_chat or update.effective_user
        if chat is None:  # polls and the like: nothing to keep in order with
            yield
            return
        lock, users = self._chat_locks.get(chat.id, (asyncio.Lock(), 0))
        self._chat_locks[chat.id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._chat_locks[chat.id]
            if users == 1:
                del self._chat_locks[chat.id]
            else:
                self._chat_locks[chat.id] = (lock, users - 1)

    def chats_in_hand(self) -> int:
        """How many chats have an update being handled or waiting (for tests)."""
        return len(self._chat_locks)

    async def _process(
        self,
        update: Update,
        coroutine: Awaitable[Any],
        stored: int | None,
        attempt: int,
        late_since: datetime | None = None,
    ) -> bool | str:
        """Handle ``update`` in one session (``stored``: its row, if the intake stored
        it; ``late_since``: when a requeued update first arrived); return whether its
        outcome is committed, or ``_AGAIN`` to try it again."""
        async with self._sessions() as session:
            # Polling: the durable intake (bot/intake.py) stored and committed the update
            # before the updater confirmed it, and knows its row. A webhook update (and
            # one that bypassed the intake) is stored here. On PostgreSQL that is part of
            # the update's own transaction: the webhook is answered only after the
            # commit, so Telegram re-sends it if this process dies first, and a copy
            # re-sent while this one is being handled (another instance, a slow answer)
            # waits on the row and is skipped once this commits: handled and answered
            # once. On SQLite the row is committed first: its one write lock, taken by
            # the insert, would otherwise hold every other chat's update back for the
            # whole of this one (VOY_CONCURRENT_UPDATES).
            inbound_id = stored
            polled = inbound_id is not None  # stored and committed by the intake
            if inbound_id is None:
                inbound_id = await inbox.to_handle(session, update)
                if inbound_id is None:
                    _log.info("update %s was handled before; skipping", update.update_id)
                    metrics.UPDATES_DUPLICATE.inc()
                    return True
                if session.get_bind().dialect.name == "sqlite":
                    await session.commit()

            scope = UpdateScope(session=session, locale=self._default_locale)
            scope.inbound_id = inbound_id
            scope.extra["update_type"] = inbox.update_type(update)
            scope.polled = polled
            scope.late_since = late_since
            scope.chat_id = update.effective_chat.id if update.effective_chat else None
            if self._journals:
                journal = self._journals.pop(inbox.fingerprint(update), None)
                # A requeued update starts afresh: a journal left from before it failed
                # for good (a webhook retry that went elsewhere) is not this handling's.
                if journal is not None and not (late_since is not None and attempt == 1):
                    scope.sent = journal
            scope.attempt = attempt if polled else self._attempts.get(update.update_id, 0) + 1
            try:
                await self._register_sender(session, update, scope)
            except Exception as exc:
                _log.exception("could not register the sender of update %s", update.update_id)
                scope.error = f"registering the sender failed: {type(exc).__name__}"
                scope.transient = transient(exc)
                await self._tell_failed(update, exc)
                return await self._finish(session, scope, update)

            token = scope_var().set(scope)
            try:
                await coroutine
            finally:
                scope_var().reset(token)
            return await self._finish(session, scope, update)

    async def _register_sender(
        self, session: AsyncSession, update: Update, scope: UpdateScope
    ) -> None:
        sender = update.effective_user
        if sender is None or sender.is_bot or not inbox.reads(update):
            return  # a reaction, a member change…: that person never wrote to the bot
        chat = update.effective_chat
        scope.user, scope.is_new_user = await users.touch(
            session,
            telegram_id=sender.id,
            first_name=sender.first_name,
            language_code=sender.language_code,
            default_locale=self._default_locale,
            private=chat is None or chat.type == "private",
        )
        scope.locale = scope.user.locale

    async def _finish(
        self, session: AsyncSession, scope: UpdateScope, update: Update
    ) -> bool | str:
        """Commit the update's work with its "handled" mark; or roll it back and either
        try it again (a passing error) or store it as failed. Return whether the outcome
        is committed, or ``_AGAIN`` (a polled update to try again in place)."""
        kind = scope.extra.get("update_type", "other")
        metrics.UPDATES.labels(kind).inc()
        _log.debug("update handled: %s%s", kind, f" ({scope.error})" if scope.error else "")
        if scope.error is None:
            inbound_id = scope.inbound_id
            assert inbound_id is not None
            try:
                handled = inbox.unquoted(update)
                if await inbox.mark_done(session, inbound_id=inbound_id, payload=handled):
                    await session.commit()
                else:
                    _log.warning("inbound %s was handled elsewhere; rolling back", inbound_id)
                    await session.rollback()
                self._attempts.pop(update.update_id, None)
                return True
            except Exception as exc:
                _log.exception("committing update work failed")
                scope.error = f"commit failed: {type(exc).__name__}"
                scope.transient = transient(exc)
                await self._tell_failed(update, exc)
        metrics.UPDATE_ERRORS.inc()
        self._told.setdefault(update.update_id, set())  # counted: once, whatever follows
        await session.rollback()
        self._attempts.pop(update.update_id, None)
        if self.retry_coming(scope):
            # Not stored as failed: it comes again (a polled update here, in place; a
            # webhook update when Telegram sends it again), so a passing error costs
            # nothing. The work kept after a rollback may fail too (the database is
            # what is failing): that must not stop the retry.
            _log.warning(
                "update %s: passing error (%s); trying again", update.update_id, scope.error
            )
            if not scope.polled:
                self._attempts[update.update_id] = scope.attempt
            if scope.sent:
                self._journals[inbox.fingerprint(update)] = compact(scope.sent)
                while len(self._journals) > _JOURNALS_KEPT:
                    del self._journals[next(iter(self._journals))]
            await self._kept_after_rollback(session, scope)
            return _AGAIN if scope.polled else False
        # A row stored in this transaction went with the rollback: store it again, so the
        # update is kept, with its error, whatever failed. Committed on its own, before
        # the work kept after the rollback: that work failing (the ops alert) must not
        # take the failed mark with it.
        inbound_id = await inbox.to_handle(session, update)
        if inbound_id is None or not await inbox.mark_done(
            session, inbound_id=inbound_id, error=scope.error
        ):
            await session.rollback()
            return True
        await session.commit()
        await self._kept_after_rollback(session, scope)
        return True

    def retry_coming(self, scope: UpdateScope) -> bool:
        """Whether the update failing in ``scope`` will be tried again (a passing error,
        attempts left): the error handler then spares the person an apology."""
        if not scope.transient or scope.attempt >= MAX_ATTEMPTS:
            return False
        return not scope.polled or self._rerun is not None

    async def _kept_after_rollback(self, session: AsyncSession, scope: UpdateScope) -> None:
        """Do and commit the work that outlives a failed update (the ops alert, marking a
        user who blocked the bot); if that fails too, log it and roll it back."""
        try:
            for work in scope.after_rollback:
                try:
                    await work(session)
                except Exception:
                    _log.exception("work kept after a failed update could not be done")
                    await session.rollback()
            if scope.unreachable_user_id is not None:
                await users.mark_unreachable(session, telegram_id=scope.unreachable_user_id)
            await session.commit()
        except Exception:
            _log.exception("work kept after a failed update could not be committed")
            await session.rollback()
