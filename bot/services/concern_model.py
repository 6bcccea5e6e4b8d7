"""A second safeguarding layer: a learnt "possible concern" score for a message.

The pattern list (:mod:`bot.services.safeguarding`) catches what its reviewers wrote down;
young people say the same things in many other ways. This model scores how much a message
reads like the labelled calls for help in ``bot/data/safeguarding_examples.jsonl`` rather
than like the harmless near misses there, so a message the list misses can still be shown
to a person.

The model is plain data, ``bot/data/concern_model.json``, written by
``python -m bench.train_concern_model`` (scikit-learn, a development dependency only):
TF-IDF of character 1- to 3-grams with sublinear term frequency, l2-normalised, and a
logistic regression over them. :func:`score` recomputes exactly what scikit-learn's
``predict_proba`` gives (``tests/bot/test_concern_model.py`` holds the two to 1e-6), in
plain Python: a message of 30 characters costs a few hundredths of a millisecond.

Text is prepared like the pattern list's (:func:`safeguarding.prepare_for_matching`:
Simplified, NFKC, lower case, emoji dropped), with runs of white space made one space.
Only the first :data:`MAX_CHARS` characters are scored, so the cost of a huge message is
bounded (a Telegram message holds at most 4096).

This module only scores; it knows nothing of Telegram or the database.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.services.safeguarding import prepare_for_matching

__all__ = ["MAX_CHARS", "MODEL_FILE", "load", "possible", "prepare", "score", "threshold"]

MODEL_FILE = Path(__file__).resolve().parent.parent / "data" / "concern_model.json"
# The characters scored, before and after preparation: a whole Telegram message.
MAX_CHARS = 4096

_SPACES_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class _Model:
    ngram: tuple[int, int]
    threshold: float
    intercept: float
    # n-gram -> (idf, coefficient of the logistic regression)
    features: dict[str, tuple[float, float]]


@lru_cache(maxsize=1)
def _model() -> _Model:
    """The shipped model, read once per process."""
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    low, high = data["ngram"]
    return _Model(
        ngram=(int(low), int(high)),
        threshold=float(data["threshold"]),
        intercept=float(data["intercept"]),
        features={
            gram: (float(idf), float(coef)) for gram, (idf, coef) in data["features"].items()
        },
    )


def prepare(text: str) -> str:
    """The text the model sees: the first :data:`MAX_CHARS` characters, simplified like
    the pattern list's, white space runs made one space, trimmed (training uses this too).

    Before cutting n-grams scikit-learn makes each run of two or more white space
    characters one space (``_char_ngrams``); no such run is left here, so that step
    changes nothing and :func:`_ngrams` leaves it out."""
    prepared = _SPACES_RE.sub(" ", prepare_for_matching(text[:MAX_CHARS])).strip()
    return prepared[:MAX_CHARS]  # NFKC can lengthen a few characters many times


def _ngrams(text: str, low: int, high: int) -> list[str]:
    """Character n-grams as scikit-learn's ``_char_ngrams`` cuts them from prepared text."""
    grams: list[str] = []
    for n in range(low, min(high, len(text)) + 1):
        grams += [text[i : i + n] for i in range(len(text) - n + 1)]
    return grams


def score(text: str) -> float:
    """How much ``text`` reads like a call for help, from 0 to 1 (a probability as the
    model estimates it: see :func:`possible` for the line the bot draws)."""
    model = _model()
    features = model.features
    sum_squares = 0.0
    dot = 0.0
    for gram, count in Counter(_ngrams(prepare(text), *model.ngram)).items():
        feature = features.get(gram)
        if feature is None:
            continue  # an n-gram no example had: scikit-learn ignores it too
        idf, coef = feature
        weight = (1.0 + math.log(count)) * idf  # sublinear tf times idf
        sum_squares += weight * weight
        dot += weight * coef
    decision = model.intercept + (dot / math.sqrt(sum_squares) if sum_squares else 0.0)
    return _sigmoid(decision)


def _sigmoid(x: float) -> float:
    """1 / (1 + e^-x) without overflow for large negative x."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def threshold() -> float:
    """The score above which a message is a possible concern (in the model file)."""
    return _model().threshold


def load() -> None:
    """Read the shipped model now, at start-up rather than on the first question."""
    _model()


def possible(text: str) -> bool:
    """Whether ``text`` may be a call for help the pattern list did not name: its
    :func:`score` is above the model's threshold (about one harmless message in ten
    crosses it, see the README)."""
    return score(text) > _model().threshold
