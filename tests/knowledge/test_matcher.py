"""The matcher: ranking, bands, regions, robustness, caching."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from knowledge import FaqDoc, Hit, Matcher, MatchResult, Thresholds
from knowledge.entries import STARTER_FAQ, read_entries
from knowledge.synonyms import load_synonyms
from tests.conftest import MINI_FAQ
from tests.knowledge.conftest import YOUTH_KB


def top(result: MatchResult) -> str | None:
    return result.hits[0].entry_id if result.hits else None


@pytest.mark.parametrize(
    ("query", "entry"),
    [
        ("怎么入团", "league-join-steps"),  # exact alternative phrasing
        ("多大年龄可以申请入团", "league-join-age"),  # exact standard question
        ("请问几岁可以入团啊", "league-join-age"),  # filler + 可以/能 synonym
        ("團費怎麼交？", "league-dues"),  # Traditional characters
        ("ｉｐｈｏｎｅ怎么截屏", "phone-screenshot"),  # full width Latin
        ("共青团员毕业了团关系转到哪里", "league-transfer"),  # domain synonym
        ("青少年服務台是干什么的", "hotline-12355"),
    ],
)
def test_confident_matches_are_answered(youth_matcher: Matcher, query: str, entry: str) -> None:
    result = youth_matcher.match(query)
    assert top(result) == entry
    assert result.band == "answer"
    assert result.confidence >= youth_matcher.thresholds.answer


@pytest.mark.parametrize(
    ("query", "entry"),
    [
        ("入团要经过那些步聚", "league-join-steps"),  # two typos
        ("团费交的方式有哪些", "league-dues"),  # reordered
        ("在哪里认领别人的心愿", "charity-wish"),
        ("超龄了怎么办离团", "league-overage"),
    ],
)
def test_paraphrases_and_typos_rank_first(youth_matcher: Matcher, query: str, entry: str) -> None:
    result = youth_matcher.match(query)
    assert top(result) == entry
    assert result.band in {"answer", "suggest"}


@pytest.mark.parametrize(
    ("query", "near_miss"),
    [
        ("怎么退团", "league-join-steps"),  # worded like 怎么入团, the opposite intent
        ("苹果电脑怎么截图", "phone-screenshot"),  # another device
        ("明天天气怎么样", "volunteer-hours"),  # unrelated, but shares 怎么样: may suggest
        ("明天会下雨吗", None),  # unrelated
        ("周末去哪里吃火锅", None),  # unrelated
    ],
)
def test_different_questions_worded_alike_are_not_answered(
    youth_matcher: Matcher, query: str, near_miss: str | None
) -> None:
    result = youth_matcher.match(query)
    assert result.band != "answer", result
    if near_miss is None:
        assert result.band == "route"


def test_hits_are_ordered_and_bounded(youth_matcher: Matcher) -> None:
    result = youth_matcher.match("入团年龄和流程", limit=3)
    assert 1 <= len(result.hits) <= 3
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= h.score <= 100.0 and 0.0 <= h.confidence <= 1.0 for h in result.hits)
    assert len({h.entry_id for h in result.hits}) == len(result.hits)  # one hit per entry
    assert len(youth_matcher.match("入团年龄和流程", limit=1).hits) == 1


def test_matched_text_is_the_phrasing_as_written(youth_matcher: Matcher) -> None:
    hit = youth_matcher.match("怎么入团").hits[0]
    assert isinstance(hit, Hit)
    assert hit.matched_text == "怎么入团"
    assert hit.score == 100.0


def test_region_scoping(youth_matcher: Matcher) -> None:
    in_a = youth_matcher.match("青年之家在哪", region="district-a")
    assert top(in_a) == "home-a"
    assert "home-b" not in {h.entry_id for h in in_a.hits}
    in_b = youth_matcher.match("青年之家在哪", region="district-b")
    assert top(in_b) == "home-b"
    # Unscoped entries stay eligible everywhere, also for an unknown region.
    assert top(youth_matcher.match("团费怎么交", region="district-a")) == "league-dues"
    elsewhere = youth_matcher.match("青年之家在哪", region="district-z")
    assert {"home-a", "home-b"}.isdisjoint(h.entry_id for h in elsewhere.hits)
    # Without a region nothing is filtered.
    everywhere = {h.entry_id for h in youth_matcher.match("青年之家在哪", region=None).hits}
    assert {"home-a", "home-b"} <= everywhere


@pytest.mark.parametrize(
    "query",
    ["", "   ", "？？？", "😀😀😀", "\x00\ud800\uffff", "a" * 100_000, "入团" * 50_000, "1234567"],
)
def test_garbage_and_huge_input_routes_without_crashing(
    youth_matcher: Matcher, query: str
) -> None:
    result = youth_matcher.match(query)
    assert result.band in {"route", "suggest"}
    if not youth_matcher.canonical(query):
        assert result == MatchResult(band="route", hits=[], query="")
        assert result.confidence == 0.0
    assert youth_matcher.score(query) >= 0.0


def test_empty_knowledge_base() -> None:
    matcher = Matcher([])
    assert len(matcher) == 0
    assert matcher.match("怎么入团").band == "route"
    assert matcher.score("怎么入团") == 0.0


def test_entries_and_duplicate_ids() -> None:
    docs = [*YOUTH_KB, FaqDoc("league-dues", "团费标准是多少？")]
    matcher = Matcher(docs)
    assert len(matcher) == len(YOUTH_KB)  # the later league-dues replaced the first
    assert top(matcher.match("团费标准是多少")) == "league-dues"
    assert matcher.match("团费可以微信交吗").hits[0].entry_id != "league-dues"


def test_score_is_cached_and_a_rebuild_starts_fresh(youth_matcher: Matcher) -> None:
    first = Matcher(YOUTH_KB)
    assert first.score("怎么入团") == 100.0
    assert first.score("怎么入团") == first.match("怎么入团").hits[0].score
    info = first.score.cache_info()  # type: ignore[attr-defined]
    assert info.hits == 1
    rebuilt = Matcher([FaqDoc("other", "团费怎么交")])
    assert rebuilt.score.cache_info().currsize == 0  # type: ignore[attr-defined]
    assert rebuilt.score("怎么入团") < 100.0


def test_thresholds_are_respected_and_validated() -> None:
    strict = Matcher(YOUTH_KB, thresholds=Thresholds(answer=1.0, suggest=1.0))
    assert strict.match("怎么入团").band == "suggest"  # choices add up to more than 1.0
    assert strict.match("团委的电话").band == "route"
    lenient = Matcher(YOUTH_KB, thresholds=Thresholds(answer=0.0, suggest=0.0))
    assert lenient.match("明天天气怎么样").band == "answer"  # anything with a hit
    with pytest.raises(ValueError, match="thresholds"):
        Thresholds(answer=0.2, suggest=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Thresholds().answer = 0.5  # type: ignore[misc]


def test_faqdoc_is_frozen_and_hashable() -> None:
    doc = FaqDoc("x", "问题")
    assert doc.alt_questions == () and doc.region is None
    assert hash(doc) == hash(FaqDoc("x", "问题"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        doc.question = "别的"  # type: ignore[misc]


@pytest.fixture(scope="module")
def starter_matcher() -> Matcher:
    """The matcher over the packaged starter FAQ."""
    entries = read_entries(STARTER_FAQ)
    return Matcher(FaqDoc(e.id, e.question, e.alt_questions, e.region) for e in entries)


@pytest.mark.parametrize(
    "query",
    [
        # The Party, where the FAQ speaks of the League: one character apart, other rules.
        "入党誓词是什么",
        "入党介绍人是谁来当",
        "入党的流程是怎样的",
        "什么是入党积极分子",
        "党员证丢了怎么补办",
        "党费交多少",
        "毕业以后党组织关系转到哪里",
        # Another card, another fee.
        "学生证丢了怎么补办",
        "工会会费交多少",
    ],
)
def test_a_question_about_a_contrasting_thing_is_never_answered(
    starter_matcher: Matcher, query: str
) -> None:
    result = starter_matcher.match(query)
    assert result.band != "answer", (query, result.hits[:1])


@pytest.mark.parametrize(
    ("query", "entry"),
    [
        ("入团誓词是什么", "league-oath"),
        ("党员还算团员吗", "league-party-member"),
    ],
)
def test_the_league_questions_themselves_still_match(
    starter_matcher: Matcher, query: str, entry: str
) -> None:
    result = starter_matcher.match(query)
    assert result.top is not None and result.top.entry_id == entry, result.hits[:1]


@pytest.mark.parametrize(
    ("query", "entry"),
    [
        ("我想入团", "league-join-steps"),
        ("我想加入共青团", "league-join-steps"),
        ("我想入党", "league-recommend-party"),
        ("我想学习", "league-youth-study-what"),
        # 问 is what these ask about, not a function word (请问 aside).
        ("怎么问", "bot-how-to-ask"),
        ("可以问吗", "bot-how-to-ask"),
    ],
)
def test_words_like_i_and_want_alone_match_nothing(
    starter_matcher: Matcher, query: str, entry: str
) -> None:
    """我想入团 shares 我 and 想 with 我不想活了 and nothing else; through them the crisis
    entry came first among the choices offered to someone asking to join the League."""
    result = starter_matcher.match(query)
    shown = [hit.entry_id for hit in result.hits]
    assert shown[0] == entry and "counselling-crisis" not in shown, shown
    # The crisis entry still answers what it is about.
    assert starter_matcher.match("活着没意思").top.entry_id == "counselling-crisis"  # type: ignore[union-attr]


def test_the_conditions_to_join_are_asked_as_young_people_ask(starter_matcher: Matcher) -> None:
    """Other entries have phrasings ending 要什么条件 (the Party's, volunteering's)."""
    result = starter_matcher.match("入团要什么条件啊")
    assert result.top is not None and result.top.entry_id == "league-join-conditions"


def test_contrasts_need_a_term_on_each_side() -> None:
    synonyms = load_synonyms(
        "groups: [[入团, 加入共青团]]\ncontrasts: [[入团, 入党], [团费, 党费]]\n"
    )
    assert synonyms.contrasting("入党誓词", ["入团誓词"]) == ("入党", "入团")
    assert synonyms.contrasting("加入共青团", ["入党"]) is None  # canonical forms: 入团 vs 入党
    assert synonyms.contrasting(synonyms.canonical("加入共青团"), ["入党"]) == ("入团", "入党")
    assert synonyms.contrasting("入团和入党的区别", ["入团流程"]) is None  # asks about both
    assert synonyms.contrasting("党费", ["怎么交"]) is None  # the entry names neither
    assert synonyms.contrasting("团员证", ["团员证丢了"]) is None
    # One wording names no term: the entry's others say what it is about.
    assert synonyms.contrasting("入党积极分子", ["积极分子考察多久", "入团积极分子"]) == (
        "入党",
        "入团",
    )
    # One of the entry's wordings names the asked term: it covers that too.
    assert synonyms.contrasting("党费", ["团费标准", "入党后交党费吗"]) is None


@pytest.mark.parametrize(
    ("message", "entry"),
    [
        (
            "你好，我是大三学生，马上要毕业去外地工作了，我的团组织关系应该怎么转过去？"
            "单位那边说要接收。麻烦了",
            "league-transfer-graduate",
        ),
        (
            "我爸妈不让我玩手机，我觉得很烦，周末想跟同学出去玩他们也不让，我该怎么跟他们沟通",
            "counselling-family",
        ),
    ],
)
def test_a_long_message_is_read_by_its_passages(
    starter_matcher: Matcher, message: str, entry: str
) -> None:
    # Scored whole, the words around the question sank every phrasing: a person got it
    # with the right entry first and never offered to the young person. The first
    # message's order is the whole message's: sorted by best passage, the graduation
    # entry fell behind the generic transfer entry its question clause resembles.
    result = starter_matcher.match(message)
    assert result.top is not None and result.top.entry_id == entry, result.hits
    assert result.band != "route", result.hits


def test_a_clause_with_a_phone_number_is_no_passage(starter_matcher: Matcher) -> None:
    # 我电话138… is four units (the number is one): too little to be read alone. Read
    # as a passage, it matched the emergency-numbers entry and made choices of a question
    # about basketball.
    result = starter_matcher.match("我们东湖街道有没有周末的篮球活动？我电话13812345678")
    assert result.band == "route", result.hits
    # Nor one that gives a number in more words: contact details are no question. Read
    # alone, 我的电话是138… matched 12355是什么电话 (the tests' small FAQ) and offered it.
    mini = Matcher(
        FaqDoc(e.id, e.question, e.alt_questions, e.region) for e in read_entries(MINI_FAQ)
    )
    for number in ("13812345678", "138-1234-5678", "138 1234 5678", "+86 138 1234 5678"):
        result = mini.match(f"高新区的实习岗位在哪里报名？我的电话是{number}")
        assert result.band == "route", (number, result.hits)


@pytest.mark.parametrize(
    ("with_colon", "with_comma"),
    [
        (
            "我想咨询：青年之家周末开不开门，我想周六过去",
            "我想咨询，青年之家周末开不开门，我想周六过去",
        ),
        (
            "我想咨询:青年之家周末开不开门,我想周六过去",
            "我想咨询,青年之家周末开不开门,我想周六过去",
        ),
    ],
)
def test_a_colon_ends_a_clause(starter_matcher: Matcher, with_colon: str, with_comma: str) -> None:
    # 我想咨询：… read as one clause with its question: the passage that is the
    # question alone was never scored, and the right entry was offered with less
    # confidence than the same message written with a comma.
    colon, comma = starter_matcher.match(with_colon), starter_matcher.match(with_comma)
    assert colon.top is not None and colon.top.entry_id == "youth_home-hours", colon.hits
    assert [(h.entry_id, h.confidence) for h in colon.hits] == [
        (h.entry_id, h.confidence) for h in comma.hits
    ]


def test_a_time_is_not_split_at_its_colon() -> None:
    from knowledge.matcher import _CLAUSE_END_RE

    assert _CLAUSE_END_RE.split("周六12:30青年之家开门吗") == ["周六12:30青年之家开门吗"]
    assert _CLAUSE_END_RE.split("时间:周六") == ["时间", "周六"]


@pytest.mark.parametrize(
    "message",
    [
        "团费交多少？这个我知道了。我想问宿舍空调坏了找谁修",
        "老师您好，我们学校最近在组织活动，我想请问一下入团申请书怎么写？麻烦老师了",
    ],
)
def test_a_passage_alone_never_answers(starter_matcher: Matcher, message: str) -> None:
    # One clause is an FAQ question word for word; the rest of the message may ask
    # something else (the first) or not (the second): either way a choice, not an answer.
    result = starter_matcher.match(message)
    assert result.band == "suggest", result.hits


def test_the_best_scoring_entry_of_a_long_message_is_always_offered(
    starter_matcher: Matcher,
) -> None:
    # The whole message ranks the entry its question clause names low (its context words
    # look like other entries'); its passage scores best, so it is among the choices.
    message = "我是高二的学生，最近遇到一点麻烦，问了好几个同学都说不清楚，团课是什么"
    result = starter_matcher.match(message)
    shown = [h.entry_id for h in result.hits[:3]]
    assert "league-course" in shown, result.hits  # the whole message: 10th


def test_the_local_scorer_agrees_with_the_index() -> None:
    from knowledge.postings import UnitIndex

    texts = ["怎么入团", "团费交多少", "入团申请书怎么写", "iphone 12 怎么截屏", "团员证丢了"]
    index = UnitIndex(texts)
    docs = np.asarray([0, 2, 4])
    queries = ["入团申请", "团员证", "怎么截屏 iphone", "火锅"]
    scorer = index.scorer_for(queries, docs)
    for query in queries:
        np.testing.assert_allclose(
            scorer.similarities(query), index.similarities(query)[docs], rtol=1e-6
        )
