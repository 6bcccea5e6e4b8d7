"""FAQ matching for the Voice of Youth bot.

Public API (stable; everything else in the package is private)::

    from knowledge import FaqDoc, Matcher, Thresholds

    docs = [FaqDoc("league-join-age", "多大可以入团？", alt_questions=("几岁能入团",))]
    matcher = Matcher(docs, thresholds=Thresholds())   # rebuild when the KB changes
    result = matcher.match("请问几岁可以入团啊", limit=3, region="district-a")
    result.band        # "answer" | "suggest" | "route"
    result.hits        # [Hit(entry_id, score 0..100, confidence 0..1, matched_text)]
    result.confidence  # confidence of the top hit, 0.0 without hits
    matcher.score("几岁入团")   # top score 0..100, cached per matcher
    len(matcher)       # number of entries

How it works: :func:`normalize` (width, script, case, punctuation, emoji, greetings,
numerals) and the domain synonyms map both sides to one spelling; an inverted index
scores every phrasing with an IDF-weighted character overlap; the shortlist is
reranked with a small share of ``rapidfuzz``'s order-aware ratio; a logistic
calibration of (score, margin over the next entry), fitted on pairs the matcher
generates from its own entries, gives the confidence; :class:`Thresholds` cut it
into the three bands.

Evaluation on a labelled set (faq-bench format)::

    from knowledge import evaluate, baseline_evaluate, format_report
    docs = load_kb_jsonl("faq.jsonl"); queries = load_queries_jsonl("queries.jsonl")
    print(format_report(evaluate(docs, queries), baseline_evaluate(docs, queries)))
"""

from knowledge.evaluation import (
    LabelledQuery,
    baseline_evaluate,
    evaluate,
    format_report,
    load_kb_jsonl,
    load_queries_jsonl,
)
from knowledge.matcher import Matcher
from knowledge.normalize import normalize
from knowledge.types import Band, FaqDoc, Hit, MatchResult, Thresholds

__all__ = [
    "Band",
    "FaqDoc",
    "Hit",
    "LabelledQuery",
    "MatchResult",
    "Matcher",
    "Thresholds",
    "baseline_evaluate",
    "evaluate",
    "format_report",
    "load_kb_jsonl",
    "load_queries_jsonl",
    "normalize",
]
