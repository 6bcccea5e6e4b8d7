"""`voy privacy access-log`: the data protection officer lists who saw a person's data."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.data import DEMO_ORG
from bot.services import access_log, users
from storage.db import create_engine, create_session_factory, unit_of_work

runner = CliRunner()
YOUTH = 5_551_001


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'privacy.sqlite3'}"
    monkeypatch.setenv("VOY_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["org", "load", str(DEMO_ORG)]).exit_code == 0
    return url


async def _seed(url: str, *, views: int) -> None:
    engine = create_engine(url)
    try:
        async with unit_of_work(create_session_factory(engine)) as session:
            youth, _ = await users.touch(
                session,
                telegram_id=YOUTH,
                first_name="小明",
                language_code="zh",
                default_locale="zh-Hans",
            )
            wang = await users.get_by_telegram_id(session, 2001)
            assert wang is not None
            for number in range(views):
                await access_log.record(
                    session,
                    viewer_chat_id=2001,
                    viewer_user_id=wang.id,
                    subject_user_id=youth.id,
                    item=("question", 7 + number),
                    purpose=access_log.IDENTITY_SHARED_CARD,
                    fields=["first_name"],
                    now=datetime(2026, 11, 18, 2, number, tzinfo=UTC),
                )
    finally:
        await engine.dispose()


def test_lists_who_saw_whose_data(db: str) -> None:
    asyncio.run(_seed(db, views=2))
    result = runner.invoke(app, ["privacy", "access-log", "--user", str(YOUTH)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("2026-11-18T02:00:00+00:00  王老师 (2001)  question:7")
    assert "identity_shared_card  [first_name]" in lines[0] and "question:8" in lines[1]
    as_json = runner.invoke(app, ["privacy", "access-log", "--user", str(YOUTH), "--json"])
    first = json.loads(as_json.output.splitlines()[0])
    assert first["viewer"] == "王老师" and first["purpose"] == "identity_shared_card"


def test_nobody_saw_and_unknown_person(db: str) -> None:
    asyncio.run(_seed(db, views=0))
    result = runner.invoke(app, ["privacy", "access-log", "--user", str(YOUTH)])
    assert result.exit_code == 0 and "nobody was shown" in result.output
    unknown = runner.invoke(app, ["privacy", "access-log", "--user", "42"])
    assert unknown.exit_code == 2 and "no user with Telegram id 42" in unknown.output
