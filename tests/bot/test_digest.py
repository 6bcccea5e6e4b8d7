"""The weekly digest's figures on a hand-made week, each expected value counted by hand.

The week is 2026-W47 in Shanghai: Monday 16 November 00:00 to Monday 23 November 00:00
local; the digest is computed on Monday 23 November 09:00, the posting time.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.digest_job import build_report, due_week
from bot.digest_render import MAX_MESSAGE, chart_labels, summary
from bot.i18n import translator
from bot.services.digest import Digest, compute, quantile
from bot.services.digest_week import Week
from bot.services.lifecycle import ASKS_AGAIN, WAIT_STARTS
from sandbox.telegram_html import parse_html
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import Cadre, User
from storage.questions import Question, QuestionEvent
from storage.wishes import Wish, WishEvent
from tests.conftest import prepare

TZ = ZoneInfo("Asia/Shanghai")
WEEK = Week(2026, 47)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
PHONE = "13812345678"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A local time in November 2026."""
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ)


def test_quantile_interpolates_between_ranks() -> None:
    # [1, 2, 3, 10, 28]: median is the middle value; p90 sits at rank 3.6 → 10 + 0.6 × 18.
    assert quantile([28, 1, 3, 10, 2], 0.5) == 3
    assert quantile([28, 1, 3, 10, 2], 0.9) == pytest.approx(20.8)
    assert quantile([1, 2], 0.5) == 1.5
    assert quantile([], 0.5) is None


def test_week_bounds_in_shanghai() -> None:
    start, end = WEEK.bounds(TZ)
    assert start == at(16, 0) and end == at(23, 0)
    assert Week.of(at(22, 23, 30), TZ) == WEEK  # Sunday 23:30 local is still W47
    assert Week.of(at(23, 0, 10), TZ) == Week(2026, 48)
    assert Week.of(datetime(2026, 11, 22, 16, 0, tzinfo=ZoneInfo("UTC")), TZ) == Week(2026, 48)
    assert Week.parse("2026-W47") == WEEK and Week.parse("2026w47") == WEEK
    assert Week(2026, 1).previous() == Week(2025, 52)
    assert Week(2026, 53).next() == Week(2027, 1)
    for bad in ("", "2026-47", "2026-W54", "2025-W53", "W47", "2026-W47; drop"):
        with pytest.raises(ValueError, match="week"):
            Week.parse(bad)


def test_due_week_after_monday_nine() -> None:
    settings = Settings(timezone="Asia/Shanghai")
    assert due_week(at(23, 8, 59), settings) is None
    assert due_week(at(23, 9, 0), settings) == WEEK
    assert due_week(at(25, 15, 0), settings) == WEEK  # catch-up later in the week
    friday = Settings(timezone="Asia/Shanghai", digest_weekday=5, digest_time="18:00")
    assert due_week(at(26, 18, 0), friday) is None
    assert due_week(at(27, 18, 0), friday) == WEEK


class World:
    """Builds questions and wishes with their audit logs at chosen times."""

    def __init__(self, session: AsyncSession, cadres: dict[str, int]) -> None:
        self.session, self.cadres = session, cadres
        self.users = 0

    async def user(self) -> User:
        self.users += 1
        user = User(telegram_id=5000 + self.users, first_name="青年", locale="zh-Hans")
        self.session.add(user)
        await self.session.flush()
        return user

    async def question(
        self,
        text: str,
        asked: datetime,
        *,
        status: str,
        region: str | None,
        topic: str | None,
        events: list[tuple[Any, ...]],
        **values: Any,
    ) -> Question:
        user = await self.user()
        last = max([asked, *(e[3] for e in events)])
        # As lifecycle.fire keeps it: the last move that made it wait for staff anew.
        waits = [
            e[3]
            for e in events
            if e[0] in WAIT_STARTS or (e[0] == "follow_up" and e[1] in ASKS_AGAIN)
        ]
        values.setdefault("waiting_since", max(waits) if waits else None)
        question = Question(
            user_id=user.id,
            text=text,
            region_code=region,
            topic=topic,
            status=status,
            asked_at=asked,
            last_activity_at=values.pop("last_activity_at", last),
            events=[],
            thread=[],
            **values,
        )
        self.session.add(question)
        await self.session.flush()
        for trigger, src, dst, when, *rest in events:
            note = rest[0] if rest else ""
            actor = rest[1] if len(rest) > 1 else "system"
            self.session.add(
                QuestionEvent(
                    question_id=question.id,
                    trigger=trigger,
                    from_state=src,
                    to_state=dst,
                    actor=actor,
                    note=note,
                    created_at=when,
                )
            )
        return question

    async def routed(
        self,
        text: str,
        asked: datetime,
        cadre: str | None,
        *,
        answered: datetime | None = None,
        resolved: datetime | None = None,
        reason: str = "unmatched",
        region: str | None = None,
        topic: str | None = None,
        extra: list[tuple[Any, ...]] | None = None,
        status: str | None = None,
        **values: Any,
    ) -> Question:
        events: list[tuple[Any, ...]] = [("route", "new", "routed", asked, reason)]
        cadre_id = self.cadres[cadre] if cadre else None
        if cadre_id:
            events.append(("assign", "routed", "assigned", asked, f"to cadre:{cadre_id}"))
        state = "assigned" if cadre_id else "routed"
        if answered:
            events.append(("answer", state, "answered", answered, "", f"cadre:{cadre_id}"))
            state = "answered"
        if resolved:
            events.append(("resolve", state, "resolved", resolved))
            state = "resolved"
        events += extra or []
        fields: dict[str, Any] = {
            "reason": reason,
            "assigned_cadre_id": cadre_id,
            "assigned_at": asked if cadre_id else None,
            "first_answered_at": answered,
            "answered_at": answered,
            "resolved_at": resolved,
        }
        fields.update(values)
        return await self.question(
            text,
            asked,
            status=status or state,
            region=region,
            topic=topic,
            events=events,
            **fields,
        )

    async def wish(self, status: str, steps: list[tuple[str, datetime]], **values: Any) -> None:
        user = await self.user()
        wish = Wish(
            user_id=user.id,
            status=status,
            text="想要一套课外书",
            category="study",
            beneficiary="self",
            age_band="14-17",
            value_yuan=100,
            submitted_at=steps[0][1],
            events=[],
            **values,
        )
        self.session.add(wish)
        await self.session.flush()
        for trigger, when in steps:
            self.session.add(
                WishEvent(
                    wish_id=wish.id,
                    trigger=trigger,
                    from_state="",
                    to_state="",
                    actor="system",
                    created_at=when,
                )
            )


async def fill(session: AsyncSession) -> dict[str, int]:
    """The hand-made week; the comments are what the test counts on."""
    cadres = {
        name: cadre_id for name, cadre_id in await session.execute(select(Cadre.name, Cadre.id))
    }
    w = World(session, cadres)
    # Five questions first answered by cadres: 1 h, 2 h, 3 h, 28 h and 10 h.
    await w.routed(  # Q1, 王老师, resolved
        "怎么申请入团，需要什么条件",
        at(16, 10),
        "王老师",
        answered=at(16, 11),
        resolved=at(17, 12),
        region="district-a",
        topic="league",
    )
    await w.routed(  # Q2, 王老师, with a phone number
        f"申请入团需要什么条件？电话{PHONE}",
        at(16, 12),
        "王老师",
        answered=at(16, 14),
        region="district-a",
        topic="league",
    )
    await w.routed(  # Q3, 李老师, resolved, marked as a key suggestion
        "高新区哪里有大学生实习岗位",
        at(17, 9),
        "李老师",
        answered=at(17, 12),
        resolved=at(18, 10),
        reason="none_of_these",
        region="district-b",
        topic="employment",
        extra=[("mark_key", "resolved", "resolved", at(18, 11))],
        key_suggestion=True,
    )
    await w.routed(  # Q4, 李老师, answered after 28 h: an SLA breach
        "青年创业补贴怎么申请",
        at(17, 10),
        "李老师",
        answered=at(18, 14),
        reason="ask_person",
        region="district-b",
        topic="employment",
    )
    await w.routed(  # Q5, 李老师, answered then forwarded to a department
        "实习证明去哪里开",
        at(18, 8),
        "李老师",
        answered=at(18, 18),
        region="district-c",
        topic="employment",
        extra=[("forward", "answered", "forwarded", at(19, 9), "市教育局")],
        status="forwarded",
        department="市教育局",
    )
    # Q6 and Q7: answered by the FAQ; Q6 confirmed solved.
    await w.question(
        "志愿者证书怎么打印",
        at(19, 10),
        status="resolved",
        region="district-a",
        topic="volunteer",
        events=[
            ("auto_answer", "new", "auto_answered", at(19, 10)),
            ("resolve", "auto_answered", "resolved", at(19, 10, 5)),
        ],
    )
    await w.question(
        "志愿服务时长怎么查",
        at(19, 11),
        status="auto_answered",
        region="district-a",
        topic="volunteer",
        events=[("auto_answer", "new", "auto_answered", at(19, 11))],
    )
    # Q8: 王老师 never answered: overdue (72 h by Monday 09:00) and an SLA breach.
    await w.routed("申请入团要什么条件吗", at(20, 9), "王老师", region="district-c")
    # Q9: Sunday 23:30 local, in the pool: this week, not overdue yet, no breach yet.
    await w.routed("团员证丢了怎么补办", at(22, 23, 30), None, region="district-a", topic="league")
    # Q10: Monday 00:10 local belongs to next week.
    await w.routed("下周的问题", at(23, 0, 10), None, region="district-a", topic="league")
    # Q12: a safeguarding alert, held by 张老师 unanswered: overdue (37 h), a breach.
    await w.routed(
        "我不想活了",
        at(21, 20),
        "张老师",
        reason="safeguarding",
        region="district-c",
        urgent=True,
        extra=[("alert", "new", "new", at(21, 20))],
    )
    # Q11: last week, answered in 5 h, resolved; reopened on Thursday and waiting since.
    await w.routed(
        "申请入团年龄有什么要求",
        at(11, 10),
        "王老师",
        answered=at(11, 15),
        resolved=at(12, 10),
        region="district-a",
        topic="league",
        extra=[("reopen", "resolved", "routed", at(19, 10))],
        status="routed",
        assigned_cadre_id=None,
    )
    # Wishes: W1 and W4 move this week; W3's claim (last week) has stalled; W2 waits;
    # W5, submitted two weeks ago, still waits for a reviewer.
    await w.wish(
        "claimed",
        [("submit", at(16, 9)), ("approve", at(17, 9)), ("claim", at(18, 9))],
        published_at=at(17, 9),
        claimed_at=at(18, 9),
        progress_at=at(18, 9),
    )
    await w.wish("approved", [("submit", at(2, 9)), ("approve", at(3, 9))], published_at=at(3, 9))
    await w.wish(
        "claimed",
        [("submit", at(9, 10)), ("approve", at(9, 12)), ("claim", at(10, 9))],
        published_at=at(9, 12),
        claimed_at=at(10, 9),
        progress_at=at(10, 9),
    )
    await w.wish(
        "confirmed",
        [
            ("submit", at(19, 9)),
            ("approve", at(19, 10)),
            ("claim", at(19, 11)),
            ("fulfil", at(20, 9)),
            ("confirm", at(21, 9)),
        ],
        published_at=at(19, 10),
    )
    await w.wish("submitted", [("submit", at(4, 9))])
    await session.flush()
    return cadres


async def build(url: str) -> tuple[Digest, dict[str, int], Settings, Any, Any]:
    """Fill a fresh database with the hand-made week and compute its digest."""
    await prepare(url, kb_file=None)
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    async with unit_of_work(sessions) as session:
        cadres = await fill(session)
    settings = Settings(database_url=url, timezone="Asia/Shanghai")
    async with sessions() as session:
        result = await compute(session, week=WEEK, now=NOW, settings=settings)
    return result, cadres, settings, sessions, engine


@pytest.fixture
async def digest(sqlite_url: str) -> Any:
    """The hand-made week's digest on SQLite."""
    *built, engine = await build(sqlite_url)
    yield tuple(built)
    await engine.dispose()


async def test_same_figures_on_postgres(postgres_url: str) -> None:
    *built, engine = await build(postgres_url)
    try:
        await test_question_figures(tuple(built))
        await test_cadre_region_and_topic_rows(tuple(built))
        await test_keywords_gaps_items_and_wishes(tuple(built))
        await test_report_csv_and_chart(tuple(built))
    finally:
        await engine.dispose()


async def test_question_figures(digest: tuple[Digest, dict[str, int], Settings, Any]) -> None:
    d = digest[0]
    this, last = d.this, d.last
    assert not d.partial
    assert this.new == 10  # Q1–Q9 and Q12; Q10 is next week's, Q11 last week's
    assert d.daily == [2, 2, 1, 2, 1, 1, 1]  # Mon Q1 Q2, Tue Q3 Q4, … Sun Q9 (23:30)
    assert (this.faq_answered, this.faq_solved) == (2, 1)  # Q6 Q7; Q6 confirmed
    assert this.routed == 8  # Q1–Q5, Q8, Q9, Q12
    assert this.cadre_answered == 5
    assert this.resolved == 3  # Q1, Q3, Q6
    assert this.reopened == 1  # Q11
    assert (this.forwarded, this.key_marked) == (1, 1)  # Q5; Q3
    assert this.still_open == 6  # Q2 Q4 answered, Q5 forwarded, Q8 Q12 assigned, Q9 routed
    assert this.safeguarding == 1
    assert this.median_hours == 3
    assert this.p90_hours == pytest.approx(20.8)
    assert this.sla_breaches == 3  # Q4 (28 h), Q8 and Q12 (never answered)
    assert (last.new, last.median_hours, last.sla_breaches) == (1, 5, 0)
    # Oldest first: Q11 since Thursday 10:00 (95 h), Q8 (72 h), Q12 (37 h).
    assert d.overdue_total == 3
    assert [round(i.waiting_hours) for i in d.overdue] == [95, 72, 37]


async def test_cadre_region_and_topic_rows(
    digest: tuple[Digest, dict[str, int], Settings, Any],
) -> None:
    d, cadres = digest[0], digest[1]
    rows = {row.name: row for row in d.cadres}
    wang, li, zhang = rows["王老师"], rows["李老师"], rows["张老师"]
    assert (wang.cadre_id, li.cadre_id) == (cadres["王老师"], cadres["李老师"])
    assert (wang.assigned, wang.answered, wang.overdue) == (3, 2, 1)  # Q1 Q2 Q8
    assert (wang.median_hours, wang.resolved_share) == (1.5, 0.5)
    assert (li.assigned, li.answered, li.overdue) == (3, 3, 0)  # Q3 Q4 Q5
    assert li.median_hours == 10 and li.resolved_share == pytest.approx(1 / 3)
    assert (zhang.assigned, zhang.answered, zhang.overdue) == (1, 0, 1)
    assert zhang.median_hours is None and zhang.resolved_share is None
    regions = {r.code: (r.count, r.other) for r in d.regions}
    assert regions == {"district-a": (5, 2), "district-b": (2, 1), "district-c": (3, 3)}
    topics = {t.code: (t.count, t.other) for t in d.topics}
    assert topics == {"league": (3, 1), "employment": (3, 0), "volunteer": (2, 0), None: (2, 0)}


async def test_keywords_gaps_items_and_wishes(
    digest: tuple[Digest, dict[str, int], Settings, Any],
) -> None:
    d = digest[0]
    words = {k.word: (k.count, k.previous) for k in d.keywords}
    assert words["申请入团"] == (3, 1)  # Q1 Q2 Q8; last week Q11 (jieba keeps it one word)
    assert words["条件"] == (3, 0)
    assert "怎么" not in words  # a question word, not a topic
    assert all(k.count >= 3 for k in d.keywords)
    assert not any(ch.isdigit() for k in d.keywords for ch in k.word)
    # One group of similar routed questions: Q1, Q2, Q8; examples masked.
    assert [g.size for g in d.gaps] == [3]
    assert d.gaps[0].examples == ["怎么申请入团，需要什么条件", "申请入团需要什么条件？电话[***]"]
    assert [(i.status, i.department) for i in d.key_items] == [("resolved", None)]
    assert [(i.status, i.department) for i in d.forwarded_items] == [("forwarded", "市教育局")]
    assert d.this.wishes == {"submit": 2, "approve": 2, "claim": 2, "fulfil": 1, "confirm": 1}
    assert d.last.wishes == {"submit": 1, "approve": 1, "claim": 1, "fulfil": 0, "confirm": 0}
    assert (d.wishes_stalled, d.wishes_unclaimed) == (1, 1)  # W3; W2
    assert d.wishes_review_overdue == 1  # W5


@pytest.mark.parametrize("locale", ["zh-Hans", "zh-Hant", "en"])
async def test_summary_is_valid_html_without_personal_text(
    digest: tuple[Digest, dict[str, int], Settings, Any], locale: str
) -> None:
    d, settings = digest[0], digest[2]
    text = summary(d, translator(locale), settings.tz)
    assert len(text) <= MAX_MESSAGE
    parse_html(text)  # raises on invalid Telegram HTML
    assert PHONE not in text and "我不想活了" not in text
    assert "2026-W47" in text


async def test_summary_shrinks_to_the_message_limit(
    digest: tuple[Digest, dict[str, int], Settings, Any],
) -> None:
    d, settings = digest[0], digest[2]
    d.cadres = [d.cadres[0]] * 400
    d.regions = [d.regions[0]] * 400
    text = summary(d, translator("zh-Hans"), settings.tz)
    assert len(text) <= MAX_MESSAGE
    parse_html(text)


async def test_report_csv_and_chart(
    digest: tuple[Digest, dict[str, int], Settings, Any],
) -> None:
    settings, sessions = digest[2], digest[3]
    async with sessions() as session:
        report = await build_report(
            session, week=WEEK, now=NOW, settings=settings, tr=translator("zh-Hans")
        )
    assert report.chart.startswith(b"\x89PNG")
    rows = list(csv.DictReader(io.StringIO(report.csv.decode("utf-8-sig"))))
    assert sum(r["kind"] == "question" for r in rows) == 9  # 10 new, less Q12 (a call for help)
    assert sum(r["kind"] == "wish" for r in rows) == 2  # W1, W4 submitted this week
    first = rows[0]
    assert (first["created"], first["state"], first["first_answer_hours"]) == (
        "2026-11-16 10:00",
        "resolved",
        "1.00",
    )
    body = report.csv.decode("utf-8-sig")
    assert PHONE not in body and "入团" not in body and "市教育局" not in body


async def test_week_so_far_is_partial(sqlite_url: str, tmp_path: Path) -> None:
    await prepare(sqlite_url, kb_file=None)
    engine = create_engine(sqlite_url)
    sessions = create_session_factory(engine)
    async with unit_of_work(sessions) as session:
        await fill(session)
    settings = Settings(database_url=sqlite_url, timezone="Asia/Shanghai")
    async with sessions() as session:
        d = await compute(session, week=WEEK, now=at(18, 0), settings=settings)
    await engine.dispose()
    assert d.partial and d.end == at(18, 0)
    assert d.this.new == 4  # Monday and Tuesday: Q1–Q4
    assert d.this.cadre_answered == 3  # Q1 Q2 Q3; Q4 was answered on Wednesday


async def test_keywords_from_a_sample_are_scaled(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 10 questions, a sample of 5: every 2nd id is read (Q2 Q4 Q6 Q8; Q12 is urgent).
    monkeypatch.setattr("bot.services.digest.KEYWORD_SAMPLE", 5)
    d, *_, engine = await build(sqlite_url)
    await engine.dispose()
    words = {k.word: (k.count, k.previous, k.estimated) for k in d.keywords}
    assert words["申请"] == (6, 1, True)  # Q2 Q4 Q8, times 2; last week Q11, all read
    assert "申请入团" not in words  # only Q2 and Q8 in the sample: below 3 questions
    text = summary(d, translator("en"), TZ)
    assert "申请 ≈6 (+5)" in text


def test_chart_labels_fall_back_to_english_without_a_chinese_font(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bot.digest_render.cjk_font", lambda: None)
    assert chart_labels(translator("zh-Hans")).locale == "en"
    monkeypatch.setattr("bot.digest_render.cjk_font", lambda: "Noto Sans CJK SC")
    assert chart_labels(translator("zh-Hant")).locale == "zh-Hant"
