"""Evaluation measures on a hand-made set, computed by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest

from knowledge import (
    FaqDoc,
    Hit,
    LabelledQuery,
    MatchResult,
    Thresholds,
    baseline_evaluate,
    evaluate,
    format_report,
    load_kb_jsonl,
    load_queries_jsonl,
)
from knowledge.evaluation import MEASURES

DOCS = [FaqDoc("a", "怎么入团"), FaqDoc("b", "团费怎么交"), FaqDoc("c", "志愿时长怎么查")]


class ScriptedMatcher:
    """Returns a fixed band and ranking per query, so every measure is known."""

    SCRIPT: ClassVar[dict[str, tuple[str, list[str]]]] = {
        "q1": ("answer", ["a", "b", "c"]),  # in scope, answered right
        "q2": ("answer", ["b", "a"]),  # in scope (gold a), answered wrong; a in top 3
        "q3": ("suggest", ["c", "b", "a"]),  # in scope (gold b), suggested: b offered
        "q4": ("route", ["b"]),  # in scope (gold c), routed; c nowhere
        "q5": ("answer", ["a"]),  # out of scope, answered (wrong)
        "q6": ("suggest", ["c"]),  # out of scope, suggested
        "q7": ("route", []),  # out of scope, routed
    }

    def __init__(self, docs: list[FaqDoc], thresholds: Thresholds) -> None:
        self.n = len(docs)

    def __len__(self) -> int:
        return self.n

    def match(self, query: str, limit: int = 3, region: str | None = None) -> MatchResult:
        band, ids = self.SCRIPT.get(query, ("route", []))
        hits = [Hit(e, 50.0, 0.5, e) for e in ids[:limit]]
        return MatchResult(band=band, hits=hits)  # type: ignore[arg-type]


QUERIES = [
    LabelledQuery("q1", "a"),
    LabelledQuery("q2", "a"),
    LabelledQuery("q3", "b"),
    LabelledQuery("q4", "c"),
    LabelledQuery("q5", None, "hard_negative"),
    LabelledQuery("q6", None, "unseen_intent"),
    LabelledQuery("q7", None, "unseen_intent"),
]


def test_measures_by_hand() -> None:
    report = evaluate(DOCS, QUERIES, matcher_factory=ScriptedMatcher)
    # In scope: q1..q4. top1: q1 only -> 1/4. top3: q1, q2 (a 2nd), q3 (b 2nd) -> 3/4.
    assert report["top1"] == pytest.approx(1 / 4)
    assert report["top3"] == pytest.approx(3 / 4)
    # Answered: q1 (right), q2 (wrong), q5 (out of scope) -> precision 1/3.
    assert report["auto_precision"] == pytest.approx(1 / 3)
    # Answered right over in scope: q1 -> 1/4.
    assert report["auto_coverage"] == pytest.approx(1 / 4)
    # Gold answered or offered: q1 (answered), q3 (suggested) -> 2/4.
    assert report["suggest_recall"] == pytest.approx(2 / 4)
    # Out of scope answered: q5 of q5..q7 -> 1/3.
    assert report["oos_auto_answered"] == pytest.approx(1 / 3)
    assert (report["n_queries"], report["n_in_scope"], report["n_oos"]) == (7, 4, 3)
    assert report["n_entries"] == 3
    assert report["p99_ms"] >= report["p50_ms"] >= 0.0
    assert set(MEASURES) <= set(report)


def test_baseline_by_hand() -> None:
    queries = [
        LabelledQuery("怎么入团", "a"),  # exact: right
        LabelledQuery("团费怎么交", "c"),  # exact match on b, but gold says c: wrong
        LabelledQuery("退团", None, "hard_negative"),
    ]
    report = baseline_evaluate(DOCS, queries)
    assert report["top1"] == pytest.approx(1 / 2)
    assert report["top3"] == pytest.approx(2 / 2)  # only 3 entries: all in the top 3
    assert report["auto_precision"] == pytest.approx(1 / 3)  # it answers everything
    assert report["auto_coverage"] == pytest.approx(1 / 2)
    assert report["suggest_recall"] == pytest.approx(1 / 2)
    assert report["oos_auto_answered"] == pytest.approx(1.0)


def test_real_matcher_on_a_tiny_set() -> None:
    queries = [LabelledQuery("团費怎麼交？", "b"), LabelledQuery("明天天气怎么样", None)]
    report = evaluate(DOCS, queries)
    assert report["top1"] == 1.0
    assert report["oos_auto_answered"] == 0.0
    assert report["build_s"] >= 0.0


def test_loaders_and_report(tmp_path: Path) -> None:
    faq = tmp_path / "faq.jsonl"
    rows = [
        {"id": "x", "question": "怎么入团", "answer": "...", "alt_questions": ["如何入团"]},
        {"id": "y", "question": "团费", "answer": "...", "alt_questions": [], "region": "d-a"},
    ]
    faq.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n")
    docs = load_kb_jsonl(faq)
    assert docs == [FaqDoc("x", "怎么入团", ("如何入团",)), FaqDoc("y", "团费", (), "d-a")]
    queries_path = tmp_path / "queries.jsonl"
    queries_path.write_text(
        '{"query": "入团", "gold_id": "x", "oos_type": null}\n'
        '{"query": "天气", "gold_id": null, "oos_type": "unseen_intent"}\n'
    )
    queries = load_queries_jsonl(queries_path)
    assert queries == [LabelledQuery("入团", "x"), LabelledQuery("天气", None, "unseen_intent")]
    table = format_report(evaluate(docs, queries), baseline_evaluate(docs, queries))
    lines = table.splitlines()
    assert "matcher" in lines[0] and "baseline" in lines[0]
    assert [ln.split()[0] for ln in lines[1:10]] == list(MEASURES)
    assert "baseline" not in format_report(evaluate(docs, queries)).splitlines()[0]
