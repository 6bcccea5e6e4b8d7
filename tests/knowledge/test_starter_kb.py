"""Checks on the starter knowledge base and its labelled domain evaluation set.

Plain data tests: they read ``knowledge/data/starter_faq.yaml`` and
``knowledge/data/domain_eval.jsonl`` directly and import nothing from the project.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA_DIR = Path(__file__).resolve().parents[2] / "knowledge" / "data"
FAQ_PATH = DATA_DIR / "starter_faq.yaml"
EVAL_PATH = DATA_DIR / "domain_eval.jsonl"

TOPICS = {
    "league",
    "volunteer",
    "charity",
    "youth_home",
    "counselling",
    "employment",
    "social",
    "study",
    "safety",
    "bot",
}
ID_RE = re.compile(r"^[a-z_]+-[a-z0-9-]+$")
ALLOWED_TAGS = {"b", "i", "u", "s", "a", "code", "blockquote"}
ENTITY_RE = re.compile(r"&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")
OOS_TYPES = {"hard_negative", "unseen_intent"}

MIN_ENTRIES = 90
MIN_ALTS = 3
MAX_ANSWER_CHARS = 1000
MIN_IN_SCOPE = 200
MIN_OUT_OF_SCOPE = 100


def normalise(text: str) -> str:
    """Lowercase and drop whitespace and punctuation (ASCII and full-width)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in {"P", "S", "Z", "C"})


@cache
def load_faq() -> dict[str, Any]:
    with FAQ_PATH.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict)
    return data


def entries() -> list[dict[str, Any]]:
    return load_faq()["entries"]


def phrasings(entry: dict[str, Any]) -> list[str]:
    return [entry["question"], *entry["alt_questions"]]


@cache
def load_eval() -> list[dict[str, Any]]:
    rows = []
    with EVAL_PATH.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:  # pragma: no cover - message only
                raise AssertionError(f"{EVAL_PATH.name}:{lineno}: invalid JSON: {exc}") from exc
    return rows


class TelegramHTMLChecker(HTMLParser):
    """Collects problems with an answer's Telegram-HTML markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}> is not allowed")
            return
        names = [name for name, _ in attrs]
        if tag == "a":
            href = dict(attrs).get("href")
            if names != ["href"] or not href or not href.startswith("https://"):
                self.problems.append(f"<a> needs exactly one https href, got {attrs!r}")
        elif attrs:
            self.problems.append(f"<{tag}> must not have attributes, got {attrs!r}")
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems.append(f"self-closing <{tag}/> is not allowed")

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag </{tag}> is not allowed")
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> does not close the innermost open tag {self.stack!r}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self.problems.append(f"unescaped angle bracket in {data!r}")

    def handle_comment(self, data: str) -> None:
        self.problems.append("HTML comments are not allowed")

    def handle_decl(self, decl: str) -> None:
        self.problems.append("declarations are not allowed")

    def check(self, html: str) -> list[str]:
        for match in re.finditer("&", html):
            if not ENTITY_RE.match(html, match.start()):
                self.problems.append(f"bare '&' at offset {match.start()}")
        self.feed(html)
        self.close()
        if self.stack:
            self.problems.append(f"unclosed tags {self.stack!r}")
        return self.problems


def html_problems(html: str) -> list[str]:
    return TelegramHTMLChecker().check(html)


# ─── the knowledge base ───


def test_review_notice_present() -> None:
    text = FAQ_PATH.read_text(encoding="utf-8")
    assert text.startswith("# STARTER CONTENT"), "the starter notice must open the file"
    meta = load_faq()["meta"]
    assert meta["review_status"] == "starter"
    assert meta["language"] == "zh-Hans"
    assert "审核" in meta["notice"]


def test_top_level_structure() -> None:
    data = load_faq()
    assert set(data) == {"meta", "entries"}
    assert isinstance(data["entries"], list)
    assert len(data["entries"]) >= MIN_ENTRIES


def test_entry_fields() -> None:
    required = {"id", "topic", "tags", "region", "question", "alt_questions", "answer"}
    for entry in entries():
        assert set(entry) == required, entry.get("id")
        assert isinstance(entry["tags"], list) and entry["tags"], entry["id"]
        assert all(isinstance(tag, str) and tag for tag in entry["tags"]), entry["id"]
        region = entry["region"]
        assert region is None or re.fullmatch(r"[a-z0-9-]+", region), entry["id"]
        assert isinstance(entry["question"], str) and entry["question"].strip(), entry["id"]
        assert all(isinstance(alt, str) and alt.strip() for alt in entry["alt_questions"])


def test_ids_unique_and_well_formed() -> None:
    ids = [entry["id"] for entry in entries()]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicates
    bad = [i for i in ids if not ID_RE.match(i)]
    assert not bad


def test_id_prefix_matches_topic() -> None:
    for entry in entries():
        assert entry["id"].startswith(entry["topic"] + "-"), entry["id"]


def test_topics_known_and_all_used() -> None:
    used = {entry["topic"] for entry in entries()}
    assert used <= TOPICS, used - TOPICS
    assert used == TOPICS, f"topics without entries: {TOPICS - used}"


def test_enough_alternative_phrasings() -> None:
    for entry in entries():
        assert len(entry["alt_questions"]) >= MIN_ALTS, entry["id"]
        own = [normalise(p) for p in phrasings(entry)]
        assert len(set(own)) == len(own), f"{entry['id']} repeats a phrasing"


def test_no_phrasing_shared_between_entries() -> None:
    owner: dict[str, str] = {}
    clashes = []
    for entry in entries():
        for phrase in phrasings(entry):
            key = normalise(phrase)
            assert key, f"{entry['id']}: phrasing {phrase!r} is empty after normalising"
            if key in owner and owner[key] != entry["id"]:
                clashes.append((phrase, owner[key], entry["id"]))
            owner.setdefault(key, entry["id"])
    assert not clashes


def test_answers_present_and_bounded() -> None:
    for entry in entries():
        answer = entry["answer"]
        assert isinstance(answer, str) and answer.strip(), entry["id"]
        assert len(answer) <= MAX_ANSWER_CHARS, (entry["id"], len(answer))


@pytest.mark.parametrize("entry", entries(), ids=lambda e: e["id"])
def test_answer_is_telegram_html(entry: dict[str, Any]) -> None:
    assert html_problems(entry["answer"]) == []


@pytest.mark.parametrize(
    ("html", "fragment"),
    [
        ("<b>ok</b><br>", "<br>"),
        ("<b>open", "unclosed"),
        ("<b><i>x</b></i>", "innermost"),
        ('<a href="http://x.cn">x</a>', "https"),
        ("<a>x</a>", "https"),
        ("<p>x</p>", "<p>"),
        ("a & b", "bare '&'"),
        ("1 < 2 > 0", "angle bracket"),
        ('<b class="x">x</b>', "attributes"),
    ],
)
def test_html_checker_rejects(html: str, fragment: str) -> None:
    problems = html_problems(html)
    assert any(fragment in problem for problem in problems), problems


def test_html_checker_accepts_allowed_markup() -> None:
    html = (
        "<b>a</b> <i>b</i> <u>c</u> <s>d</s> <code>/my</code> "
        '<a href="https://zhtj.youth.cn">e</a>\n<blockquote>f &amp; g &lt;h&gt;</blockquote>'
    )
    assert html_problems(html) == []


# ─── the evaluation set ───


def test_eval_rows_well_formed() -> None:
    rows = load_eval()
    for row in rows:
        assert set(row) == {"query", "gold_id", "oos_type"}, row
        assert isinstance(row["query"], str) and row["query"].strip(), row


def test_eval_gold_ids_exist() -> None:
    ids = {entry["id"] for entry in entries()}
    unknown = {row["gold_id"] for row in load_eval() if row["gold_id"] is not None} - ids
    assert not unknown


def test_eval_oos_type_consistent() -> None:
    for row in load_eval():
        if row["gold_id"] is None:
            assert row["oos_type"] in OOS_TYPES, row
        else:
            assert row["oos_type"] is None, row


def test_eval_sizes() -> None:
    rows = load_eval()
    in_scope = [row for row in rows if row["gold_id"] is not None]
    out_of_scope = [row for row in rows if row["gold_id"] is None]
    assert len(in_scope) >= MIN_IN_SCOPE
    assert len(out_of_scope) >= MIN_OUT_OF_SCOPE
    kinds = Counter(row["oos_type"] for row in out_of_scope)
    assert kinds["hard_negative"] > 0 and kinds["unseen_intent"] > 0


def test_every_entry_has_an_eval_query() -> None:
    covered = {row["gold_id"] for row in load_eval()}
    missing = [entry["id"] for entry in entries() if entry["id"] not in covered]
    assert not missing


def test_eval_queries_unique() -> None:
    keys = [normalise(row["query"]) for row in load_eval()]
    duplicates = [k for k, n in Counter(keys).items() if n > 1]
    assert not duplicates


def test_eval_queries_are_held_out() -> None:
    kb = {normalise(p): entry["id"] for entry in entries() for p in phrasings(entry)}
    leaked = [
        (row["query"], kb[normalise(row["query"])])
        for row in load_eval()
        if normalise(row["query"]) in kb
    ]
    assert not leaked
