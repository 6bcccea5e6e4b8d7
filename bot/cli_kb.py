"""``voy kb``: import, export, lint, try and evaluate the knowledge base."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli_common import fail, in_session, load_settings
from bot.config import Settings
from bot.services import org
from knowledge import store
from knowledge.entries import EntryData, KbFileError, read_entries, write_entries
from knowledge.lint import lint

kb_app = typer.Typer(help="The FAQ knowledge base.", no_args_is_help=True)


def _read(path: Path) -> list[EntryData]:
    try:
        return read_entries(path)
    except KbFileError as exc:
        fail(str(exc))


def _org_topics(settings: Settings, *, file_only: bool) -> set[str] | None:
    """The organisation's topic codes in the database, or None without an org loaded. A
    file linted where no SQLite database exists yet is linted without them: the check
    must not create a database, nor fail for the lack of one."""
    url = make_url(settings.database_url)
    in_a_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if file_only and in_a_file and not Path(str(url.database)).exists():
        typer.echo(
            f"voy: topics not checked: no database at {url.database} to read the "
            "organisation's from (set VOY_DATABASE_URL, or run `voy db upgrade` and "
            "`voy org load`)",
            err=True,
        )
        return None
    return asyncio.run(in_session(settings, org.topic_codes, write=False)) or None


@kb_app.command("import")
def kb_import(
    path: Path,
    replace: Annotated[
        bool, typer.Option(help="Deactivate entries that are not in the file.")
    ] = False,
    by: Annotated[str, typer.Option(help="Who is making the change (kept in history).")] = "",
) -> None:
    """Create or update entries from a YAML, JSONL or CSV file (matched by id).

    Nothing is imported while an answer would break the bot or an active entry names a
    topic the organisation does not have (once an org is loaded).
    """
    entries = _read(path)
    changed_by = by or f"import:{path.name}"

    async def import_file(session: AsyncSession) -> store.ImportReport:
        topics = await org.topic_codes(session)
        return await store.import_entries(
            session,
            entries,
            changed_by=changed_by,
            deactivate_missing=replace,
            known_topics=topics or None,  # without an org loaded, topics cannot be checked
        )

    try:
        report = asyncio.run(in_session(load_settings(), import_file, write=True))
    except store.InvalidEntries as exc:
        fail(f"{path}: nothing imported; fix these answers first:\n{exc}")
    except store.UnknownTopics as exc:
        fail(
            f"{path}: nothing imported; these topics are not the organisation's (fix them, "
            f"or add them to the org file and `voy org load` it):\n{exc}"
        )
    typer.echo(
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{report.unchanged} unchanged, {len(report.deactivated)} deactivated"
    )


@kb_app.command("export")
def kb_export(
    path: Path,
    active_only: Annotated[bool, typer.Option(help="Leave out inactive entries.")] = False,
) -> None:
    """Write the knowledge base to a YAML, JSONL or CSV file."""
    entries = asyncio.run(
        in_session(
            load_settings(),
            lambda session: store.export_entries(session, include_inactive=not active_only),
            write=False,
        )
    )
    try:
        count = write_entries(path, entries)
    except KbFileError as exc:
        fail(str(exc))
    typer.echo(f"wrote {count} entries to {path}")


@kb_app.command("lint")
def kb_lint(
    path: Annotated[
        Path | None, typer.Argument(help="A KB file; without it, the database's KB.")
    ] = None,
) -> None:
    """Report near-duplicates, phrasings closer to another entry, bad answers, and the
    topics the organisation does not have (all that `voy kb import` would refuse)."""
    settings = load_settings()
    if path is not None:
        entries = _read(path)
    else:
        entries = asyncio.run(in_session(settings, store.export_entries, write=False))
    # Checked as `voy kb import` checks them: against the organisation in the database
    # (without an org loaded, they cannot be).
    issues = lint(entries, known_topics=_org_topics(settings, file_only=path is not None))
    for issue in issues:
        typer.echo(str(issue))
    refused = sum(issue.refused_by_import for issue in issues)
    typer.echo(
        f"{len(entries)} entries, {len(issues)} issues"
        + (f" ({refused} would stop `voy kb import`)" if refused else "")
    )
    if issues:
        raise typer.Exit(1)


@kb_app.command("match")
def kb_match(
    text: str,
    region: Annotated[str | None, typer.Option(help="The asker's region code.")] = None,
    kb: Annotated[Path | None, typer.Option(help="Match against a KB file instead.")] = None,
    limit: int = 3,
) -> None:
    """Print the top hits for TEXT, their scores and the band the bot would choose."""
    from knowledge.matcher import Matcher
    from knowledge.types import FaqDoc

    settings = load_settings()
    entries = (
        _read(kb)
        if kb
        else asyncio.run(
            in_session(
                settings,
                lambda session: store.export_entries(session, include_inactive=False),
                write=False,
            )
        )
    )
    docs = [FaqDoc(e.id, e.question, e.alt_questions, e.region) for e in entries if e.active]
    result = Matcher(docs, thresholds=settings.thresholds()).match(
        text, limit=limit, region=region
    )
    questions = {e.id: e.question for e in entries}
    typer.echo(f"band: {result.band}  (normalised query: {result.query})")
    for hit in result.hits:
        question = questions.get(hit.entry_id, "")
        typer.echo(
            f"{hit.confidence:6.3f} {hit.score:6.1f}  {hit.entry_id}  {question}"
            f"  [matched: {hit.matched_text}]"
        )


@kb_app.command("eval")
def kb_eval(
    kb: Annotated[Path, typer.Option(help="FAQ file in faq-bench JSONL format.")],
    queries: Annotated[Path, typer.Option(help="Labelled queries in faq-bench JSONL format.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
    baseline: Annotated[
        bool, typer.Option(help="Also run plain rapidfuzz extractOne, side by side.")
    ] = True,
) -> None:
    """Evaluate the matcher with the bot's thresholds on any labelled query set."""
    from knowledge.evaluation import (
        baseline_evaluate,
        evaluate,
        format_report,
        load_kb_jsonl,
        load_queries_jsonl,
    )
    from knowledge.types import FaqDoc

    # faq-bench JSONL is read leniently (any id); YAML and CSV use the KB file reader.
    if kb.suffix.lower() in (".yaml", ".yml", ".csv"):
        docs = [FaqDoc(e.id, e.question, e.alt_questions, e.region) for e in _read(kb)]
    else:
        docs = load_kb_jsonl(kb)
    labelled = load_queries_jsonl(queries)
    ours = evaluate(docs, labelled, thresholds=load_settings().thresholds())
    theirs = baseline_evaluate(docs, labelled) if baseline else None
    if as_json:
        typer.echo(json.dumps({"matcher": ours, "baseline": theirs}, ensure_ascii=False, indent=2))
    else:
        typer.echo(format_report(ours, theirs))
