"""Rewrite synonymous spellings to one canonical form before indexing and matching.

Synonyms are applied to normalised text on both sides of a match, so 共青团员 in a
query meets 团员 in the knowledge base as the same characters. A rewrite is a plain
longest-first string substitution: cheap, predictable and easy to audit in
``knowledge/data/synonyms.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from knowledge.normalize import normalize

__all__ = ["SynonymMap", "default_synonyms", "load_synonyms"]

_ASCII_ALNUM = re.compile(r"[a-z0-9]")


class SynonymMap:
    """Maps every spelling in a group of synonyms to the group's first spelling."""

    def __init__(
        self, groups: Iterable[Iterable[str]], contrasts: Iterable[Iterable[str]] = ()
    ) -> None:
        """Compile the groups into one longest-first regular expression.

        Args:
            groups: Each group lists spellings of one concept, canonical one first.
                Spellings are normalised, so they may be written in any script.
            contrasts: Sets of terms that look alike but name different things (入团,
                入党): see :meth:`contrasting`. Rewritten like any text, so a set may
                name any spelling of a concept.
        """
        mapping: dict[str, str] = {}
        for group in groups:
            spellings = [normalize(str(s)) for s in group]
            spellings = [s for s in spellings if s]
            for spelling in spellings:
                # The first group that claims a spelling keeps it, so the file order
                # decides conflicts deterministically.
                mapping.setdefault(spelling, spellings[0])
        self._mapping: Mapping[str, str] = mapping
        self._pattern: re.Pattern[str] | None = None
        if mapping:
            self._pattern = re.compile(_trie_pattern(list(mapping)))
        self._contrasts = [
            terms
            for terms in (
                frozenset(t for t in (self.canonical(normalize(str(s))) for s in group) if t)
                for group in contrasts
            )
            if len(terms) >= 2
        ]

    def __len__(self) -> int:
        """Number of spellings known (canonical forms included)."""
        return len(self._mapping)

    def canonical(self, text: str) -> str:
        """Rewrite every known spelling in normalised ``text`` to its canonical form.

        Args:
            text: Normalised text.

        Returns:
            The text with synonyms replaced.
        """
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(self._replace, text)

    def canonical_many(self, texts: list[str]) -> list[str]:
        """:meth:`canonical` for many texts at once (one regex pass, much faster).

        Args:
            texts: Normalised texts without line breaks.

        Returns:
            The rewritten texts, in order.
        """
        if self._pattern is None or not texts:
            return list(texts)
        return self._pattern.sub(self._replace, "\n".join(texts)).split("\n")

    def contrasting(self, query: str, phrasings: Iterable[str]) -> tuple[str, str] | None:
        """Two terms of one contrast set that tell ``query`` from an entry asked as
        ``phrasings`` (all in canonical form), or None.

        An entry whose wordings name terms of a set (入团誓词) but never the one the query
        names (入党誓词) is about something else, however many characters they share:
        the matcher never answers with it on its own, it offers it as a choice at most.
        A wording that names none of the set (积极分子要考察多久) leaves the others to
        say what the entry is about.
        """
        wordings: list[str] | None = None  # read only when the query names a term
        for terms in self._contrasts:
            asked = {t for t in terms if t in query}
            if not asked:
                continue
            if wordings is None:
                wordings = list(phrasings)
            named = {t for t in terms if any(t in w for w in wordings)}
            if asked - named and named - asked:
                return min(asked - named), min(named - asked)
        return None

    def _replace(self, match: re.Match[str]) -> str:
        """The canonical spelling of a matched spelling."""
        return self._mapping[match.group(0)]


def _trie_pattern(spellings: list[str]) -> str:
    """One regular expression for all spellings, factored by common prefix.

    A flat alternation of a few hundred words makes ``re`` try every word at every
    position; a prefix tree tries one branch per character, which is about ten times
    faster. Longer spellings come first in every branch, so the longest match wins.
    Latin and digit edges may not match inside a longer run (``bot`` in ``robot``).
    """
    trie: dict[str, Any] = {}
    for spelling in spellings:
        node = trie
        for ch in spelling:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any], prefix_last: str) -> str:
        branches = []
        for ch in sorted(k for k in node if k):
            branches.append(re.escape(ch) + emit(node[ch], ch))
        if "" in node:
            end = r"(?![a-z0-9])" if _ASCII_ALNUM.match(prefix_last) else ""
            branches.append(end)
        if len(branches) == 1:
            return branches[0]
        return "(?:" + "|".join(branches) + ")"

    heads = []
    for ch in sorted(trie):
        # The look-behind follows the first character so that every branch starts
        # with a literal, which lets ``re`` skip ahead to possible starts.
        after = rf"(?<![a-z0-9]{re.escape(ch)})" if _ASCII_ALNUM.match(ch) else ""
        heads.append(re.escape(ch) + after + emit(trie[ch], ch))
    return "|".join(heads)


def load_synonyms(text: str) -> SynonymMap:
    """Parse a synonyms YAML document (``groups: [[canonical, variant, ...], ...]``,
    optionally ``contrasts: [[term, term, ...], ...]``).

    Args:
        text: YAML source.

    Returns:
        The compiled map.

    Raises:
        ValueError: When the document does not have the expected shape.
    """
    data = yaml.safe_load(text) or {}
    groups = data.get("groups", []) if isinstance(data, dict) else None
    if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
        raise ValueError("synonyms YAML must be a mapping with a list of lists under 'groups'")
    contrasts = data.get("contrasts", [])
    if not isinstance(contrasts, list) or not all(isinstance(c, list) for c in contrasts):
        raise ValueError("'contrasts' in the synonyms YAML must be a list of lists")
    return SynonymMap(groups, contrasts)


@lru_cache(maxsize=1)
def default_synonyms() -> SynonymMap:
    """The packaged domain synonyms (``knowledge/data/synonyms.yaml``), loaded once."""
    source = resources.files("knowledge").joinpath("data", "synonyms.yaml")
    return load_synonyms(source.read_text(encoding="utf-8"))
