"""Two bot instances on one PostgreSQL database behind the sandbox's round-robin webhook.

Each update is handled once (a redelivery to either instance is skipped), every message
gets exactly one reply, a due push is delivered once, and one instance at a time holds
the sweeper's lease, handing it over when it stops.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import func, select

from bot import leases
from bot.services import outbox
from bot.sweeper import SWEEPER_LEASE
from bot.webhook import SECRET_HEADER
from sandbox import SandboxClient, SandboxServer
from storage.db import unit_of_work
from storage.faq import MatchLog
from storage.models import INBOUND_RECEIVED, InboundMessage
from storage.outbox import AUDIENCE_STAFF, STATE_SENT, OutboxMessage
from tests.conftest import prepare
from tests.support import COMMITTEE_CHAT, button_data
from tests.webhook_support import (
    SECRET,
    WebhookBot,
    free_port,
    start_webhook_bot,
    stop_webhook_bot,
)

QUESTIONS = ("请问几岁能入团啊？", "团费怎么交？", "志愿时长证明怎么开？")
USERS = [{"id": 5000 + i, "first_name": f"青年{i}", "language_code": "zh-hans"} for i in range(12)]


async def _wait(predicate: Any, what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _replies(bot: WebhookBot, chat_id: int) -> list[dict[str, Any]]:
    try:
        return [m for m in await bot.client.messages(chat_id) if m["from_bot"]]
    except RuntimeError:  # the sandbox has not seen this chat yet
        return []


async def _inbound(bot: WebhookBot) -> list[InboundMessage]:
    async with bot.sessions() as session:
        return list(await session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


async def _post_to_both(one: WebhookBot, two: WebhookBot, body: dict[str, Any]) -> list[int]:
    """Deliver ``body`` to both instances at once, as a re-sent update after a timeout."""
    headers = {SECRET_HEADER: SECRET}
    async with aiohttp.ClientSession() as http:

        async def post(bot: WebhookBot) -> int:
            async with http.post(f"{bot.base}/telegram", json=body, headers=headers) as r:
                return r.status

        return list(await asyncio.gather(post(one), post(two)))


async def test_two_instances_share_the_work_once(
    sandbox: SandboxServer, postgres_url: str
) -> None:
    await prepare(postgres_url)
    ports = free_port(), free_port()
    targets = [f"http://127.0.0.1:{port}/telegram" for port in ports]
    options = {"concurrent_updates": 4, "sweep_interval_s": 0.2}
    one = await start_webhook_bot(
        sandbox, postgres_url, port=ports[0], url=targets[0], instance_id="one", **options
    )
    two = await start_webhook_bot(
        sandbox, postgres_url, port=ports[1], url=targets[0], instance_id="two", **options
    )
    running = [one, two]
    try:
        client = one.client
        await client.set_chat(COMMITTEE_CHAT, title="团委", type_="supergroup", admins=[2001])
        await client.set_webhook_targets(targets)  # a load balancer in front of both
        seq = await client.last_seq()

        # A burst: twelve young people, three questions each, all sent at once.
        sent = await asyncio.gather(
            *(client.send_text(user, text) for user in USERS for text in QUESTIONS)
        )
        total = len(USERS) * len(QUESTIONS)

        async def all_answered() -> bool:
            counts = [len(await _replies(one, user["id"])) for user in USERS]
            return all(count >= len(QUESTIONS) for count in counts)

        await _wait(all_answered, "every question answered")
        rows = await _inbound(one)
        assert len(rows) == total
        assert sorted(r.update_id for r in rows) == sorted(s["update_id"] for s in sent)
        assert all(r.status != INBOUND_RECEIVED for r in rows)
        for user in USERS:
            replies = await _replies(one, user["id"])
            assert len(replies) == len(QUESTIONS), (user, [r["text"] for r in replies])
        events = (await client.events(seq))["events"]
        delivered = Counter(e["url"] for e in events if e["type"] == "webhook_delivered")
        assert set(delivered) == set(targets) and sum(delivered.values()) == total

        # One instance holds the sweeper's lease; it does not change hands while it runs.
        # The first sweep runs a second after start-up, which a quick burst can beat.
        async def lease_taken() -> bool:
            async with one.sessions() as session:
                return await leases.current_holder(session, SWEEPER_LEASE) is not None

        await _wait(lease_taken, "an instance to take the sweeper's lease", timeout=10)
        holders = set()
        for _ in range(10):
            async with one.sessions() as session:
                holders.add(await leases.current_holder(session, SWEEPER_LEASE))
            await asyncio.sleep(0.1)
        assert len(holders) == 1 and holders <= {"one", "two"}
        (holder_name,) = holders

        # Redeliveries to both instances at once: each is still handled once.
        user = USERS[0]
        reply = (await _replies(one, user["id"]))[0]
        pressed = await client.press(user, reply["message_id"], button_data(reply, "解决了"))
        await _wait(
            lambda: _handled(one, pressed["update_id"]), "the button press handled", timeout=10
        )
        before_rows = len(await _inbound(one))
        before_replies = {u["id"]: len(await _replies(one, u["id"])) for u in USERS}
        by_update = {r.update_id: r.payload for r in await _inbound(one)}
        again = [by_update[s["update_id"]] for s in sent[:3]] + [by_update[pressed["update_id"]]]
        member = _member_update(990_001, user)
        for body in [*again, member]:
            assert await _post_to_both(one, two, body) == [200, 200]
        assert len(await _inbound(one)) == before_rows + 1  # only the new member update
        assert {u["id"]: len(await _replies(one, u["id"])) for u in USERS} == before_replies
        async with one.sessions() as session:
            responses = await session.scalar(
                select(func.count())
                .select_from(MatchLog)
                .where(MatchLog.telegram_user_id == user["id"], MatchLog.response.is_not(None))
            )
        assert responses == 1

        # Pushes due now: both deliverers run; each push goes out once.
        services = one.app.bot_data.services
        async with unit_of_work(services.sessions) as session:
            for target in USERS:
                await outbox.enqueue(
                    session,
                    kind="test_push",
                    chat_id=target["id"],
                    text=f"推送 {target['id']}",
                    due_at=services.clock.now() - timedelta(seconds=1),
                    dedupe_key=f"test_push:{target['id']}",
                    audience=AUDIENCE_STAFF,
                )

        async def all_sent() -> bool:
            async with one.sessions() as session:
                left = await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.kind == "test_push", OutboxMessage.state != STATE_SENT)
                )
            return left == 0

        await _wait(all_sent, "the pushes sent")

        # The lease holder stops cleanly; the other instance takes the sweeper over.
        first, second = (one, two) if holder_name == "one" else (two, one)
        await stop_webhook_bot(first)
        running.remove(first)

        async def taken_over() -> bool:
            async with second.sessions() as session:
                current = await leases.current_holder(session, SWEEPER_LEASE)
            return current == ("two" if holder_name == "one" else "one")

        await _wait(taken_over, "the other instance to take the sweeper lease", timeout=10)
        await stop_webhook_bot(second)
        running.remove(second)

        # Both stopped: nothing is in flight any more, so the counts are final.
        async with SandboxClient(sandbox.url.rstrip("/")) as check:
            for target in USERS:
                pushes = [
                    m
                    for m in await check.messages(target["id"])
                    if m["from_bot"] and m["text"] == f"推送 {target['id']}"
                ]
                assert len(pushes) == 1, target
    finally:
        for bot in running:
            await stop_webhook_bot(bot)


async def _handled(bot: WebhookBot, update_id: int) -> bool:
    async with bot.sessions() as session:
        status = await session.scalar(
            select(InboundMessage.status).where(InboundMessage.update_id == update_id)
        )
    return status is not None and status != INBOUND_RECEIVED


def _member_update(update_id: int, user: dict[str, Any]) -> dict[str, Any]:
    """The young person blocked the bot: a my_chat_member update, no message in it."""
    chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    sender = {"id": user["id"], "is_bot": False, "first_name": user["first_name"]}
    bot_user = {"id": 123456789, "is_bot": True, "first_name": "青年之声"}
    body = {
        "chat": chat,
        "from": sender,
        "date": 1_795_000_000,
        "old_chat_member": {"status": "member", "user": bot_user},
        "new_chat_member": {"status": "kicked", "user": bot_user, "until_date": 0},
    }
    return {"update_id": update_id, "my_chat_member": body}
