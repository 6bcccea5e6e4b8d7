"""Questions through the sandbox: answered, suggested, routed; buttons recorded and learned."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.sweeper import sweep
from knowledge import store
from knowledge.entries import STARTER_FAQ
from sandbox import SandboxServer
from storage.faq import MatchLog
from storage.models import Cadre
from storage.questions import Question
from tests.conftest import run_harness
from tests.support import ALEX, XIAOMEI, XIAOMING, BotHarness, buttons

CADRES = [{"id": i, "first_name": "老师", "language_code": "zh-hans"} for i in (2001, 2002, 2003)]


async def _logs(harness: BotHarness) -> list[MatchLog]:
    async with harness.sessions() as session:
        return list(await session.scalars(select(MatchLog).order_by(MatchLog.id)))


async def _questions(harness: BotHarness) -> list[Question]:
    async with harness.sessions() as session:
        return list(await session.scalars(select(Question).order_by(Question.id)))


async def test_sure_match_is_answered_with_feedback_buttons(harness: BotHarness) -> None:
    (reply,) = await harness.send(XIAOMING, "请问几岁能入团啊？")
    assert "年满十四周岁" in reply["text"]
    assert [b["text"] for b in buttons(reply)] == ["👍 解决了", "👎 找人工解答"]
    answer = await harness.press(XIAOMING, reply, "解决了")
    assert answer["text"] == "谢谢你的反馈！"
    assert not buttons(await harness.message(XIAOMING["id"], reply["message_id"]))
    (log,) = await _logs(harness)
    assert (log.band, log.entry_slug, log.response) == ("answer", "league-join-age", "solved")
    again = await harness.press_data(XIAOMING, reply["message_id"], f"v1:ok:{log.id}")
    assert again["show_alert"] and "已经" in again["text"]


async def test_traditional_input_is_understood(harness: BotHarness) -> None:
    (reply,) = await harness.send(XIAOMEI, "請問幾歲可以入團？")
    assert "年满十四周岁" in reply["text"]  # the answer itself is the KB's
    assert [b["text"] for b in buttons(reply)] == ["👍 解決了", "👎 找人工解答"]


async def test_unhelpful_answer_goes_to_a_person(harness: BotHarness) -> None:
    (reply,) = await harness.send(XIAOMING, "团费怎么交？")
    await harness.press(XIAOMING, reply, "找人工")
    routed = [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]][-1]
    (question,) = await _questions(harness)
    assert f"问题编号 {question.id}" in routed["text"]
    assert (question.reason, question.topic, question.text) == (
        "ask_person",
        "league",
        "团费怎么交？",
    )


async def test_unknown_question_is_routed_and_stored_open(harness: BotHarness) -> None:
    picker = (await harness.send(XIAOMING, "/start"))[-1]
    await harness.press(XIAOMING, picker, "高新区")
    (reply,) = await harness.send(XIAOMING, "我们小区的篮球场什么时候修好")
    (question,) = await _questions(harness)
    assert f"问题编号 {question.id}" in reply["text"]
    assert question.status == "assigned" and question.region_code == "district-c"
    assert question.reason == "unmatched" and question.assigned_cadre_id is not None
    assert (await _logs(harness))[-1].band == "route"


async def test_english_routing_message(harness: BotHarness) -> None:
    (reply,) = await harness.send(ALEX, "Where can I park my bike near the school?")
    assert "league cadre" in reply["text"]


@pytest.fixture
async def cautious(sandbox: SandboxServer, database_url: str) -> AsyncIterator[BotHarness]:
    """A bot that never answers on its own, so every likely match becomes a suggestion;
    suggestions left without a choice go to a person after two hours (by day)."""
    async for running in run_harness(
        sandbox, database_url, match_answer_threshold=1.0, suggest_route_hours=2
    ):
        yield running


async def test_suggestions_choice_answers_and_is_learned(cautious: BotHarness) -> None:
    (reply,) = await cautious.send(XIAOMING, "团关系咋转")
    assert "你是想问" in reply["text"]
    labels = [b["text"] for b in buttons(reply)]
    assert labels[0] == "怎么转团组织关系？" and labels[-1] == "以上都不是，找人工解答"
    await cautious.press(XIAOMING, reply, "怎么转团组织关系")
    chosen = await cautious.message(XIAOMING["id"], reply["message_id"])
    assert "你选择了" in chosen["text"] and not buttons(chosen)
    answer = [m for m in await cautious.client.messages(XIAOMING["id"]) if m["from_bot"]][-1]
    assert "智慧团建" in answer["text"] and buttons(answer)
    async with cautious.sessions() as session:
        entry = await store.get_entry(session, "league-transfer")
        assert entry is not None
        learned = entry.phrasings[-1]
        assert (learned.text, learned.source) == ("团关系咋转", "suggestion")
        assert [r.note for r in await store.history(session, "league-transfer")][-1] == (
            "phrasing learned (suggestion)"
        )
    assert [log.response for log in await _logs(cautious)] == ["chose", None]


async def test_a_chosen_suggestion_with_personal_data_is_answered_not_learned(
    cautious: BotHarness,
) -> None:
    """The knowledge base keeps no young person's details: a wording with a phone
    number is answered but not learned as a phrasing."""
    (reply,) = await cautious.send(XIAOMING, "团关系咋转 13812345678")
    assert "你是想问" in reply["text"]
    await cautious.press(XIAOMING, reply, "怎么转团组织关系")
    answer = [m for m in await cautious.client.messages(XIAOMING["id"]) if m["from_bot"]][-1]
    assert "智慧团建" in answer["text"]
    async with cautious.sessions() as session:
        entry = await store.get_entry(session, "league-transfer")
        assert entry is not None
        assert not [p for p in entry.phrasings if "13812345678" in p.text]
        assert not [p for p in entry.phrasings if p.source == "suggestion"]


async def test_none_of_these_routes(cautious: BotHarness) -> None:
    """The choices give way to what was chosen, as a suggestion chosen does: the message
    kept asking "你是想问：" with nothing under it."""
    (reply,) = await cautious.send(XIAOMING, "团关系咋转")
    await cautious.press(XIAOMING, reply, "以上都不是")
    (question,) = await _questions(cautious)
    assert question.reason == "none_of_these" and question.text == "团关系咋转"
    routed = [m for m in await cautious.client.messages(XIAOMING["id"]) if m["from_bot"]][-1]
    assert "转给团干部" in routed["text"]
    choices = await cautious.message(XIAOMING["id"], reply["message_id"])
    assert choices["text"] == "你选择了：以上都不是，找人工解答" and not buttons(choices)


async def test_suggestions_left_without_a_choice_go_to_a_person(cautious: BotHarness) -> None:
    """The young person looks at the choices and walks away: after the wait the question
    goes to a person, they are told (with the helpline), the cadre's card says why, and
    a choice pressed afterwards says a person has it."""
    for cadre in CADRES:  # their private chats exist
        await cautious.client.send_text(cadre, "/start")
    (reply,) = await cautious.send(XIAOMING, "团关系咋转")
    assert "你是想问" in reply["text"]
    services = cautious.app.bot_data.services
    assert (await sweep(services)).unchosen_routed == 0  # not before the wait
    seq = await cautious.client.last_seq()
    services.clock.advance(hours=cautious.settings.suggest_route_hours)
    assert (await sweep(services)).unchosen_routed == 1
    (question,) = await _questions(cautious)
    assert (question.status, question.reason) == ("assigned", "no_choice")
    told = await cautious.client.wait_for_bot_message(
        XIAOMING["id"], after_seq=seq, timeout=10, predicate=lambda m: "团关系咋转" in m["text"]
    )
    assert f"问题编号 {question.id}" in told["text"] and "12355" in told["text"]
    async with cautious.sessions() as session:
        cadre = await session.get(Cadre, question.assigned_cadre_id)
    assert cadre is not None
    card = await cautious.client.wait_for_bot_message(
        cadre.telegram_id,
        after_seq=seq,
        timeout=10,
        predicate=lambda m: f"#{question.id}" in m["text"],
    )
    assert "没有选择" in card["text"]
    late = await cautious.press(XIAOMING, reply, "怎么转团组织关系")
    assert late["show_alert"] and "转给团干部" in late["text"]
    (question,) = await _questions(cautious)
    assert question.status == "assigned"  # the press changed nothing
    assert (await sweep(services)).unchosen_routed == 0  # once only
    assert [log.response for log in await _logs(cautious)] == ["no_choice"]


async def test_a_choice_under_a_copy_asked_again_points_to_the_later_one(
    cautious: BotHarness,
) -> None:
    """The same words asked twice, the first copy's wait over: it is withdrawn for the
    later one (not handed on twice), and a choice under it says where to choose."""
    services = cautious.app.bot_data.services
    (first,) = await cautious.send(XIAOMING, "团关系咋转")
    services.clock.advance(hours=1)
    await cautious.send(XIAOMING, "团关系咋转？")
    services.clock.advance(hours=cautious.settings.suggest_route_hours - 0.5)
    report = await sweep(services)
    assert report.unchosen_routed == 0
    assert [q.status for q in await _questions(cautious)] == ["withdrawn", "suggested"]
    late = await cautious.press(XIAOMING, first, "怎么转团组织关系")
    assert late["show_alert"] and "新消息" in late["text"]
    # /my does not say they withdrew it: it says the later one counts.
    (listing,) = await cautious.send(XIAOMING, "/my")
    assert "以新的那条为准" in listing["text"] and "已撤回" not in listing["text"]


async def test_forged_pick_cannot_teach_an_entry_that_was_not_offered(
    cautious: BotHarness,
) -> None:
    (reply,) = await cautious.send(XIAOMING, "团关系咋转")
    (log,) = await _logs(cautious)
    async with cautious.sessions() as session:
        other = await store.get_entry(session, "counselling-12355")
    assert other is not None and other.id not in log.offered
    forged = f"v1:pick:{log.id}:{other.id}"
    answer = await cautious.press_data(XIAOMING, reply["message_id"], forged)
    assert answer["show_alert"]
    async with cautious.sessions() as session:
        entry = await store.get_entry(session, "counselling-12355")
        assert entry is not None and "团关系咋转" not in [p.text for p in entry.phrasings]
    # A button of the other band ("solved" on a suggestion) is refused too.
    answer = await cautious.press_data(XIAOMING, reply["message_id"], f"v1:ok:{log.id}")
    assert answer["show_alert"]


async def test_someone_elses_button_is_refused(harness: BotHarness) -> None:
    (reply,) = await harness.send(XIAOMING, "团费怎么交？")
    (log,) = await _logs(harness)
    answer = await harness.press_data(
        ALEX, reply["message_id"], f"v1:hum:{log.id}", chat_id=XIAOMING["id"]
    )
    assert answer["show_alert"]
    (question,) = await _questions(harness)
    assert question.status == "auto_answered"  # not handed on by someone else's press


async def test_kb_change_from_another_session_is_picked_up_without_restart(
    harness: BotHarness,
) -> None:
    (before,) = await harness.send(XIAOMING, "青年之家几点开门")
    assert "转给团干部" in before["text"]
    from knowledge.entries import EntryData
    from storage.db import unit_of_work

    async with unit_of_work(harness.sessions) as session:
        await store.import_entries(
            session,
            [
                EntryData(
                    id="youth-home-hours",
                    question="青年之家几点开门？",
                    alt_questions=("青年之家开放时间",),
                    answer="青年之家每天 9:00–21:00 开放。",
                    topic="youth_home",
                )
            ],
            changed_by="test",
        )
    # The running bot's index sees the new version and rebuilds (a question waits for a
    # rebuild only briefly, so wait for it here rather than race it).
    await harness.knowledge_current()
    (after,) = await harness.send(XIAOMING, "青年之家几点开门")
    assert "9:00" in after["text"]


async def test_my_shows_a_link_in_an_faq_answer_apart_from_the_next_words(
    harness: BotHarness,
) -> None:
    """/my's copy of the FAQ answer (plain text) put the link's address in brackets right
    before the next word: "中国志愿服务网 (https://…)实名注册"."""
    from knowledge.entries import EntryData
    from storage.db import unit_of_work

    async with unit_of_work(harness.sessions) as session:
        await store.import_entries(
            session,
            [
                EntryData(
                    id="volunteer-hours",
                    question="志愿时长证明怎么开？",
                    alt_questions=("怎么开志愿服务证明", "志愿时长证明去哪开"),
                    answer='在<a href="https://chinavolunteer.mca.gov.cn">中国志愿服务网</a>'
                    '实名注册后，登录 <a href="https://zhtj.youth.cn">zhtj.youth.cn</a>，'
                    "就可以申请证明。",
                    topic="volunteer",
                )
            ],
            changed_by="test",
        )
    await harness.knowledge_current()
    (answer,) = await harness.send(XIAOMING, "志愿时长证明怎么开")
    assert "实名注册" in answer["text"]
    (listing,) = await harness.send(XIAOMING, "/my")
    await harness.press(XIAOMING, listing, "#")
    detail = [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]][-1]
    shown = detail["text"]
    assert "中国志愿服务网 (https://chinavolunteer.mca.gov.cn) 实名注册" in shown, shown
    # A link whose words are its address is not written out twice.
    assert "登录 zhtj.youth.cn，" in shown, shown


async def test_joining_the_league_is_not_offered_the_crisis_entry(
    sandbox: SandboxServer, database_url: str
) -> None:
    """With the starter FAQ, 我想入团 shared only 我 and 想 with the crisis entry's
    我不想活了, which came first among the choices; now the League's entries are offered."""
    async for harness in run_harness(sandbox, database_url, kb_file=STARTER_FAQ):
        (reply,) = await harness.send(XIAOMING, "我想入团")
        assert "你是想问" in reply["text"], reply["text"]
        labels = [b["text"] for b in buttons(reply)]
        assert labels[0] == "入团的流程是怎样的？", labels
        assert "有轻生的念头怎么办？" not in labels, labels
