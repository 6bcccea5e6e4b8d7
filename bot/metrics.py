"""Prometheus metrics: counters the bot bumps, gauges read from the outbox at scrape time.

The counters are module-level and registered in no global registry: each Application
builds its own :class:`Metrics`, whose registry holds these counters plus its own outbox
gauges. Two Applications in one process (the tests) then share counters, which is what a
process-wide counter means, without clashing on registration.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import (
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.outbox import STATE_PENDING, STATE_SENDING, OutboxMessage

_log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

UPDATES = Counter(
    "voy_updates_total", "Updates handled, by Telegram update type.", ["type"], registry=None
)
UPDATES_DUPLICATE = Counter(
    "voy_updates_duplicate_total", "Updates skipped as redeliveries.", registry=None
)
UPDATE_ERRORS = Counter(
    "voy_update_errors_total", "Updates whose handling failed and was rolled back.", registry=None
)
ERRORS = Counter(
    "voy_errors_total",
    "Errors reported to the error handler, by exception type.",
    ["error"],
    registry=None,
)
MATCHES = Counter(
    "voy_matcher_band_total",
    "Questions by matcher band (answer, suggest, route).",
    ["band"],
    registry=None,
)
DELIVERIES = Counter(
    "voy_outbox_deliveries_total",
    "Outbox send attempts by outcome (sent, retried, unreachable, failed).",
    ["outcome"],
    registry=None,
)
WEBHOOK_REFUSED = Counter(
    "voy_webhook_refused_total", "Webhook requests refused, by reason.", ["reason"], registry=None
)
DATABASE_UNREACHABLE = Counter(
    "voy_database_unreachable_total",
    "Updates, jobs and getUpdates calls that failed because the database was out of reach.",
    registry=None,
)
POLLING_CONFLICTS = Counter(
    "voy_polling_conflicts_total",
    "getUpdates calls ended by 409 Conflict (another instance polling the same token).",
    registry=None,
)
_SHARED = (
    UPDATES,
    UPDATES_DUPLICATE,
    UPDATE_ERRORS,
    ERRORS,
    MATCHES,
    DELIVERIES,
    WEBHOOK_REFUSED,
    DATABASE_UNREACHABLE,
    POLLING_CONFLICTS,
)


class OutboxGauges(Collector):
    """Outbox depth and lag, as read by :meth:`refresh` for this scrape (called before
    each), and whether that read worked.

    A read that fails (the database out of reach) leaves depth and lag out of the
    exposition rather than repeat the last values read: a still picture of the outbox
    would look healthy to an alert on the lag. ``voy_outbox_up`` says which it is, as
    Prometheus' guide to exporters has an ``up`` gauge say a scrape of the application
    failed while the exporter's other metrics still hold.
    """

    def __init__(self) -> None:
        self.pending: int | None = None
        self.lag_s: float | None = None

    async def refresh(self, sessions: async_sessionmaker[AsyncSession], now: datetime) -> None:
        """Read the number of undelivered rows and the age of the oldest due one; on
        failure, forget the last ones read, then raise."""
        self.pending = self.lag_s = None
        async with sessions() as session:
            pending = int(
                await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.state.in_((STATE_PENDING, STATE_SENDING)))
                )
                or 0
            )
            oldest = await session.scalar(
                select(func.min(OutboxMessage.due_at)).where(
                    OutboxMessage.state.in_((STATE_PENDING, STATE_SENDING)),
                    OutboxMessage.due_at <= now,
                )
            )
        self.pending = pending
        self.lag_s = max(0.0, (now - _aware(oldest)).total_seconds()) if oldest else 0.0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield whether the outbox was read, and its two gauges when it was."""
        read = self.pending is not None and self.lag_s is not None
        yield GaugeMetricFamily(
            "voy_outbox_up",
            "1 if this scrape read the outbox from the database, 0 if it could not "
            "(voy_outbox_pending and voy_outbox_lag_seconds are then left out).",
            value=1 if read else 0,
        )
        if not read:
            return
        yield GaugeMetricFamily(
            "voy_outbox_pending", "Outbox rows not yet delivered.", value=self.pending
        )
        yield GaugeMetricFamily(
            "voy_outbox_lag_seconds",
            "Age of the oldest due outbox row not yet delivered (0 when none is due).",
            value=self.lag_s,
        )


class WebhookGauges(Collector):
    """What Telegram's getWebhookInfo said at the last check (bot.webhook_watch); nothing
    before the first check, and in polling mode."""

    def __init__(self) -> None:
        self.pending: int | None = None
        self.last_error: float | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield the two gauges, once read."""
        if self.pending is None:
            return
        yield GaugeMetricFamily(
            "voy_webhook_pending_updates",
            "Updates waiting at Telegram for delivery to the webhook (getWebhookInfo).",
            value=self.pending,
        )
        yield GaugeMetricFamily(
            "voy_webhook_last_error_timestamp",
            "Unix time of Telegram's last failed delivery to the webhook (0: none).",
            value=self.last_error or 0,
        )


def _aware(moment: datetime | str) -> datetime:
    # min() over a SQLite column may come back naive, or as text: the column's type
    # decorator does not apply to an aggregate.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Metrics:
    """One Application's registry: the shared counters and its outbox gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        for collector in (*_SHARED, PROCESS_COLLECTOR):  # + memory, CPU, open files
            self.registry.register(collector)
        self.outbox = OutboxGauges()
        self.registry.register(self.outbox)
        self.webhook = WebhookGauges()
        self.registry.register(self.webhook)

    async def render(self, sessions: async_sessionmaker[AsyncSession], now: datetime) -> bytes:
        """Refresh the gauges and return the exposition text."""
        try:
            await self.outbox.refresh(sessions, now)
        except Exception:  # a scrape must answer even while the database is down
            _log.warning("could not read the outbox for metrics", exc_info=True)
        return generate_latest(self.registry)
