"""The digest's definitions on cases the first review found miscounted, counted by hand.

Week 2026-W47 in Shanghai, computed on Monday 23 November 09:00; SLA 24 h. Cadres: 王 (W),
李 (L), 张 (Z) from the demo org.

- A: asked Mon 10:00, suggestions shown; "none of these" routes it Tue 16:00 to W, who
  answers Tue 18:00 (2 h after routing), resolved Wed 09:00.
- B: routed to L Tue 09:00, never answered, withdrawn Thu 09:00.
- C: routed to W Wed 09:00, passed to L, back to W, to L again; L answers Wed 14:00 (5 h);
  the youth follows up Thu 10:00, L is away, so it is routed again to W (waiting since).
- D: routed to Z Mon 09:00, answered 10:00, resolved 12:00; a follow-up on Fri 09:00
  reopens it (follow_up from resolved), Z answers again at 10:00.
- E: routed to Z Mon 11:00, answered 12:00, resolved 13:00; marked key and the youth
  shares their name afterwards (events from resolved that are no reopening).
- F: routed to Z Mon 14:00, answered 15:00, resolved 16:00; reopened (to the pool) Sat 09:00.
- G: routed to Z Fri 09:00, never answered; the youth nudges Sun 20:00 and shares their
  name Sun 21:00 (activity, but still waiting for staff since Friday).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.services import lifecycle
from bot.services.digest import Digest, compute
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import Cadre
from storage.questions import Question
from tests.bot.test_digest import NOW, WEEK, World, at
from tests.conftest import prepare


async def _fill(world: World) -> None:
    c = world.cadres
    w, li, z = c["王老师"], c["李老师"], c["张老师"]

    async def q(name: str, status: str, events: list[tuple[Any, ...]], **values: Any) -> None:
        await world.question(
            f"问题{name}",
            events[0][3],
            status=status,
            region=None,
            topic=None,
            events=events,
            reason="unmatched",
            **values,
        )

    await q(
        "A",
        "resolved",
        [
            ("suggest", "new", "suggested", at(16, 10)),
            ("route", "suggested", "routed", at(17, 16), "none_of_these"),
            ("assign", "routed", "assigned", at(17, 16), f"to cadre:{w}"),
            ("answer", "assigned", "answered", at(17, 18), "", f"cadre:{w}"),
            ("resolve", "answered", "resolved", at(18, 9)),
        ],
        assigned_cadre_id=w,
        first_answered_at=at(17, 18),
    )
    await q(
        "B",
        "withdrawn",
        [
            ("route", "new", "routed", at(17, 9)),
            ("assign", "routed", "assigned", at(17, 9), f"to cadre:{li}"),
            ("withdraw", "assigned", "withdrawn", at(19, 9)),
        ],
        assigned_cadre_id=li,
    )
    await q(
        "C",
        "assigned",
        [
            ("route", "new", "routed", at(18, 9)),
            ("assign", "routed", "assigned", at(18, 9), f"to cadre:{w}"),
            ("assign", "assigned", "assigned", at(18, 10), f"passed to cadre:{li}", f"cadre:{w}"),
            ("assign", "assigned", "assigned", at(18, 11), f"passed to cadre:{w}", f"cadre:{li}"),
            ("assign", "assigned", "assigned", at(18, 12), f"passed to cadre:{li}", f"cadre:{w}"),
            ("answer", "assigned", "answered", at(18, 14), "", f"cadre:{li}"),
            ("follow_up", "answered", "assigned", at(19, 10), "", "user:3"),
            ("unassign", "assigned", "routed", at(19, 10), "cadre unavailable"),
            ("assign", "routed", "assigned", at(19, 10), f"to cadre:{w}"),
        ],
        assigned_cadre_id=w,
        first_answered_at=at(18, 14),
    )
    await q(
        "D",
        "answered",
        [
            ("route", "new", "routed", at(16, 9)),
            ("assign", "routed", "assigned", at(16, 9), f"to cadre:{z}"),
            ("answer", "assigned", "answered", at(16, 10), "", f"cadre:{z}"),
            ("resolve", "answered", "resolved", at(16, 12)),
            ("follow_up", "resolved", "assigned", at(20, 9), "", "user:4"),
            ("answer", "assigned", "answered", at(20, 10), "", f"cadre:{z}"),
        ],
        assigned_cadre_id=z,
        first_answered_at=at(16, 10),
    )
    await q(
        "E",
        "resolved",
        [
            ("route", "new", "routed", at(16, 11)),
            ("assign", "routed", "assigned", at(16, 11), f"to cadre:{z}"),
            ("answer", "assigned", "answered", at(16, 12), "", f"cadre:{z}"),
            ("resolve", "answered", "resolved", at(16, 13)),
            ("mark_key", "resolved", "resolved", at(17, 9), "", f"cadre:{z}"),
            ("share_identity", "resolved", "resolved", at(17, 10), "", "user:5"),
        ],
        assigned_cadre_id=z,
        first_answered_at=at(16, 12),
    )
    await q(
        "F",
        "routed",
        [
            ("route", "new", "routed", at(16, 14)),
            ("assign", "routed", "assigned", at(16, 14), f"to cadre:{z}"),
            ("answer", "assigned", "answered", at(16, 15), "", f"cadre:{z}"),
            ("resolve", "answered", "resolved", at(16, 16)),
            ("reopen", "resolved", "routed", at(21, 9), "", "user:6"),
        ],
        first_answered_at=at(16, 15),
    )
    await q(
        "G",
        "assigned",
        [
            ("route", "new", "routed", at(20, 9)),
            ("assign", "routed", "assigned", at(20, 9), f"to cadre:{z}"),
            ("follow_up", "assigned", "assigned", at(22, 20), "", "user:7"),
            ("share_identity", "assigned", "assigned", at(22, 21), "", "user:7"),
        ],
        assigned_cadre_id=z,
    )


@pytest.fixture
async def digest(db_url: str) -> Any:
    """The cases' digest."""
    await prepare(db_url, kb_file=None)
    engine = create_engine(db_url)
    sessions = create_session_factory(engine)
    try:
        async with unit_of_work(sessions) as session:
            cadres = {n: i for n, i in await session.execute(select(Cadre.name, Cadre.id))}
            await _fill(World(session, cadres))
        settings = Settings(database_url=db_url, timezone="Asia/Shanghai")
        async with sessions() as session:
            yield await compute(session, week=WEEK, now=NOW, settings=settings)
    finally:
        await engine.dispose()


async def test_sla_and_first_answer_time_count_from_routing(digest: Digest) -> None:
    # A: 2 h from routing, not 32 h from asking. B was withdrawn a day after its
    # deadline, unanswered: still a breach, as it stood at the deadline. And G.
    assert digest.this.sla_breaches == 2
    assert sorted(digest.this.first_answer_hours) == [1, 1, 1, 2, 5]  # D E F A C
    assert digest.this.median_hours == 1
    assert digest.this.p90_hours == pytest.approx(3.8)  # rank 3.6: 2 + 0.6 × 3


async def test_a_follow_up_on_a_resolved_question_is_a_reopening(digest: Digest) -> None:
    assert digest.this.reopened == 2  # D (follow-up), F (reopen); not E (marks only)


async def test_overdue_counts_from_when_staff_was_asked(digest: Digest) -> None:
    # C since its re-routing Thu 10:00 (95 h), G since Fri 09:00 despite the nudge (72 h),
    # F since its reopening Sat 09:00 (48 h).
    assert digest.overdue_total == 3
    assert [(round(i.waiting_hours)) for i in digest.overdue] == [95, 72, 48]


async def test_cadre_rows_credit_the_first_answer_and_count_questions_once(
    digest: Digest,
) -> None:
    rows = {row.name: row for row in digest.cadres}
    wang, li, zhang = rows["王老师"], rows["李老师"], rows["张老师"]
    assert (wang.assigned, wang.answered, wang.hours, wang.overdue) == (2, 1, [2], 1)  # A C
    assert wang.resolved_share == 1  # A
    assert (li.assigned, li.answered, li.hours, li.overdue) == (2, 1, [5], 0)  # B C
    assert li.resolved_share == 0  # C is waiting again
    assert (zhang.assigned, zhang.answered, zhang.hours, zhang.overdue) == (4, 3, [1, 1, 1], 1)
    assert zhang.resolved_share == pytest.approx(1 / 3)  # E of D E F


def test_waiting_since_moves_when_staff_is_asked_not_on_a_nudge() -> None:
    question = Question(id=1, status="new", events=[], thread=[])
    fire = lifecycle.fire
    fire(question, "suggest", actor="system", now=at(16, 9))
    assert question.waiting_since is None  # the matcher's suggestions: nobody asked yet
    fire(question, "route", actor="system", now=at(17, 9))
    fire(question, "assign", actor="system", now=at(17, 10))
    assert question.waiting_since == at(17, 10)
    for trigger, hour in (("follow_up", 11), ("share_identity", 12), ("remind", 13)):
        fire(question, trigger, actor="user:1", now=at(17, hour))
    assert question.waiting_since == at(17, 10)  # a nudge, a name, a reminder: still waiting
    assert question.last_activity_at == at(17, 13)
    fire(question, "answer", actor="cadre:1", now=at(18, 9))
    fire(question, "follow_up", actor="user:1", now=at(18, 10))  # asks again after an answer
    assert question.waiting_since == at(18, 10)
    fire(question, "answer", actor="cadre:1", now=at(18, 11))
    fire(question, "resolve", actor="user:1", now=at(18, 12))
    fire(question, "reopen", actor="user:1", now=at(19, 9))
    assert question.waiting_since == at(19, 9)


def test_a_word_from_one_young_person_alone_is_no_hot_keyword() -> None:
    """Counted by question, a word one person repeated (a name the masking missed)
    would top the week; it must come from at least three people."""
    from bot.services.digest_text import keywords

    texts = [
        "张小伟想问篮球赛怎么报名",
        "张小伟的篮球赛报名截止了吗",
        "篮球赛张小伟还能参加吗",
        "志愿者证书在哪里领",
    ]
    one_person = keywords(texts, [], askers=[7, 7, 7, 8])
    assert one_person == []
    three = {k.word for k in keywords(texts, [], askers=[7, 8, 9, 10])}
    assert {"张小伟", "篮球赛"} <= three
    with pytest.raises(ValueError, match="asker"):
        keywords(texts, [], askers=[7])
