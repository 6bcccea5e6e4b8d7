"""`voy digest`: a week's summary, chart and CSV to files; --send through the outbox, once."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.outbox import OutboxMessage
from tests.bot.test_digest import PHONE, fill
from tests.conftest import prepare

runner = CliRunner()


async def _filled(url: str) -> None:
    await prepare(url, kb_file=None)
    engine = create_engine(url)
    async with unit_of_work(create_session_factory(engine)) as session:
        await fill(session)
    await engine.dispose()


async def _outbox(url: str) -> list[tuple[str, str, int]]:
    engine = create_engine(url)
    async with create_session_factory(engine)() as session:
        rows = await session.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.method, OutboxMessage.chat_id)
        )
        found = [tuple(row) for row in rows]
    await engine.dispose()
    return found  # type: ignore[return-value]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'digest.sqlite3'}"
    monkeypatch.setenv("VOY_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    asyncio.run(_filled(url))
    return url


def test_writes_summary_chart_and_csv(db: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["digest", "--week", "2026-W46", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "digest-2026-W46.csv",
        "digest-2026-W46.html",
        "digest-2026-W46.png",
        "digest-2026-W46.txt",
    ]
    html = (out / "digest-2026-W46.html").read_text(encoding="utf-8")
    assert "<b>📊 青年之声周报 2026-W46</b>" in html
    text = (out / "digest-2026-W46.txt").read_text(encoding="utf-8")
    assert "<b>" not in text and "新提问 1（上周 0，+1）" in text  # Q11 only
    assert (out / "digest-2026-W46.png").read_bytes().startswith(b"\x89PNG")
    rows = list(csv.DictReader(io.StringIO((out / "digest-2026-W46.csv").read_text("utf-8-sig"))))
    # Q11, and wishes W3 (submitted on the 9th); W2 was submitted in W45.
    assert [(r["kind"], r["state"]) for r in rows] == [("question", "routed"), ("wish", "claimed")]
    assert PHONE not in (out / "digest-2026-W46.csv").read_text("utf-8-sig")


def test_english_summary(db: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["digest", "--week", "2026-W46", "--out", str(tmp_path), "--locale", "en"]
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "digest-2026-W46.txt").read_text(encoding="utf-8")
    assert "Voice of Youth weekly digest 2026-W46" in text


def test_send_enqueues_once(db: str) -> None:
    first = runner.invoke(app, ["digest", "--week", "2026-W46", "--send"])
    assert first.exit_code == 0, first.output
    assert "3 message(s) scheduled" in first.output
    assert "queued again" not in first.output  # nothing was undelivered before
    again = runner.invoke(app, ["digest", "--week", "2026-W46", "--send"])
    assert again.exit_code == 0 and "already scheduled" in again.output
    rows = sorted(asyncio.run(_outbox(db)))
    assert rows == [
        ("digest:2026-W46:chart", "photo", -1001000000001),
        ("digest:2026-W46:csv", "document", -1001000000001),
        ("digest:2026-W46:summary", "message", -1001000000001),
    ]


@pytest.mark.parametrize("week", ["2026-47", "2026-W60", "next"])
def test_bad_week_is_refused(db: str, week: str) -> None:
    result = runner.invoke(app, ["digest", "--week", week])
    assert result.exit_code == 2
    assert "week" in result.output


@pytest.mark.parametrize("week", ["0001-W01", "9999-W52", "1999-W52", "2101-W01"])
def test_week_outside_the_supported_years_is_refused(db: str, week: str) -> None:
    # Such weeks used to reach bounds()/previous() and end in an uncaught OverflowError.
    result = runner.invoke(app, ["digest", "--week", week, "--out", "."])
    assert result.exit_code == 2, result.output
    assert "2000" in result.output and "2100" in result.output


class _Wednesday:
    """The clock on Wednesday 25 November 2026, 10:00 in Shanghai (week 2026-W48)."""

    def now(self) -> datetime:
        return datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize("week", ["2026-W48", "2026-W47"])
def test_send_refused_for_a_week_not_due_yet(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, week: str
) -> None:
    # On Wednesday of W48, W48 is half over; with the digest due on Friday, W47 is not due
    # either. Sending would take the week's outbox keys and the full digest never posts.
    monkeypatch.setenv("VOY_DIGEST_WEEKDAY", "5")
    monkeypatch.setattr("bot.cli_digest.Clock", _Wednesday)
    result = runner.invoke(app, ["digest", "--week", week, "--send"])
    assert result.exit_code == 2
    assert "not due" in result.output and week in result.output
    assert asyncio.run(_outbox(db)) == []
    written = runner.invoke(app, ["digest", "--week", week, "--out", str(tmp_path / "out")])
    assert written.exit_code == 0, written.output
    assert (tmp_path / "out" / f"digest-{week}.html").exists()


def test_send_allowed_for_the_due_week(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.cli_digest.Clock", _Wednesday)  # Monday 09:00 has passed
    result = runner.invoke(app, ["digest", "--week", "2026-W47", "--send"])
    assert result.exit_code == 0, result.output
    assert len(asyncio.run(_outbox(db))) == 3


def test_send_again_requeues_what_could_not_be_delivered(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The committee chat was wrong and the week's messages failed: once it is fixed,
    `--send` queues them again to the chat now configured (their keys stay taken, so
    scheduling the week anew would not). Nothing else is touched, and what was sent
    stays sent."""
    from sqlalchemy import update

    monkeypatch.setattr("bot.cli_digest.Clock", _Wednesday)
    assert runner.invoke(app, ["digest", "--week", "2026-W47", "--send"]).exit_code == 0

    async def mark(states: dict[str, str]) -> None:
        engine = create_engine(db)
        async with unit_of_work(create_session_factory(engine)) as session:
            for key, state in states.items():
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.dedupe_key == key)
                    .values(state=state, chat_id=-1, attempts=6, last_error="Chat not found")
                )
        await engine.dispose()

    async def states() -> dict[str, tuple[str, int, int]]:
        engine = create_engine(db)
        async with create_session_factory(engine)() as session:
            rows = await session.execute(
                select(
                    OutboxMessage.dedupe_key,
                    OutboxMessage.state,
                    OutboxMessage.chat_id,
                    OutboxMessage.attempts,
                )
            )
            found = {key: (state, chat, attempts) for key, state, chat, attempts in rows}
        await engine.dispose()
        return found

    asyncio.run(
        mark(
            {
                "digest:2026-W47:summary": "failed",
                "digest:2026-W47:chart": "unreachable",
                "digest:2026-W47:csv": "sent",
            }
        )
    )
    result = runner.invoke(app, ["digest", "--week", "2026-W47", "--send"])
    assert result.exit_code == 0, result.output
    assert "already scheduled" in result.output and "2 undelivered" in result.output
    found = asyncio.run(states())
    committee = found["digest:2026-W47:summary"][1]
    assert committee != -1
    assert found == {
        "digest:2026-W47:summary": ("pending", committee, 0),
        "digest:2026-W47:chart": ("pending", committee, 0),
        "digest:2026-W47:csv": ("sent", -1, 6),
    }
