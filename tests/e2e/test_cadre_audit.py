"""Audit of the cadre side of the question loop, through the sandbox and the real bot.

Each test here FAILS on the code as audited: its docstring says what a cadre, a
committee admin or a young person meets. None of them mocks the project's code.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from bot.data import DEMO_ORG
from bot.services import org
from bot.sweeper import sweep
from knowledge import store
from storage.db import unit_of_work
from storage.faq import FaqEntry
from storage.models import Cadre
from storage.questions import Question
from tests.e2e.test_question_loop import SUN, _invite_token, _pick_region
from tests.e2e.test_question_loop import _next_card as _wait
from tests.e2e.test_question_loop import _question as _newest
from tests.support import XIAOMING, BotHarness, buttons

WANG = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}  # admin + cadre
LI = {"id": 2002, "first_name": "李老师", "language_code": "zh-hans"}  # districts b, c
ZHANG = {"id": 2003, "first_name": "张老师", "language_code": "zh-hans"}  # the city
COMMITTEE = -1001000000001


async def _holder(harness: BotHarness, question_id: int) -> int | None:
    """The Telegram id of the cadre holding the question, or None (the pool)."""
    async with harness.sessions() as session:
        question = await session.get(Question, question_id)
        assert question is not None
        if question.assigned_cadre_id is None:
            return None
        cadre = await session.get(Cadre, question.assigned_cadre_id)
        assert cadre is not None
        return cadre.telegram_id


async def _load_org(harness: BotHarness, path: Path) -> org.LoadReport:
    """What ``voy org load FILE`` does, from another process, on the bot's database."""
    async with unit_of_work(harness.sessions) as session:
        return await org.load_org(session, org.parse_org_file(path), default_locale="zh-Hans")


async def _invite_sun(harness: BotHarness) -> None:
    """孙老师 joins by invite: after-school classes (study) in the Hi-Tech Zone."""
    (welcome,) = await harness.send(SUN, f"/start {await _invite_token(harness)}")
    assert "团干部" in welcome["text"]


def _demo_org_plus_sun(tmp_path: Path) -> Path:
    """The demo org file with 孙老师 listed among its cadres."""
    text = DEMO_ORG.read_text(encoding="utf-8")
    sun = (
        "  - telegram_id: 4100\n"
        "    name: 孙老师\n"
        "    regions: [district-c]\n"
        "    topics: [study]\n"
        "    duty_days: [wed]\n"
        "    capacity: 5\n"
    )
    at = text.index("reviewers:")
    path = tmp_path / "org-with-sun.yaml"
    path.write_text(text[:at] + sun + text[at:], encoding="utf-8")
    return path


# --- org file reloads -------------------------------------------------------------


async def test_an_org_reload_does_not_strip_an_invited_cadres_role(harness: BotHarness) -> None:
    """A cadre who joined by invite link (or ``voy cadre add``) stays an active cadre
    through ``voy org load`` (only source=org cadres are deactivated), and keeps being
    routed questions, but the reload takes the cadre role off his user: /wishes refuses
    him ("only cadres and donors"), /help drops the cadre commands, his menu goes back to
    a young person's at the next menu sync, the wish sweep releases his claims as a
    "gone" claimer's, and broadcasts count him as a young person."""
    await _invite_sun(harness)
    await _load_org(harness, DEMO_ORG)  # the committee reloads its (unchanged) org file
    await _pick_region(harness, XIAOMING, "高新区")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "高新区有没有假期托管班")
    question = await _newest(harness)
    await _wait(harness, SUN["id"], seq, f"#{question.id}")  # still gets the cards
    assert await _holder(harness, question.id) == SUN["id"]
    (wishes_reply,) = await harness.send(SUN, "/wishes")
    assert "只有团干部" not in wishes_reply["text"], wishes_reply["text"]
    user = await harness.user(SUN["id"])
    assert user is not None and "cadre" in (user.roles or []), user.roles


async def test_a_cadre_dropped_from_the_org_file_stops_getting_questions(
    harness: BotHarness, tmp_path: Path
) -> None:
    """README: "a cadre missing from a newer file is deactivated (kept for history) and
    loses the cadre role". A cadre who first joined by invite (or ``voy cadre add``) and
    was then listed in the org file keeps ``source='invite'``: load_org never sets it to
    'org', so when the committee drops him from the file he loses the role but stays
    active, and young people's questions keep going to a man who no longer works there."""
    await _invite_sun(harness)
    await _load_org(harness, _demo_org_plus_sun(tmp_path))  # now listed in the file
    report = await _load_org(harness, DEMO_ORG)  # and dropped from it again
    await _pick_region(harness, XIAOMING, "高新区")
    await harness.send(XIAOMING, "高新区有没有假期托管班")
    question = await _newest(harness)
    holder = await _holder(harness, question.id)
    assert holder != SUN["id"], (
        f"question #{question.id} went to 孙老师, dropped from the org file; "
        f"report.deactivated_cadres={report.deactivated_cadres}"
    )


# --- claiming from the pool ---------------------------------------------------------


async def test_an_admin_cadre_cannot_take_a_question_a_colleague_already_claimed(
    harness: BotHarness,
) -> None:
    """A question waits in the pool; 李老师 takes it from /pool. The committee group's
    pool card still shows "🙋 我来答复" (claiming from /pool does not touch it). 王老师,
    a committee admin who is also a cadre, presses it: ``questions.claim`` lets an admin
    past every check and re-assigns the question to him. 李老师 is not told, keeps his
    card and his SLA reminder, and his answer is refused; 王老师 is told he claimed a
    question he does not even cover (district-c)."""
    for cadre in (WANG, LI, ZHANG):
        await harness.client.send_text(cadre, "/start")
    await _pick_region(harness, XIAOMING, "高新区")
    now = harness.app.bot_data.services.clock.now()
    async with unit_of_work(harness.sessions) as session:  # nobody there: the pool
        await session.execute(update(Cadre).values(away_until=now + timedelta(days=7)))
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "高新区的青年创业沙龙怎么报名")
    pool_card = await _wait(harness, COMMITTEE, seq, "待领取")
    question = await _newest(harness)
    async with unit_of_work(harness.sessions) as session:  # everyone is back
        await session.execute(update(Cadre).values(away_until=None))
    (listing,) = await harness.send(LI, "/pool")
    await harness.press(LI, listing, f"#{question.id}")
    assert await _holder(harness, question.id) == LI["id"]

    answer = await harness.press(WANG, pool_card, "我来答复", chat_id=COMMITTEE)
    assert await _holder(harness, question.id) == LI["id"], (
        f"王老师 took question #{question.id} from 李老师 who had claimed it; "
        f"王老师 was told: {answer['text']!r}"
    )


# --- promotion to the FAQ -----------------------------------------------------------


async def test_promoting_the_answer_to_a_follow_up_does_not_pair_it_with_the_question(
    harness: BotHarness,
) -> None:
    """After answering a follow-up, the cadre's confirmation offers "加入常见问题" again.
    ``promotion.promote`` makes the entry from the ticket's FIRST message and its LATEST
    answer, so the FAQ learns "有没有周末的篮球活动？" → "下午两点。" (the answer to
    "几点开始？"), and answers the next young person with it."""
    await _pick_region(harness, XIAOMING, "东城区", "东湖街道")
    await harness.client.send_text(WANG, "/start")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "我们东湖街道有没有周末的篮球活动？")
    card = await _wait(harness, WANG["id"], seq, "问题 #")
    question = await _newest(harness)
    seq = await harness.client.last_seq()
    first = (
        await harness.send(WANG, "周六下午在青年之家有篮球活动。", reply_to=card["message_id"])
    )[-1]
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    await harness.press(XIAOMING, answer, "继续追问")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "几点开始？")
    follow = await _wait(harness, WANG["id"], seq, "几点开始")
    confirmation = (await harness.send(WANG, "下午两点。", reply_to=follow["message_id"]))[-1]
    # The answer to a follow-up is not offered to the FAQ; the first answer's offer,
    # pressed now, pairs the question with its own answer.
    assert "已把你的答复发给提问人" in confirmation["text"]
    assert not any("加入常见问题" in b["text"] for b in buttons(confirmation))
    await harness.press(WANG, first, "加入常见问题")
    async with harness.sessions() as session:
        entry = await store.get_entry(session, f"cadre-q{question.id}")
    assert entry is not None
    assert "周六" in entry.answer and "两点" not in entry.answer, (
        f"FAQ entry {entry.question!r} -> {entry.answer!r}"
    )


async def test_promoting_a_question_the_faq_already_has_makes_a_duplicate_entry(
    harness: BotHarness,
) -> None:
    """A young person gets the FAQ's answer to "团费怎么交？", wants more and presses
    "👎 找人工解答"; the cadre answers and presses "加入常见问题" (the first button).
    ``promotion.promote`` makes a second active entry with the very same question (no
    check against the FAQ's questions and phrasings; ``voy kb lint`` then reports a
    near-duplicate). The cadre is told it was added, but the matcher keeps serving the
    old entry (the one the young person said did not help) and the new one is never
    reached: a duplicate, dead entry."""
    await _pick_region(harness, XIAOMING, "东城区", "东湖街道")
    await harness.client.send_text(WANG, "/start")
    (auto,) = await harness.send(XIAOMING, "团费怎么交？")
    assert "团费按月缴纳" in auto["text"]  # the FAQ answers on its own
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, auto, "找人工解答")
    card = await _wait(harness, WANG["id"], seq, "问题 #")
    seq = await harness.client.last_seq()
    confirmation = (
        await harness.send(WANG, "每月 2 元，在智慧团建交。", reply_to=card["message_id"])
    )[-1]
    await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    refused = await harness.press(WANG, confirmation, "加入常见问题")
    assert refused["show_alert"] and "league-dues" in refused["text"], refused
    async with harness.sessions() as session:
        same = [
            e.id
            for e in await store.export_entries(session, include_inactive=False)
            if e.question.rstrip("？?") == "团费怎么交"
        ]
    await harness.knowledge_current()
    (again,) = await harness.send(XIAOMING, "团费怎么交？")
    assert len(same) == 1, (
        f"active entries asking 团费怎么交: {same}; the same question now gets: {again['text']!r}"
    )


async def test_a_rejected_unsure_suggestion_does_not_set_the_topic(harness: BotHarness) -> None:
    """``asking._topic_of`` leaves the topic unset below 0.25 confidence ("a wrong topic
    can leave a question with nobody to answer it, while no topic routes it to whoever
    covers the asker's region"). But when the young person presses "以上都不是"
    (none of the suggestions fits), ``asking.hand_over`` sets the topic from the very
    entry they rejected, whatever its confidence. "实习时长怎么算" (an internship, in the
    Hi-Tech Zone, where 李老师 and 张老师 answer) is suggested "志愿时长证明怎么开？" at 0.2;
    rejected, it gets the topic 'volunteer', which nobody covers in the Hi-Tech Zone,
    and waits in the committee's pool instead of reaching 李老师."""
    for cadre in (WANG, LI, ZHANG):
        await harness.client.send_text(cadre, "/start")
    await _pick_region(harness, XIAOMING, "高新区")
    (suggested,) = await harness.send(XIAOMING, "实习时长怎么算")
    assert "以上都不是" in str(buttons(suggested))
    question = await _newest(harness)
    assert question.topic is None  # too unsure to say, when asked
    await harness.press(XIAOMING, suggested, "以上都不是")
    routed = await _newest(harness)
    holder = await _holder(harness, routed.id)
    assert holder is not None, (
        f"question #{routed.id} waits in the pool with topic {routed.topic!r} taken from "
        f"the suggestion the young person rejected"
    )


# --- passing on -------------------------------------------------------------------------


async def test_a_call_for_help_passed_to_a_colleague_stays_urgent(harness: BotHarness) -> None:
    """A call for help reaches 李老师 as an urgent card (🚨 紧急关注, its category). He
    presses "转给同事" and picks 张老师: ``handlers.cadre.pass_to`` sends an ordinary
    📨 card (``notify.card``), with near FAQ entries to answer with, and nothing saying
    it is a call for help. The sweeper's hand-on was fixed for this (an urgent question
    rerouted stays urgent, tests/e2e/test_push_gaps.py); passing on was not."""
    for cadre in (WANG, LI, ZHANG):
        await harness.client.send_text(cadre, "/start")
    await _pick_region(harness, XIAOMING, "高新区")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "我真的不想活了，每天都很痛苦")
    urgent = await _wait(harness, LI["id"], seq, "紧急关注")
    question = await _newest(harness)
    assert question.urgent and await _holder(harness, question.id) == LI["id"]
    await harness.press(LI, urgent, "转给同事")
    choices = [m for m in await harness.client.messages(LI["id"]) if m["from_bot"]][-1]
    seq = await harness.client.last_seq()
    await harness.press(LI, choices, "张老师")
    passed = await _wait(harness, ZHANG["id"], seq, f"#{question.id}")
    assert await _holder(harness, question.id) == ZHANG["id"]
    assert "紧急关注" in passed["text"], f"张老师 got an ordinary card: {passed['text']!r}"
    # Opened again from /queue, it still reads as a call for help, with no FAQ buttons.
    (queue,) = await harness.send(ZHANG, "/queue")
    seq = await harness.client.last_seq()
    await harness.press(ZHANG, queue, f"#{question.id}")
    opened = await _wait(harness, ZHANG["id"], seq, f"#{question.id}")
    assert "紧急关注" in opened["text"] and "相近的常见问题" not in opened["text"]
    assert not any("常见问题" in b["text"] for b in buttons(opened)), buttons(opened)


async def test_a_topic_dropped_from_the_org_file_does_not_strand_its_questions(
    harness: BotHarness, tmp_path: Path
) -> None:
    """The committee merges the topic 'league' into the others (drops it from the org
    file and from its cadres' lists). ``load_org`` deletes the topic, but open questions
    keep ``topic='league'``, which no cadre can cover any more: ``routing.covers``
    requires the topic, so such a question is never routed (the pool's re-offer finds
    nobody, every 48 hours, for ever), and no cadre sees it in /pool or may claim it;
    only an admin can still answer. (A removed *region* does the opposite: its
    questions match every cadre.) An unknown topic should route as no topic."""
    for cadre in (WANG, LI, ZHANG):
        await harness.client.send_text(cadre, "/start")
    await _pick_region(harness, XIAOMING, "高新区")
    services = harness.app.bot_data.services
    async with unit_of_work(harness.sessions) as session:  # nobody there: the pool
        await session.execute(
            update(Cadre).values(away_until=services.clock.now() + timedelta(days=1))
        )
    (auto,) = await harness.send(XIAOMING, "团费怎么交？")
    await harness.press(XIAOMING, auto, "找人工解答")
    question = await _newest(harness)
    assert question.topic == "league" and await _holder(harness, question.id) is None

    text = DEMO_ORG.read_text(encoding="utf-8")
    start = text.index("  - {code: league,")
    text = text[:start] + text[text.index("\n", start) + 1 :]
    text = text.replace("topics: [league, ", "topics: [")
    assert "league," not in text and "code: league" not in text
    merged = tmp_path / "org-merged.yaml"
    merged.write_text(text, encoding="utf-8")
    report = await _load_org(harness, merged)
    assert report.removed_topics == ["league"]
    async with unit_of_work(harness.sessions) as session:  # everyone is back
        await session.execute(update(Cadre).values(away_until=None))

    (pool,) = await harness.send(LI, "/pool")  # 李老师 answers the whole Hi-Tech Zone
    services.clock.advance(hours=49)
    await sweep(services)
    holder = await _holder(harness, question.id)
    assert holder is not None, (
        f"question #{question.id} (topic 'league', dropped) is still in the pool after "
        f"the re-offer; 李老师's /pool says: {pool['text']!r}"
    )


async def test_a_phrasing_the_entry_already_has_is_not_reported_as_added(
    harness: BotHarness,
) -> None:
    """ "📚 归入：…" with the entry's own wording taught nothing: the cadre is told so,
    not "已加入常见问题"."""
    await _pick_region(harness, XIAOMING, "东城区", "东湖街道")
    await harness.client.send_text(WANG, "/start")
    (auto,) = await harness.send(XIAOMING, "团费怎么交？")
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, auto, "找人工解答")
    card = await _wait(harness, WANG["id"], seq, "问题 #")
    confirmation = (
        await harness.send(WANG, "每月 2 元，在智慧团建交。", reply_to=card["message_id"])
    )[-1]
    # The entry whose answer the young person turned down is not offered to file it
    # under; an old or forged button naming it is told what is so.
    assert not any("团费怎么交" in b["text"] for b in buttons(confirmation))
    async with harness.sessions() as session:
        entry = await session.scalar(select(FaqEntry).where(FaqEntry.slug == "league-dues"))
    question = await _newest(harness)
    assert entry is not None
    told = await harness.press_data(
        WANG, confirmation["message_id"], f"v1:qalt:{question.id}:{entry.id}"
    )
    assert told["show_alert"] and "已经在常见问题条目" in told["text"], told
    assert "已加入常见问题" not in told["text"]


async def test_overdue_lists_a_reopened_question_by_how_long_it_has_waited(
    harness: BotHarness,
) -> None:
    """/overdue picks questions by how long they have waited for staff; its lines said how
    long ago they were first asked, so a follow-up on an old answered question read as
    "6 天前" on a list of what waits too long."""
    await _pick_region(harness, XIAOMING, "东城区", "东湖街道")
    await harness.client.send_text(WANG, "/start")
    services = harness.app.bot_data.services
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "我们东湖街道有没有周末的篮球活动？")
    card = await _wait(harness, WANG["id"], seq, "问题 #")
    question = await _newest(harness)
    assert "没有超时的问题" in (await harness.send(WANG, "/overdue"))[-1]["text"]
    seq = await harness.client.last_seq()
    await harness.send(WANG, "周六下午在青年之家有篮球活动。", reply_to=card["message_id"])
    answer = await _wait(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    services.clock.advance(days=5)
    await harness.press(XIAOMING, answer, "继续追问")
    await harness.send(XIAOMING, "几点开始？")
    services.clock.advance(hours=25)
    listing = [m for m in await harness.send(WANG, "/overdue") if "超时的问题" in m["text"]][-1]
    line = next(x for x in listing["text"].splitlines() if x.startswith(f"#{question.id} "))
    assert "25 小时前" in line and "天前" not in line, line
