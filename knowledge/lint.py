"""``voy kb lint``: problems in a knowledge base that make the bot answer badly.

Pairwise checks compare every phrasing with every other (rapidfuzz's ``cdist`` in C),
which suits KBs of a few thousand phrasings, the size a committee curates by hand.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from knowledge.entries import EntryData
from knowledge.normalize import normalize
from sandbox.telegram_html import TextError, parse_html

# Room left for the footer ("did this answer your question?") under Telegram's 4096.
MAX_ANSWER_CHARS = 3500
NEAR_DUPLICATE = 92.0
# The issues ``voy kb import`` refuses a file for (the others make the bot answer worse,
# not fail).
REFUSED_BY_IMPORT = frozenset({"empty_answer", "bad_html", "long_answer", "unknown_topic"})


@dataclass(frozen=True)
class LintIssue:
    """One problem found."""

    kind: str  # near_duplicate, closer_elsewhere, empty_answer, long_answer, bad_html, ...
    entry_id: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind:17} {self.entry_id}: {self.detail}"

    @property
    def refused_by_import(self) -> bool:
        """Whether ``voy kb import`` refuses a file with this issue."""
        return self.kind in REFUSED_BY_IMPORT


def lint(
    entries: list[EntryData], *, known_topics: Collection[str] | None = None
) -> list[LintIssue]:
    """Return every problem found in ``entries`` (active ones only for the matching checks);
    with ``known_topics``, the organisation's, also the entries :func:`unknown_topic`."""
    issues = answer_issues(entries)
    if known_topics is not None:
        issues.extend(
            LintIssue(
                "unknown_topic", entry.id, f"topic {entry.topic!r} is not the organisation's"
            )
            for entry in entries
            if unknown_topic(entry, known_topics)
        )
    active = [entry for entry in entries if entry.active]
    issues.extend(_near_duplicate_questions(active))
    issues.extend(_phrasings_closer_elsewhere(active))
    return issues


def answer_issues(entries: list[EntryData]) -> list[LintIssue]:
    """Answers Telegram would refuse or the bot could not send (empty, broken, too long)."""
    return [issue for entry in entries for issue in _answer_issues(entry)]


def unknown_topic(entry: EntryData, known_topics: Collection[str]) -> bool:
    """Whether ``entry`` is active and names a topic not in ``known_topics``: a question
    asked from it takes its topic, and only that topic's cadres are offered it. An entry
    without a topic is not (its questions go to whoever covers the asker's region), nor
    is an inactive one (nothing is asked from it)."""
    return entry.active and entry.topic is not None and entry.topic not in known_topics


def _answer_issues(entry: EntryData) -> list[LintIssue]:
    if not entry.answer.strip():
        return [LintIssue("empty_answer", entry.id, "the answer is empty")]
    try:
        plain, _ = parse_html(entry.answer)
    except TextError as exc:
        return [LintIssue("bad_html", entry.id, str(exc))]
    if len(plain) > MAX_ANSWER_CHARS:
        return [
            LintIssue("long_answer", entry.id, f"{len(plain)} characters > {MAX_ANSWER_CHARS}")
        ]
    return []


def _near_duplicate_questions(entries: list[EntryData]) -> list[LintIssue]:
    questions = [normalize(entry.question) for entry in entries]
    scores = process.cdist(questions, questions, scorer=fuzz.ratio, dtype=np.uint8, workers=-1)
    issues = []
    for i, j in zip(*np.nonzero(np.triu(scores >= NEAR_DUPLICATE, k=1)), strict=True):
        issues.append(
            LintIssue(
                "near_duplicate",
                entries[i].id,
                f"question is {scores[i, j]}% like {entries[j].id}: {entries[j].question}",
            )
        )
    return issues


def _phrasings_closer_elsewhere(entries: list[EntryData]) -> list[LintIssue]:
    texts: list[str] = []
    owners: list[int] = []
    for number, entry in enumerate(entries):
        for text in (entry.question, *entry.alt_questions):
            texts.append(normalize(text))
            owners.append(number)
    if len(texts) < 2:
        return []
    owner = np.array(owners)
    scores = process.cdist(texts, texts, scorer=fuzz.ratio, dtype=np.uint8, workers=-1)
    np.fill_diagonal(scores, 0)
    issues = []
    for row, entry_number in enumerate(owners):
        if texts[row] == normalize(entries[entry_number].question):
            continue  # standard questions are covered by the near-duplicate check
        same = owner == entry_number
        own_best = int(scores[row][same].max(initial=0))
        other_best_at = int(np.argmax(np.where(same, 0, scores[row])))
        other_best = int(scores[row][other_best_at])
        if other_best > own_best and other_best >= 80:
            entry = entries[entry_number]
            rival = entries[owners[other_best_at]]
            issues.append(
                LintIssue(
                    "closer_elsewhere",
                    entry.id,
                    f"phrasing {texts[row]!r} is closer to {rival.id} ({other_best}%) "
                    f"than to its own entry ({own_best}%)",
                )
            )
    return issues
