"""The FAQ store (import, history, learning) and its file formats (YAML, JSONL, CSV)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from knowledge import store
from knowledge.entries import STARTER_FAQ, EntryData, KbFileError, read_entries, write_entries
from knowledge.lint import lint
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work

MINI = Path(__file__).resolve().parents[1] / "data" / "mini_faq.yaml"
runner = CliRunner()


@pytest.mark.parametrize("suffix", ["yaml", "jsonl", "csv"])
def test_every_format_round_trips(tmp_path: Path, suffix: str) -> None:
    entries = read_entries(MINI)
    path = tmp_path / f"kb.{suffix}"
    assert write_entries(path, entries) == len(entries)
    assert read_entries(path) == entries


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.yaml", "entries: [{id: x}]", "question"),
        (
            "a.jsonl",
            '{"id": "' + "x" * 65 + '", "question": "q"}',
            "must be 1-64",
        ),
        ("a.jsonl", '{"id": "a", "question": "q"}\n{"id": "a", "question": "r"}', "duplicate"),
        ("a.jsonl", "{not json", "a.jsonl"),
        ("a.txt", "", "unknown format"),
    ],
)
def test_bad_files_are_explained(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KbFileError, match=message):
        read_entries(path)


def test_lint_finds_what_it_promises() -> None:
    entries = [
        EntryData("a", "怎么转团组织关系？", "ok", ("团费怎么交啊",)),
        EntryData("b", "怎么转团组织关系", "<b>broken"),
        EntryData("c", "团费怎么交？", ""),
        EntryData("d", "西部计划怎么报名", "长" * 4000),
    ]
    kinds = {(issue.kind, issue.entry_id) for issue in lint(entries)}
    assert ("near_duplicate", "a") in kinds
    assert ("closer_elsewhere", "a") in kinds  # 团费怎么交啊 belongs to c
    assert ("bad_html", "b") in kinds
    assert ("empty_answer", "c") in kinds
    assert ("long_answer", "d") in kinds
    assert lint(read_entries(MINI)) == []


def test_starter_faq_is_lint_clean() -> None:
    issues = lint(read_entries(STARTER_FAQ))
    assert not issues, "\n".join(map(str, issues))


async def test_import_versions_history_and_learning(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = create_session_factory(engine)
    entries = read_entries(MINI)
    async with unit_of_work(sessions) as session:
        report = await store.import_entries(session, entries, changed_by="alice")
        assert len(report.created) == len(entries)
        assert await store.current_version(session) == 1
    async with unit_of_work(sessions) as session:
        again = await store.import_entries(session, entries, changed_by="alice")
        assert again.unchanged == len(entries) and await store.current_version(session) == 1
        changed = [
            replace(e, answer="新的答案") if e.id == "league-dues" else e for e in entries[:-1]
        ]
        report = await store.import_entries(
            session, changed, changed_by="bob", deactivate_missing=True
        )
        assert report.updated == ["league-dues"]
        assert report.deactivated == [entries[-1].id]
    async with unit_of_work(sessions) as session:
        assert await store.add_phrasing(
            session, slug="league-dues", text="团费咋交", source="cadre", created_by="c"
        )
        assert not await store.add_phrasing(
            session, slug="league-dues", text="团费 咋交", source="cadre", created_by="c"
        )
        revisions = await store.history(session, "league-dues")
        assert [(r.version, r.changed_by, r.note) for r in revisions] == [
            (1, "alice", "created"),
            (2, "bob", "updated"),
            (3, "c", "phrasing learned (cadre)"),
        ]
        assert revisions[1].snapshot["answer"] == "新的答案"
        assert "团费咋交" in revisions[2].snapshot["alt_questions"]
        exported = await store.export_entries(session, include_inactive=False)
        assert entries[-1].id not in {e.id for e in exported}
    await engine.dispose()


def test_kb_cli_import_export_lint_match(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOY_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["kb", "import", str(MINI)])
    assert result.exit_code == 0 and "6 created" in result.output, result.output
    result = runner.invoke(app, ["kb", "export", str(tmp_path / "out.csv")])
    exported = read_entries(tmp_path / "out.csv")
    assert result.exit_code == 0 and exported == sorted(read_entries(MINI), key=lambda e: e.id)
    assert runner.invoke(app, ["kb", "lint"]).exit_code == 0
    result = runner.invoke(app, ["kb", "match", "几岁可以入团呀"])
    assert result.exit_code == 0 and "band: answer" in result.output
    assert "league-join-age" in result.output.splitlines()[1]
    bad = tmp_path / "bad.yaml"
    bad.write_text("entries: [{id: x, question: q, answer: '<b>'}]", encoding="utf-8")
    result = runner.invoke(app, ["kb", "lint", str(bad)])
    assert result.exit_code == 1 and "bad_html" in result.output


def test_import_refuses_answers_telegram_would_reject(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOY_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "ok", "question": "好问题", "answer": "好答案"}\n'
        '{"id": "broken", "question": "坏问题", "answer": "<b>未闭合 <x>"}\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["kb", "import", str(bad)])
    assert result.exit_code == 2 and "bad_html" in result.output and "broken" in result.output
    exported = tmp_path / "out.jsonl"
    assert runner.invoke(app, ["kb", "export", str(exported)]).exit_code == 0
    assert read_entries(exported) == []  # nothing was imported
