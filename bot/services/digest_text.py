"""The digest's text analysis: keywords of a week's questions and groups of FAQ gaps.

Both run on masked text only: personal data is blanked out before jieba or the
clustering sees a word, so no phone number, address or introduced name can surface.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from bot.services.privacy import MASK_KINDS, mask_personal_data
from knowledge.normalize import normalize_many

# Personal data becomes a blank: nothing of it can become a keyword.
BLANK_LABELS = dict.fromkeys(MASK_KINDS, " ")
# A keyword must appear in this many questions of the week, from at least this many young
# people: a word only one or two of them wrote (a name or a school the masking did not
# recognise, asked about again and again) never reaches the committee.
MIN_KEYWORD_QUESTIONS = 3
MIN_KEYWORD_ASKERS = 3
# Two gap questions whose normalised texts score at least this (rapidfuzz ratio, 0..100)
# belong to one group.
GAP_SIMILARITY = 60.0
# Question words every question has; they say nothing about its topic.
STOP_WORDS = frozenset(
    yaml.safe_load(
        (Path(__file__).parents[1] / "data" / "digest_stop_words.yaml").read_text("utf-8")
    )
)
_WORDY = re.compile(r"[\u4e00-\u9fffA-Za-z]")


@cache
def _jieba() -> Any:
    import jieba
    import jieba.analyse

    jieba.setLogLevel(logging.WARNING)
    return jieba.analyse


def blank_personal(texts: Sequence[str]) -> list[str]:
    """The texts with personal data removed (not labelled): input for keyword extraction."""
    return [mask_personal_data(text, BLANK_LABELS) for text in texts]


@dataclass(frozen=True)
class Keyword:
    """A keyword and in how many questions of each week it appeared.

    When a week had more questions than were read, the counts are the sample's scaled up
    to the week (``estimated``).
    """

    word: str
    count: int
    previous: int
    estimated: bool = False


def keywords(
    texts: Sequence[str],
    previous_texts: Sequence[str],
    *,
    askers: Sequence[int],
    top: int = 10,
    scale: tuple[int, int] = (1, 1),
) -> list[Keyword]:
    """The week's top keywords (jieba TF-IDF) with their question counts, then and before.

    Args:
        texts: This week's question texts, already masked (see :func:`blank_personal`).
        previous_texts: Last week's, masked the same way.
        askers: Who asked each of ``texts`` (any id that tells people apart).
        top: How many keywords to return at most.
        scale: Every how many questions one was read, this week and last week.
    """
    if not texts:
        return []
    if len(askers) != len(texts):
        raise ValueError("one asker per text")
    tags = _jieba().extract_tags("\n".join(texts), topK=top * 4)
    lowered = [t.lower() for t in texts]
    before = [t.lower() for t in previous_texts]
    found: list[Keyword] = []
    for tag in tags:
        if not _WORDY.search(tag) or tag in STOP_WORDS:
            continue  # numbers, punctuation and question words are no topic
        word = tag.lower()
        having = [i for i, t in enumerate(lowered) if word in t]
        count = len(having)
        if count < MIN_KEYWORD_QUESTIONS or len({askers[i] for i in having}) < MIN_KEYWORD_ASKERS:
            continue
        earlier = sum(1 for t in before if word in t)
        found.append(Keyword(tag, count * scale[0], earlier * scale[1], scale != (1, 1)))
        if len(found) == top:
            break
    return found


@dataclass(frozen=True)
class GapGroup:
    """Similar questions no FAQ entry answered: a candidate for a new entry."""

    size: int
    examples: list[int]  # positions in the input, the first two members
    members: list[int] = field(default_factory=list)  # positions in the input, all of them


def gap_groups(texts: Sequence[str], *, threshold: float = GAP_SIMILARITY) -> list[GapGroup]:
    """Group texts by similarity, greedily: each joins the first group it is close to.

    A text is compared with each group's first member (its representative) on the
    normalised text. Returns the groups, largest first (ties: earliest first).
    """
    normalised = normalize_many(list(texts))
    representatives: list[str] = []
    members: list[list[int]] = []
    for position, text in enumerate(normalised):
        if not text:
            continue
        best = process.extractOne(text, representatives, scorer=fuzz.ratio, score_cutoff=threshold)
        if best is None:
            representatives.append(text)
            members.append([position])
        else:
            members[best[2]].append(position)
    order = sorted(range(len(members)), key=lambda i: (-len(members[i]), i))
    return [GapGroup(len(members[i]), members[i][:2], members[i]) for i in order]
