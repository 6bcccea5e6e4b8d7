"""Other people in what a young person sends: a friend's contact, a classmate's message
replied to in a class group, a forward's first writer and a person it mentions in an
update a crash left unhandled. Each is handled as ever, and the database keeps nothing
of who those people are, not even while the update waits to be handled."""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlalchemy import select
from telegram import Bot

from bot.services import inbox
from bot.webhook import SECRET_HEADER
from sandbox import SandboxClient, SandboxServer
from storage.db import create_engine, create_session_factory
from storage.models import INBOUND_HANDLED, INBOUND_RECEIVED, InboundMessage
from storage.questions import Question
from tests.bot.test_data_rights import _scan
from tests.conftest import prepare, run_harness
from tests.e2e.test_forwarded import MONITOR, WRITER, _start
from tests.support import TOKEN, XIAOMING, BotHarness
from tests.webhook_support import SECRET, start_webhook_bot, stop_webhook_bot

CLASS_GROUP = -1002000000777
NON_TEXT = "我现在只能读懂文字消息"


def _traces(person: dict[str, object]) -> tuple[str, ...]:
    return tuple(str(person[k]) for k in ("id", "first_name", "last_name", "username"))


async def test_a_friends_contact_is_answered_and_not_kept(harness: BotHarness) -> None:
    contact = {
        "phone_number": "+8613812345678",
        "first_name": MONITOR["first_name"],
        "last_name": MONITOR["last_name"],
        "user_id": MONITOR["id"],
        "vcard": "BEGIN:VCARD\nFN:王五\nTEL;CELL:+8613812345678\nEND:VCARD",
    }
    seq = await harness.client.last_seq()
    sent = await harness.client.send_contact(XIAOMING, contact)
    reply = await harness.client.wait_for_bot_message(XIAOMING["id"], after_seq=seq, timeout=10)
    assert NON_TEXT in reply["text"], reply["text"]
    row = await harness.settled(sent["update_id"])
    assert row.status == INBOUND_HANDLED and row.kind == "contact"
    async with harness.sessions() as session:
        found = await _scan(
            session, strings=(*_traces(MONITOR), "13812345678"), number=int(MONITOR["id"])
        )
    assert found == []


async def test_a_reply_to_a_classmate_in_a_group_keeps_only_which_message(
    harness: BotHarness,
) -> None:
    await harness.client.set_chat(CLASS_GROUP, title="初二(3)班", type_="group")
    said = await harness.client.send_text(MONITOR, "我家住在东湖路8号", chat_id=CLASS_GROUP)
    await harness.settled(said["update_id"])
    replies = await harness.send(
        XIAOMING, "/help", chat_id=CLASS_GROUP, reply_to=said["message_id"]
    )
    assert replies, "no help in the group"
    async with harness.sessions() as session:
        (row,) = await session.scalars(
            select(InboundMessage).where(InboundMessage.telegram_user_id == XIAOMING["id"])
        )
    replied = row.payload["message"]["reply_to_message"]
    assert replied["message_id"] == said["message_id"]
    stored = str(row.payload)
    for trace in (*_traces(MONITOR), "东湖路8号"):
        assert trace not in stored, trace


async def test_a_forward_left_unhandled_by_a_crash_is_stored_without_others_and_handled(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    """A process that stored a forwarded update and died before handling it: the row
    waiting for the restart holds nobody but the sender, and the restart handles it as a
    forward."""
    async for harness in run_harness(sandbox, sqlite_url):
        await _start(harness)  # a region chosen, a cadre there
    async with SandboxClient(sandbox.url.rstrip("/")) as client:
        sent = await client.send_text(
            XIAOMING,
            "班长说周六下午在东湖公园集合，每人交三百元活动费，是真的吗",
            forward_origin={"type": "user", "sender_user": WRITER},
            text_mentions=[{"offset": 0, "length": 2, "user": MONITOR}],
        )
    async with Bot(TOKEN, base_url=sandbox.base_url) as bot:
        fetched = await bot.get_updates(timeout=0)
        (update,) = [u for u in fetched if u.update_id == sent["update_id"]]
        await bot.get_updates(offset=update.update_id + 1, timeout=0)  # confirm it
    engine = create_engine(sqlite_url)
    try:
        async with create_session_factory(engine)() as session:
            await inbox.store(session, update)
            await session.commit()
            row = await session.scalar(
                select(InboundMessage).where(InboundMessage.update_id == sent["update_id"])
            )
            assert row is not None and row.status == INBOUND_RECEIVED
            for person in (WRITER, MONITOR):
                found = await _scan(session, strings=_traces(person), number=int(person["id"]))
                assert found == [], found
    finally:
        await engine.dispose()

    async for harness in run_harness(sandbox, sqlite_url):
        row = await harness.settled(sent["update_id"])
        assert row.status == INBOUND_HANDLED
        reply = [m for m in await harness.client.messages(XIAOMING["id"]) if m["from_bot"]][-1]
        assert "转发" in reply["text"], reply["text"]  # handled as a forward
        async with harness.sessions() as session:
            questions = list(await session.scalars(select(Question)))
            assert [q.thread[0].forwarded for q in questions] == [True]
            for person in (WRITER, MONITOR):
                found = await _scan(session, strings=_traces(person), number=int(person["id"]))
                assert found == [], found


async def test_the_bot_asks_only_for_the_updates_it_handles(harness: BotHarness) -> None:
    """Asking for every kind of update opted in to chat_member and message reactions,
    which name other people (a member someone else added or removed, who reacted): the
    inbound log stored them whole and nothing handled them."""
    import json

    await harness.send(XIAOMING, "你好")
    polls = [c for c in await harness.client.calls() if c["method"] == "getUpdates"]
    assert polls
    for call in polls:
        allowed = call["params"]["allowed_updates"]
        allowed = json.loads(allowed) if isinstance(allowed, str) else allowed
        assert sorted(allowed) == ["callback_query", "edited_message", "message"], allowed


REACTOR = {
    "id": 912_345_678,
    "is_bot": False,
    "first_name": "赵六",
    "last_name": "Zhao",
    "username": "zhaoliu_07",
}


def _unread_updates(first_id: int) -> list[dict[str, Any]]:
    """Kinds of update the bot never asks for (a reaction in a private chat and in a
    group, a member change, a poll answer, a join request), each naming a person."""
    private = {"id": REACTOR["id"], "type": "private", "first_name": REACTOR["first_name"]}
    group = {"id": CLASS_GROUP, "type": "group", "title": "初二(3)班"}
    member = {"user": REACTOR, "status": "member"}
    reaction = {"message_id": 7, "date": 1_795_000_000, "old_reaction": []}
    reaction["new_reaction"] = [{"type": "emoji", "emoji": "👍"}]
    kinds: list[dict[str, Any]] = [
        {"message_reaction": {**reaction, "chat": private, "user": REACTOR}},
        {"message_reaction": {**reaction, "chat": group, "user": REACTOR}},
        {
            "chat_member": {
                "chat": group,
                "from": REACTOR,
                "date": 1_795_000_000,
                "old_chat_member": {"user": REACTOR, "status": "left"},
                "new_chat_member": member,
            }
        },
        {
            "poll_answer": {
                "poll_id": "5",
                "user": REACTOR,
                "option_ids": [0],
                "option_persistent_ids": ["a"],
            }
        },
        {
            "chat_join_request": {
                "chat": group,
                "from": REACTOR,
                "user_chat_id": REACTOR["id"],
                "date": 1_795_000_000,
                "bio": "初二学生，住东湖路8号",
            }
        },
    ]
    return [{"update_id": first_id + n, **kind} for n, kind in enumerate(kinds)]


async def test_updates_the_bot_never_asks_for_are_recorded_without_their_people(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    """Telegram sends only the kinds the bot asks for, but one set up by hand (or left
    from an earlier deployment's ``allowed_updates``) may send others: each is recorded
    (its id, its kind) and answered 200, and nothing is kept of who reacted, joined or
    answered, not even as a user of the bot."""
    await prepare(sqlite_url)
    hooked = await start_webhook_bot(sandbox, sqlite_url)
    try:
        for update in _unread_updates(880_001):
            async with (
                aiohttp.ClientSession() as http,
                http.post(
                    f"{hooked.base}/telegram", json=update, headers={SECRET_HEADER: SECRET}
                ) as response,
            ):
                assert response.status == 200, update
        async with hooked.sessions() as session:
            rows = list(
                await session.scalars(
                    select(InboundMessage).where(InboundMessage.update_id >= 880_001)
                )
            )
            assert len(rows) == 5 and {row.status for row in rows} == {INBOUND_HANDLED}
            assert sorted(row.kind for row in rows) == [
                "chat_join_request",
                "chat_member",
                "message_reaction",
                "message_reaction",
                "poll_answer",
            ]
            found = await _scan(
                session,
                strings=(*_traces(REACTOR), "东湖路8号"),
                number=int(REACTOR["id"]),
            )
        assert found == []
    finally:
        await stop_webhook_bot(hooked)
