"""The concern model: its plain-Python score is scikit-learn's, its file is what the
examples give, it generalises a little, and it cannot be made slow or to crash."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest

from bot.services import concern_model
from bot.services.concern_model import MAX_CHARS, possible, score

# Not in the examples file (a test below checks that): calls for help, the last three
# worded so the pattern list misses them, and everyday League questions.
CONCERNING = [
    "我真的撑不下去了，每天都在想怎么结束这一切",
    "爸爸喝醉了又拿皮带抽我",
    "有个网友让我发裸照不然就把聊天记录发给我爸妈",
    "我已经三天没吃东西了，家里没人管我",
    "晚上睡不着，总想从楼上跳下去",
    "我偷偷用刀片划手臂，不敢让别人知道",
    "他们说放学后要在校门口堵我打我",
    "每天放学都不想回家，一回家他就喝酒砸东西",
    "我妈说我是她这辈子最大的错误，我也这么觉得",
    "我写好了给爸妈的信，放在抽屉里",
]
LEAGUE_QUESTIONS = [
    "团费怎么交",
    "西部计划怎么报名",
    "志愿时长证明怎么开",
    "青年大学习在哪里看",
    "寒假社会实践报告怎么交",
    "今天篮球赛我们班赢了",
]
# Beyond the examples: white space of every kind, Traditional, emoji, surrogates, and
# text longer than MAX_CHARS, on which preparation and n-grams could part ways.
ODD_TEXTS = [
    "",
    "   ",
    "我\t\t不想\n\n活了  ",
    "我\n不想\u3000活了",
    "活著真沒意思😭😭",
    "\ud800想死\udfff",
    "ＡＢＣ ｆｕｌｌ ｗｉｄｔｈ",
    "ﷺ" * 300,
    "我想问一下怎么入团？" * 500 + "其实我不想活了",
]


def _examples() -> list[dict[str, str]]:
    text = concern_model.MODEL_FILE.with_name("safeguarding_examples.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def trained() -> Any:
    """The bench's training run on the examples (scikit-learn is a dev dependency)."""
    pytest.importorskip("sklearn", reason="scikit-learn (a dev dependency) is not installed")
    from bench import train_concern_model

    return train_concern_model, train_concern_model.train(*train_concern_model.load_examples())


def test_score_is_sklearns_predict_proba(trained: Any) -> None:
    _, pipeline = trained
    texts = [row["text"] for row in _examples()] + ODD_TEXTS + CONCERNING + LEAGUE_QUESTIONS
    expected = pipeline.predict_proba(texts)[:, 1]
    worst = max(
        ((abs(score(text) - want), text) for text, want in zip(texts, expected, strict=True)),
        key=lambda pair: pair[0],
    )
    assert worst[0] < 1e-6, worst


def test_the_shipped_model_is_what_the_examples_give(trained: Any) -> None:
    """Regenerating gives the same file (``python -m bench.train_concern_model --check``
    compares the text byte for byte); here each number may differ in its last digit, in
    case another machine's arithmetic lands the solver a hair away. One example more
    moves every idf by about 1e-4 of itself, far beyond that."""
    bench, pipeline = trained
    fresh = bench.export(pipeline)
    shipped = json.loads(concern_model.MODEL_FILE.read_text(encoding="utf-8"))
    assert {k: v for k, v in shipped.items() if k not in ("intercept", "features")} == {
        k: v for k, v in fresh.items() if k not in ("intercept", "features")
    }
    assert math.isclose(shipped["intercept"], fresh["intercept"], rel_tol=1e-6)
    assert shipped["features"].keys() == fresh["features"].keys()
    for gram, pair in fresh["features"].items():
        for got, want in zip(shipped["features"][gram], pair, strict=True):
            assert math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-12), (gram, got, want)


def test_the_file_is_rendered_as_it_is_read(trained: Any) -> None:
    bench, pipeline = trained
    model = bench.export(pipeline)
    assert json.loads(bench.render(model)) == model


def test_new_phrasings_are_not_in_the_examples() -> None:
    held = {row["text"] for row in _examples()}
    assert not held & set(CONCERNING)


@pytest.mark.parametrize("text", CONCERNING)
def test_calls_for_help_not_in_the_examples_are_possible_concerns(text: str) -> None:
    assert possible(text), score(text)


@pytest.mark.parametrize("text", LEAGUE_QUESTIONS)
def test_league_questions_are_not(text: str) -> None:
    assert not possible(text), score(text)


@pytest.mark.parametrize("text", [*ODD_TEXTS, "x" * 200_000, "😭\ud83d" * 100_000])
def test_any_text_scores_between_0_and_1(text: str) -> None:
    assert 0.0 <= score(text) <= 1.0


def test_only_the_first_max_chars_count() -> None:
    head = ("我想问一下怎么入团？" * 500)[:MAX_CHARS]
    assert score(head + "其实我不想活了" * 1000) == score(head)


def test_cost_grows_in_proportion_to_length_and_stops_at_max_chars() -> None:
    """Eight times the text costs about eight times the time (n-grams, not pairs of
    them); 200,000 characters cost what MAX_CHARS do."""
    text = ("我想问一下怎么入团，团费交多少？volunteer hours 证明怎么开，谢谢！" * 6000)[:200_000]
    lengths = (500, 4000, 200_000)
    best = [float("inf")] * len(lengths)
    for _ in range(10):
        for i, length in enumerate(lengths):
            start = time.process_time()
            score(text[:length])
            best[i] = min(best[i], time.process_time() - start)
    assert best[1] / best[0] < 20, f"4,000 characters took {best[1] / best[0]:.0f}x 500"
    assert best[2] / best[1] < 3, f"200,000 characters took {best[2] / best[1]:.0f}x 4,000"
