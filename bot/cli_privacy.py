"""``voy privacy``: the data protection officer's view of the personal data access log."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli_common import fail, in_session, load_settings
from bot.rights_ui import tell_holders
from bot.services import access_log, data_forget
from storage.base import utcnow
from storage.models import Cadre, User
from storage.privacy import Erasure

privacy_app = typer.Typer(
    help="Personal data: who was shown whose data; erasures to apply again after a restore.",
    no_args_is_help=True,
)
erasures_app = typer.Typer(
    help="Erasures (/forget) recorded as keys, to apply again after restoring a backup.",
    no_args_is_help=True,
)
privacy_app.add_typer(erasures_app, name="erasures")

# An erasure as an export or a log line gives it: key, time (ISO 8601), secret check.
_LINE = re.compile(
    r"(?<![0-9a-f])([0-9a-f]{64})\s+(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?"
    r"(?:[+-]\d\d:\d\d|Z))\s+([0-9a-f]{8})(?![0-9a-f])"
)


@dataclass
class Line:
    """One showing, as the officer reads it."""

    at: str
    viewer: str
    viewer_telegram_id: int | None
    chat_id: int
    item: str
    purpose: str
    fields: list[str]


async def _lines(session: AsyncSession, telegram_id: int) -> list[Line] | None:
    subject = await session.scalar(select(User).where(User.telegram_id == telegram_id))
    if subject is None:
        return None
    lines = []
    for row in await access_log.of_subject(session, subject.id):
        viewer = await session.get(User, row.viewer_user_id) if row.viewer_user_id else None
        cadre = (
            await session.scalar(select(Cadre).where(Cadre.telegram_id == viewer.telegram_id))
            if viewer is not None
            else None
        )
        name = cadre.name if cadre else viewer.first_name if viewer else "(group)"
        lines.append(
            Line(
                at=row.created_at.isoformat(timespec="seconds"),
                viewer=name,
                viewer_telegram_id=viewer.telegram_id if viewer else None,
                chat_id=row.viewer_chat_id,
                item=f"{row.item_kind}:{row.item_id}",
                purpose=row.purpose,
                fields=list(row.fields or []),
            )
        )
    return lines


@privacy_app.command("access-log")
def access_log_command(
    user: Annotated[int, typer.Option("--user", help="The person's Telegram id.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List who among staff was shown this person's data, oldest first."""
    lines = asyncio.run(
        in_session(load_settings(), lambda session: _lines(session, user), write=False)
    )
    if lines is None:
        fail(f"no user with Telegram id {user} (a forgotten person is no longer findable by it)")
    if not lines:
        typer.echo(f"nobody was shown personal data of Telegram user {user}")
        return
    for line in lines:
        if as_json:
            typer.echo(json.dumps(asdict(line), ensure_ascii=False))
        else:
            who = f"{line.viewer} ({line.viewer_telegram_id or line.chat_id})"
            fields = ",".join(line.fields)
            typer.echo(f"{line.at}  {who}  {line.item}  {line.purpose}  [{fields}]")


@erasures_app.command("export")
def erasures_export() -> None:
    """Print every recorded erasure (key, time, secret check), oldest first: keep the
    list outside the database (a restore takes the database's record back with it)."""
    settings = load_settings()
    if warning := settings.pseudonym_secret_warning():
        typer.echo(f"voy: warning: {warning}", err=True)
    check = data_forget.secret_check(settings.pseudonym_key())

    async def rows(session: AsyncSession) -> list[Erasure]:
        return list(
            await session.scalars(select(Erasure).order_by(Erasure.forgotten_at, Erasure.key))
        )

    erasures = asyncio.run(in_session(settings, rows, write=False))
    typer.echo("# voy privacy erasures: key, erased at (UTC), secret check")
    for erasure in erasures:
        recorded = data_forget.Recorded(erasure.key, erasure.forgotten_at, erasure.secret_check)
        typer.echo(data_forget.erasure_line(recorded))
    if foreign := sum(e.secret_check != check for e in erasures):
        typer.echo(
            f"voy: warning: {foreign} erasures were made under another VOY_PSEUDONYM_SECRET "
            "(or, with it unset, another bot token): reapply needs that secret for them",
            err=True,
        )


def _read_erasures(text: str, check: str) -> tuple[list[data_forget.Recorded], int]:
    """The erasures a text names (an export, or log lines), and how many were made
    under another secret."""
    found, foreign = [], 0
    for key, at, their_check in _LINE.findall(text):
        if their_check != check:
            foreign += 1
            continue
        found.append(data_forget.Recorded(key, datetime.fromisoformat(at), their_check))
    return found, foreign


@erasures_app.command("reapply")
def erasures_reapply(
    source: Annotated[
        str,
        typer.Argument(
            help="An export of erasures, or log lines naming them; - reads standard input."
        ),
    ],
) -> None:
    """Erase again everyone an erasure names whose account is from before it (after
    restoring a backup from before their /forget), tell whoever held their open items,
    and record every erasure."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror or exc}")
    settings = load_settings()
    secret = settings.pseudonym_key()
    erasures, foreign = _read_erasures(text, data_forget.secret_check(secret))
    if not erasures and not foreign:
        fail(f"no erasures in {source} (lines of a key, a time and a secret check)")

    async def act(session: AsyncSession) -> data_forget.Reapplied:
        now = utcnow()
        done = await data_forget.reapply(
            session,
            erasures=erasures,
            now=now,
            default_locale=settings.default_locale,
            secret=secret,
        )
        for report in done.erased:
            await tell_holders(session, report, settings=settings, now=now)
        return done

    done = (
        asyncio.run(in_session(settings, act, write=True)) if erasures else data_forget.Reapplied()
    )
    typer.echo(
        f"{len(erasures)} erasures read: {len(done.erased)} people erased again, "
        f"{done.recorded} newly recorded, {done.returned} kept (they came back after)"
    )
    if done.staff:
        ids = ", ".join(map(str, done.staff))
        typer.echo(
            f"not erased, staff now (the committee decides; remove the role, then run "
            f"again): user id {ids}"
        )
    if foreign:
        fail(
            f"{foreign} erasures were made under another VOY_PSEUDONYM_SECRET (or, with it "
            "unset, another bot token) and name nobody now: run again with that secret"
        )
