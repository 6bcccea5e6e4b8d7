"""Passing a question to a colleague, through the sandbox: the limit on passes (a question
passed back and forth goes to the committee), the young person's waiting clock, and the
colleagues' capacity (a call for help ignores it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from bot import notify
from bot.callbacks import pack
from bot.data import DEMO_ORG
from bot.services import org
from storage.db import unit_of_work
from storage.models import Cadre, User
from storage.outbox import OutboxMessage
from storage.questions import Question
from tests.e2e.test_cadre_audit import _holder
from tests.e2e.test_question_loop_edges import (
    COMMITTEE,
    LI,
    WANG,
    ZHANG,
    _ask,
    _question,
    _setup,
    _wait,
)
from tests.support import XIAOMING, BotHarness, buttons

JOBS = "高新区有没有适合大学生的实习岗位"  # employment in the Hi-Tech Zone: 李老师 and 张老师


async def _last_bot_message(harness: BotHarness, chat_id: int) -> dict[str, Any]:
    return [m for m in await harness.client.messages(chat_id) if m["from_bot"]][-1]


async def _pass(
    harness: BotHarness, cadre: dict[str, Any], card: dict[str, Any], to: dict[str, Any]
) -> dict[str, Any]:
    """``cadre`` passes the question of ``card`` to ``to``; return the card ``to`` gets."""
    question = await _question(harness)
    await harness.press(cadre, card, "转给同事")
    choices = await _last_bot_message(harness, cadre["id"])
    seq = await harness.client.last_seq()
    await harness.press(cadre, choices, to["first_name"])
    return await _wait(harness, to["id"], seq, f"#{question.id}")


async def _cadre_id(harness: BotHarness, person: dict[str, Any]) -> int:
    async with harness.sessions() as session:
        found = await session.scalar(select(Cadre.id).where(Cadre.telegram_id == person["id"]))
    assert found is not None
    return int(found)


async def _fill(harness: BotHarness, person: dict[str, Any]) -> int:
    """``person`` takes one open question at a capacity of one: full. Return their cadre id."""
    cadre_id = await _cadre_id(harness, person)
    now = harness.app.bot_data.services.clock.now()
    async with unit_of_work(harness.sessions) as session:
        await session.execute(update(Cadre).where(Cadre.id == cadre_id).values(capacity=1))
        asker = await session.scalar(select(User.id).where(User.telegram_id == XIAOMING["id"]))
        assert asker is not None
        session.add(
            Question(
                user_id=asker,
                text="另一个问题",
                status="assigned",
                assigned_cadre_id=cadre_id,
                assigned_at=now,
                waiting_since=now,
                asked_at=now,
                last_activity_at=now,
            )
        )
    return cadre_id


async def test_a_question_passed_back_and_forth_goes_to_the_committee(
    harness: BotHarness,
) -> None:
    """Passed three times (the default ``VOY_MAX_PASSES``) without an answer, a fourth
    pass is refused: the cadre is told why and keeps the question, and the committee's
    group gets its card once, saying so; an admin then passes it on from there."""
    await _setup(harness)
    card = await _ask(harness, JOBS)
    question = await _question(harness)
    card = await _pass(harness, LI, card, ZHANG)
    card = await _pass(harness, ZHANG, card, LI)
    card = await _pass(harness, LI, card, ZHANG)
    seq = await harness.client.last_seq()
    refused = await harness.press(ZHANG, card, "转给同事")
    assert refused["show_alert"] and "3 次" in refused["text"], refused
    assert "团委" in refused["text"], refused
    assert await _holder(harness, question.id) == ZHANG["id"]  # still his to answer
    told = await _wait(harness, COMMITTEE, seq, f"#{question.id}")
    assert "3 次" in told["text"] and "张老师" in told["text"], told["text"]
    assert "转给同事" in str(buttons(told))

    # An old list of colleagues (or forged data) meets the same refusal; the committee is
    # not told twice.
    li = await _cadre_id(harness, LI)
    again = await harness.press_data(ZHANG, card["message_id"], pack("qpto", question.id, li))
    assert again["show_alert"] and "3 次" in again["text"], again
    assert await _holder(harness, question.id) == ZHANG["id"]
    assert await _committee_cards(harness, question.id) == 1

    # The committee decides: an admin passes it on from the group's card. That starts a
    # new run: 李老师 may pass it on once more, and the committee hears nothing new.
    await harness.press(WANG, told, "转给同事", chat_id=COMMITTEE)
    choices = await _last_bot_message(harness, COMMITTEE)
    seq = await harness.client.last_seq()
    await harness.press(WANG, choices, "李老师", chat_id=COMMITTEE)
    card = await _wait(harness, LI["id"], seq, f"#{question.id}")
    assert await _holder(harness, question.id) == LI["id"]
    await _pass(harness, LI, card, ZHANG)
    assert await _holder(harness, question.id) == ZHANG["id"]
    assert await _committee_cards(harness, question.id) == 1


async def _committee_cards(harness: BotHarness, question_id: int) -> int:
    """Pass-limit cards queued for the committee about the question (queued, not only
    delivered: a second one still waiting in the outbox counts)."""
    async with harness.sessions() as session:
        keys = await session.scalars(
            select(OutboxMessage.dedupe_key).where(
                OutboxMessage.dedupe_key.like(f"pass_limit:{question_id}:%")
            )
        )
        return len(list(keys))


async def test_the_committees_card_fits_with_a_long_question_and_name(
    harness: BotHarness,
) -> None:
    """A question as long as the bot takes, in emoji (two UTF-16 units each), held by a
    cadre with a 128-character name: the committee's card still fits Telegram's 4096
    (its heading counted inside the budget; added after it, the card was refused for
    good), and replying to it finds the question."""
    await _setup(harness)
    card = await _ask(harness, JOBS + "😀" * 1950)
    question = await _question(harness)
    card = await _pass(harness, LI, card, ZHANG)
    card = await _pass(harness, ZHANG, card, LI)
    card = await _pass(harness, LI, card, ZHANG)
    async with unit_of_work(harness.sessions) as session:
        await session.execute(
            update(Cadre).where(Cadre.telegram_id == ZHANG["id"]).values(name="张" * 128)
        )
    seq = await harness.client.last_seq()
    refused = await harness.press(ZHANG, card, "转给同事")
    assert refused["show_alert"], refused
    told = await _wait(harness, COMMITTEE, seq, f"#{question.id}")
    assert "张" * 128 in told["text"]
    assert notify.ticket_in_header(told["text"]) == question.id


async def test_a_pass_does_not_restart_the_young_persons_wait(harness: BotHarness) -> None:
    """Passed on after 20 hours, the question has waited 25 hours five hours later: the
    committee's /overdue lists it (a pass once restarted the clock, so passing a
    question on every day hid it from /overdue and from the digest's overdue list)."""
    await _setup(harness)
    card = await _ask(harness, JOBS)
    question = await _question(harness)
    clock = harness.app.bot_data.services.clock
    clock.advance(hours=20)
    await _pass(harness, LI, card, ZHANG)
    clock.advance(hours=5)
    (listing,) = await harness.send(WANG, "/overdue")
    lines = [x for x in listing["text"].splitlines() if x.startswith(f"#{question.id} ")]
    assert lines and "25 小时前" in lines[0], listing["text"]


async def test_a_colleague_at_capacity_is_shown_full_and_cannot_be_passed_to(
    harness: BotHarness, tmp_path: Path
) -> None:
    """张老师 holds as many open questions as he may: 李老师's list of colleagues shows
    him full, with no button, and a forged button naming him is refused with the
    reason; the question stays with 李老师."""
    await _setup(harness)
    card = await _ask(harness, JOBS)
    question = await _question(harness)
    zhang = await _fill(harness, ZHANG)
    await harness.press(LI, card, "转给同事")
    choices = await _last_bot_message(harness, LI["id"])
    assert "张老师" in choices["text"] and "已满" in choices["text"], choices["text"]
    assert not any("张老师" in b["text"] for b in buttons(choices)), buttons(choices)
    forged = await harness.press_data(LI, card["message_id"], pack("qpto", question.id, zhang))
    assert forged["show_alert"] and "已满" in forged["text"], forged
    assert await _holder(harness, question.id) == LI["id"]

    # 王老师 covers the Hi-Tech Zone too now (the file puts 张老师's capacity back: it is
    # lowered again): 王老师 is offered, with his load; 张老师 is still named as full.
    wider = DEMO_ORG.read_text(encoding="utf-8").replace(
        "regions: [district-a]", "regions: [district-a, district-c]"
    )
    path = tmp_path / "org-wang-wider.yaml"
    path.write_text(wider, encoding="utf-8")
    async with unit_of_work(harness.sessions) as session:
        await org.load_org(session, org.parse_org_file(path), default_locale="zh-Hans")
        await session.execute(update(Cadre).where(Cadre.id == zhang).values(capacity=1))
    await harness.press(LI, card, "转给同事")
    choices = await _last_bot_message(harness, LI["id"])
    assert "已满" in choices["text"] and "张老师（1/1）" in choices["text"], choices["text"]
    assert [b["text"] for b in buttons(choices)] == ["王老师（0/10）"]


async def test_a_call_for_help_may_go_to_a_colleague_at_capacity(harness: BotHarness) -> None:
    """A call for help goes to a person whatever their load, passed on too: 张老师 is
    offered, marked full, and takes it."""
    await _setup(harness)
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "我真的不想活了，每天都很痛苦")
    urgent = await _wait(harness, LI["id"], seq, "紧急关注")
    question = await _question(harness)
    await _fill(harness, ZHANG)
    await harness.press(LI, urgent, "转给同事")
    choices = await _last_bot_message(harness, LI["id"])
    (offered,) = [b for b in buttons(choices) if "张老师" in b["text"]]
    assert "已满" in offered["text"], offered
    seq = await harness.client.last_seq()
    await harness.press(LI, choices, "张老师")
    await _wait(harness, ZHANG["id"], seq, f"#{question.id}")
    assert await _holder(harness, question.id) == ZHANG["id"]


async def test_a_refusal_naming_a_long_name_fits_the_pop_up(harness: BotHarness) -> None:
    """Telegram's pop-up takes 200 characters: to a cadre reading English, a colleague
    with a 128-character name at capacity is refused in one that fits (it was refused by
    Telegram, and the cadre saw nothing)."""
    await _setup(harness)
    card = await _ask(harness, JOBS)
    question = await _question(harness)
    zhang = await _fill(harness, ZHANG)
    async with unit_of_work(harness.sessions) as session:
        await session.execute(update(Cadre).where(Cadre.id == zhang).values(name="Z" * 128))
        await session.execute(update(User).where(User.telegram_id == LI["id"]).values(locale="en"))
    forged = await harness.press_data(LI, card["message_id"], pack("qpto", question.id, zhang))
    assert forged["show_alert"] and "Z" * 60 in forged["text"], forged
    assert len(forged["text"]) <= 200


async def test_a_pop_up_counts_characters_not_utf16_units(harness: BotHarness) -> None:
    """Telegram counts a pop-up's 200 in characters (code points): an emoji or a CJK
    Extension B character is one, though two UTF-16 units. A refusal naming a colleague
    whose name is 100 of them (about 155 characters, 255 units) is shown whole, and
    Telegram (the sandbox) takes it."""
    await _setup(harness)
    card = await _ask(harness, JOBS)
    question = await _question(harness)
    zhang = await _fill(harness, ZHANG)
    name = "😀𠀀" * 50
    async with unit_of_work(harness.sessions) as session:
        await session.execute(update(Cadre).where(Cadre.id == zhang).values(name=name))
    forged = await harness.press_data(LI, card["message_id"], pack("qpto", question.id, zhang))
    text = forged["text"]
    assert forged["show_alert"] and name in text and text.endswith("或自己答复。"), text
    assert len(text) <= 200 < len(text.encode("utf-16-le")) // 2
