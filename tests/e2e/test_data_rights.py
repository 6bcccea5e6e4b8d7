"""Data rights through the sandbox: /mydata's document, /forget (cancel, confirm, forged
buttons), the cadre told of a withdrawn question, and the access log of shared names."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from bot import retention_job
from bot.i18n import html_to_plain
from bot.services import data_forget, lifecycle
from bot.services.data_rights import PURGED
from bot.sweeper import sweep
from sandbox import SandboxServer
from storage.faq import FaqEntry, FaqRevision, MatchLog
from storage.privacy import Erasure, PersonalDataAccess
from storage.questions import Question
from storage.wishes import Wish
from tests.conftest import run_harness
from tests.e2e.test_wishes import LI, _claimed, _staff
from tests.support import XIAOMING, BotHarness, buttons

WANG = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}
QUESTION = "我们东湖街道有没有周末的篮球活动？我电话13812345678"
STALE = "这个按钮已经失效了"


async def _ask(harness: BotHarness) -> tuple[dict[str, Any], dict[str, Any]]:
    """小明 (in 东湖街道) asks; return the bot's reply and 王老师's card."""
    picker = (await harness.send(XIAOMING, "/start"))[-1]
    for label in ("东城区", "东湖街道"):
        await harness.press(XIAOMING, picker, label)
        picker = await harness.message(XIAOMING["id"], picker["message_id"])
    await harness.send(WANG, "/start")
    seq = await harness.client.last_seq()
    reply = (await harness.send(XIAOMING, QUESTION))[-1]
    card = await harness.client.wait_for_bot_message(
        WANG["id"],
        after_seq=seq,
        timeout=10,
        predicate=lambda m: "问题 #" in (m.get("text") or ""),
    )
    return reply, card


async def _reply(
    harness: BotHarness, user: dict[str, Any], text: str, wanted: str, **kwargs: Any
) -> dict[str, Any]:
    """Send ``text``; return the reply whose text, caption or file name has ``wanted``
    (a push from the outbox may arrive in between)."""
    replies = await harness.send(user, text, **kwargs)
    found = [
        m
        for m in replies
        if wanted in (m.get("text") or m.get("caption") or "")
        or wanted in (m.get("document") or {}).get("file_name", "")
    ]
    assert len(found) == 1, [m.get("text") or m.get("caption") for m in replies]
    return found[0]


async def _question(harness: BotHarness) -> Question:
    async with harness.sessions() as session:
        question = await session.scalar(select(Question).order_by(Question.id.desc()))
    assert question is not None
    return question


async def _document(
    harness: BotHarness, message: dict[str, Any], *, last: bool = False
) -> dict[str, Any]:
    """Download a document the bot sent, over the Bot API, and parse it (``last``: the
    latest of that name, when one was exported before on the same day)."""
    name = message["document"]["file_name"]
    assert name.startswith("voy-mydata-") and name.endswith(".json")
    # The control API's view names the file but not its id; the sandbox's file store does.
    files = harness.server.core.files
    found = [files.by_path(f"documents/file_{n}") for n in range(1, 100)]
    named = [r for r in found if r is not None and r.file_name == name]
    record = named[-1] if last else named[0]
    file = await harness.app.bot.get_file(record.file_id)  # real HTTP, as a client would
    parsed: dict[str, Any] = json.loads(bytes(await file.download_as_bytearray()))
    return parsed


async def test_mydata_sends_a_json_document_with_the_question(harness: BotHarness) -> None:
    await _ask(harness)
    question = await _question(harness)
    sent = await _reply(harness, XIAOMING, "/mydata", "voy-mydata-")
    assert "/forget" in sent["caption"]
    data = await _document(harness, sent)
    assert data["format"] == "voy-mydata/1"
    assert data["profile"]["telegram_id"] == XIAOMING["id"]
    assert data["profile"]["region"] == "a-street-1"
    (asked,) = data["questions"]
    assert asked["ticket"] == question.id and asked["text"] == QUESTION
    assert asked["assigned_to"].startswith("staff-")
    assert QUESTION in [m["text"] for m in data["messages_you_sent"]]
    assert "王老师" not in json.dumps(data, ensure_ascii=False)


async def test_forget_cancelled_or_forged_changes_nothing(harness: BotHarness) -> None:
    _asked, card = await _ask(harness)
    before = await _question(harness)
    user = await harness.user(XIAOMING["id"])
    assert user is not None
    explain = await _reply(harness, XIAOMING, "/forget", "删除我的数据")
    assert "1 个问题（其中 1 个未结束）" in explain["text"]
    assert [b["text"] for b in buttons(explain)] == ["🗑 确认删除我的数据", "不删除"]

    for forged in (f"v1:fgy:{user.id + 1}", "v1:fgy:abc", f"v2:fgy:{user.id}"):
        answer = await harness.press_data(XIAOMING, explain["message_id"], forged)
        assert STALE in answer["text"] and answer["show_alert"]
    # Someone else forging 小明's confirmation in their own chat cannot erase 小明.
    answer = await harness.press_data(WANG, card["message_id"], f"v1:fgy:{user.id}")
    assert STALE in answer["text"]

    await harness.press(XIAOMING, explain, "不删除")
    after_cancel = await harness.message(XIAOMING["id"], explain["message_id"])
    assert buttons(after_cancel) == []
    messages = await harness.client.messages(XIAOMING["id"])
    assert any("什么都没有改变" in (m.get("text") or "") for m in messages[-3:])
    after = await _question(harness)
    assert (after.text, after.status, after.identity_shared) == (
        before.text,
        before.status,
        before.identity_shared,
    )
    same = await harness.user(XIAOMING["id"])
    assert same is not None and same.id == user.id and same.forgotten_at is None
    assert same.first_name == "小明"


async def test_forget_confirmed_withdraws_tells_the_cadre_and_leaves_nothing(
    harness: BotHarness,
) -> None:
    _asked, card = await _ask(harness)
    question = await _question(harness)
    user = await harness.user(XIAOMING["id"])
    assert user is not None
    explain = await _reply(harness, XIAOMING, "/forget", "删除我的数据")
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, explain, "确认删除")
    done = (await harness.client.messages(XIAOMING["id"]))[-1]
    assert "你的数据已删除" in done["text"] and "1 个问题" in done["text"]

    notice = await harness.client.wait_for_bot_message(
        WANG["id"],
        after_seq=seq,
        timeout=10,
        predicate=lambda m: "已撤回" in (m.get("text") or ""),
    )
    assert f"问题 #{question.id}" in notice["text"]
    assert "小明" not in notice["text"] and "篮球" not in notice["text"]
    withdrawn = await _question(harness)
    assert withdrawn.status == lifecycle.WITHDRAWN and withdrawn.text == PURGED
    # Recorded, as a key only, to be applied again if a backup from before is restored.
    async with harness.sessions() as session:
        (erasure,) = list(await session.scalars(select(Erasure)))
    key = data_forget.erasure_key(XIAOMING["id"], harness.settings.pseudonym_key())
    assert erasure.key == key

    # Writing again starts afresh: a new user, greeted as one, with nothing stored.
    await _reply(harness, XIAOMING, "/start", "你好，小明")
    # The old confirmation button is stale now: the person behind it is gone.
    answer = await harness.press(XIAOMING, explain, "确认删除")
    assert STALE in answer["text"]
    fresh = await harness.user(XIAOMING["id"])
    assert fresh is not None and fresh.id != user.id and fresh.region_code is None
    empty = await _reply(harness, XIAOMING, "/mydata", "没有保存")
    assert "没有保存关于你的任何数据" in empty["text"] and "document" not in empty

    # The cadre answering the old card is told it was withdrawn; nothing reaches anyone.
    refused = await _reply(harness, WANG, "周六有", "已撤回", reply_to=card["message_id"])
    assert f"#{question.id}" in refused["text"] and "已撤回" in refused["text"]
    assert (await _question(harness)).status == lifecycle.WITHDRAWN


async def test_a_card_showing_a_shared_name_is_logged(harness: BotHarness) -> None:
    reply, _card = await _ask(harness)
    question = await _question(harness)
    async with harness.sessions() as session:
        assert list(await session.scalars(select(PersonalDataAccess))) == []  # pseudonym only
    # Sharing tells the cadre holding the question at once, with the name, logged.
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, reply, "让团干部看到我的名字")
    notice = await harness.client.wait_for_bot_message(
        WANG["id"],
        after_seq=seq,
        timeout=10,
        predicate=lambda m: "同意让你看到" in (m.get("text") or ""),
    )
    assert "小明" in notice["text"] and f"#{question.id}" in notice["text"]
    async with harness.sessions() as session:
        (shared,) = list(await session.scalars(select(PersonalDataAccess)))
        wang = await harness.user(WANG["id"])
    assert wang is not None and shared.viewer_user_id == wang.id
    for other in ({"id": 2002, "first_name": "李老师"}, {"id": 2003, "first_name": "张老师"}):
        await harness.send(other, "/start")
    seq = await harness.client.last_seq()
    services = harness.app.bot_data.services
    services.clock.advance(hours=49)
    assert (await sweep(services)).escalated == 1
    moved = await _question(harness)
    async with harness.sessions() as session:
        rows = list(
            await session.scalars(select(PersonalDataAccess).order_by(PersonalDataAccess.id))
        )
        user = await harness.user(XIAOMING["id"])
    row = rows[-1]
    assert len(rows) == 2 and row.viewer_chat_id != WANG["id"]
    assert user is not None and row.subject_user_id == user.id
    assert (row.item_kind, row.item_id, row.purpose) == (
        "question",
        question.id,
        "identity_shared_card",
    )
    assert row.fields == ["first_name"] and row.viewer_user_id is not None
    card = await harness.client.wait_for_bot_message(
        row.viewer_chat_id,
        after_seq=seq,
        timeout=10,
        predicate=lambda m: f"#{question.id}" in (m.get("text") or ""),
    )
    assert "小明" in card["text"] and moved.assigned_cadre_id is not None


async def test_the_daily_retention_job_purges_old_closed_questions(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    async for harness in run_harness(sandbox, sqlite_url, retention_days=30, retention_batch=1):
        jobs = harness.app.job_queue.get_jobs_by_name("retention")  # type: ignore[union-attr]
        assert len(jobs) == 1
        await harness.send(XIAOMING, "请问几岁可以入团")  # answered from the FAQ
        await harness.send(XIAOMING, "团员几岁离团")
        await _ask(harness)  # routed: still open, kept
        services = harness.app.bot_data.services
        assert (await retention_job.run(services)).total == 0  # nothing old yet
        services.clock.advance(days=31)
        purged = await retention_job.run(services)
        assert purged.questions == 2  # one per batch, until a batch came back short
        async with harness.sessions() as session:
            texts = {q.status: q.text for q in await session.scalars(select(Question))}
        assert texts[lifecycle.ASSIGNED] == QUESTION
        assert texts[lifecycle.AUTO_ANSWERED] == PURGED


async def test_retention_zero_keeps_everything_and_schedules_nothing(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    async for harness in run_harness(sandbox, sqlite_url, retention_days=0):
        assert not harness.app.job_queue.get_jobs_by_name("retention")  # type: ignore[union-attr]
        await harness.send(XIAOMING, "请问几岁可以入团")
        services = harness.app.bot_data.services
        services.clock.advance(days=10_000)
        assert (await retention_job.run(services)).total == 0
        async with harness.sessions() as session:
            (question,) = list(await session.scalars(select(Question)))
        assert question.text == "请问几岁可以入团"


async def test_forget_withdraws_a_claimed_wish_and_tells_the_claimer(harness: BotHarness) -> None:
    await _staff(harness)
    wish, claimed = await _claimed(harness, text="想要一套画笔 WISH-SECRET")
    async with harness.sessions() as session:
        seen = {
            (r.purpose, r.viewer_chat_id)
            for r in await session.scalars(select(PersonalDataAccess))
        }
    assert seen == {("wish_review", 2001), ("wish_review", 2003), ("wish_claim", 2002)}

    explain = await _reply(harness, XIAOMING, "/forget", "删除我的数据")
    assert "1 个微心愿（其中 1 个未结束）" in explain["text"]
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, explain, "确认删除")
    notice = await harness.client.wait_for_bot_message(
        LI["id"], after_seq=seq, timeout=10, predicate=lambda m: "已撤回" in (m.get("text") or "")
    )
    assert f"W{wish.id}" in notice["text"] and "WISH-SECRET" not in notice["text"]
    async with harness.sessions() as session:
        gone = await session.get(Wish, wish.id)
    assert gone is not None and gone.status == "withdrawn" and gone.text == PURGED
    # The claimer's old "fulfilled" button is refused at once: the wish is withdrawn.
    refused = await harness.press(LI, claimed, "已实现")
    assert refused["show_alert"], refused
    assert f"W{wish.id}" in refused["text"] and "已撤回" in refused["text"]


async def test_the_same_on_ptbs_own_http_client(sandbox: SandboxServer, database_url: str) -> None:
    """VOY_HTTP_CLIENT=httpx (PTB's HTTPXRequest instead of bot/http.py): a question, its
    card through the outbox, and an upload all go through."""
    async for harness in run_harness(sandbox, database_url, http_client="httpx"):
        _reply_to_question, card = await _ask(harness)
        assert "问题 #" in card["text"]
        sent = await _reply(harness, XIAOMING, "/mydata", "voy-mydata-")
        data = await _document(harness, sent)
        assert data["questions"][0]["text"] == QUESTION
        bot = harness.app.bot
        assert type(bot.request).__name__ == "HTTPXRequest"


async def test_mydata_holds_the_faq_answer_the_bot_gave_on_the_spot(
    harness: BotHarness,
) -> None:
    """What the bot answered at once is in the export, with a note on how it was rebuilt:
    the replies are not stored as sent, their FAQ entries are."""
    (answer,) = await harness.send(XIAOMING, "请问几岁可以入团")
    sent = await _reply(harness, XIAOMING, "/mydata", "voy-mydata-")
    data = await _document(harness, sent)
    (reply,) = data["replies_on_the_spot"]
    assert reply["your_message"] == "请问几岁可以入团" and reply["reply"] == "faq_answer"
    (entry,) = reply["faq_entries"]
    assert entry["answer"] and entry["answer"][:20] in answer["text"]
    assert entry["question"] and entry["faq_entry"]
    assert "常见问题" in data["notes"]["replies_on_the_spot"]


async def test_mydata_holds_the_faq_answer_as_it_read_when_sent(harness: BotHarness) -> None:
    """An entry edited after the bot answered with it: the export gives the answer as it
    was sent (the entry's revision current then), not the entry's text now; an entry with
    no revision from before the reply falls back to its text now, marked so."""
    (answer,) = await harness.send(XIAOMING, "请问几岁可以入团")
    async with harness.sessions() as session, session.begin():
        (log,) = await session.scalars(select(MatchLog))
        entry = await session.get(FaqEntry, log.offered[0])
        assert entry is not None
        sent_answer = entry.answer
        # The entry was imported a week before (the test clock stands still; the match
        # log's time is the database's).
        await session.execute(
            update(FaqRevision)
            .where(FaqRevision.entry_id == entry.id)
            .values(changed_at=datetime(2026, 11, 11, tzinfo=UTC))
        )
        entry.answer = "改过的答复：NEW-TEXT"
        entry.version += 1
        later = log.created_at + timedelta(minutes=1)
        session.add(
            FaqRevision(
                entry_id=entry.id,
                version=entry.version,
                snapshot=entry.snapshot(),
                changed_by="editor:later",
                changed_at=later,
            )
        )
    data = await _document(harness, await _reply(harness, XIAOMING, "/mydata", "voy-mydata-"))
    (reply,) = data["replies_on_the_spot"]
    (shown,) = reply["faq_entries"]
    assert "NEW-TEXT" not in shown["answer"] and shown["answer"][:20] in answer["text"]
    assert shown["answer"] == html_to_plain(sent_answer, keep_links=True)
    assert shown["text_as_of"] == "sent"
    # The ticket's own record of the FAQ answer it got reads the same.
    (got,) = [a for q in data["questions"] for a in q["faq_answers"]]
    assert got["answer"] == shown["answer"] and got["text_as_of"] == "sent"
    # No revision from before the reply: the text now, marked as such.
    async with harness.sessions() as session, session.begin():
        await session.execute(delete(FaqRevision).where(FaqRevision.changed_by != "editor:later"))
    data = await _document(
        harness, await _reply(harness, XIAOMING, "/mydata", "voy-mydata-"), last=True
    )
    (shown,) = data["replies_on_the_spot"][0]["faq_entries"]
    assert "NEW-TEXT" in shown["answer"] and shown["text_as_of"] == "now"


async def test_mydata_holds_the_choices_the_bot_offered_on_the_spot(
    sandbox: SandboxServer, database_url: str
) -> None:
    """ "Did you mean" choices are in the export by their questions (their answers were
    not shown), with what the young person answered to them."""
    async for harness in run_harness(sandbox, database_url, match_answer_threshold=1.0):
        (offer,) = await harness.send(XIAOMING, "团关系咋转")
        await harness.press(XIAOMING, offer, "都不是")
        sent = await _reply(harness, XIAOMING, "/mydata", "voy-mydata-")
        data = await _document(harness, sent)
    (reply,) = data["replies_on_the_spot"]
    assert reply["reply"] == "did_you_mean" and reply["your_response"] == "none_of_these"
    offered = [e["question"] for e in reply["faq_entries"]]
    assert offered and all("answer" not in e for e in reply["faq_entries"])
    labels = " ".join(b["text"] for b in buttons(offer))
    assert all(question[:8] in labels for question in offered), (offered, labels)


async def test_mydata_does_not_call_the_bots_step_a_response_of_theirs(
    sandbox: SandboxServer, database_url: str
) -> None:
    """Choices left alone go to a person after a while: the export says the young person
    pressed nothing (the bot's "no_choice" was shown as their response)."""
    async for harness in run_harness(
        sandbox, database_url, match_answer_threshold=1.0, suggest_route_hours=2
    ):
        await harness.send(XIAOMING, "团关系咋转")
        harness.app.bot_data.services.clock.advance(hours=2)
        assert (await sweep(harness.app.bot_data.services)).unchosen_routed == 1
        sent = await _reply(harness, XIAOMING, "/mydata", "voy-mydata-")
        data = await _document(harness, sent)
    (reply,) = data["replies_on_the_spot"]
    assert reply["reply"] == "did_you_mean" and reply["your_response"] is None
    (match,) = data["faq_matches"]
    assert match["your_response"] is None
