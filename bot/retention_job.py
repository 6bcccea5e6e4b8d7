"""The daily retention job: blank personal text of old closed items, batch by batch."""

from __future__ import annotations

import logging
from datetime import time, timedelta

from bot import leases
from bot.context import Services
from bot.services import retention
from storage.db import unit_of_work

_log = logging.getLogger(__name__)

# Local time of the daily run: the quietest hour.
RUN_AT = time(3, 30)
# At most this many batches a day; the rest waits for tomorrow.
MAX_BATCHES = 200


async def run(services: Services, *, max_batches: int = MAX_BATCHES) -> retention.Purged:
    """Purge in batches, each its own transaction, until a batch comes back short."""
    settings = services.settings
    total = retention.Purged()
    for _ in range(max_batches):
        async with unit_of_work(services.sessions) as session:
            done = await retention.purge(
                session,
                now=services.clock.now(),
                days=settings.retention_days,
                batch=settings.retention_batch,
            )
        for name in ("questions", "wishes", "inbound", "outbox", "conversations"):
            setattr(total, name, getattr(total, name) + getattr(done, name))
        if not done.full(settings.retention_batch):
            break
    if total.total:
        _log.info("retention purged %s", total)
    return total


def register(application: object, services: Services) -> None:
    """Run the purge daily (one job id, so a restart never doubles it); 0 days: never."""
    from telegram.ext import Application

    assert isinstance(application, Application)
    assert application.job_queue is not None
    if services.settings.retention_days <= 0:
        _log.info("retention is off (VOY_RETENTION_DAYS=0): personal text is kept")
        return

    async def job(_context: object) -> None:
        # Several instances: one purges, the others skip (the purge is idempotent). A
        # failure reaches the error handler (logged, ops chat alerted once per window);
        # the job runs again tomorrow all the same.
        await leases.run_exclusive(
            services, "retention", lambda: run(services), ttl=timedelta(hours=1)
        )

    application.job_queue.run_daily(
        job,
        time=RUN_AT.replace(tzinfo=services.settings.tz),
        name="retention",
        job_kwargs={"id": "retention", "replace_existing": True, "max_instances": 1},
    )
