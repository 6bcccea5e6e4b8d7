"""The voy CLI: clear refusals, migrations and the org file, on VOY_DATABASE_URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from bot.cli import app
from bot.data import DEMO_ORG
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import INBOUND_FAILED, InboundMessage

runner = CliRunner()


def _count_cadres(url: str) -> int:
    async def count() -> int:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return int(
                    (await connection.exec_driver_sql("select count(*) from cadres")).scalar_one()
                )
        finally:
            await engine.dispose()

    return asyncio.run(count())


def test_run_without_token_says_so_in_one_line(
    db_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOY_TELEGRAM_TOKEN", "changeme")
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2
    assert "VOY_TELEGRAM_TOKEN is missing or a placeholder" in result.output
    assert "Traceback" not in result.output


def test_run_refuses_an_unmigrated_database(db_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOY_TELEGRAM_TOKEN", "123456:real-looking")
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2
    assert "voy db upgrade" in result.output


def test_db_upgrade_and_org_load_act_on_the_configured_database(db_env: str) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["db", "current"]).output.strip() != "empty"
    result = runner.invoke(app, ["org", "load", str(DEMO_ORG)])
    assert result.exit_code == 0, result.output
    assert "loaded 8 regions, 10 topics, 3 cadres" in result.output
    assert _count_cadres(db_env) == 3
    assert runner.invoke(app, ["db", "downgrade", "base"]).exit_code == 0
    assert runner.invoke(app, ["db", "current"]).output.strip() == "empty"


def test_org_load_reports_a_bad_file(db_env: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("cadres: [{telegram_id: 1, name: x, topics: [nothing]}]", encoding="utf-8")
    result = runner.invoke(app, ["org", "load", str(bad)])
    assert result.exit_code == 2
    assert "unknown codes" in result.output


def _failed_update(url: str) -> int:
    """Store one update as failed for good, as the bot does; return its row id."""

    async def store() -> int:
        engine = create_engine(url)
        try:
            async with unit_of_work(create_session_factory(engine)) as session:
                row = InboundMessage(
                    update_id=7001,
                    fingerprint="test:7001",
                    telegram_user_id=1001,
                    chat_id=1001,
                    kind="text",
                    text="团费怎么交？",
                    payload={"update_id": 7001},
                    status=INBOUND_FAILED,
                    error="RuntimeError at handlers/x.py:1",
                )
                session.add(row)
                await session.flush()
                return row.id
        finally:
            await engine.dispose()

    return asyncio.run(store())


def test_updates_retry_of_an_id_not_failed_says_so_and_exits_2(db_env: str) -> None:
    """`voy updates retry 99999` (a typo, or an update handled meanwhile) printed
    "queued 0 updates again" and exited 0: a script or an operator took it as done."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["updates", "retry", "99999"])
    assert result.exit_code == 2, result.output
    assert "not queued, not failed or not found: #99999" in result.output
    assert "queued 0" not in result.output
    # Named with one that can be retried: that one is queued all the same, and the
    # command still says what it did not find.
    failed = _failed_update(db_env)
    result = runner.invoke(app, ["updates", "retry", str(failed), "99999"])
    assert result.exit_code == 2, result.output
    assert "queued 1 updates again" in result.output and "#99999" in result.output
    assert "no failed updates" in runner.invoke(app, ["updates", "failed"]).output


def test_kb_import_refuses_topics_the_organisation_does_not_have(
    db_env: str, tmp_path: Path
) -> None:
    """An entry's topic becomes the topic of a question asked from it, and only cadres
    of that topic are offered it: a topic the org does not have (a typo, a topic the org
    file dropped) sends those questions past every cadre to the committee's pool. The
    import said nothing; only `voy kb lint` found it."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["org", "load", str(DEMO_ORG)]).exit_code == 0
    faq = tmp_path / "faq.yaml"
    faq.write_text(
        "entries:\n"
        "  - {id: a, topic: leage, question: 团费怎么交？, answer: 按月缴纳。}\n"
        "  - {id: b, topic: leage, question: 怎么转团关系？, answer: 在智慧团建转接。}\n"
        "  - {id: c, topic: jobs, question: 哪里找实习？, answer: 看青年之家公告。}\n"
        "  - {id: d, topic: league, question: 几岁能入团？, answer: 年满十四周岁。}\n"
        "  - {id: e, topic: gone, question: 旧问题？, answer: 旧答案。, active: false}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["kb", "import", str(faq)])
    assert result.exit_code == 2, result.output
    assert "nothing imported" in result.output
    assert "topic 'leage': 2 entries (a, b)" in result.output
    assert "topic 'jobs': 1 entry (c)" in result.output
    assert "gone" not in result.output  # an inactive entry routes nothing
    exported = tmp_path / "out.yaml"
    assert "wrote 0 entries" in runner.invoke(app, ["kb", "export", str(exported)]).output

    faq.write_text(faq.read_text(encoding="utf-8").replace("leage", "league"), encoding="utf-8")
    faq.write_text(faq.read_text(encoding="utf-8").replace("jobs", "employment"), encoding="utf-8")
    result = runner.invoke(app, ["kb", "import", str(faq)])
    assert result.exit_code == 0, result.output
    assert "5 created" in result.output


def test_kb_lint_reports_what_kb_import_refuses_and_nothing_it_accepts(
    db_env: str, tmp_path: Path
) -> None:
    """An entry without a topic is any cadre's (routing offers its questions to whoever
    covers the asker's region), and an inactive one routes nothing: import takes both,
    but lint of the database's FAQ called each an "unknown_topic" (``topic None``) and
    failed. Lint of the file said nothing of the topic import then refused."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["org", "load", str(DEMO_ORG)]).exit_code == 0
    faq = tmp_path / "faq.yaml"
    faq.write_text(
        "entries:\n"
        "  - {id: n, question: 几岁能入团？, answer: 年满十四周岁。}\n"
        "  - {id: a, topic: leage, question: 团费怎么交？, answer: 按月缴纳。}\n"
        "  - {id: e, topic: gone, question: 旧问题？, answer: 旧答案。, active: false}\n",
        encoding="utf-8",
    )
    lint = runner.invoke(app, ["kb", "lint", str(faq)])
    refused = runner.invoke(app, ["kb", "import", str(faq)])
    assert refused.exit_code == 2 and "topic 'leage': 1 entry (a)" in refused.output
    assert "these topics are not the organisation's" in refused.output
    assert lint.exit_code == 1, lint.output
    (issue,) = [line for line in lint.output.splitlines() if line.startswith("unknown_topic")]
    assert issue.split(None, 2) == [
        "unknown_topic",
        "a:",
        "topic 'leage' is not the organisation's",
    ]
    assert "1 would stop `voy kb import`" in lint.output

    faq.write_text(faq.read_text(encoding="utf-8").replace("leage", "league"), encoding="utf-8")
    lint = runner.invoke(app, ["kb", "lint", str(faq)])
    assert lint.exit_code == 0 and "3 entries, 0 issues" in lint.output, lint.output
    assert runner.invoke(app, ["kb", "import", str(faq)]).exit_code == 0
    lint = runner.invoke(app, ["kb", "lint"])  # the database's FAQ, as imported
    assert lint.exit_code == 0 and "3 entries, 0 issues" in lint.output, lint.output


def test_db_upgrade_names_the_revision_it_reached(db_env: str) -> None:
    """It printed "database upgraded to head", whichever revision that was, and the same
    when there was nothing to do."""
    script = ScriptDirectory.from_config(migrate.alembic_config(db_env))
    head = script.get_current_head()
    assert head is not None and head != "head"
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    first = runner.invoke(app, ["db", "upgrade", "--revision", previous])
    assert first.exit_code == 0 and first.output.strip() == f"database upgraded to {previous}"
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0
    assert result.output.strip() == f"database upgraded from {previous} to {head}"
    again = runner.invoke(app, ["db", "upgrade"])
    assert again.exit_code == 0 and again.output.strip() == f"database already at {head}"
    down = runner.invoke(app, ["db", "downgrade", previous])
    assert down.exit_code == 0
    assert down.output.strip() == f"database downgraded from {head} to {previous}"


def test_kb_lint_of_a_file_needs_no_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KB file is linted where no database was set up: without the topic check (said
    on stderr), and without creating a database file as a side effect."""
    database = tmp_path / "var" / "voy.sqlite3"
    monkeypatch.setenv("VOY_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    faq = tmp_path / "faq.yaml"
    faq.write_text(
        "entries:\n  - {id: a, topic: leage, question: 团费怎么交？, answer: 按月缴纳。}\n",
        encoding="utf-8",
    )
    lint = runner.invoke(app, ["kb", "lint", str(faq)])
    assert lint.exit_code == 0, lint.output
    assert "1 entries, 0 issues" in lint.stdout and "topics not checked" in lint.stderr
    assert not database.exists()
