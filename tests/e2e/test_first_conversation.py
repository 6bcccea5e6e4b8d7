"""First conversation through the sandbox: /start, region picker, languages, help."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from telegram import BotCommandScopeChat

from bot import menus
from bot.data import DEMO_ORG
from bot.services import concern_model, org, safeguarding
from sandbox import SandboxServer
from storage.db import unit_of_work
from tests.conftest import run_harness
from tests.support import (
    ALEX,
    COMMITTEE_CHAT,
    XIAOMEI,
    XIAOMING,
    BotHarness,
    button_data,
    buttons,
    texts,
)


async def test_start_greets_and_region_is_picked_in_two_levels(harness: BotHarness) -> None:
    replies = await harness.send(XIAOMING, "/start")
    assert "小明" in texts(replies) and "青年之声" in texts(replies)
    picker = replies[-1]
    labels = [b["text"] for b in buttons(picker)]
    assert labels == ["东城区 ›", "西城区 ›", "高新区"]

    await harness.press(XIAOMING, picker, "东城区")
    picker = await harness.message(XIAOMING["id"], picker["message_id"])
    assert "东城区" in picker["text"]
    assert [b["text"] for b in buttons(picker)] == [
        "东湖街道",
        "新华街道",
        "整个东城区",
        "« 返回上一级",
    ]

    answer = await harness.press(XIAOMING, picker, "东湖街道")
    assert answer["answered"]
    picker = await harness.message(XIAOMING["id"], picker["message_id"])
    assert "东湖街道" in picker["text"] and not buttons(picker)
    user = await harness.user(XIAOMING["id"])
    assert user is not None and user.region_code == "a-street-1"

    again = await harness.send(XIAOMING, "/start")
    assert "欢迎回来" in texts(again) and len(again) == 1  # no picker once a region is set


async def test_start_greets_staff_as_staff(harness: BotHarness) -> None:
    """A cadre's /start is not a young person's welcome with a region to pick and a wish
    to make: it says what comes to this chat and where their commands are."""
    replies = await harness.send({"id": 2001, "first_name": "王老师"}, "/start")
    (greeting,) = replies
    assert "工作人员" in greeting["text"] and "/help" in greeting["text"]
    assert not buttons(greeting) and "区域" not in greeting["text"]


async def test_back_and_whole_district(harness: BotHarness) -> None:
    picker = (await harness.send(XIAOMING, "/start"))[-1]
    await harness.press(XIAOMING, picker, "西城区")
    picker = await harness.message(XIAOMING["id"], picker["message_id"])
    await harness.press(XIAOMING, picker, "返回")
    picker = await harness.message(XIAOMING["id"], picker["message_id"])
    assert buttons(picker)[0]["text"] == "东城区 ›"
    await harness.press(XIAOMING, picker, "西城区")
    picker = await harness.message(XIAOMING["id"], picker["message_id"])
    await harness.press(XIAOMING, picker, "整个西城区")
    user = await harness.user(XIAOMING["id"])
    assert user is not None and user.region_code == "district-b"


@pytest.mark.parametrize(
    ("persona", "greeting", "picker_label"),
    [(XIAOMEI, "青年之聲", "東城區 ›"), (ALEX, "Voice of Youth", "East District ›")],
)
async def test_start_speaks_the_users_language(
    harness: BotHarness, persona: dict[str, object], greeting: str, picker_label: str
) -> None:
    replies = await harness.send(persona, "/start")
    assert greeting in texts(replies)
    assert buttons(replies[-1])[0]["text"] == picker_label


async def test_language_switch_changes_every_later_reply(harness: BotHarness) -> None:
    prompt = (await harness.send(XIAOMING, "/language"))[-1]
    assert [b["text"] for b in buttons(prompt)] == ["简体中文", "繁體中文", "English"]
    await harness.press(XIAOMING, prompt, "English")
    confirmed = await harness.message(XIAOMING["id"], prompt["message_id"])
    assert "English" in confirmed["text"]
    help_text = texts(await harness.send(XIAOMING, "/help"))
    assert "How to use Voice of Youth" in help_text
    await harness.press(
        XIAOMING, prompt := (await harness.send(XIAOMING, "/language"))[-1], "繁體"
    )
    assert "使用說明" in texts(await harness.send(XIAOMING, "/help"))
    del prompt


async def test_region_command_shows_current_region(harness: BotHarness) -> None:
    picker = (await harness.send(ALEX, "/start"))[-1]
    await harness.press(ALEX, picker, "Hi-Tech Zone")
    replies = await harness.send(ALEX, "/region")
    assert "Your area: Hi-Tech Zone" in texts(replies)
    assert buttons(replies[-1])


async def test_bot_menu_commands_are_set_per_language(harness: BotHarness) -> None:
    zh = await harness.app.bot.get_my_commands()
    en = await harness.app.bot.get_my_commands(language_code="en")
    assert [c.command for c in zh] == [
        "start",
        "help",
        "language",
        "region",
        "my",
        "wish",
        "subscribe",
        "cancel",
        "mydata",
        "forget",
    ]
    assert zh[1].description == "使用说明"
    assert en[1].description == "How to use the bot"
    assert en[6].description == "Announcements and topics I follow"


async def test_staff_menus_add_the_commands_of_their_roles(harness: BotHarness) -> None:
    async def menu(chat_id: int) -> list[str]:
        found = await harness.app.bot.get_my_commands(scope=BotCommandScopeChat(chat_id))
        return [c.command for c in found]

    for _ in range(100):  # the menus are set in the background at start-up
        if await menu(COMMITTEE_CHAT):
            break
        await asyncio.sleep(0.05)

    youth = ["start", "help", "language", "region", "my", "wish", "subscribe", "cancel"]
    cadre = await menu(2002)  # 李老师: a cadre
    assert cadre[: len(youth)] == youth and cadre[-4:] == ["queue", "pool", "overdue", "wishes"]
    assert "review" not in cadre and "digest" not in cadre
    assert (await menu(2003))[-1] == "review"  # 张老师 also reviews
    admin = await menu(2001)
    assert {"review", "digest", "broadcast", "broadcasts"} <= set(admin)
    assert len(admin) == len(set(admin))  # each command once
    donor = await menu(3001)
    assert donor[-1] == "wishes" and "queue" not in donor
    assert await menu(COMMITTEE_CHAT) == ["pool", "overdue", "digest", "help"]
    assert await menu(XIAOMING["id"]) == []  # young people have the default menu
    # A staff member who switches language gets their menu in it.
    zhang = {"id": 2003, "first_name": "张老师", "language_code": "zh-hans"}
    prompt = (await harness.send(zhang, "/language"))[-1]
    await harness.press(zhang, prompt, "English")
    found = await harness.app.bot.get_my_commands(scope=BotCommandScopeChat(2003))
    assert found[-1].description == "Wishes waiting for review (reviewers)"


async def test_forged_region_button_is_refused_politely(harness: BotHarness) -> None:
    picker = (await harness.send(XIAOMING, "/start"))[-1]
    forged = button_data(picker, "东城区").replace("rgn", "rgs").replace("district-a", "atlantis")
    answer = await harness.press_data(XIAOMING, picker["message_id"], forged)
    assert answer["show_alert"] and "区域" in answer["text"]
    user = await harness.user(XIAOMING["id"])
    assert user is not None and user.region_code is None


async def test_help_lists_every_command_of_the_senders_roles(harness: BotHarness) -> None:
    youth = texts(await harness.send(XIAOMING, "/help"))
    for command in ("/my", "/wish", "/cancel", "/region", "/mydata", "/forget", "/subscribe"):
        assert command in youth, command
    for staff_command in ("/queue", "/wishes", "/review", "/digest", "/broadcast"):
        assert staff_command not in youth, staff_command
    # 李老师 is a cadre only; 张老师 a cadre who reviews; 王老师 the committee's admin; 3001 a
    # donor (the demo org).
    cadre = texts(await harness.send({"id": 2002, "first_name": "李老师"}, "/help"))
    assert "/queue" in cadre and "/pool" in cadre and "/overdue" in cadre
    assert "同时最多认领 5 个" in cadre and "/review" not in cadre and "/digest" not in cadre
    reviewer = texts(await harness.send({"id": 2003, "first_name": "张老师"}, "/help"))
    assert "/review" in reviewer and "/digest" not in reviewer
    admin = texts(await harness.send({"id": 2001, "first_name": "王老师"}, "/help"))
    assert all(c in admin for c in ("/queue", "/wishes", "/review", "/digest", "/broadcasts"))
    donor = texts(await harness.send({"id": 3001, "first_name": "爱心人士"}, "/help"))
    assert "/wishes" in donor and "/queue" not in donor and "/review" not in donor
    assert "/my shows what became of your questions and wishes" in texts(
        await harness.send(ALEX, "/help")
    )


async def test_staff_menus_follow_roles_changed_outside_the_bot(
    harness: BotHarness, tmp_path: Path
) -> None:
    """`voy org load` changes roles from another process: the menu sync job gives new
    staff their menu, adds a new role's commands, and gives former staff the young
    person's menu back; run again with nothing changed, it calls Telegram for nothing."""

    async def menu(chat_id: int) -> list[str]:
        found = await harness.app.bot.get_my_commands(scope=BotCommandScopeChat(chat_id))
        return [c.command for c in found]

    for _ in range(100):  # the start-up menus, set in the background
        if await menu(COMMITTEE_CHAT):
            break
        await asyncio.sleep(0.05)
    assert (await menu(3001))[-1] == "wishes"  # the donor's
    newcomer = {"id": 5001, "first_name": "赵老师", "language_code": "zh-hans"}
    await harness.send(newcomer, "/start")
    assert await menu(5001) == []  # a young person so far

    # The committee edits its org file: 5001 and 2002 review, 3001 no longer donates.
    await _load_org(harness, tmp_path, reviewers=[2001, 2002, 2003, 5001], donors=[])
    assert (await menu(2002))[-1] == "wishes"  # nothing changed yet

    (job,) = harness.app.job_queue.get_jobs_by_name("staff menus")  # type: ignore[union-attr]
    await job.run(harness.app)  # the job itself, as its interval would run it
    assert (await menu(5001))[-1] == "review"
    assert (await menu(2002))[-1] == "review"
    assert await menu(3001) == []  # back to the young person's menu
    assert (await menu(2003))[-1] == "review"  # unchanged
    services = harness.app.bot_data.services
    again = await menus.sync(harness.app.bot, harness.sessions, services.settings)
    assert again == menus.Synced(set=0, removed=0)


async def test_a_staff_menu_that_failed_for_now_is_set_at_the_next_sync(
    harness: BotHarness, tmp_path: Path
) -> None:
    """A Telegram outage leaves the menu to the next run; a chat Telegram refuses for good
    (never opened) is not asked again: /start sets that menu when the person comes."""
    bot, sessions, settings = harness.app.bot, harness.sessions, harness.settings
    for _ in range(100):  # the start-up menus, set in the background
        if await bot.get_my_commands(scope=BotCommandScopeChat(COMMITTEE_CHAT)):
            break
        await asyncio.sleep(0.05)
    await harness.send({"id": 5001, "first_name": "赵老师"}, "/start")

    await harness.client.set_fault("setMyCommands", 502, description="Bad Gateway")
    await _load_org(harness, tmp_path, reviewers=[2001, 2003, 5001], donors=[3001])
    assert await menus.sync(bot, sessions, settings) == menus.Synced(set=0, removed=0)
    await harness.client.set_fault("setMyCommands", 0)
    assert await menus.sync(bot, sessions, settings) == menus.Synced(set=1, removed=0)
    found = await bot.get_my_commands(scope=BotCommandScopeChat(5001))
    assert found[-1].command == "review"

    await harness.client.set_fault("setMyCommands", 400, description="Bad Request: chat not found")
    await _load_org(harness, tmp_path, reviewers=[2001, 2003, 5001, 5002], donors=[3001])
    assert await menus.sync(bot, sessions, settings) == menus.Synced(set=1, removed=0)
    await harness.client.set_fault("setMyCommands", 0)
    assert await menus.sync(bot, sessions, settings) == menus.Synced(set=0, removed=0)


async def _load_org(
    harness: BotHarness, tmp_path: Path, *, reviewers: list[int], donors: list[int]
) -> None:
    """What `voy org load` does with the demo org file edited: new reviewers and donors."""
    text = DEMO_ORG.read_text(encoding="utf-8")
    text = text.replace("reviewers: [2001, 2003]", f"reviewers: {reviewers}")
    text = text.replace("donors: [3001]", f"donors: {donors}")
    edited = tmp_path / "org.yaml"
    edited.write_text(text, encoding="utf-8")
    async with unit_of_work(harness.sessions) as session:
        await org.load_org(session, org.parse_org_file(edited), default_locale="zh-Hans")


async def test_the_safeguarding_list_and_model_are_ready_before_the_first_message(
    sandbox: SandboxServer, database_url: str
) -> None:
    """Compiling the list takes about 0.2 s: done at start-up, not while the first young
    person to write after a start waits for the reply."""
    safeguarding._categories.cache_clear()
    concern_model._model.cache_clear()
    async for harness in run_harness(sandbox, database_url):
        assert safeguarding._categories.cache_info().currsize == 1
        assert concern_model._model.cache_info().currsize == 1
        (reply,) = await harness.send(XIAOMING, "请问几岁能入团啊？")
        assert "年满十四周岁" in reply["text"]
        # Read once: the first question did not load them again.
        assert safeguarding._categories.cache_info().misses == 1
        assert concern_model._model.cache_info().misses == 1
