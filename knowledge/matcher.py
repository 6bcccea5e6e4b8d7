"""The FAQ matcher: exact first pass over every phrasing, rerank, calibrate, band."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import numpy.typing as npt

from knowledge.calibration import Calibration, self_calibrate
from knowledge.normalize import normalize, normalize_many
from knowledge.postings import UnitIndex
from knowledge.rerank import RATIO_WEIGHT, Candidate, rerank
from knowledge.synonyms import SynonymMap, default_synonyms
from knowledge.tokenize import units
from knowledge.types import Band, FaqDoc, Hit, MatchResult, Thresholds

__all__ = ["Matcher"]

# Longer messages are not FAQ questions; cutting them keeps latency bounded.
MAX_QUERY_CHARS = 300
# Phrasings taken from the exact first pass into the reranker.
SHORTLIST = 48
# "Did you mean" choices offered in the suggest band.
SUGGESTIONS = 3

# A message at least this long (canonical characters) is also read passage by passage.
# Dice charges a long message for every word around its question (a greeting, who is
# asking, what happened), so such a message scored low against every phrasing and went
# to a person even with the right entry first. Its candidates keep the order the whole
# message gives them (but for the best-scoring one, always shown); each is scored by
# the whole message or its best passage, whichever is higher. Passages only rescore what
# the whole message found: ranked by their passages, entries that one clause resembles
# outranked the one the message is about (top-1 on a set of long messages fell from 0.73
# to 0.66; bench/README.md). A first hit that owes its score to a passage is offered,
# never answered: the rest of the message may ask something else.
LONG_MESSAGE_CHARS = 20
# Consecutive clauses one passage spans, and the most passages read per message.
PASSAGE_CLAUSES = 2
MAX_PASSAGES = 16
# Candidates rescored by passage: the choices offered and their closest rivals.
RESCORED = 10
# Shorter passages (怎么办, 可以吗, 我电话138…: a number is one unit) say too little on
# their own.
MIN_PASSAGE_UNITS = 5
# A clause giving a number of seven digits or more (a phone, QQ, ID or card number) is
# contact details, no question: read alone, 我的电话是138… matched 12355是什么电话.
_CONTACT_RE = re.compile(r"(?:[0-9] ?){7}")  # 138 1234 5678 too (-, +, ( ) are spaces)
# A colon ends a clause too (老师您好：…, 我想咨询：…), but not inside a time (12:30).
_CLAUSE_END_RE = re.compile(
    r"[。！？!?；;，,、…~～：\n\r]+|[.](?:\s|$)|(?<![0-9]):|:(?![0-9])|\s{2,}"
)

# Characters that carry no topic: pronouns, particles, question and modal words. A
# phrasing that shares only these with a question is no candidate for it: 我想入团
# matched 我不想活了 through 我 and 想 and offered the crisis entry first.
_FUNCTION_CHARS = frozenset("我你他她它们想要的了吗呢吧啊呀么是不没有在能会可以怎什哪个这那一请")

Sims = npt.NDArray[np.float32]


def read_by_passages(text: str) -> bool:
    """Whether the matcher also reads ``text`` passage by passage (a long message of
    several clauses). Such a message is no phrasing to learn: its context words (大三学生,
    外地工作) would pull the entry ahead for other questions that share them."""
    clauses = [c for c in _CLAUSE_END_RE.split(text[:MAX_QUERY_CHARS]) if c.strip()]
    return len(clauses) >= 2 and len(normalize(text[:MAX_QUERY_CHARS])) >= LONG_MESSAGE_CHARS


class Matcher:
    """Matches user questions to knowledge-base entries.

    Build a new instance whenever the knowledge base changes. An instance never
    changes after construction (apart from caches), so it can be swapped atomically
    and shared between concurrent handlers.
    """

    def __init__(
        self,
        docs: Iterable[FaqDoc],
        *,
        thresholds: Thresholds | None = None,
        synonyms: SynonymMap | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        """Index the entries and calibrate on them.

        Args:
            docs: The knowledge base. Of entries sharing an id, the last one wins.
            thresholds: Band cut-offs; defaults to :class:`Thresholds`.
            synonyms: Synonym map; defaults to the packaged domain synonyms.
            calibration: Fixed calibration; by default the matcher calibrates itself
                on its own entries (:func:`knowledge.calibration.self_calibrate`).
        """
        self.thresholds = thresholds or Thresholds()
        self._synonyms = synonyms if synonyms is not None else default_synonyms()
        self._docs = list({d.entry_id: d for d in docs}.values())
        raw = [t for d in self._docs for t in (d.question, *d.alt_questions)]
        owner = [i for i, d in enumerate(self._docs) for _ in range(1 + len(d.alt_questions))]
        canon = self._synonyms.canonical_many(normalize_many(raw))
        keep = [k for k, form in enumerate(canon) if form]  # nothing left to match on
        self._raw = [raw[k] for k in keep]
        self._canon = [canon[k] for k in keep]
        entry_of = [owner[k] for k in keep]
        self._entry_of = np.asarray(entry_of, dtype=np.int32)
        self._index = UnitIndex(self._canon)
        regions = sorted({d.region for d in self._docs if d.region is not None})
        codes = {r: k + 1 for k, r in enumerate(regions)}
        self._region_code = codes
        entry_region = np.asarray(
            [codes.get(d.region, 0) if d.region is not None else 0 for d in self._docs],
            dtype=np.int32,
        )
        self._phrasing_region = entry_region[self._entry_of]
        self._masks: dict[tuple[str, ...], npt.NDArray[np.bool_]] = {}
        self.calibration = calibration or self_calibrate(self)
        self.score: Callable[[str], float] = functools.lru_cache(maxsize=4096)(self._score)

    def __len__(self) -> int:
        """Number of entries."""
        return len(self._docs)

    def canonical(self, text: str) -> str:
        """The form in which ``text`` is matched (normalised, synonyms rewritten)."""
        return self._synonyms.canonical(normalize(text[:MAX_QUERY_CHARS]))

    def match(
        self, query: str, limit: int = 3, region: str | Sequence[str] | None = None
    ) -> MatchResult:
        """Match one user question.

        Args:
            query: Raw user text, any script or width.
            limit: Maximum number of hits returned.
            region: The asker's scope: a region code, or several (the asker's region
                and its ancestors, so a district's entries reach its streets). Entries
                scoped elsewhere are excluded; unscoped entries are always eligible; an
                empty sequence leaves only unscoped entries. ``None`` disables scoping.

        Returns:
            The band and the hits, best first (a long message's in the order the whole
            message gives them, see :data:`LONG_MESSAGE_CHARS`). Route results still
            carry hits (for logging and topic guesses).
        """
        canon = self.canonical(query)
        cands = self._candidates(self._similarities(canon, region), canon, topical=True)
        whole = cands[0] if cands else None
        if len(canon) >= LONG_MESSAGE_CHARS and cands:
            cands = self._by_passages(query, canon, cands)
        hits = [self._hit(c, cands) for c in cands[: max(limit, SUGGESTIONS)]]
        if not hits:
            return MatchResult(band="route", hits=[], query=canon)
        band = self._band(hits)
        if band == "answer" and cands[0] is not whole:
            # Sure of one passage only: the rest of the message may ask something else
            # (团费交多少？这个我知道了。我想问宿舍空调坏了找谁修). A choice at most.
            band = "suggest"
        if band == "answer" and self._contrasting(canon, cands[0]):
            band = "suggest"  # 入党 asked, 入团 matched: a choice at most, never an answer
        return MatchResult(band=band, hits=hits[: max(limit, 0)], query=canon)

    def _by_passages(self, query: str, canon: str, cands: list[Candidate]) -> list[Candidate]:
        """The message's candidates, in their order, scored by their best passage."""
        clauses = [c for c in _CLAUSE_END_RE.split(query[:MAX_QUERY_CHARS]) if c.strip()]
        if len(clauses) < 2:
            return cands
        forms = [f for f in self._synonyms.canonical_many(normalize_many(clauses)) if f]
        passages: dict[str, None] = {}
        for width in range(1, PASSAGE_CLAUSES + 1):
            for start in range(len(forms) - width + 1):
                text = "".join(forms[start : start + width])
                if (
                    len(units(text)) >= MIN_PASSAGE_UNITS
                    and text != canon
                    and not _CONTACT_RE.search(text)
                ):
                    passages[text] = None
        rescored = cands[:RESCORED]
        bounds = np.searchsorted(self._entry_of, [c.entry for c in rescored])
        ends = np.searchsorted(self._entry_of, [c.entry for c in rescored], side="right")
        phrasings = np.concatenate([np.arange(a, b) for a, b in zip(bounds, ends, strict=True)])
        owners = self._entry_of[phrasings]
        best = {c.entry: c for c in rescored}
        texts = list(passages)[:MAX_PASSAGES]
        scorer = self._index.scorer_for(texts, phrasings)
        for text in texts:
            sims = scorer.similarities(text)
            held = np.asarray([best[int(e)].score for e in owners], dtype=np.float32)
            # The reranked score is at most the overlap's share plus a full ratio's.
            promising = np.flatnonzero((1.0 - RATIO_WEIGHT) * sims + RATIO_WEIGHT > held)
            shortlist = [
                (int(phrasings[k]), int(owners[k]), self._canon[phrasings[k]], float(sims[k]))
                for k in promising
            ]
            for cand in rerank(text, shortlist):
                if cand.score > best[cand.entry].score:
                    best[cand.entry] = cand
        out = [best[c.entry] for c in rescored] + cands[RESCORED:]
        # The best-scoring candidate is always among the choices shown (third if the
        # whole message ranked it lower): its passage may be the question.
        top = max(range(len(out)), key=lambda k: (out[k].score, -k))
        if top >= SUGGESTIONS:
            out.insert(SUGGESTIONS - 1, out.pop(top))
        return out

    def _hit(self, cand: Candidate, cands: list[Candidate]) -> Hit:
        """Build the public hit; the margin is over the best *other* entry."""
        rival = max((c.score for c in cands if c is not cand), default=0.0)
        conf = self.calibration.confidence(cand.score, cand.score - rival)
        doc = self._docs[cand.entry]
        return Hit(doc.entry_id, round(cand.score * 100, 2), conf, self._raw[cand.phrasing])

    def _band(self, hits: list[Hit]) -> Band:
        """Answer on a sure top hit; offer choices while one of them is likely right.

        The confidences of different entries are (roughly) probabilities of disjoint
        events, so their sum over the choices estimates the chance that the user
        finds the answer among them.
        """
        if hits[0].confidence >= self.thresholds.answer:
            return "answer"
        offered = sum(h.confidence for h in hits[:SUGGESTIONS])
        return "suggest" if offered >= self.thresholds.suggest else "route"

    def _contrasting(self, canon: str, top: Candidate) -> bool:
        """Whether the query names a term the best entry's wordings contrast with."""

        def wordings() -> Iterator[str]:
            # Run only for a query that names a contrast term (a scan of every phrasing).
            for phrasing in np.flatnonzero(self._entry_of == top.entry):
                yield self._canon[phrasing]

        return self._synonyms.contrasting(canon, wordings()) is not None

    def _score(self, query: str) -> float:
        """Top score 0..100 of ``query`` as a whole, passages aside (cached per matcher;
        a rebuild starts empty)."""
        canon = self.canonical(query)
        cands = self._candidates(self._similarities(canon, None), canon)
        return round(cands[0].score * 100, 2) if cands else 0.0

    def _similarities(self, canon: str, region: str | Sequence[str] | None) -> Sims:
        """First pass: similarity of every eligible phrasing (0 for the others)."""
        if not canon or not len(self._index):
            return np.zeros(len(self._index), dtype=np.float32)
        sims = self._index.similarities(canon)
        if region is not None and self._region_code:
            key = (region,) if isinstance(region, str) else tuple(region)
            mask = self._masks.get(key)
            if mask is None:
                codes = [self._region_code[r] for r in key if r in self._region_code]
                mask = (self._phrasing_region == 0) | np.isin(self._phrasing_region, codes)
                self._masks[key] = mask
            sims = np.where(mask, sims, np.float32(0.0))
        return sims

    def _candidates(self, sims: Sims, canon: str, *, topical: bool = False) -> list[Candidate]:
        """Shortlist the best phrasings and rerank them into one candidate per entry.
        ``topical``: leave out phrasings that share only :data:`_FUNCTION_CHARS` with
        ``canon`` (what a young person is offered; the self-calibration sees them all)."""
        k = min(SHORTLIST, len(sims))
        if k == 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
        top = top[sims[top] > 0.0]
        shortlist = [(int(p), int(self._entry_of[p]), self._canon[p], float(sims[p])) for p in top]
        if topical:
            words = set(canon) - _FUNCTION_CHARS
            shortlist = [item for item in shortlist if not words.isdisjoint(item[2])]
        return rerank(canon, shortlist)

    # --- self-calibration hooks (see knowledge.calibration) -------------------------

    def phrasing_count(self) -> int:
        """Number of indexed phrasings."""
        return len(self._canon)

    def phrasings_with_siblings(self) -> list[int]:
        """Phrasing ids whose entry has at least one other phrasing."""
        distinct = {(int(e), text) for e, text in zip(self._entry_of, self._canon, strict=True)}
        counts = np.bincount([e for e, _ in distinct], minlength=len(self._docs))
        return np.flatnonzero(counts[self._entry_of] >= 2).tolist()

    def loo_pair(
        self, phrasing: int, *, positive: bool
    ) -> tuple[tuple[float, float, bool] | None, tuple[float, float]]:
        """Query with one phrasing, first without it, then without its whole entry.

        Args:
            phrasing: Phrasing id.
            positive: Also compute the positive pair (needs a sibling phrasing).

        Returns:
            ``((score, margin, entry still first) or None, (score, margin))``: the
            positive and the negative self-supervised pair.
        """
        entry = int(self._entry_of[phrasing])
        canon = self._canon[phrasing]
        sims = self._index.similarities(canon)
        siblings = np.flatnonzero(self._entry_of == entry)
        pos: tuple[float, float, bool] | None = None
        if positive:
            # Leave out the phrasing and any sibling that normalises to the same text.
            sims[[p for p in siblings.tolist() if self._canon[p] == canon]] = 0.0
            cands = self._candidates(sims, canon)
            pos = (*_top_features(cands), bool(cands) and cands[0].entry == entry)
        sims[siblings] = 0.0
        return pos, _top_features(self._candidates(sims, canon))


def _top_features(cands: list[Candidate]) -> tuple[float, float]:
    """(score, margin) of the top candidate; zeros when there is none."""
    if not cands:
        return 0.0, 0.0
    second = cands[1].score if len(cands) > 1 else 0.0
    return cands[0].score, cands[0].score - second
