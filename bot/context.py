"""The typed callback context: services, the update's DB session, user and translator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram.ext import Application, CallbackContext, ExtBot

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import Translator, translator
from bot.metrics import Metrics
from bot.ops_alerts import DirectAlerts
from bot.polling_watch import PollingWatch
from bot.webhook_watch import WebhookWatch
from knowledge.index import KnowledgeIndex
from storage.models import User


@dataclass
class Services:
    """Long-lived objects built once by the composition root."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    knowledge: KnowledgeIndex
    clock: Clock
    metrics: Metrics = field(default_factory=Metrics)
    # For long reads (the digest): on SQLite an engine on aiosqlite's thread, so they do
    # not hold the event loop (storage/inline_sqlite); None: ``engine``.
    report_engine: AsyncEngine | None = None
    # The job leases this instance took, each with the time it last wrote: a shutdown
    # releases these and no others (bot.leases.release_all).
    leases_taken: dict[str, datetime] = field(default_factory=dict)
    # Ops alerts sent straight through the Bot API (the database is down; bot.outage).
    direct_alerts: DirectAlerts = field(default_factory=DirectAlerts)
    # An outage of the database as this instance sees it (bot.outage): when it began
    # (None while the database answers), when a failure was last reported
    # (time.monotonic), and whether an alert went out for it.
    database_down_since: datetime | None = None
    database_failed_at: float | None = None
    database_alerted: bool = False
    # Whether another instance polls the same token (bot.polling_watch).
    polling: PollingWatch = field(default_factory=PollingWatch)
    # Whether Telegram can deliver to this instance's webhook (bot.webhook_watch).
    webhook: WebhookWatch = field(default_factory=WebhookWatch)
    # Start-up tasks that run beside the bot (bot.app; a reference keeps each alive
    # until it ends): cancelled before the bot shuts down (:meth:`cancel_background`).
    background: set[asyncio.Task[None]] = field(default_factory=set)

    async def cancel_background(self) -> None:
        """Cancel the start-up tasks still running and wait for them to end: after the
        shutdown they would call the Bot API through closed clients (a failed start logged
        one failure per staff chat before its real error)."""
        tasks, self.background = self.background, set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def report_sessions(self) -> async_sessionmaker[AsyncSession]:
        """The session factory for long, read-only work."""
        if self.report_engine is None:
            return self.sessions
        return async_sessionmaker(self.report_engine, expire_on_commit=False)


class BotData:
    """``application.bot_data``: holds the services (PTB creates it without arguments)."""

    services: Services


@dataclass
class UpdateScope:
    """What the edge opened for one update: its session and who sent it."""

    session: AsyncSession
    user: User | None = None
    is_new_user: bool = False
    inbound_id: int | None = None
    locale: str = "zh-Hans"
    error: str | None = None
    # The error is passing (a timeout, a dropped connection): try the update again.
    transient: bool = False
    # Stored and committed by the polling intake (else a webhook's, stored by the edge).
    polled: bool = False
    # Which attempt at the update this is (a webhook update's counted across requests).
    attempt: int = 1
    # A failed update an operator queued again: when it first arrived (its sender is
    # told before the answer; handlers/errors.late_notice).
    late_since: datetime | None = None
    # The update's chat, if it has one.
    chat_id: int | None = None
    # What the update's handling sent, across its attempts (bot.api_bot.Sent), and which
    # of those this attempt paired with its own sends: a retry does not send them again.
    sent: list[Any] = field(default_factory=list)
    replayed: set[int] = field(default_factory=set)
    # Set when Telegram refused to deliver to this user; the edge records it.
    unreachable_user_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Work that must survive the rollback of a failed update (the ops alert): the edge
    # runs these in the update's session after rolling back, and commits them.
    after_rollback: list[Callable[[AsyncSession], Awaitable[Any]]] = field(default_factory=list)


_SCOPE: ContextVar[UpdateScope | None] = ContextVar("voy_update_scope", default=None)


def current_scope() -> UpdateScope | None:
    """Return the scope of the update being handled in this task, if any."""
    return _SCOPE.get()


def scope_var() -> ContextVar[UpdateScope | None]:
    """Return the context variable the edge sets (for the edge only)."""
    return _SCOPE


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """Callback context with typed access to what handlers need."""

    @property
    def services(self) -> Services:
        """The application's long-lived services."""
        return self.bot_data.services

    @property
    def scope(self) -> UpdateScope:
        """The current update's scope; only valid while handling an update."""
        scope = current_scope()
        if scope is None:
            raise RuntimeError("no update scope: called outside update handling")
        return scope

    @property
    def session(self) -> AsyncSession:
        """The update's DB session (committed by the edge, never by a handler)."""
        return self.scope.session

    @property
    def user(self) -> User:
        """The DB user who sent the update."""
        user = self.scope.user
        if user is None:
            raise RuntimeError("update has no user")
        return user

    @property
    def tr(self) -> Translator:
        """Translator in the sender's locale."""
        scope = current_scope()
        locale = (
            scope.user.locale if scope and scope.user else self.services.settings.default_locale
        )
        return translator(locale, self.services.settings.default_locale)


BotApplication = Application[
    ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], BotData, Any
]
