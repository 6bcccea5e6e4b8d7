"""What the index counts: *units* of normalised text.

Every CJK character is one unit and every run of ASCII letters or digits is one unit
(``iphone``, ``12355``). Characters beat words for Chinese question matching: they need
no segmentation, so a typo or an unknown name cannot shift the word boundaries of a
whole sentence. On faq-bench an IDF-weighted overlap of characters ranked better than
the same measure over jieba words, and adding a jieba word scorer to the reranker did
not help on the held-out half or on the starter domain set (``bench/README.md``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["units", "units_of_batch"]

IntArray = npt.NDArray[np.int32]
_UNIT_RE = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
_ALNUM_RUN_RE = re.compile(r"[a-z0-9]+")
_RUN_BASE = 0x110000  # above every code point: keys of Latin/digit runs start here


def units_of_batch(texts: Sequence[str]) -> tuple[IntArray, IntArray, dict[str, int]]:
    """:func:`units` for many texts at once, vectorised.

    Creating one Python string per unit costs seconds for 300,000 phrasings, so the
    batch is read as an array of code points instead: a CJK character (or any other
    non-space character) is its own key, and a run of ASCII letters or digits gets a
    key above the Unicode range.

    Returns:
        Dense term id of every unit, the text it belongs to, and the vocabulary.
    """
    joined = "\n".join(texts)
    if not joined:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), {}
    # 32-bit arrays throughout: at 100,000 entries the batch has ~6 million
    # characters and 64-bit temporaries alone would cost hundreds of megabytes.
    keys = np.frombuffer(joined.encode("utf-32-le", errors="surrogatepass"), np.uint32).copy()
    alnum = (keys - 0x61 <= 0x19) | (keys - 0x30 <= 0x09)  # unsigned wrap-around: a-z, 0-9
    run_start = alnum.copy()
    run_start[1:] &= ~alnum[:-1]
    keep = ~alnum
    keep |= run_start
    keep &= keys != 0x20
    newline = keys == 0x0A
    keep &= ~newline
    doc_of = np.cumsum(newline, dtype=np.int32)[keep]
    del alnum, newline
    runs = _ALNUM_RUN_RE.findall(joined)
    run_ids = dict.fromkeys(runs)
    for k, run in enumerate(run_ids):
        run_ids[run] = _RUN_BASE + k
    keys[run_start] = np.fromiter(map(run_ids.__getitem__, runs), np.uint32, count=len(runs))
    keys = keys[keep]
    # Dense term ids through a lookup table over the key space (linear time; a
    # sort-based np.unique costs half a second on 4 million units).
    present = np.zeros(_RUN_BASE + len(run_ids), dtype=bool)
    present[keys] = True
    uniq = np.flatnonzero(present)
    lookup = np.zeros(len(present), dtype=np.int32)
    lookup[uniq] = np.arange(len(uniq), dtype=np.int32)
    terms = lookup[keys]
    names = {key: run for run, key in run_ids.items()}
    vocab = {names[k] if k >= _RUN_BASE else chr(k): t for t, k in enumerate(uniq.tolist())}
    return terms, doc_of, vocab


def units(text: str) -> list[str]:
    """Split normalised text into matching units.

    Args:
        text: Output of :func:`knowledge.normalize.normalize`.

    Returns:
        One unit per CJK character and per run of ASCII letters or digits.
    """
    return _UNIT_RE.findall(text)
