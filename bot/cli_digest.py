"""``voy digest``: write a week's digest (summary, chart, CSV) to files, or post it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli_common import fail, in_session, load_settings
from bot.clock import Clock
from bot.config import SUPPORTED_LOCALES
from bot.digest_job import Report, build_report, enqueue_report, latest_due, send_failed_again
from bot.i18n import html_to_plain, translator
from bot.services import org
from bot.services.digest_week import Week

WeekOpt = Annotated[
    str | None,
    typer.Option("--week", help="ISO week, e.g. 2026-W47 (default: last week)."),
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Directory for the four files.")]
SendOpt = Annotated[
    bool, typer.Option("--send", help="Post it to the committee chat through the outbox.")
]
LocaleOpt = Annotated[str | None, typer.Option("--locale", help="zh-Hans, zh-Hant or en.")]


def digest(
    week: WeekOpt = None, out: OutOpt = None, send: SendOpt = False, locale: LocaleOpt = None
) -> None:
    """Compute a week's digest; write digest-<week>.html, .txt, .png and .csv to --out,
    and with --send schedule it for the committee chat (once per week, like the job)."""
    settings = load_settings()
    now = Clock().now()
    try:
        chosen = Week.parse(week) if week else Week.of(now, settings.tz).previous()
    except ValueError as exc:
        fail(str(exc))
    if chosen.bounds(settings.tz)[0] > now:
        fail(f"{chosen.label} has not started yet")
    if send and chosen > latest_due(now, settings):
        # Posting it now would take the week's outbox keys: the full digest would never go.
        fail(
            f"{chosen.label} is not due yet: --send posts only weeks the scheduled job "
            f"would post (the latest is {latest_due(now, settings).label}); "
            "use --out to write this one to files"
        )
    if out is None and not send:
        out = Path(".")
    if locale is not None and locale not in SUPPORTED_LOCALES:
        fail(f"unsupported locale {locale!r}; use one of {', '.join(SUPPORTED_LOCALES)}")
    tr = translator(locale or settings.default_locale, settings.default_locale)

    async def action(session: AsyncSession) -> tuple[Report, int | None, int]:
        report = await build_report(session, week=chosen, now=now, settings=settings, tr=tr)
        if not send:
            return report, None, 0
        chat_id = await org.get_setting(session, "committee_chat_id")
        if chat_id is None:
            fail("no committee chat configured (committee.chat_id in the org file)")
        # The rows already there first: the ones made now are not "queued again".
        again = await send_failed_again(session, chosen, chat_id=int(chat_id), now=now)
        created = await enqueue_report(session, report, chat_id=int(chat_id), now=now)
        return report, created, again

    report, created, again = asyncio.run(in_session(settings, action, write=send))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        stem = f"digest-{chosen.label}"
        (out / f"{stem}.html").write_text(report.summary + "\n", encoding="utf-8")
        (out / f"{stem}.txt").write_text(html_to_plain(report.summary) + "\n", encoding="utf-8")
        (out / report.chart_name).write_bytes(report.chart)
        (out / report.csv_name).write_bytes(report.csv)
        typer.echo(
            f"wrote {stem}.html, {stem}.txt, {report.chart_name}, {report.csv_name} to {out}"
        )
    if created is not None:
        typer.echo(
            f"{chosen.label}: {created} message(s) scheduled for the committee chat"
            if created
            else f"{chosen.label}: already scheduled before; nothing new"
        )
    if again:
        typer.echo(f"{chosen.label}: {again} undelivered message(s) queued again")
