"""What an audit of languages and Telegram's limits found: each test failed on the code
before its fix (the docstrings say what went wrong)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from telegram import BotCommandScopeChat

from storage.models import User
from tests.e2e.test_question_loop import _pick_region, _question
from tests.support import XIAOMING, BotHarness, buttons, texts

# 王老师 as the org file lists him, but his Telegram app is in English.
WANG_EN = {"id": 2001, "first_name": "Wang", "language_code": "en"}
WANG = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}
QUESTION = "我们东湖街道有没有周末的篮球活动？"


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def _card(harness: BotHarness) -> dict[str, Any]:
    """小明 (东湖街道) asks; return the card 王老师 gets."""
    await _pick_region(harness, XIAOMING, "东城区", "东湖街道")
    await harness.client.send_text(WANG, "/start")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, QUESTION)
    return await harness.client.wait_for_bot_message(
        WANG["id"],
        after_seq=seq,
        timeout=10,
        predicate=lambda m: "问题 #" in (m.get("text") or ""),
    )


async def test_staff_from_the_org_file_get_their_telegram_language(harness: BotHarness) -> None:
    """A young person whose Telegram is English is answered in English on first contact;
    a cadre listed in the org file (row made by `voy org load` with the default locale)
    is not: his language_code is never looked at, so he gets Simplified Chinese."""
    alex = {"id": 1003, "first_name": "Alex", "language_code": "en"}
    assert "How to use Voice of Youth" in texts(await harness.send(alex, "/help"))
    replies = await harness.send(WANG_EN, "/help")
    assert "How to use Voice of Youth" in texts(replies), texts(replies)[:80]


async def test_an_emoji_rich_answer_is_measured_as_telegram_counts_it(
    harness: BotHarness,
) -> None:
    """The answer limit (3000) is counted in code points; Telegram counts UTF-16 units.
    A cadre's answer of 2,040 emoji is a valid Telegram message (4,080 units) and is
    accepted ("answer sent"), but the push "A league cadre answered…" that quotes it is
    over 4,096 units: Telegram refuses it, the outbox row ends failed, and the young
    person never gets the answer while the question shows "answered"."""
    card = await _card(harness)
    answer = "🏀" * 2040
    assert _utf16(answer) <= 4096  # Telegram delivers this message to the bot
    # Now counted as Telegram counts: refused whole, with its length, before anything is
    # recorded; the shortened answer is taken and reaches the young person.
    replies = await harness.send(WANG, answer, reply_to=card["message_id"])
    assert "4080" in texts(replies) and "3000" in texts(replies), texts(replies)
    assert (await _question(harness)).status != "answered"
    seq = await harness.client.last_seq()
    replies = await harness.send(WANG, "🏀" * 1400, reply_to=card["message_id"])
    assert "已把你的答复发给提问人" in texts(replies)
    got = await harness.client.wait_for_bot_message(
        XIAOMING["id"],
        after_seq=seq,
        timeout=10,
        predicate=lambda m: "团干部答复了你的问题" in (m.get("text") or ""),
    )
    assert "🏀" * 1400 in got["text"]


async def test_language_choice_changes_the_young_persons_command_menu(
    harness: BotHarness,
) -> None:
    """/language sets the locale of every message, but the command menu still follows
    the Telegram client: everyone's menu is set per client language (None, zh, en) and
    only staff get a menu of their own chat. 小明 (Chinese client) who chose English
    keeps Chinese command descriptions; a zh-Hant client only ever gets zh-Hans ones."""
    await harness.send(XIAOMING, "/start")
    prompt = (await harness.send(XIAOMING, "/language"))[-1]
    await harness.press(XIAOMING, prompt, "English")
    own = await harness.app.bot.get_my_commands(scope=BotCommandScopeChat(XIAOMING["id"]))
    shown = own or await harness.app.bot.get_my_commands(language_code="zh")
    descriptions = {c.command: c.description for c in shown}
    assert descriptions.get("help") == "How to use the bot", descriptions.get("help")


async def test_a_push_scheduled_before_a_language_change_comes_in_the_new_language(
    harness: BotHarness,
) -> None:
    """Pushes are rendered when queued, not when sent: the "was question #N resolved?"
    check is rendered at answer time and sent a day later. 小明 switched to English in
    between (and the app says "from now on"), yet the check arrives in Chinese."""
    card = await _card(harness)
    seq = await harness.client.last_seq()
    await harness.send(WANG, "周六下午有。", reply_to=card["message_id"])
    await harness.client.wait_for_bot_message(
        XIAOMING["id"],
        after_seq=seq,
        timeout=10,
        predicate=lambda m: "团干部答复了你的问题" in (m.get("text") or ""),
    )
    prompt = (await harness.send(XIAOMING, "/language"))[-1]
    await harness.press(XIAOMING, prompt, "English")
    question = await _question(harness)
    seq = await harness.client.last_seq()
    harness.app.bot_data.services.clock.advance(hours=25)
    check = await harness.client.wait_for_bot_message(
        XIAOMING["id"],
        after_seq=seq,
        timeout=10,
        predicate=lambda m: f"#{question.id}" in (m.get("text") or ""),
    )
    assert check["text"].startswith("Was question"), check["text"]


async def test_faq_made_by_an_english_cadre_has_no_english_labels_for_chinese_readers(
    harness: BotHarness,
) -> None:
    """ "Add to the FAQ" masks the question and answer with the *cadre's* catalog labels:
    a cadre using English writes "[phone hidden]" into the (Chinese) FAQ entry, which
    every young person is then answered with, whatever their language."""
    await _pick_region(harness, XIAOMING, "东城区", "东湖街道")
    await harness.send(WANG, "/start")
    prompt = (await harness.send(WANG, "/language"))[-1]
    await harness.press(WANG, prompt, "English")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "东湖街道周末篮球活动怎么报名？我电话13812345678")
    card = await harness.client.wait_for_bot_message(
        WANG["id"],
        after_seq=seq,
        timeout=10,
        predicate=lambda m: "Question #" in (m.get("text") or ""),
    )
    replies = await harness.send(
        WANG, "打13812345678找小王报名就行，周六下午两点开始。", reply_to=card["message_id"]
    )
    done = replies[-1]
    answer = await harness.press(WANG, done, "Add to the FAQ")
    assert "cadre-q" in (answer.get("text") or ""), answer
    await harness.knowledge_current()
    entry = harness.app.bot_data.services.knowledge.entry(
        f"cadre-q{(await _question(harness)).id}"
    )
    assert entry is not None
    assert "[phone hidden]" not in entry.question + entry.answer, (entry.question, entry.answer)


async def test_forget_counts_read_as_english(harness: BotHarness) -> None:
    """English plural forms: the catalog has one form for every count, so a young person
    with one question reads "your 1 questions … and 0 micro-wishes"."""
    alex = {"id": 1003, "first_name": "Alex", "language_code": "en"}
    await harness.send(alex, "/start")
    await harness.send(alex, "Is there a basketball club for young people at the weekend?")
    (explain,) = await harness.send(alex, "/forget")
    assert "1 questions" not in explain["text"], explain["text"]


def _org_with_a_big_town(tmp_path: Path) -> Path:
    """The demo org with a town of 120 villages under the city."""
    import yaml

    from bot.data import DEMO_ORG

    spec = yaml.safe_load(Path(DEMO_ORG).read_text(encoding="utf-8"))
    spec["regions"][0]["children"].append(
        {
            "code": "big-town",
            "names": {"zh-Hans": "大镇"},
            "children": [
                {"code": f"village-{i}", "names": {"zh-Hans": f"第{i}村"}} for i in range(120)
            ],
        }
    )
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


async def test_a_young_person_pages_through_a_large_level_of_the_region_picker(
    harness: BotHarness, tmp_path: Path
) -> None:
    """A town with 120 villages: the picker shows them a page at a time (Telegram refuses
    a keyboard of more than 100 buttons), and a village on the second page can be chosen."""
    from bot.services import org
    from storage.db import unit_of_work

    path = _org_with_a_big_town(tmp_path)
    async with unit_of_work(harness.sessions) as session:
        await org.load_org(session, org.parse_org_file(path), default_locale="zh-Hans")
    picker = (await harness.send(XIAOMING, "/start"))[-1]
    await harness.press(XIAOMING, picker, "大镇")
    picker = await harness.message(XIAOMING["id"], picker["message_id"])
    labels = [b["text"] for b in buttons(picker)]
    assert "第0村" in labels and "第110村" not in labels and "下一页 ›" in labels
    await harness.press(XIAOMING, picker, "下一页 ›")
    picker = await harness.message(XIAOMING["id"], picker["message_id"])
    labels = [b["text"] for b in buttons(picker)]
    assert "第110村" in labels and "‹ 上一页" in labels and "第0村" not in labels
    await harness.press(XIAOMING, picker, "第110村")
    async with harness.sessions() as session:
        user = await session.scalar(select(User).where(User.telegram_id == XIAOMING["id"]))
    assert user is not None and user.region_code == "village-110"
