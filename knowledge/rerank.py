"""Rerank the shortlist: one candidate per entry, scored by its best phrasing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

__all__ = ["Candidate", "rerank"]

# Share of the final score given to rapidfuzz's character ratio (an order-aware edit
# similarity); the rest is the IDF-weighted overlap of the first pass. The overlap
# ignores order, so 怎么注销淘宝号 ties with 淘宝号怎么注销; the ratio breaks such ties.
# Larger shares lowered top-1 on faq-bench (see bench/README.md).
RATIO_WEIGHT = 0.05


@dataclass(frozen=True, slots=True)
class Candidate:
    """An entry on the shortlist.

    Attributes:
        entry: Entry index in the matcher.
        phrasing: Phrasing id that scored best for the entry.
        score: Final similarity 0..1.
    """

    entry: int
    phrasing: int
    score: float


def rerank(query: str, shortlist: Sequence[tuple[int, int, str, float]]) -> list[Candidate]:
    """Score shortlisted phrasings and keep each entry's best one.

    Args:
        query: Canonical query.
        shortlist: ``(phrasing id, entry index, canonical text, overlap)`` tuples.

    Returns:
        Candidates, best first; ties keep the lower phrasing id first.
    """
    best: dict[int, Candidate] = {}
    for phrasing, entry, text, overlap in shortlist:
        ratio = fuzz.ratio(query, text) / 100.0
        score = (1.0 - RATIO_WEIGHT) * overlap + RATIO_WEIGHT * ratio
        held = best.get(entry)
        if held is None or (score, -phrasing) > (held.score, -held.phrasing):
            best[entry] = Candidate(entry, phrasing, score)
    return sorted(best.values(), key=lambda c: (-c.score, c.phrasing))
