"""The control API: simulated users, chat history, events long poll, groups, webhook mode."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from telegram import Message

from sandbox import SandboxClient, SandboxServer
from sandbox.spec import ApiSpec
from tests.sandbox.conftest import COMMITTEE, YOUTH, BotCall


async def _updates(bot_call: BotCall, offset: int = 0) -> list[dict[str, Any]]:
    status, body = await bot_call("getUpdates", offset=offset, timeout=0)
    assert status == 200, body
    return list(body["result"])


async def test_user_message_becomes_update_with_command_entity(
    client: SandboxClient, bot_call: BotCall
) -> None:
    sent = await client.send_text(YOUTH, "/ask 团费 怎么交? https://x.cn")
    (update,) = await _updates(bot_call)
    assert update["update_id"] == sent["update_id"]
    message = update["message"]
    assert message["from"] == {
        "id": YOUTH.id,
        "is_bot": False,
        "first_name": "小明",
        "language_code": "zh-hans",
    }
    assert message["chat"] == {"id": YOUTH.id, "type": "private", "first_name": "小明"}
    assert message["entities"] == [
        {"type": "bot_command", "offset": 0, "length": 4},
        {"type": "url", "offset": 13, "length": 12},
    ]
    # Acknowledging by offset drops the update, like Telegram.
    assert await _updates(bot_call, offset=sent["update_id"] + 1) == []


async def test_media_and_replies(client: SandboxClient, bot_call: BotCall) -> None:
    first = await client.send_text(YOUTH, "看图")
    await client.send_photo(YOUTH, caption="说明", reply_to=first["message_id"])
    await client.send_sticker(YOUTH, emoji="👍")
    await client.send_voice(YOUTH, duration=4)
    await client.send_document(YOUTH, "报告.pdf", size=2048)
    updates = [u["message"] for u in await _updates(bot_call)]
    assert updates[1]["caption"] == "说明" and updates[1]["photo"][-1]["file_size"] > 0
    assert updates[1]["reply_to_message"]["text"] == "看图"
    assert updates[2]["sticker"]["emoji"] == "👍"
    assert updates[3]["voice"]["duration"] == 4
    assert updates[4]["document"]["file_name"] == "报告.pdf"
    views = await client.messages(YOUTH.id)
    assert views[1]["photo"]["file_name"].endswith(".jpg") and views[1]["reply_to_message_id"] == 1
    assert views[4]["document"] == {"file_name": "报告.pdf", "size": 2048}
    assert not any(v["from_bot"] for v in views)


async def test_events_long_poll_wakes_on_new_event(client: SandboxClient) -> None:
    seq = await client.last_seq()
    waiting = asyncio.create_task(client.events(seq, wait=5))
    await asyncio.sleep(0)
    await client.send_text(YOUTH, "hi")
    batch = await asyncio.wait_for(waiting, 2)
    assert [e["type"] for e in batch["events"]] == ["user_message"]
    assert batch["events"][0]["message"]["text"] == "hi" and batch["last_seq"] == seq + 1


async def test_wait_for_bot_message_times_out_listing_what_arrived(client: SandboxClient) -> None:
    seq = await client.last_seq()
    await client.send_text(YOUTH, "nobody answers")
    with pytest.raises(TimeoutError, match="user_message chat=1001 msg=1: 'nobody answers'"):
        await client.wait_for_bot_message(YOUTH.id, after_seq=seq, timeout=0.3)


async def test_errors_of_the_control_api(server: SandboxServer, client: SandboxClient) -> None:
    async with httpx.AsyncClient(base_url=f"{server.url}sandbox/api") as http:
        response = await http.post(
            "/callbacks", json={"user": YOUTH.user_payload(), "message_id": 5, "data": "x"}
        )
        assert response.status_code == 404 and response.json()["ok"] is False
        response = await http.post("/messages", json={"user": {"id": 5}, "text": "x"})
        assert response.status_code == 400
        # A lone surrogate (JSON can escape one): refused, as Telegram would never deliver
        # it; accepted, it made every getUpdates after it fail.
        broken = json.dumps({"user": YOUTH.user_payload(), "text": "hi \ud83d"})
        response = await http.post(
            "/messages", content=broken, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400 and "surrogate" in response.text
        assert (await http.get("/chats/424242/messages")).status_code == 404
    personas = await client.personas()
    assert personas[2]["chat"] == COMMITTEE.chat and personas[0]["kind"] == "youth"


async def test_group_chat_and_bot_calls_log(client: SandboxClient, bot_call: BotCall) -> None:
    await client.send_text(COMMITTEE, "开会")  # a group persona speaks in its group
    (update,) = await _updates(bot_call)
    assert update["message"]["chat"] == {"id": -100123, "type": "group", "title": "团委工作群"}
    await client.set_chat(-1001234567890, title="超级群")
    status, body = await bot_call("sendMessage", chat_id=-1001234567890, text="hi")
    assert status == 200 and body["result"]["chat"]["type"] == "supergroup"
    calls = await client.calls()
    assert [c["method"] for c in calls][-1] == "sendMessage" and calls[-1]["ok"]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[Any], list[int]]]:
    """A webhook endpoint recording (secret header, update); fails with the queued codes."""
    received: list[Any] = []
    failures: list[int] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (
                request.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                json.loads(await request.text()),
            )
        )
        return web.Response(status=failures.pop(0) if failures else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/hook", received, failures
    await runner.cleanup()


async def test_webhook_mode(
    receiver: tuple[str, list[Any], list[int]], client: SandboxClient, bot_call: BotCall
) -> None:
    url, received, failures = receiver
    status, _ = await bot_call("setWebhook", url=url, secret_token="s3cret")
    assert status == 200
    failures.append(500)  # the first attempt fails; the sandbox retries
    seq = await client.last_seq()
    sent = await client.send_text(YOUTH, "via webhook")
    await client.wait_for_event(lambda e: e["type"] == "webhook_delivered", after_seq=seq)
    assert [(secret, body["update_id"]) for secret, body in received] == [
        ("s3cret", sent["update_id"]),
        ("s3cret", sent["update_id"]),
    ]
    status, body = await bot_call("getUpdates")
    assert status == 409 and body["description"].startswith("Conflict: can't use getUpdates")
    _, info = await bot_call("getWebhookInfo")
    assert info["result"]["url"] == url and info["result"]["pending_update_count"] == 0
    assert await bot_call("deleteWebhook") == (200, {"ok": True, "result": True})
    events = [e["type"] for e in (await client.events(seq))["events"]]
    # The failed attempt is reported, then the retry lands; the violation is the 409 above.
    assert events == ["user_message", "webhook_error", "webhook_delivered", "violation"]


async def test_webhook_retries_until_accepted_and_keeps_chat_order(
    receiver: tuple[str, list[Any], list[int]], client: SandboxClient, bot_call: BotCall
) -> None:
    url, received, failures = receiver
    assert (await bot_call("setWebhook", url=url, secret_token="s3cret"))[0] == 200
    failures.extend([502, 503, 500, 500])  # more than Telegram's first retries
    seq = await client.last_seq()
    first = await client.send_text(YOUTH, "one")
    second = await client.send_text(YOUTH, "two")
    for sent in (first, second):
        await client.wait_for_event(
            lambda e, sent=sent: (
                e["type"] == "webhook_delivered" and e["update_id"] == sent["update_id"]
            ),
            after_seq=seq,
        )
    ids = [body["update_id"] for _, body in received]
    # The first update was tried five times; the second waited for it (same chat).
    assert ids == [first["update_id"]] * 5 + [second["update_id"]]
    _, info = await bot_call("getWebhookInfo")
    assert info["result"]["pending_update_count"] == 0
    assert (
        info["result"]["last_error_message"]
        == "Wrong response from the webhook: 500 Internal Server Error"
    )


async def test_webhook_round_robin_targets(
    receiver: tuple[str, list[Any], list[int]], client: SandboxClient, bot_call: BotCall
) -> None:
    url, received, _ = receiver
    other: list[int] = []

    async def hook(request: web.Request) -> web.Response:
        other.append(json.loads(await request.text())["update_id"])
        return web.Response()

    app = web.Application()
    app.router.add_post("/other", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        second = f"http://127.0.0.1:{runner.addresses[0][1]}/other"
        await client.set_webhook_targets([url, second])
        assert (await client.webhook())["targets"] == [url, second]
        assert (await bot_call("setWebhook", url="http://127.0.0.1:9/lb"))[0] == 200
        seq = await client.last_seq()
        users = [{"id": 500 + i, "first_name": f"u{i}"} for i in range(4)]
        sent = [await client.send_text(user, "hi") for user in users]
        for item in sent:
            await client.wait_for_event(
                lambda e, item=item: (
                    e["type"] == "webhook_delivered" and e["update_id"] == item["update_id"]
                ),
                after_seq=seq,
            )
        first = [body["update_id"] for _, body in received]
        assert len(first) == 2 and len(other) == 2
        assert sorted(first + other) == sorted(item["update_id"] for item in sent)
    finally:
        await runner.cleanup()


async def test_set_webhook_checks_its_parameters(bot_call: BotCall) -> None:
    status, body = await bot_call("setWebhook", url="http://127.0.0.1:9/x", secret_token="a b")
    assert status == 400 and "secret token" in body["description"]
    status, body = await bot_call("setWebhook", url="ftp://127.0.0.1/x")
    assert status == 400 and "invalid URL" in body["description"]


async def test_concurrent_get_updates_conflict(bot_call: BotCall, server: SandboxServer) -> None:
    first = asyncio.create_task(bot_call("getUpdates", timeout=5))
    # Yield to the loop until the first long poll is parked (no event announces that).
    while not server.core.updates.waiting:  # noqa: ASYNC110
        await asyncio.sleep(0)
    second = asyncio.create_task(bot_call("getUpdates", timeout=0))
    status, body = await asyncio.wait_for(first, 2)
    assert status == 409 and body["description"].startswith("Conflict: terminated by other")
    assert (await second)[0] == 200
    assert [v["error_code"] for v in server.violations] == [409]


async def test_forwarded_messages_carry_a_message_origin(
    client: SandboxClient, bot_call: BotCall
) -> None:
    """A user forwards a message from another user, a hidden user, a group and a channel:
    the update's ``forward_origin`` is the Bot API's MessageOrigin of that kind, which PTB
    reads; the control API refuses a malformed one."""
    other = {"id": 1777, "first_name": "张三", "username": "zhangsan_2010"}
    origins = [
        {"type": "user", "sender_user": other, "date": 1_700_000_000},
        {"type": "hidden_user", "sender_user_name": "李四"},
        {"type": "chat", "sender_chat": {"id": -1009, "title": "初二(3)班"}},
        {
            "type": "channel",
            "chat": {"id": -1008, "title": "某某频道", "username": "somechannel"},
            "message_id": 42,
            "author_signature": "小编",
        },
    ]
    for origin in origins:
        await client.send_text(YOUTH, "转发的话", forward_origin=origin)
    messages = [u["message"] for u in await _updates(bot_call)]
    found = [m["forward_origin"] for m in messages]
    assert found[0] == {
        "type": "user",
        "date": 1_700_000_000,
        "sender_user": {
            "id": 1777,
            "is_bot": False,
            "first_name": "张三",
            "username": "zhangsan_2010",
        },
    }
    assert found[1]["sender_user_name"] == "李四" and isinstance(found[1]["date"], int)
    assert found[2]["sender_chat"] == {"id": -1009, "type": "supergroup", "title": "初二(3)班"}
    assert found[3]["chat"]["type"] == "channel" and found[3]["message_id"] == 42
    assert found[3]["author_signature"] == "小编"
    spec = ApiSpec.load()
    for origin in found:
        (shape,) = [
            s for s in spec.concrete("MessageOrigin") if s.discriminator() == origin["type"]
        ]
        assert set(shape.required()) <= set(origin) <= set(shape.fields)
    kinds = [
        type(Message.de_json(m, None).forward_origin).__name__  # type: ignore[arg-type]
        for m in messages
    ]
    assert kinds == [
        "MessageOriginUser",
        "MessageOriginHiddenUser",
        "MessageOriginChat",
        "MessageOriginChannel",
    ]
    views = await client.messages(YOUTH.id)
    assert all(v["forwarded"] for v in views[-4:])
    for bad in (
        {"type": "bot"},
        {"type": "hidden_user"},
        {"type": "channel", "chat": {"id": 5, "title": "x"}, "message_id": 1},
        {"type": "user", "sender_user": {"id": 1}, "date": "yesterday"},
    ):
        with pytest.raises(RuntimeError, match=" 400 "):
            await client.send_text(YOUTH, "x", forward_origin=bad)
    with pytest.raises(RuntimeError, match="cannot be a reply"):
        await client.send_text(YOUTH, "x", reply_to=1, forward_origin=origins[1])


async def test_forwarded_messages_carry_the_legacy_forward_fields_too(
    client: SandboxClient, bot_call: BotCall
) -> None:
    """Telegram still sends a forward's fields from before Bot API 7.0 beside
    ``forward_origin`` (no longer in the spec; PTB keeps them in ``api_kwargs``), so the
    sandbox does: ``forward_from``, ``forward_sender_name``, ``forward_from_chat``,
    ``forward_from_message_id``, ``forward_signature`` as the origin has them, and
    ``forward_date``."""
    other = {"id": 1777, "first_name": "张三", "username": "zhangsan_2010"}
    group = {"id": -1009, "title": "初二(3)班"}
    channel = {"id": -1008, "title": "某某频道", "username": "somechannel"}
    origins = [
        {"type": "user", "sender_user": other, "date": 1_700_000_000},
        {"type": "hidden_user", "sender_user_name": "李四", "date": 1_700_000_001},
        {"type": "chat", "sender_chat": group, "author_signature": "班长", "date": 1_700_000_002},
        {
            "type": "channel",
            "chat": channel,
            "message_id": 42,
            "author_signature": "小编",
            "date": 1_700_000_003,
        },
    ]
    for origin in origins:
        await client.send_text(YOUTH, "转发的话", forward_origin=origin)
    messages = [u["message"] for u in await _updates(bot_call)]
    legacy = [{k: v for k, v in m.items() if k.startswith("forward_")} for m in messages]
    assert [set(fields) for fields in legacy] == [
        {"forward_origin", "forward_from", "forward_date"},
        {"forward_origin", "forward_sender_name", "forward_date"},
        {"forward_origin", "forward_from_chat", "forward_signature", "forward_date"},
        {
            "forward_origin",
            "forward_from_chat",
            "forward_from_message_id",
            "forward_signature",
            "forward_date",
        },
    ]
    assert legacy[0]["forward_from"] == legacy[0]["forward_origin"]["sender_user"]
    assert legacy[1]["forward_sender_name"] == "李四"
    assert legacy[2]["forward_from_chat"]["title"] == "初二(3)班"
    assert legacy[2]["forward_signature"] == "班长"
    assert legacy[3]["forward_from_chat"]["username"] == "somechannel"
    assert legacy[3]["forward_from_message_id"] == 42
    assert [f["forward_date"] for f in legacy] == [1_700_000_000 + n for n in range(4)]
    # PTB reads the origin and keeps the rest, which update.to_dict() writes back.
    message = Message.de_json(messages[0], None)  # type: ignore[arg-type]
    assert message is not None and message.forward_origin is not None
    assert message.to_dict()["forward_from"]["id"] == 1777


async def test_text_mentions_carry_the_user_mentioned(
    client: SandboxClient, bot_call: BotCall
) -> None:
    """A mention of someone without a username is a ``text_mention`` entity carrying the
    whole User object of the person mentioned, in a forward as in one's own words; it
    takes the place of what Telegram would otherwise detect there."""
    other = {"id": 1888, "first_name": "王五", "last_name": "Wang"}
    origin = {"type": "user", "sender_user": {"id": 1777, "first_name": "张三"}}
    await client.send_text(
        YOUTH,
        "班长 @banzhang_2010 说周六集合 /start",
        text_mentions=[{"offset": 0, "length": 2, "user": other}],
    )
    await client.send_text(
        YOUTH,
        "@banzhang_2010 说周六集合",
        forward_origin=origin,
        text_mentions=[{"offset": 0, "length": 14, "user": {"id": 1888}}],
    )
    first, second = (u["message"] for u in await _updates(bot_call))
    mention = {
        "type": "text_mention",
        "offset": 0,
        "length": 2,
        "user": {"id": 1888, "is_bot": False, "first_name": "王五", "last_name": "Wang"},
    }
    assert [e["type"] for e in first["entities"]] == ["text_mention", "mention", "bot_command"]
    assert first["entities"][0] == mention
    assert second["entities"] == [{**mention, "length": 14}]  # no @mention under it
    assert second["forward_origin"]["sender_user"]["id"] == 1777
    message = Message.de_json(second, None)  # type: ignore[arg-type]
    assert message is not None and message.entities[0].user is not None
    assert message.entities[0].user.first_name == "王五"
    for bad in (
        [{"offset": 0, "length": 30, "user": other}],
        [{"offset": -1, "length": 1, "user": other}],
        [{"offset": 0, "length": 1, "user": {"id": 0, "first_name": "x"}}],
        {"offset": 0, "length": 1, "user": other},
    ):
        with pytest.raises(RuntimeError, match=" 400 "):
            await client._post_message(YOUTH, None, text="班长说", text_mentions=bad)


async def test_a_shared_contact_is_a_message_of_its_own(
    client: SandboxClient, bot_call: BotCall
) -> None:
    contact = {
        "phone_number": "+8613812345678",
        "first_name": "王五",
        "last_name": "Wang",
        "user_id": 1888,
        "vcard": "BEGIN:VCARD\nTEL:+8613812345678\nEND:VCARD",
    }
    await client.send_contact(YOUTH, contact)
    (update,) = await _updates(bot_call)
    assert update["message"]["contact"] == contact
    assert "text" not in update["message"]
    message = Message.de_json(update["message"], None)  # type: ignore[arg-type]
    assert message is not None and message.contact is not None
    assert message.contact.phone_number == "+8613812345678"
    views = await client.messages(YOUTH.id)
    assert views[-1]["contact"] == contact
    for bad in ({"phone_number": "+86138"}, {"first_name": "王五"}, "王五"):
        with pytest.raises(RuntimeError, match=" 400 "):
            await client._post_message(YOUTH, None, contact=bad)
    with pytest.raises(RuntimeError, match="of its own"):
        await client._post_message(YOUTH, None, text="x", contact=contact)
