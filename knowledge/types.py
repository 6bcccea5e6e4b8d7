"""Value types of the matcher's public API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Band", "FaqDoc", "Hit", "MatchResult", "Thresholds"]

Band = Literal["answer", "suggest", "route"]


@dataclass(frozen=True, slots=True)
class FaqDoc:
    """One knowledge-base entry as the matcher sees it.

    Attributes:
        entry_id: Stable id of the entry; hits refer to it.
        question: The standard phrasing of the question.
        alt_questions: Other phrasings of the same question; an entry scores as its
            best phrasing.
        region: Scope code (e.g. a district); ``None`` means everywhere.
    """

    entry_id: str
    question: str
    alt_questions: tuple[str, ...] = ()
    region: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One candidate entry for a query.

    Attributes:
        entry_id: The entry.
        score: Similarity of the entry's best phrasing, 0..100.
        confidence: Estimated probability (0..1) that this entry answers the query.
        matched_text: The phrasing (as written in the knowledge base) that matched best.
    """

    entry_id: str
    score: float
    confidence: float
    matched_text: str


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Outcome of one query.

    Attributes:
        band: ``"answer"`` (send the top hit), ``"suggest"`` (offer the hits as "did
            you mean" choices) or ``"route"`` (hand the question to a person).
        hits: Best first, at most the requested limit.
        query: The query as normalised for matching (useful in logs).
    """

    band: Band
    hits: list[Hit] = field(default_factory=list)
    query: str = ""

    @property
    def confidence(self) -> float:
        """Confidence of the top hit, 0.0 when there are no hits."""
        return self.hits[0].confidence if self.hits else 0.0

    @property
    def top(self) -> Hit | None:
        """The best hit, if any."""
        return self.hits[0] if self.hits else None


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Confidence cut-offs for the three bands; the bot's config may override them.

    The defaults hold auto-answer precision at about 0.9 on the faq-bench dev set
    (see ``bench/README.md``); raise ``answer`` to answer less often but more surely.

    Attributes:
        answer: Top-hit confidence at or above which the answer is sent.
        suggest: Below ``answer``, choices (the top three hits) are offered instead of
            routing to a person when their confidences add up to at least this: the
            estimated chance that one of them is right. Kept low on purpose: a wrong
            suggestion costs a young person one tap on "none of these", while routing a
            question whose answer was among the choices costs a cadre's time, while choices
            for an unrelated question look careless. Measured on the starter domain set
            (suggest recall / unrelated questions offered choices): 0.2 gives 0.58 / 6%,
            0.15 gives 0.70 / 12%, 0.1 gives 0.81 / 29%, 0.05 gives 0.89 / 82%; lcqmc-dev
            suggest recall stays 0.96-0.98 and the automatic answers do not change.
    """

    answer: float = 0.8
    suggest: float = 0.15

    def __post_init__(self) -> None:
        """Reject inconsistent settings early (they come from user config)."""
        if not 0.0 <= self.suggest <= self.answer <= 1.0:
            raise ValueError(f"thresholds must satisfy 0 <= suggest <= answer <= 1, got {self}")
