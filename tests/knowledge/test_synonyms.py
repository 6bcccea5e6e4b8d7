"""Synonym rewriting: canonical forms, longest match first, Latin word edges."""

from __future__ import annotations

import pytest

from knowledge.normalize import normalize
from knowledge.synonyms import SynonymMap, default_synonyms, load_synonyms


def test_variants_become_the_first_spelling() -> None:
    syn = SynonymMap([["团员", "共青团员"], ["转团关系", "团组织关系转接", "转接团关系"]])
    assert syn.canonical("共青团员怎么转接团关系") == "团员怎么转团关系"
    assert syn.canonical("团组织关系转接") == "转团关系"


def test_longest_spelling_wins_and_canonical_forms_are_protected() -> None:
    syn = SynonymMap([["微心愿", "心愿"], ["入团志愿书", "入团申请书"], ["入团", "入团申请"]])
    assert syn.canonical("认领心愿") == "认领微心愿"
    assert syn.canonical("认领微心愿") == "认领微心愿"  # not 微微心愿
    assert syn.canonical("入团申请书怎么写") == "入团志愿书怎么写"
    assert syn.canonical("入团申请") == "入团"


def test_latin_and_digit_spellings_only_match_whole_runs() -> None:
    syn = SynonymMap([["机器人", "bot"], ["12355", "青少年服务台"]])
    assert syn.canonical("bot是什么") == "机器人是什么"
    assert syn.canonical("robot是什么") == "robot是什么"
    assert syn.canonical("打123556") == "打123556"
    assert syn.canonical("青少年服务台电话") == "12355电话"


def test_spellings_are_normalised() -> None:
    syn = SynonymMap([["团费", "團費繳納"]])
    assert syn.canonical(normalize("團費繳納")) == "团费"


def test_batch_matches_one_by_one() -> None:
    syn = default_synonyms()
    texts = [normalize(t) for t in ["共青团员", "如何入团", "", "12355热线", "bot"]]
    assert syn.canonical_many(texts) == [syn.canonical(t) for t in texts]


def test_empty_map_is_identity() -> None:
    syn = SynonymMap([])
    assert len(syn) == 0
    assert syn.canonical("怎么入团") == "怎么入团"
    assert syn.canonical_many(["a", "b"]) == ["a", "b"]


def test_packaged_synonyms_load() -> None:
    syn = default_synonyms()
    assert len(syn) > 50
    assert syn.canonical(normalize("共青團員")) == "团员"
    # Opposite procedures must never share a group.
    assert syn.canonical("退团") != syn.canonical("入团")


def test_bad_yaml_is_rejected() -> None:
    with pytest.raises(ValueError, match="groups"):
        load_synonyms("groups: notalist")
    assert len(load_synonyms("groups: [[a, b]]")) == 2
