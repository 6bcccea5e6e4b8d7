"""``voy cadre``: add, list, send away, remove and invite cadres on the configured database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from bot.cli_common import fail, in_session, load_settings
from bot.clock import Clock
from bot.services import cadres

cadre_app = typer.Typer(help="League cadres who answer questions.", no_args_is_help=True)
_WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}

RegionOpt = Annotated[list[str], typer.Option("--region", help="Region code (repeatable).")]
TopicOpt = Annotated[list[str], typer.Option("--topic", help="Topic code (repeatable).")]
DutyOpt = Annotated[
    list[str], typer.Option("--duty", help="Duty day, mon..sun or 1..7 (repeatable).")
]


def _days(values: list[str]) -> list[int]:
    try:
        return [_WEEKDAYS.get(v.lower()[:3]) or int(v) for v in values]
    except ValueError:
        fail(f"not a weekday: {values} (use mon..sun or 1..7)")


def _run(action, *, write: bool = True):  # type: ignore[no-untyped-def]
    try:
        return asyncio.run(in_session(load_settings(), action, write=write))
    except cadres.CadreError as exc:
        fail(str(exc))


@cadre_app.command("add")
def add(
    telegram_id: int,
    name: Annotated[str, typer.Option(help="Name shown to colleagues.")],
    region: RegionOpt = [],  # noqa: B006 - typer reads list defaults, never mutates them
    topic: TopicOpt = [],  # noqa: B006
    duty: DutyOpt = [],  # noqa: B006
    capacity: int = 10,
) -> None:
    """Add a cadre (or update one); they get questions from now on."""
    days = _days(duty)
    cadre = _run(
        lambda session: cadres.add(
            session,
            telegram_id=telegram_id,
            name=name,
            regions=region,
            topics=topic,
            duty_days=days,
            capacity=capacity,
            source="cli",
            locale=load_settings().default_locale,
        )
    )
    typer.echo(f"cadre {cadre.name} ({telegram_id}) added")


@cadre_app.command("list")
def list_cadres() -> None:
    """List cadres: regions, topics, duty days, load and capacity, away or removed."""
    rows = _run(cadres.listing, write=False)
    tz = load_settings().tz
    now = Clock().now()
    for row in rows:
        c = row.cadre
        state = (
            "removed"
            if not c.active
            else f"away until {c.away_until.astimezone(tz):%Y-%m-%d}"
            if c.away_until and c.away_until > now  # an absence over is no absence
            else "active"
        )
        typer.echo(
            f"{c.telegram_id:>12}  {c.name}  regions={','.join(r.code for r in c.regions) or '-'}"
            f"  topics={','.join(t.code for t in c.topics) or '-'}"
            f"  duty={','.join(map(str, c.duty_days)) or '-'}  load={row.open_load}/{c.capacity}"
            f"  {state}  ({c.source})"
        )
    if not rows:
        typer.echo("no cadres")


@cadre_app.command("away")
def away(
    telegram_id: int,
    until: Annotated[str | None, typer.Option(help="Back on this date (YYYY-MM-DD).")] = None,
    back: Annotated[bool, typer.Option(help="Back now.")] = False,
) -> None:
    """Mark a cadre away (routing skips them) until a date, or back now."""
    if back == (until is not None):
        fail("give either --until YYYY-MM-DD or --back")
    moment = None
    if until is not None:
        try:
            day = datetime.strptime(until, "%Y-%m-%d")
        except ValueError:
            fail(f"not a date: {until} (use YYYY-MM-DD)")
        tz = load_settings().tz
        today = Clock().now().astimezone(tz).date()
        if day.date() <= today:  # away until then is not away at all
            fail(f"{until} is not after today ({today}): give the day they are back, or --back")
        moment = day.replace(tzinfo=tz).astimezone(UTC)
    cadre = _run(lambda session: cadres.set_away(session, telegram_id=telegram_id, until=moment))
    typer.echo(f"cadre {cadre.name} is {'back' if moment is None else f'away until {until}'}")


@cadre_app.command("remove")
def remove(telegram_id: int) -> None:
    """Deactivate a cadre (their history stays)."""
    cadre = _run(lambda session: cadres.remove(session, telegram_id=telegram_id))
    typer.echo(f"cadre {cadre.name} removed")


@cadre_app.command("invite")
def invite(
    name: Annotated[str, typer.Option(help="Name shown to colleagues.")],
    region: RegionOpt = [],  # noqa: B006
    topic: TopicOpt = [],  # noqa: B006
    duty: DutyOpt = [],  # noqa: B006
    capacity: int = 10,
    days: Annotated[int, typer.Option(min=1, help="How many days the invite stays valid.")] = 7,
) -> None:
    """Make a one-time invite link; whoever opens it becomes this cadre."""
    settings = load_settings()
    duty_days = _days(duty)
    token = _run(
        lambda session: cadres.invite(
            session,
            name=name,
            regions=region,
            topics=topic,
            duty_days=duty_days,
            capacity=capacity,
            now=datetime.now(UTC),
            valid_for=timedelta(days=days),
        )
    )
    username = settings.bot_username or "<your_bot>"
    typer.echo(f"https://t.me/{username}?start={token}")
    typer.echo(f"(or send the bot: /start {token})  valid for {days} days, once")
