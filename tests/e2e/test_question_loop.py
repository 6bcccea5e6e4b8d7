"""The question loop through the sandbox: routed, carded, answered, resolved, followed up,
passed on, forwarded, escalated; with the outbox delivering every push."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from telegram import BotCommandScopeChat

from bot.callbacks import pack
from bot.services import lifecycle
from bot.sweeper import sweep
from knowledge import store
from storage.db import unit_of_work
from storage.models import Cadre
from storage.outbox import OutboxMessage
from storage.questions import Question
from tests.support import XIAOMING, BotHarness, buttons

WANG = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}  # district-a, Mon/Wed/Fri
LI = {"id": 2002, "first_name": "李老师", "language_code": "zh-hans"}  # districts b and c
COMMITTEE = -1001000000001
QUESTION = "我们东湖街道有没有周末的篮球活动？我电话13812345678"


async def _pick_region(harness: BotHarness, user: dict[str, Any], *path: str) -> None:
    picker = (await harness.send(user, "/start"))[-1]
    for label in path:
        await harness.press(user, picker, label)
        picker = await harness.message(user["id"], picker["message_id"])


async def _question(harness: BotHarness) -> Question:
    async with harness.sessions() as session:
        question = await session.scalar(select(Question).order_by(Question.id.desc()))
    assert question is not None
    return question


async def _next_card(harness: BotHarness, chat_id: int, seq: int, contains: str) -> dict[str, Any]:
    return await harness.client.wait_for_bot_message(
        chat_id, after_seq=seq, timeout=10, predicate=lambda m: contains in (m.get("text") or "")
    )


async def test_routed_answered_resolved(harness: BotHarness) -> None:
    await _pick_region(harness, XIAOMING, "东城区", "东湖街道")
    await harness.client.send_text(WANG, "/start")  # the cadre's private chat exists
    seq = await harness.client.last_seq()
    (reply,) = await harness.send(XIAOMING, QUESTION)
    question = await _question(harness)
    assert question.status == lifecycle.ASSIGNED
    assert f"问题编号 {question.id}" in reply["text"]

    card = await _next_card(harness, WANG["id"], seq, f"#{question.id}")
    assert "13812345678" not in card["text"] and "手机号已隐藏" in card["text"]
    assert "小明" not in card["text"] and "青年#" in card["text"]
    assert "东湖街道" in card["text"]
    assert buttons(card)[0]["text"] == "✍️ 答复"

    # The cadre answers by replying to the card.
    seq = await harness.client.last_seq()
    replies = await harness.send(
        WANG, "周六下午在青年之家有篮球活动，欢迎来！", reply_to=card["message_id"]
    )
    assert "已把你的答复发给提问人" in replies[-1]["text"]
    answer = await _next_card(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    assert "周六下午" in answer["text"]
    assert (await _question(harness)).status == lifecycle.ANSWERED

    await harness.press(XIAOMING, answer, "已解决")
    resolved = await _question(harness)
    assert resolved.status == lifecycle.RESOLVED and resolved.first_answered_at is not None
    async with harness.sessions() as session:
        pending = list(
            await session.scalars(
                select(OutboxMessage.kind).where(
                    OutboxMessage.ref_id == resolved.id, OutboxMessage.state == "pending"
                )
            )
        )
    assert pending == []  # the "was it resolved?" check and reminders are cancelled


async def test_follow_up_goes_back_to_the_same_cadre(harness: BotHarness) -> None:
    await _pick_region(harness, XIAOMING, "东城区", "东湖街道")
    await harness.client.send_text(WANG, "/start")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, QUESTION)
    card = await _next_card(harness, WANG["id"], seq, "问题 #")
    assert "刚刚" in card["text"] and "0 分钟前" not in card["text"]  # asked this minute
    question = await _question(harness)
    await harness.press(WANG, card, "答复")
    assert (await harness.send(WANG, "/cancel"))[-1]["text"] == "已取消。"  # no answer now
    await harness.press(WANG, card, "答复")
    seq = await harness.client.last_seq()
    await harness.send(WANG, "周六有。")
    answer = await _next_card(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    await harness.press(XIAOMING, answer, "继续追问")
    seq = await harness.client.last_seq()
    replies = await harness.send(XIAOMING, "几点开始？")
    assert "追问已转给团干部" in replies[-1]["text"]
    follow = await _next_card(harness, WANG["id"], seq, "追问")
    assert "几点开始" in follow["text"]
    again = await _question(harness)
    assert again.id == question.id and again.status == lifecycle.ASSIGNED
    assert [m.author for m in again.thread] == ["youth", "cadre", "youth"]


async def test_pass_forward_key_spam_and_authorization(harness: BotHarness) -> None:
    await _pick_region(harness, XIAOMING, "高新区")
    await harness.client.send_text(LI, "/start")
    await harness.client.send_text(WANG, "/start")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "高新区有没有适合大学生的实习岗位")
    card = await _next_card(harness, LI["id"], seq, "问题 #")
    question = await _question(harness)
    assert question.assigned_cadre_id is not None

    # Another cadre (not an admin) pressing this card's buttons is refused.
    zhang = {"id": 2003, "first_name": "张老师", "language_code": "zh-hans"}
    forged = await harness.press_data(
        zhang, card["message_id"], f"v1:qkey:{question.id}", chat_id=LI["id"]
    )
    assert forged["show_alert"]

    await harness.press(LI, card, "重点建议")
    assert (await _question(harness)).key_suggestion
    seq = await harness.client.last_seq()
    await harness.press(LI, card, "转交部门")
    await harness.send(LI, "区人社局")
    notice = await _next_card(harness, XIAOMING["id"], seq, "转交")
    assert "区人社局" in notice["text"]
    forwarded = await _question(harness)
    assert forwarded.status == lifecycle.FORWARDED and forwarded.department == "区人社局"
    # Spam is no longer possible once forwarded: refused with the reason.
    refused = await harness.press(LI, card, "垃圾信息")
    assert refused["show_alert"] and "已转交部门" in refused["text"]
    triggers = [e.trigger for e in forwarded.events]
    assert triggers == ["route", "assign", "mark_key", "forward"]
    # The department does not answer: the young person follows up from the notice, and
    # it comes back to the cadre who forwarded it.
    await harness.press(XIAOMING, notice, "继续追问")
    seq = await harness.client.last_seq()
    replies = await harness.send(XIAOMING, "人社局一直没有回复我")
    assert "追问已转给团干部" in replies[-1]["text"]
    follow = await _next_card(harness, LI["id"], seq, "一直没有回复")
    assert f"#{question.id}" in follow["text"]
    back = await _question(harness)
    assert back.status == lifecycle.ASSIGNED
    assert back.assigned_cadre_id == question.assigned_cadre_id


async def test_nobody_fits_goes_to_the_committee_pool_and_is_claimed(harness: BotHarness) -> None:
    await _pick_region(harness, XIAOMING, "东城区", "新华街道")
    await harness.client.send_text(WANG, "/start")  # cadres start the bot to get cards
    now = harness.app.bot_data.services.clock.now()
    async with unit_of_work(harness.sessions) as session:  # every cadre is away this week
        await session.execute(update(Cadre).values(away_until=now + timedelta(days=7)))
    seq = await harness.client.last_seq()
    (reply,) = await harness.send(XIAOMING, "我家楼下的路灯坏了好几天了")
    assert "交给团委" in reply["text"]
    question = await _question(harness)
    assert question.status == lifecycle.ROUTED and question.assigned_cadre_id is None
    pool = await _next_card(harness, COMMITTEE, seq, "待领取")
    async with unit_of_work(harness.sessions) as session:  # 王老师 is back
        await session.execute(
            update(Cadre).where(Cadre.telegram_id == 2001).values(away_until=None)
        )
    await harness.press(WANG, pool, "我来答复", chat_id=COMMITTEE)
    claimed = await _question(harness)
    assert claimed.assigned_cadre_id is not None and claimed.status == lifecycle.ASSIGNED


async def test_escalation_after_the_sla_moves_the_question_on(harness: BotHarness) -> None:
    await _pick_region(harness, XIAOMING, "东城区", "东湖街道")
    for cadre in (WANG, LI, {"id": 2003, "first_name": "张老师"}):
        await harness.client.send_text(cadre, "/start")
    await harness.send(XIAOMING, QUESTION)
    first = await _question(harness)
    assert first.status == lifecycle.ASSIGNED
    harness.app.bot_data.services.clock.advance(hours=49)
    report = await sweep(harness.app.bot_data.services)
    assert report.escalated == 1
    moved = await _question(harness)
    assert moved.escalations == 1 and moved.assigned_cadre_id != first.assigned_cadre_id
    assert (await sweep(harness.app.bot_data.services)).escalated == 0  # once only


async def test_my_lists_what_was_raised(harness: BotHarness) -> None:
    await harness.send(XIAOMING, "请问几岁可以入团")
    await harness.send(XIAOMING, "篮球场什么时候修好")
    (listing,) = await harness.send(XIAOMING, "/my")
    assert "我提过的问题" in listing["text"]
    assert "已自动回答" in listing["text"] and "篮球场" in listing["text"]


async def test_safeguarding_skips_the_faq_and_raises_urgent_cards(harness: BotHarness) -> None:
    await _pick_region(harness, XIAOMING, "东城区", "东湖街道")
    await harness.client.send_text(WANG, "/start")
    seq = await harness.client.last_seq()
    (reply,) = await harness.send(XIAOMING, "我真的不想活了，每天都被同学欺负")
    assert "12355" in reply["text"] and "110" in reply["text"]
    question = await _question(harness)
    assert question.urgent and question.reason == "safeguarding"
    assert question.status == lifecycle.ASSIGNED
    urgent = await _next_card(harness, WANG["id"], seq, "紧急关注")
    assert "自伤" in urgent["text"]
    committee = await _next_card(harness, COMMITTEE, seq, "紧急关注")
    assert f"#{question.id}" in committee["text"]


async def test_a_call_for_help_is_never_offered_to_the_faq(harness: BotHarness) -> None:
    """An urgent question, answered: no "add to FAQ" button, and a forged one is
    refused; its words stay out of the knowledge base."""
    await _pick_region(harness, XIAOMING, "东城区", "东湖街道")
    await harness.client.send_text(WANG, "/start")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "我叫张伟，在实验中学，我爸爸天天打我，我真的不想活了")
    card = await _next_card(harness, WANG["id"], seq, "紧急关注")
    question = await _question(harness)
    await harness.press(WANG, card, "答复")
    confirmation = (await harness.send(WANG, "我们马上联系你，请先拨打 12355"))[-1]
    assert f"#{question.id}" in confirmation["text"]
    assert not [b for b in buttons(confirmation) if "常见问题" in b["text"]]
    forged = await harness.press_data(WANG, confirmation["message_id"], pack("qnew", question.id))
    assert forged["show_alert"] and "不能加入常见问题" in forged["text"]
    async with harness.sessions() as session:
        assert await store.get_entry(session, f"cadre-q{question.id}") is None


async def test_pass_to_a_colleague(harness: BotHarness) -> None:
    await _pick_region(harness, XIAOMING, "高新区")
    for cadre in (LI, {"id": 2003, "first_name": "张老师", "language_code": "zh-hans"}):
        await harness.client.send_text(cadre, "/start")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "高新区有没有适合大学生的实习岗位")
    card = await _next_card(harness, LI["id"], seq, "问题 #")
    await harness.press(LI, card, "转给同事")
    choices = [m for m in await harness.client.messages(LI["id"]) if m["from_bot"]][-1]
    assert [b["text"] for b in buttons(choices)] == ["张老师（0/5）"]  # with their open load
    seq = await harness.client.last_seq()
    await harness.press(LI, choices, "张老师")
    passed = await _next_card(harness, 2003, seq, "问题 #")
    question = await _question(harness)
    assert f"#{question.id}" in passed["text"]
    async with harness.sessions() as session:
        zhang = await session.scalar(select(Cadre).where(Cadre.telegram_id == 2003))
    assert zhang is not None and question.assigned_cadre_id == zhang.id
    # 李老师 no longer holds it: his old card's buttons are refused.
    refused = await harness.press(LI, card, "重点建议")
    assert refused["show_alert"]


async def test_answer_with_an_faq_entry_and_promote_answers(harness: BotHarness) -> None:
    await _pick_region(harness, XIAOMING, "东城区", "东湖街道")
    await harness.client.send_text(WANG, "/start")
    seq = await harness.client.last_seq()
    (routed,) = await harness.send(XIAOMING, "团员转学以后组织关系要自己弄吗")
    assert "转给团干部" in routed["text"] or "你是想问" in routed["text"]
    if "你是想问" in routed["text"]:
        await harness.press(XIAOMING, routed, "以上都不是")
    card = await _next_card(harness, WANG["id"], seq, "问题 #")
    faq_buttons = [b["text"] for b in buttons(card) if b["text"].startswith("📚")]
    assert faq_buttons, "the card offers answering with a near FAQ entry"
    seq = await harness.client.last_seq()
    await harness.press(WANG, card, faq_buttons[0])
    answer = await _next_card(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    assert "<b>" not in answer["text"]  # the entry's HTML arrives rendered, not escaped
    # The ticket keeps it as plain text, as a typed answer, so /my shows it as it read.
    thread = (await _question(harness)).thread
    assert thread[-1].author == "cadre" and "<" not in thread[-1].text
    mine = (await harness.send(XIAOMING, "/my"))[-1]
    await harness.press(XIAOMING, mine, f"#{thread[-1].question_id}")
    detail = [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]][-1]
    assert thread[-1].text[:40] in detail["text"] and "<b>" not in detail["text"]

    # A second question, answered in the cadre's own words, becomes a new FAQ entry.
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "东湖街道青年之家周末开门吗？我电话13812345678")
    card = await _next_card(harness, WANG["id"], seq, "青年之家周末")
    await harness.press(WANG, card, "答复")
    seq = await harness.client.last_seq()
    confirmation = (await harness.send(WANG, "周末 9:00-17:00 开门 & 免费"))[-1]
    await harness.press(WANG, confirmation, "加入常见问题")
    # The answer reaches the young person (pushed by the outbox) before they ask again,
    # so the push is not mistaken for the reply to the next question.
    pushed = await _next_card(harness, XIAOMING["id"], seq, "团干部答复了你的问题")
    assert "9:00-17:00" in pushed["text"]
    question = await _question(harness)
    async with harness.sessions() as session:
        entry = await store.get_entry(session, f"cadre-q{question.id}")
    assert entry is not None
    assert "13812345678" not in entry.question and "手机号已隐藏" in entry.question
    assert entry.answer == "周末 9:00-17:00 开门 &amp; 免费"
    assert entry.updated_by.startswith("cadre:")
    # The new entry answers the next young person who asks the same (once the FAQ index
    # has caught up: a question waits for a rebuild only briefly, see knowledge.index).
    await harness.knowledge_current()
    (auto,) = await harness.send(XIAOMING, "东湖街道青年之家周末开门吗")
    assert "9:00-17:00" in auto["text"]


SUN = {"id": 4100, "first_name": "孙", "language_code": "zh-hans"}


async def _invite_token(harness: BotHarness) -> str:
    """A one-time invite for 孙老师: after-school classes (study) in the Hi-Tech Zone."""
    from bot.services import cadres

    async with unit_of_work(harness.sessions) as session:
        return await cadres.invite(
            session,
            name="孙老师",
            regions=["district-c"],
            topics=["study"],
            duty_days=[3],
            capacity=5,
            now=harness.app.bot_data.services.clock.now(),
            valid_for=timedelta(days=7),
        )


async def test_cadre_joins_by_invite_link_and_gets_questions(harness: BotHarness) -> None:
    token = await _invite_token(harness)
    sun = SUN
    (welcome,) = await harness.send(sun, f"/start {token}")
    assert "孙老师" in welcome["text"] and "团干部" in welcome["text"]
    menu = await harness.app.bot.get_my_commands(scope=BotCommandScopeChat(sun["id"]))
    assert "queue" in [c.command for c in menu]  # the cadre's menu, at once
    (again,) = await harness.send({"id": 4101, "first_name": "别人"}, f"/start {token}")
    assert "无效" in again["text"]  # one time only
    await _pick_region(harness, XIAOMING, "高新区")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "高新区有没有假期托管班")
    question = await _question(harness)
    card = await _next_card(harness, sun["id"], seq, f"#{question.id}")
    assert "托管" in card["text"]


async def test_my_shows_what_became_of_a_question_and_acts_on_it(harness: BotHarness) -> None:
    await _pick_region(harness, XIAOMING, "东城区", "东湖街道")
    await harness.client.send_text(WANG, "/start")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, QUESTION)
    question = await _question(harness)
    card = await _next_card(harness, WANG["id"], seq, f"#{question.id}")
    answer = "周六下午在青年之家，<b>带球鞋</b> & 水。"  # typed, not markup
    await harness.send(WANG, answer, reply_to=card["message_id"])
    await _next_card(harness, XIAOMING["id"], seq, "团干部答复了你的问题")

    mine = (await harness.send(XIAOMING, "/my"))[-1]
    assert [b["text"] for b in buttons(mine)] == [f"🔎 #{question.id}"]
    await harness.press(XIAOMING, mine, f"#{question.id}")
    detail = [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]][-1]
    assert f"问题 #{question.id}" in detail["text"] and "💬 已答复" in detail["text"]
    assert "东湖街道有没有周末的篮球活动" in detail["text"]  # their own words, unmasked
    assert "团干部" in detail["text"] and "<b>带球鞋</b> & 水" in detail["text"]
    assert "王老师" not in detail["text"]
    # From the detail they can settle it, as under the answer itself.
    await harness.press(XIAOMING, detail, "已解决")
    assert (await _question(harness)).status == lifecycle.RESOLVED
    # Another young person's question cannot be opened with forged data.
    other = {"id": 1009, "first_name": "小刚", "language_code": "zh-hans"}
    greeting = (await harness.send(other, "/start"))[0]
    forged = await harness.press_data(other, greeting["message_id"], f"v1:myq:{question.id}")
    assert forged["show_alert"]
