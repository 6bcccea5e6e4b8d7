"""``voy updates``: the updates that failed for good, and queuing them to be handled again.

An update whose handling failed for good (a bug, a refusal that is not passing) is stored
as ``failed`` with the error's type and place, and its sender was asked to send it again
later. Once the cause is fixed, an operator lists them and queues them again; a running
instance (any of several) takes them within ``VOY_REQUEUE_INTERVAL_S`` and handles them,
and the sender is told, in reply to what they sent, that this answer comes late.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from bot.cli_common import fail, in_session, load_settings
from bot.services import inbox
from bot.services.privacy import log_pseudonym

updates_app = typer.Typer(
    help="Updates that failed for good: list them, queue them to be handled again.",
    no_args_is_help=True,
)


@updates_app.command("failed")
def failed_command(
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the updates stored as failed: id, when, kind, sender (as logs name them), error.

    Never the text: the sender is named by the pseudonym the logs use, so the lines can be
    matched with the log, not with a person.
    """
    settings = load_settings()
    rows = asyncio.run(
        in_session(settings, lambda session: inbox.failed(session, limit=limit), write=False)
    )
    if not rows:
        typer.echo("no failed updates")
        return
    key = settings.pseudonym_key()
    for row in rows:
        sender = f"u:{log_pseudonym(row.telegram_user_id, key)}" if row.telegram_user_id else "-"
        at = row.received_at.astimezone(settings.tz).isoformat(timespec="seconds")
        if as_json:
            line = {
                "id": row.id,
                "received_at": at,
                "kind": row.kind,
                "sender": sender,
                "error": row.error,
                "erased": row.erased,
            }
            typer.echo(json.dumps(line, ensure_ascii=False))
        else:
            erased = "  (erased: cannot be retried)" if row.erased else ""
            typer.echo(f"#{row.id}  {at}  {row.kind}  {sender}  {row.error or '-'}{erased}")


@updates_app.command("retry")
def retry_command(
    ids: Annotated[list[int] | None, typer.Argument(help="Ids from `voy updates failed`.")] = None,
    all_failed: Annotated[
        bool, typer.Option("--all", help="Every failed update that can be retried.")
    ] = False,
) -> None:
    """Queue failed updates to be handled again by the running bot.

    Fix the cause first: an update failing again is stored as failed again. A message
    its sender sent again since, and was answered for, is dropped without a word.
    An id named that cannot be queued (not failed, not found, or erased) is named in a
    line on stderr and the command exits 2; the others are queued all the same.
    """
    if bool(ids) == all_failed:
        fail("name the updates to retry by id, or pass --all")
    settings = load_settings()
    report = asyncio.run(
        in_session(
            settings,
            lambda session: inbox.requeue(session, None if all_failed else ids),
            write=True,
        )
    )
    if report.requeued or all_failed:
        typer.echo(
            f"queued {len(report.requeued)} updates again; a running bot takes them within"
            f" {settings.requeue_interval_s:g} s"
        )
    missed = []
    if report.erased:
        missed.append(f"not queued, erased (/forget or retention): {_ids(report.erased)}")
    if report.not_failed:
        missed.append(f"not queued, not failed or not found: {_ids(report.not_failed)}")
    if missed and not all_failed:  # named, so expected to be queued
        fail("; ".join(missed))
    for line in missed:  # --all: the erased ones are skipped by design
        typer.echo(line)


def _ids(ids: list[int]) -> str:
    shown = ", ".join(f"#{i}" for i in ids[:20])
    return shown + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
