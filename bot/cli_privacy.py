"""``voy privacy``: the data protection officer's view of the personal data access log."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli_common import fail, in_session, load_settings
from bot.services import access_log
from storage.models import Cadre, User

privacy_app = typer.Typer(help="Personal data: who was shown whose data.", no_args_is_help=True)


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
