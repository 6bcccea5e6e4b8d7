"""Sparse inverted index scoring every phrasing against a query in one pass.

The similarity is an IDF-weighted Dice coefficient over units (see
:mod:`knowledge.tokenize`)::

    sim(q, d) = 2 * sum_t idf(t) * min(tf_q(t), tf_d(t)) / (W(q) + W(d))

where ``W(x) = sum_t idf(t) * tf_x(t)``. It is 1.0 for identical texts, 0.0 for texts
with nothing in common, and, unlike plain ``fuzz.ratio``, a differing rare character
(退 against 入) costs far more than a differing common one (的, 么). Because the
numerator only needs the postings of the query's units, the exact score of every
phrasing in the knowledge base costs one sparse accumulation, which is what lets the
matcher shortlist candidates exactly instead of approximately.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from knowledge.tokenize import units, units_of_batch

__all__ = ["UnitIndex"]

FloatArray = npt.NDArray[np.float32]


class UnitIndex:
    """Postings lists (unit -> phrasings, term frequency) plus IDF and text weights."""

    def __init__(self, texts: Sequence[str]) -> None:
        """Index canonical normalised texts.

        Args:
            texts: One text per phrasing, without line breaks; position ``i`` is
                phrasing id ``i``.
        """
        self.n_docs = n_docs = len(texts)
        terms_flat, doc_of, vocab = units_of_batch(texts)
        self._vocab = vocab
        n_terms = len(vocab)
        # One in-place sort of (term, doc) keys groups postings by term; runs of equal
        # keys are the term frequencies.
        pairs = terms_flat.astype(np.int64) * max(n_docs, 1)
        pairs += doc_of
        del terms_flat, doc_of
        pairs.sort()
        first = np.flatnonzero(np.r_[True, pairs[1:] != pairs[:-1]]) if len(pairs) else pairs
        tf = np.diff(np.r_[first, len(pairs)]).astype(np.float32)
        keys = pairs[first]
        del pairs, first
        terms = (keys // max(n_docs, 1)).astype(np.int32)
        df = np.bincount(terms, minlength=n_terms).astype(np.float32)
        # BM25's smoothed IDF: positive for every term, log(2N+2) for an unseen one.
        self.idf: FloatArray = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        self.unseen_idf = float(np.log1p((n_docs + 0.5) / 0.5))
        self._post_docs = (keys % max(n_docs, 1)).astype(np.int32)
        self._post_tf = tf
        self._indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(df.astype(np.int64), out=self._indptr[1:])
        self.weight: FloatArray = np.bincount(
            self._post_docs, weights=self._post_tf * self.idf[terms], minlength=n_docs
        ).astype(np.float32)

    def __len__(self) -> int:
        """Number of indexed phrasings."""
        return self.n_docs

    def idf_of(self, unit: str) -> float:
        """IDF of a unit; units never seen in the index get the maximum."""
        term = self._vocab.get(unit)
        return self.unseen_idf if term is None else float(self.idf[term])

    def similarities(self, text: str) -> FloatArray:
        """IDF-weighted Dice of ``text`` against every indexed phrasing.

        Args:
            text: Canonical normalised query.

        Returns:
            One similarity in 0..1 per phrasing (0 where nothing is shared).
        """
        overlap = np.zeros(self.n_docs, dtype=np.float32)
        query_weight = 0.0
        for unit, count in Counter(units(text)).items():
            term = self._vocab.get(unit)
            if term is None:
                query_weight += self.unseen_idf * count
                continue
            idf = float(self.idf[term])
            query_weight += idf * count
            start, stop = self._indptr[term], self._indptr[term + 1]
            tf = self._post_tf[start:stop]
            overlap[self._post_docs[start:stop]] += idf * np.minimum(tf, count)
        if query_weight == 0.0:
            return overlap
        return overlap * 2.0 / (query_weight + self.weight)

    def scorer_for(self, texts: Sequence[str], docs: npt.NDArray[np.intp]) -> LocalScorer:
        """A scorer of any of ``texts`` against the phrasings ``docs`` only.

        Rescoring a few candidates with many short texts (the passages of one
        message) this way costs one binary search per distinct unit of all the texts,
        then one small matrix operation per text.

        Args:
            texts: Canonical normalised texts the scorer will be asked about.
            docs: Phrasing ids, in any order.
        """
        vocab = sorted({u for text in texts for u in units(text)})
        idf = np.zeros(len(vocab), dtype=np.float32)
        tf = np.zeros((len(docs), len(vocab)), dtype=np.float32)
        for col, unit in enumerate(vocab):
            term = self._vocab.get(unit)
            if term is None:
                idf[col] = self.unseen_idf
                continue
            idf[col] = self.idf[term]
            start, stop = self._indptr[term], self._indptr[term + 1]
            posting = self._post_docs[start:stop]  # ascending: the keys were sorted
            at = np.minimum(np.searchsorted(posting, docs), len(posting) - 1)
            tf[:, col] = np.where(posting[at] == docs, self._post_tf[start:stop][at], 0.0)
        return LocalScorer({u: k for k, u in enumerate(vocab)}, idf, tf, self.weight[docs])


class LocalScorer:
    """IDF-weighted Dice of short texts against a few phrasings.

    Built by :meth:`UnitIndex.scorer_for`.
    """

    def __init__(
        self, columns: dict[str, int], idf: FloatArray, tf: FloatArray, weight: FloatArray
    ) -> None:
        """Hold the phrasings' term frequencies over the texts' units."""
        self._columns, self._idf, self._tf, self._weight = columns, idf, tf, weight

    def similarities(self, text: str) -> FloatArray:
        """Similarity of ``text`` (one of the texts given) against each phrasing."""
        query = np.zeros(len(self._columns), dtype=np.float32)
        for unit in units(text):
            query[self._columns[unit]] += 1.0
        query_weight = float(self._idf @ query)
        if query_weight == 0.0:
            return np.zeros(len(self._weight), dtype=np.float32)
        overlap = np.minimum(self._tf, query) @ self._idf
        return overlap * 2.0 / (query_weight + self._weight)
