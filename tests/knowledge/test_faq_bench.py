"""Floors on the public faq-bench set and on the starter KB's domain set.

The faq-bench floors sit a little below what the matcher measures (see
``bench/README.md``), so a regression fails the suite; the test skips when the
shared data set is not checked out next to the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge import FaqDoc, baseline_evaluate, evaluate, load_kb_jsonl, load_queries_jsonl

ROOT = Path(__file__).resolve().parents[2]
FAQ_BENCH = ROOT.parent / "shared" / "faq-bench" / "lcqmc-dev"
DATA = ROOT / "knowledge" / "data"


@pytest.fixture(scope="module")
def lcqmc_report() -> dict[str, float]:
    if not (FAQ_BENCH / "faq.jsonl").exists():
        pytest.skip(f"faq-bench not found at {FAQ_BENCH}")
    docs = load_kb_jsonl(FAQ_BENCH / "faq.jsonl")
    queries = load_queries_jsonl(FAQ_BENCH / "queries.jsonl")
    return evaluate(docs, queries)


@pytest.mark.parametrize(
    ("measure", "floor"),
    [
        ("top1", 0.88),  # measured 0.896
        ("top3", 0.975),  # 0.985
        ("auto_precision", 0.90),  # 0.919
        ("auto_coverage", 0.45),  # 0.483
        ("suggest_recall", 0.94),  # 0.961
    ],
)
def test_lcqmc_floor(lcqmc_report: dict[str, float], measure: str, floor: float) -> None:
    assert lcqmc_report[measure] >= floor, lcqmc_report


def test_lcqmc_ceilings(lcqmc_report: dict[str, float]) -> None:
    assert lcqmc_report["oos_auto_answered"] <= 0.10  # measured 0.077
    assert lcqmc_report["build_s"] <= 5.0  # ~0.2 s
    assert lcqmc_report["p50_ms"] <= 10.0  # ~0.4 ms; loose for slow CI machines


def test_starter_domain_floor() -> None:
    faq, eval_set = DATA / "starter_faq.yaml", DATA / "domain_eval.jsonl"
    if not (faq.exists() and eval_set.exists()):
        pytest.skip("starter knowledge base or its eval set not present")
    entries = yaml.safe_load(faq.read_text(encoding="utf-8"))["entries"]
    docs = [
        FaqDoc(e["id"], e["question"], tuple(e.get("alt_questions") or ()), e.get("region"))
        for e in entries
    ]
    queries = load_queries_jsonl(eval_set)
    ours, base = evaluate(docs, queries), baseline_evaluate(docs, queries)
    # New wordings written to be hard for lexical matching: we measure top1 0.70 and
    # top3 0.90 against 0.49 / 0.69 for the baseline; the floors only catch a collapse.
    assert ours["top1"] >= 0.60 and ours["top1"] > base["top1"] + 0.1, ours
    assert ours["top3"] >= 0.80, ours
    assert ours["oos_auto_answered"] <= 0.10, ours
