"""The digest job on two instances at once: one summary, one chart, one CSV per week."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot import digest_job, digest_render
from bot.app import build_application
from bot.clock import Clock
from bot.config import Settings
from bot.i18n import translator
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.outbox import OutboxMessage
from tests.bot.test_digest import NOW, WEEK, fill
from tests.conftest import make_settings, prepare

OPS_CHAT = -1009000000002


async def _two_instances_post_once(url: str) -> None:
    await prepare(url, kb_file=None)
    engine = create_engine(url)
    async with unit_of_work(create_session_factory(engine)) as session:
        await fill(session)
    await engine.dispose()
    apps = []
    for _ in range(2):
        clock = Clock()
        clock.set(NOW)  # Monday 09:00: last week's digest is due
        apps.append(build_application(make_settings(url), clock=clock))
    try:
        created = await asyncio.gather(
            *(digest_job.post_if_due(app.bot_data.services) for app in apps)
        )
        again = await digest_job.post_if_due(apps[0].bot_data.services)
        async with apps[0].bot_data.services.sessions() as session:
            keys = sorted(await session.scalars(select(OutboxMessage.dedupe_key)))
    finally:
        for app in apps:
            await app.bot_data.services.engine.dispose()
    assert sum(created) == 3 and again == 0
    assert keys == ["digest:2026-W47:chart", "digest:2026-W47:csv", "digest:2026-W47:summary"]


@pytest.mark.sqlite_only("the postgres twin below covers this run")
async def test_two_instances_post_once_on_sqlite(sqlite_file_url: str) -> None:
    await _two_instances_post_once(sqlite_file_url)


async def test_two_instances_post_once_on_postgres(postgres_url: str) -> None:
    await _two_instances_post_once(postgres_url)


async def test_a_bot_down_over_posting_times_posts_what_it_missed(sqlite_url: str) -> None:
    """Posted W46 on Monday 16 Nov, down from Sunday 22 Nov to Tuesday 1 Dec: back, it
    posts W47, then W48, one a check; without a digest posted before, only the latest
    due week is considered (never a pilot's weeks from before the committee's chat)."""
    from datetime import datetime

    from tests.bot.test_digest import TZ

    await prepare(sqlite_url, kb_file=None)
    engine = create_engine(sqlite_url)
    async with unit_of_work(create_session_factory(engine)) as session:
        await fill(session)  # questions and wishes in 2026-W46 and W47
    await engine.dispose()
    clock = Clock()
    app = build_application(make_settings(sqlite_url, digest_enabled=True), clock=clock)
    services = app.bot_data.services

    async def keys() -> list[str]:
        async with services.sessions() as session:
            found = await session.scalars(
                select(OutboxMessage.dedupe_key).where(OutboxMessage.kind == digest_job.KIND)
            )
            return sorted({key.rsplit(":", 1)[0] for key in found})

    back = datetime(2026, 12, 1, 10, 0, tzinfo=TZ)
    try:
        async with services.sessions() as session:  # nothing posted yet: the latest only
            chosen = await digest_job.week_to_post(session, now=back, settings=services.settings)
        assert chosen is not None and chosen.label == "2026-W48"
        clock.set(datetime(2026, 11, 16, 10, 0, tzinfo=TZ))
        assert await digest_job.post_if_due(services) == 3
        clock.set(back)  # after the outage
        for posted in (["W46", "W47"], ["W46", "W47", "W48"], ["W46", "W47", "W48"]):
            await digest_job.post_if_due(services)
            assert await keys() == [f"digest:2026-{week}" for week in posted]
    finally:
        await services.engine.dispose()


# Job.run outside a running application: PTB warns that it awaits the error task itself.
@pytest.mark.filterwarnings("ignore:Tasks created via:UserWarning")
async def test_a_failing_digest_alerts_ops_once_per_window(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The job used to log and swallow every error, so ops never heard of a failed digest.
    await prepare(sqlite_url, kb_file=None)
    clock = Clock()
    clock.set(NOW)
    settings = make_settings(sqlite_url, digest_enabled=True, ops_chat_id=OPS_CHAT)
    app = build_application(settings, clock=clock)

    async def broken(_services: object) -> int:
        raise RuntimeError("the digest broke")

    monkeypatch.setattr(digest_job, "post_if_due", broken)
    services = app.bot_data.services
    digest_job.register(app, services)  # as post_init does, without the Bot API calls
    assert app.job_queue is not None
    (job,) = app.job_queue.get_jobs_by_name("weekly_digest")
    try:
        for _ in range(3):  # three failing checks in one window: one alert
            await job.run(app)  # errors go to the application's error handler
        async with services.sessions() as session:
            alerts = list(
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.kind == "ops_alert")
                )
            )
    finally:
        await services.engine.dispose()
    assert len(alerts) == 1
    assert alerts[0].chat_id == OPS_CHAT
    assert "RuntimeError" in alerts[0].text and "the digest broke" not in alerts[0].text


async def test_the_chart_is_drawn_off_the_event_loop(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # matplotlib takes a noticeable fraction of a second: on the loop it stalls every update.
    await prepare(sqlite_url, kb_file=None)
    engine = create_engine(sqlite_url)
    sessions = create_session_factory(engine)
    async with unit_of_work(sessions) as session:
        await fill(session)
    on_loop: list[bool] = []
    draw = digest_render.chart

    def watched(*args: object) -> bytes:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return draw(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(digest_job, "chart", watched)
    settings = Settings(database_url=sqlite_url, timezone="Asia/Shanghai")
    try:
        async with sessions() as session:
            report = await digest_job.build_report(
                session, week=WEEK, now=NOW, settings=settings, tr=translator("en")
            )
    finally:
        await engine.dispose()
    assert on_loop == [False]
    assert report.chart.startswith(b"\x89PNG")
