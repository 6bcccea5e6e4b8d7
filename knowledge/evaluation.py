"""Measure a matcher on a labelled query set (the faq-bench format).

The measures follow ``faq-bench/README.md``. Over in-scope queries (``gold_id`` set):
``top1``, ``top3``, ``auto_coverage`` (answered automatically with the gold entry) and
``suggest_recall`` (gold answered automatically or offered as a choice). Over every
automatically answered query: ``auto_precision`` (an out-of-scope query answered counts
as wrong). Over out-of-scope queries: ``oos_auto_answered``. Cost: ``build_s``,
``p50_ms`` and ``p99_ms`` of one warm query.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from rapidfuzz import fuzz, process

from knowledge.matcher import Matcher
from knowledge.types import FaqDoc, MatchResult, Thresholds

__all__ = [
    "MEASURES",
    "LabelledQuery",
    "SupportsMatch",
    "baseline_evaluate",
    "evaluate",
    "format_report",
    "load_kb_jsonl",
    "load_queries_jsonl",
]

MEASURES = (
    "top1",
    "top3",
    "auto_precision",
    "auto_coverage",
    "suggest_recall",
    "oos_auto_answered",
    "build_s",
    "p50_ms",
    "p99_ms",
)
_COUNTS = ("n_queries", "n_in_scope", "n_oos", "n_entries")


class SupportsMatch(Protocol):
    """What :func:`evaluate` needs of a matcher (lets tests and experiments plug in)."""

    def match(self, query: str, limit: int = 3, region: str | None = None) -> MatchResult:
        """Match one query."""
        ...

    def __len__(self) -> int:
        """Number of entries."""
        ...


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    """A query with the entry that answers it (``None``: a person should answer)."""

    query: str
    gold_id: str | None
    oos_type: str | None = None


def _read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Parse a JSON-lines file, skipping blank lines."""
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_kb_jsonl(path: str | Path) -> list[FaqDoc]:
    """Load a faq-bench ``faq.jsonl`` (``id``, ``question``, ``alt_questions``, ``region``).

    Args:
        path: File to read.

    Returns:
        One :class:`FaqDoc` per line.
    """
    return [
        FaqDoc(
            entry_id=str(row["id"]),
            question=str(row["question"]),
            alt_questions=tuple(str(a) for a in row.get("alt_questions") or ()),
            region=row.get("region"),
        )
        for row in _read_jsonl(path)
    ]


def load_queries_jsonl(path: str | Path) -> list[LabelledQuery]:
    """Load a faq-bench ``queries.jsonl`` (``query``, ``gold_id``, ``oos_type``).

    Args:
        path: File to read.

    Returns:
        One :class:`LabelledQuery` per line.
    """
    return [
        LabelledQuery(str(row["query"]), row.get("gold_id"), row.get("oos_type"))
        for row in _read_jsonl(path)
    ]


@dataclass(slots=True)
class _Tally:
    """Counts accumulated over the queries."""

    top1: int = 0
    top3: int = 0
    answered: int = 0
    answered_right: int = 0
    suggested_right: int = 0
    oos_answered: int = 0


def _summary(
    tally: _Tally,
    queries: Sequence[LabelledQuery],
    n_entries: int,
    build_s: float,
    latencies: list[float],
) -> dict[str, float]:
    """Turn the tally into the report dictionary."""
    n_in = sum(1 for q in queries if q.gold_id is not None)
    n_oos = len(queries) - n_in
    ms = np.asarray(latencies or [0.0]) * 1000.0

    def share(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    return {
        "top1": share(tally.top1, n_in),
        "top3": share(tally.top3, n_in),
        "auto_precision": share(tally.answered_right, tally.answered),
        "auto_coverage": share(tally.answered_right, n_in),
        "suggest_recall": share(tally.answered_right + tally.suggested_right, n_in),
        "oos_auto_answered": share(tally.oos_answered, n_oos),
        "build_s": build_s,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "n_queries": len(queries),
        "n_in_scope": n_in,
        "n_oos": n_oos,
        "n_entries": n_entries,
    }


def evaluate(
    docs: Sequence[FaqDoc],
    queries: Sequence[LabelledQuery],
    *,
    thresholds: Thresholds | None = None,
    matcher_factory: Callable[[Sequence[FaqDoc], Thresholds], SupportsMatch] | None = None,
) -> dict[str, float]:
    """Build a :class:`Matcher` on ``docs`` and measure it on ``queries``.

    Args:
        docs: The knowledge base.
        queries: Labelled queries.
        thresholds: Band cut-offs (defaults to :class:`Thresholds`).
        matcher_factory: Builds the matcher (for experiments); defaults to
            ``Matcher(docs, thresholds=...)``.

    Returns:
        The measures of :data:`MEASURES` plus ``n_queries``, ``n_in_scope``, ``n_oos``
        and ``n_entries``.
    """
    thresholds = thresholds or Thresholds()
    started = time.perf_counter()
    matcher: SupportsMatch
    if matcher_factory is None:
        matcher = Matcher(docs, thresholds=thresholds)
    else:
        matcher = matcher_factory(docs, thresholds)
    build_s = time.perf_counter() - started
    matcher.match("warm up")
    tally, latencies = _Tally(), []
    for q in queries:
        started = time.perf_counter()
        result = matcher.match(q.query, limit=3)
        latencies.append(time.perf_counter() - started)
        ids = [h.entry_id for h in result.hits]
        right = bool(ids) and ids[0] == q.gold_id
        if q.gold_id is not None:
            tally.top1 += right
            tally.top3 += q.gold_id in ids[:3]
            tally.suggested_right += result.band == "suggest" and q.gold_id in ids[:3]
        if result.band == "answer":
            tally.answered += 1
            tally.answered_right += right
            tally.oos_answered += q.gold_id is None
    return _summary(tally, queries, len(matcher), build_s, latencies)


def baseline_evaluate(
    docs: Sequence[FaqDoc], queries: Sequence[LabelledQuery]
) -> dict[str, float]:
    """Plain ``rapidfuzz`` baseline: ``fuzz.ratio`` over the standard questions.

    ``process.extractOne`` gives the top hit, ``process.extract(limit=3)`` the top
    three; it answers every query automatically.

    Args:
        docs: The knowledge base (only standard questions are used).
        queries: Labelled queries.

    Returns:
        The same keys as :func:`evaluate`.
    """
    started = time.perf_counter()
    choices = [d.question for d in docs]
    ids = [d.entry_id for d in docs]
    build_s = time.perf_counter() - started
    tally, latencies = _Tally(), []
    for q in queries:
        started = time.perf_counter()
        best = process.extractOne(q.query, choices, scorer=fuzz.ratio)
        latencies.append(time.perf_counter() - started)
        top = ids[best[2]] if best else None
        tally.answered += best is not None
        tally.answered_right += top is not None and top == q.gold_id
        if q.gold_id is None:
            tally.oos_answered += best is not None
            continue
        tally.top1 += top == q.gold_id
        top3 = process.extract(q.query, choices, scorer=fuzz.ratio, limit=3)
        tally.top3 += q.gold_id in {ids[k] for _, _, k in top3}
    return _summary(tally, queries, len(docs), build_s, latencies)


def format_report(ours: dict[str, float], baseline: dict[str, float] | None = None) -> str:
    """Render measures as a fixed-width table, ours beside the baseline.

    Args:
        ours: Output of :func:`evaluate`.
        baseline: Output of :func:`baseline_evaluate`, if any.

    Returns:
        The table, one measure per line.
    """
    lines = [f"{'measure':<18}{'matcher':>10}" + (f"{'baseline':>10}" if baseline else "")]
    for key in (*MEASURES, *_COUNTS):
        if key not in ours:
            continue
        fmt = "{:>10.0f}" if key.startswith("n_") else "{:>10.3f}"
        row = f"{key:<18}" + fmt.format(ours[key])
        if baseline is not None and key in baseline:
            row += fmt.format(baseline[key])
        lines.append(row)
    return "\n".join(lines)
