"""`voy privacy`: the data protection officer lists who saw a person's data, and applies
erasures again after a backup is restored."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from bot.cli import app
from bot.data import DEMO_ORG
from bot.rights_ui import WITHDRAWN
from bot.services import access_log, data_forget, lifecycle, questions, users
from storage.base import utcnow
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import Cadre, User
from storage.outbox import OutboxMessage
from storage.privacy import Erasure
from storage.questions import Question

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


async def _youth(session: AsyncSession, telegram_id: int, name: str) -> User:
    youth, _ = await users.touch(
        session,
        telegram_id=telegram_id,
        first_name=name,
        language_code="zh",
        default_locale="zh-Hans",
    )
    return youth


async def _seed(url: str, *, views: int) -> None:
    engine = create_engine(url)
    try:
        async with unit_of_work(create_session_factory(engine)) as session:
            youth = await _youth(session, YOUTH, "小明")
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


SECRET = "a-long-random-pseudonym-secret-for-tests-0123456789"


async def _seed_question(url: str, *, later: bool = False) -> None:
    """A young person with a question a cadre holds, and another young person (``later``:
    the first one, back after an erasure, asks again)."""
    engine = create_engine(url)
    try:
        async with unit_of_work(create_session_factory(engine)) as session:
            youth = await _youth(session, YOUTH, "小明")
            if not later:
                await _youth(session, YOUTH + 1, "小红")
            question = await questions.create(
                session, user=youth, text="我家住在东湖路8号，想问助学金", now=utcnow()
            )
            lifecycle.fire(question, "route", actor="system", now=utcnow())
            cadre = await session.scalar(select(Cadre).where(Cadre.telegram_id == 2001))
            assert cadre is not None
            lifecycle.fire(question, "assign", actor="system", now=utcnow())
            question.assigned_cadre_id = cadre.id
    finally:
        await engine.dispose()


async def _forget(url: str, telegram_id: int) -> None:
    engine = create_engine(url)
    try:
        async with unit_of_work(create_session_factory(engine)) as session:
            user = await users.get_by_telegram_id(session, telegram_id)
            assert user is not None
            await data_forget.forget(
                session, user=user, now=utcnow(), default_locale="zh-Hans", secret=SECRET
            )
    finally:
        await engine.dispose()


async def _state(url: str) -> tuple[list[int], list[tuple[str, str]], list[int], int]:
    """Telegram ids of the people, the questions' texts and states, the chats told that
    an item was withdrawn, and the erasures recorded."""
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            people = list(await session.scalars(select(User.telegram_id).order_by(User.id)))
            asked = [(q.text, q.status) for q in await session.scalars(select(Question))]
            told = list(
                await session.scalars(
                    select(OutboxMessage.chat_id).where(OutboxMessage.kind == WITHDRAWN)
                )
            )
            erasures = len(list(await session.scalars(select(Erasure.key))))
            return people, asked, told, erasures
    finally:
        await engine.dispose()


def test_erasures_are_applied_again_after_a_restore(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backup from before a /forget is restored: the person is back, until the
    erasures kept outside the database (the export, or the log) are applied again."""
    monkeypatch.setenv("VOY_PSEUDONYM_SECRET", SECRET)
    live = tmp_path / "privacy.sqlite3"
    asyncio.run(_seed_question(db))
    backup = tmp_path / "backup.sqlite3"
    shutil.copy(live, backup)
    asyncio.run(_forget(db, YOUTH))
    exported = runner.invoke(app, ["privacy", "erasures", "export"])
    assert exported.exit_code == 0, exported.output
    header, line = exported.output.strip().splitlines()
    assert header.startswith("#")
    key, at, check = line.split()
    assert key == data_forget.erasure_key(YOUTH, SECRET) and str(YOUTH) not in line
    assert at.startswith(utcnow().date().isoformat()) and at.endswith("+00:00")
    assert check == data_forget.secret_check(SECRET) and check not in SECRET
    keys = tmp_path / "erasures.txt"
    keys.write_text(exported.output, encoding="utf-8")

    shutil.copy(backup, live)  # the restore
    people, asked, _, erasures = asyncio.run(_state(db))
    assert YOUTH in people and asked[0][1] == "assigned" and erasures == 0

    done = runner.invoke(app, ["privacy", "erasures", "reapply", str(keys)])
    assert done.exit_code == 0, done.output
    assert "1 erasures read: 1 people erased again, 1 newly recorded, 0 kept" in done.output
    people, asked, told, erasures = asyncio.run(_state(db))
    assert YOUTH not in people and YOUTH + 1 in people
    assert asked[0][1] == "withdrawn" and "东湖路" not in asked[0][0]
    assert told == [2001] and erasures == 1  # the cadre holding it is told
    # Recorded as it was first made, not as of this run (a later reapply from an older
    # backup would otherwise take someone who came back since for someone erased after).
    after = runner.invoke(app, ["privacy", "erasures", "export"]).output
    assert after.strip().splitlines()[1] == line

    # Again, from a log line on standard input: nobody left to erase, nothing new.
    log = f"2026-11-18 10:00:01 INFO bot.services.data_forget erasure recorded: {line}\n"
    again = runner.invoke(app, ["privacy", "erasures", "reapply", "-"], input=log)
    assert again.exit_code == 0, again.output
    assert "1 erasures read: 0 people erased again, 0 newly recorded" in again.output


def test_someone_who_came_back_after_their_erasure_is_kept(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They used /forget, came back and asked again; the backup is from after that. The
    erasure names their Telegram id, but their account now is a new one: it stays."""
    monkeypatch.setenv("VOY_PSEUDONYM_SECRET", SECRET)
    asyncio.run(_seed_question(db))
    asyncio.run(_forget(db, YOUTH))
    exported = runner.invoke(app, ["privacy", "erasures", "export"]).output
    asyncio.run(_seed_question(db, later=True))  # back, with a new question
    keys = tmp_path / "erasures.txt"
    keys.write_text(exported, encoding="utf-8")
    done = runner.invoke(app, ["privacy", "erasures", "reapply", str(keys)])
    assert done.exit_code == 0, done.output
    assert "0 people erased again, 0 newly recorded, 1 kept" in done.output
    people, asked, _, _ = asyncio.run(_state(db))
    assert YOUTH in people
    assert [status for _, status in asked] == ["withdrawn", "assigned"]


def test_erasures_of_another_secret_are_refused(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys made under another secret (or a token revoked since, with none set) name
    nobody: applying them did nothing and said all was well."""
    monkeypatch.setenv("VOY_PSEUDONYM_SECRET", SECRET)
    asyncio.run(_seed_question(db))
    asyncio.run(_forget(db, YOUTH))
    keys = tmp_path / "erasures.txt"
    keys.write_text(runner.invoke(app, ["privacy", "erasures", "export"]).output)
    monkeypatch.setenv("VOY_PSEUDONYM_SECRET", SECRET[::-1])
    done = runner.invoke(app, ["privacy", "erasures", "reapply", str(keys)])
    assert done.exit_code == 2
    assert "1 erasures were made under another VOY_PSEUDONYM_SECRET" in done.output
    # Exported after the secret changed: still marked with the secret they were made
    # under (and the export says so), so the reapply refuses them as before.
    exported = runner.invoke(app, ["privacy", "erasures", "export"])
    assert "1 erasures were made under another" in exported.stderr
    keys.write_text(exported.stdout)
    again = runner.invoke(app, ["privacy", "erasures", "reapply", str(keys)])
    assert again.exit_code == 2 and "made under another" in again.output


def test_erasures_reapply_refuses_a_file_without_keys(db: str, tmp_path: Path) -> None:
    empty = tmp_path / "nothing.txt"
    empty.write_text("no keys here\n", encoding="utf-8")
    result = runner.invoke(app, ["privacy", "erasures", "reapply", str(empty)])
    assert result.exit_code == 2 and "no erasures in" in result.output
    missing = runner.invoke(app, ["privacy", "erasures", "reapply", str(tmp_path / "gone")])
    assert missing.exit_code == 2 and "cannot read" in missing.output
