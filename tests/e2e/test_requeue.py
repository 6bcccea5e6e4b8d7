"""Updates that failed for good are handled again once an operator queues them
(`voy updates failed`, `voy updates retry`): the person is told, in reply to what they
sent or pressed, that this comes late, then gets the answer; each is handled once."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler, filters
from typer.testing import CliRunner, Result

from bot import callbacks, edge
from bot.api_bot import Sent
from bot.cli import app
from bot.services import inbox, wish_drafts
from bot.services.privacy import log_pseudonym
from sandbox import SandboxServer
from storage.models import INBOUND_FAILED, INBOUND_HANDLED, InboundMessage
from storage.questions import Question
from tests.bot.test_data_rights import _scan
from tests.conftest import TOKEN, run_harness
from tests.e2e.test_forwarded import MONITOR, NOTE, WRITER, _start
from tests.e2e.test_passing_errors import _commit_fails_once
from tests.support import XIAOMING, BotHarness, buttons, texts

runner = CliRunner()
APOLOGY = "出了点问题"
FEE_ANSWER = "团费按月缴纳"
LATE = re.compile(r"你在 \d{4}-\d{2}-\d{2} \d{2}:\d{2} 发来的这条消息")


@pytest.fixture
async def harness(sandbox: SandboxServer, database_url: str) -> AsyncIterator[BotHarness]:
    """The bot, looking for requeued updates several times a second."""
    async for running in run_harness(sandbox, database_url, requeue_interval_s=0.2):
        yield running


@pytest.fixture
def voy(harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run a `voy` command on the harness's database, as an operator would beside the bot."""
    monkeypatch.setenv("VOY_DATABASE_URL", harness.settings.database_url)
    monkeypatch.setenv("VOY_TELEGRAM_TOKEN", TOKEN)

    async def run(*args: str) -> Result:
        # In a thread: the command runs its own event loop, as in a shell.
        return await asyncio.to_thread(runner.invoke, app, list(args))

    return run


async def _explode(_update: object, _context: object) -> None:
    raise RuntimeError("a bug, fixed later")


def _break(harness: BotHarness, handler: BaseHandler[Any, Any, Any]) -> BaseHandler[Any, Any, Any]:
    harness.app.add_handler(handler, group=-1)
    return handler


async def _row(harness: BotHarness, update_id: int) -> InboundMessage:
    async with harness.sessions() as session:
        row = await session.scalar(
            select(InboundMessage).where(InboundMessage.update_id == update_id)
        )
    assert row is not None
    return row


async def _handled(harness: BotHarness, update_id: int) -> InboundMessage:
    for _ in range(250):
        row = await _row(harness, update_id)
        if row.status == INBOUND_HANDLED:
            return row
        await asyncio.sleep(0.02)
    raise AssertionError(f"update {update_id} not handled again: {row.status}")


async def test_a_failed_message_is_answered_late_once_requeued(
    harness: BotHarness, voy: Any
) -> None:
    bug = _break(harness, MessageHandler(filters.Regex("团费"), _explode))
    sent = await harness.client.send_text(XIAOMING, "团费怎么交？")
    row = await harness.settled(sent["update_id"])
    assert row.status == INBOUND_FAILED
    assert APOLOGY in texts(await harness.client.messages(XIAOMING["id"]))

    listed = await voy("updates", "failed")
    assert listed.exit_code == 0, listed.output
    sender = f"u:{log_pseudonym(XIAOMING['id'], harness.settings.pseudonym_key())}"
    (line,) = listed.output.splitlines()
    assert line.startswith(f"#{row.id} ") and " text " in line and sender in line
    assert "RuntimeError at " in line and "团费" not in listed.output  # never the text

    harness.app.remove_handler(bug, group=-1)  # the fix is deployed
    seq = await harness.client.last_seq()
    queued = await voy("updates", "retry", str(row.id))
    assert queued.exit_code == 0 and "queued 1 updates again" in queued.output

    answer = await harness.client.wait_for_bot_message(
        XIAOMING["id"], after_seq=seq, predicate=lambda m: FEE_ANSWER in (m.get("text") or "")
    )
    await _handled(harness, sent["update_id"])
    later = [
        m
        for m in await harness.client.messages(XIAOMING["id"])
        if m["from_bot"] and m["message_id"] > sent["message_id"] + 1  # after the apology
    ]
    notice, reply = later
    assert LATE.search(notice["text"]) and notice["reply_to_message_id"] == sent["message_id"]
    assert reply["message_id"] == answer["message_id"]

    # Handled now: not listed, not queued again, and nobody else answers it again.
    assert (await voy("updates", "failed")).output.strip() == "no failed updates"
    again = await voy("updates", "retry", str(row.id))
    assert again.exit_code == 2
    assert f"voy: not queued, not failed or not found: #{row.id}" in again.output
    await asyncio.sleep(0.5)  # two more looks for requeued updates
    assert len([m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]]) == 3


async def test_a_message_sent_again_and_answered_is_not_answered_late(
    harness: BotHarness, voy: Any
) -> None:
    """The apology asks the person to send it again; if they did and were answered, the
    late retry drops the failed copy without a word, while another failed text of theirs
    is still answered late."""
    bug = _break(harness, MessageHandler(filters.Regex("团费|入团"), _explode))
    first = await harness.client.send_text(XIAOMING, "团费怎么交？")
    other = await harness.client.send_text(XIAOMING, "入团需要什么条件？")
    for sent in (first, other):
        assert (await harness.settled(sent["update_id"])).status == INBOUND_FAILED
    harness.app.remove_handler(bug, group=-1)  # the fix is deployed

    again = await harness.send(XIAOMING, "团费怎么交？")
    assert FEE_ANSWER in texts(again)
    assert "queued 2 " in (await voy("updates", "retry", "--all")).output
    await _handled(harness, first["update_id"])
    await _handled(harness, other["update_id"])
    chat = await harness.client.messages(XIAOMING["id"])
    late = [m for m in chat if m["message_id"] > again[-1]["message_id"]]
    assert [m["reply_to_message_id"] for m in late if LATE.search(m.get("text") or "")] == [
        other["message_id"]
    ]
    assert not any(FEE_ANSWER in (m.get("text") or "") for m in late)


async def test_a_failed_press_is_handled_late_once_requeued(harness: BotHarness, voy: Any) -> None:
    prompt = (await harness.send(XIAOMING, "/language"))[-1]
    bug = _break(harness, CallbackQueryHandler(_explode, pattern=callbacks.matches("lang")))
    english = next(b["callback_data"] for b in buttons(prompt) if b["text"] == "English")
    pressed = await harness.client.press(XIAOMING, prompt["message_id"], english)
    assert (await harness.settled(pressed["update_id"])).status == INBOUND_FAILED
    user = await harness.user(XIAOMING["id"])
    assert user is not None and user.locale == "zh-Hans"

    harness.app.remove_handler(bug, group=-1)
    seq = await harness.client.last_seq()
    assert "queued 1 " in (await voy("updates", "retry", "--all")).output
    notice = await harness.client.wait_for_bot_message(
        XIAOMING["id"], after_seq=seq, predicate=lambda m: "按下了" in (m.get("text") or "")
    )
    assert "按钮" in notice["text"] and notice["reply_to_message_id"] == prompt["message_id"]
    await _handled(harness, pressed["update_id"])
    user = await harness.user(XIAOMING["id"])
    assert user is not None and user.locale == "en"
    assert "English" in (await harness.message(XIAOMING["id"], prompt["message_id"]))["text"]


async def test_an_update_failing_again_is_stored_as_failed_again(
    harness: BotHarness, voy: Any
) -> None:
    _break(harness, MessageHandler(filters.Regex("团费"), _explode))  # not fixed
    sent = await harness.client.send_text(XIAOMING, "团费怎么交？")
    assert (await harness.settled(sent["update_id"])).status == INBOUND_FAILED
    assert "queued 1 " in (await voy("updates", "retry", "--all")).output
    for _ in range(250):
        if (
            len([m for m in await harness.client.messages(XIAOMING["id"]) if APOLOGY in m["text"]])
            == 2
        ):
            break
        await asyncio.sleep(0.02)
    row = await harness.settled(sent["update_id"])  # the apology comes before the mark
    assert row.status == INBOUND_FAILED and (row.error or "").startswith("RuntimeError at ")
    assert FEE_ANSWER not in texts(await harness.client.messages(XIAOMING["id"]))


async def test_an_erased_update_is_not_queued_and_bad_calls_are_refused(
    harness: BotHarness, voy: Any
) -> None:
    _break(harness, MessageHandler(filters.Regex("团费"), _explode))
    sent = await harness.client.send_text(XIAOMING, "团费怎么交？")
    row = await harness.settled(sent["update_id"])
    explain = (await harness.send(XIAOMING, "/forget"))[-1]
    data = next(b["callback_data"] for b in buttons(explain) if "确认删除" in b["text"])
    pressed = await harness.client.press(XIAOMING, explain["message_id"], data)
    await harness.settled(pressed["update_id"])

    listed = await voy("updates", "failed", "--json")
    assert '"erased": true' in listed.output and f'"id": {row.id}' in listed.output
    refused = await voy("updates", "retry", str(row.id), "4242")
    assert refused.exit_code == 2 and "queued 0" not in refused.output
    assert f"not queued, erased (/forget or retention): #{row.id}" in refused.output
    assert "not queued, not failed or not found: #4242" in refused.output
    assert (await _row(harness, sent["update_id"])).status == INBOUND_FAILED

    for args in (("updates", "retry"), ("updates", "retry", "--all", str(row.id))):
        result = await voy(*args)
        assert result.exit_code == 2 and "by id, or pass --all" in result.output


async def test_a_text_whose_chat_moved_on_is_not_taken_for_the_new_step(
    harness: BotHarness, voy: Any
) -> None:
    """The question failed; the person then began a wish. Handled now, the question would
    become the wish's description: it is not handled, and they are asked to resend it."""
    bug = _break(harness, MessageHandler(filters.Regex("团费"), _explode))
    sent = await harness.client.send_text(XIAOMING, "团费怎么交？")
    row = await harness.settled(sent["update_id"])
    harness.app.remove_handler(bug, group=-1)
    prompt = (await harness.send(XIAOMING, "/wish"))[-1]
    seq = await harness.client.last_seq()
    assert "queued 1 " in (await voy("updates", "retry", str(row.id))).output
    notice = await harness.client.wait_for_bot_message(
        XIAOMING["id"], after_seq=seq, predicate=lambda m: "不再自动处理" in (m.get("text") or "")
    )
    assert notice["reply_to_message_id"] == sent["message_id"]
    await _handled(harness, sent["update_id"])
    await asyncio.sleep(0.3)
    later = [
        m["message_id"]
        for m in await harness.client.messages(XIAOMING["id"])
        if m["from_bot"] and m["message_id"] > prompt["message_id"]
    ]
    assert later == [notice["message_id"]]
    async with harness.sessions() as session:  # the draft still waits for its description
        draft = await wish_drafts.load(session, XIAOMING["id"])
    assert draft is not None and draft.step == wish_drafts.WHAT and "text" not in draft.fields


async def test_a_requeued_update_meeting_a_passing_error_keeps_its_notice_and_one_reply(
    harness: BotHarness, voy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(edge, "RETRY_PAUSES_S", (0.3,) * 3)
    bug = _break(harness, MessageHandler(filters.Regex("团费"), _explode))
    sent = await harness.client.send_text(XIAOMING, "团费怎么交？")
    row = await harness.settled(sent["update_id"])
    harness.app.remove_handler(bug, group=-1)
    with _commit_fails_once() as failed:
        assert "queued 1 " in (await voy("updates", "retry", str(row.id))).output
        await _handled(harness, sent["update_id"])
    assert failed
    late = (await harness.client.messages(XIAOMING["id"]))[2:]  # after the apology
    notice, reply = [m for m in late if m["from_bot"]]
    assert LATE.search(notice["text"]) and not notice["edited"]
    assert FEE_ANSWER in reply["text"]


async def test_a_requeued_press_says_in_a_message_what_its_toast_would_have(
    harness: BotHarness, voy: Any
) -> None:
    (answer,) = await harness.send(XIAOMING, "团费怎么交？")
    bug = _break(harness, CallbackQueryHandler(_explode, pattern=callbacks.matches("ok")))
    solved = next(b["callback_data"] for b in buttons(answer) if "解决了" in b["text"])
    pressed = await harness.client.press(XIAOMING, answer["message_id"], solved)
    row = await harness.settled(pressed["update_id"])
    harness.app.remove_handler(bug, group=-1)
    await harness.press(XIAOMING, answer, "找人工解答")  # meanwhile
    seq = await harness.client.last_seq()
    assert "queued 1 " in (await voy("updates", "retry", str(row.id))).output
    said = await harness.client.wait_for_bot_message(
        XIAOMING["id"], after_seq=seq, predicate=lambda m: "已经选过" in (m.get("text") or "")
    )
    await _handled(harness, pressed["update_id"])
    assert said["from_bot"]


async def test_a_journal_left_from_before_the_failure_is_not_replayed(
    harness: BotHarness, voy: Any
) -> None:
    """A webhook retry that went to another instance can leave this one a journal of the
    update's earlier attempt; the requeued handling must not edit those messages."""
    bug = _break(harness, MessageHandler(filters.Regex("团费"), _explode))
    sent = await harness.client.send_text(XIAOMING, "团费怎么交？")
    row = await harness.settled(sent["update_id"])
    harness.app.remove_handler(bug, group=-1)
    apology = [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]][-1]
    processor = harness.app.update_processor
    assert isinstance(processor, edge.SessionUpdateProcessor)
    update = Update.de_json(row.payload, harness.app.bot)
    stale = Sent("sendMessage", XIAOMING["id"], {"chat_id": XIAOMING["id"], "text": "旧"}, apology)
    processor._journals[inbox.fingerprint(update)] = [stale]
    seq = await harness.client.last_seq()
    assert "queued 1 " in (await voy("updates", "retry", str(row.id))).output
    await harness.client.wait_for_bot_message(
        XIAOMING["id"], after_seq=seq, predicate=lambda m: FEE_ANSWER in (m.get("text") or "")
    )
    after = await harness.message(XIAOMING["id"], apology["message_id"])
    assert APOLOGY in after["text"] and not after["edited"]


async def test_a_failed_forward_keeps_nobody_else_and_is_handled_as_one_when_requeued(
    harness: BotHarness, voy: Any
) -> None:
    """A failed update is stored without the forward's first writer or the person its
    text mentions (it once kept them until retried or erased), and is still handled as
    a forward when an operator queues it again."""
    await _start(harness)
    bug = _break(harness, MessageHandler(filters.Regex("东湖公园"), _explode))
    sent = await harness.client.send_text(
        XIAOMING,
        "班长说周六下午在东湖公园集合，每人交三百元活动费，是真的吗",
        forward_origin={"type": "user", "sender_user": WRITER},
        text_mentions=[{"offset": 0, "length": 2, "user": MONITOR}],
    )
    row = await harness.settled(sent["update_id"])
    assert row.status == INBOUND_FAILED

    async def traces() -> list[str]:
        async with harness.sessions() as session:
            found = []
            for person in (WRITER, MONITOR):
                strings = tuple(str(person[k]) for k in ("id", "first_name", "username"))
                found += await _scan(session, strings=strings, number=int(person["id"]))
            return found

    assert await traces() == []
    harness.app.remove_handler(bug, group=-1)
    seq = await harness.client.last_seq()
    queued = await voy("updates", "retry", str(row.id))
    assert queued.exit_code == 0 and "queued 1 updates again" in queued.output
    await harness.client.wait_for_bot_message(
        XIAOMING["id"], after_seq=seq, predicate=lambda m: NOTE in (m.get("text") or "")
    )
    await _handled(harness, sent["update_id"])
    async with harness.sessions() as session:
        assert [q.thread[0].forwarded for q in await session.scalars(select(Question))] == [True]
    assert await traces() == []
