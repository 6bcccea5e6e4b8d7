"""Smoke test of the benchmark on a small synthetic knowledge base."""

from __future__ import annotations

from bench.bench_matcher import bench_one, format_table
from bench.synthetic_kb import make_kb, make_queries


def test_synthetic_kb_is_deterministic_and_distinct() -> None:
    docs = make_kb(300)
    assert docs == make_kb(300)
    assert len({d.entry_id for d in docs}) == 300
    assert len({d.question for d in docs}) == 300
    assert all(2 <= len(d.alt_questions) <= 4 for d in docs)
    queries = make_queries(docs, 50)
    assert queries == make_queries(docs, 50)
    assert {g for _, g in queries} <= {d.entry_id for d in docs}


def test_bench_one_reports_both_sides() -> None:
    row = bench_one(200, 40)
    assert row["size"] == 200 and row["queries"] == 40
    assert row["matcher"]["top1"] >= 0.9
    assert row["matcher"]["p99_ms"] >= row["matcher"]["p50_ms"] > 0
    assert row["matcher"]["tracemalloc_peak_mb"] > 0
    assert 0 <= row["extractOne"]["top1"] <= 1
    assert "extractOne" not in format_table([row]).splitlines()[2]
