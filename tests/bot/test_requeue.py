"""Queuing failed updates again (`bot.services.inbox`): which rows, how many, taken once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram import Update as TgUpdate

from bot import intake
from bot.app import STRANDED_AFTER
from bot.services import inbox
from storage import migrate
from storage.base import utcnow
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import (
    INBOUND_FAILED,
    INBOUND_HANDLED,
    INBOUND_RECEIVED,
    INBOUND_REQUEUED,
    InboundMessage,
)
from tests.support import TOKEN


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    await engine.dispose()


async def _rows(
    sessions: async_sessionmaker[AsyncSession], statuses: list[str], *, erased: bool = False
) -> list[int]:
    async with unit_of_work(sessions) as session:
        rows = [
            InboundMessage(
                update_id=number,
                fingerprint=f"{number}:7:{number}:0:{'-' if erased else ''}",
                telegram_user_id=7,
                chat_id=7,
                kind="text",
                text=None if erased else "团费怎么交？",
                payload={} if erased else {"update_id": number},
                status=status,
                error="RuntimeError at handlers/youth.py:1 ask" if status == "failed" else None,
            )
            for number, status in enumerate(statuses, start=1)
        ]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def _statuses(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
        )
        return {status: count for status, count in rows}


async def test_only_failed_updates_with_their_payload_are_queued(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    failed, handled, waiting = await _rows(sessions, [INBOUND_FAILED, INBOUND_HANDLED, "received"])
    async with unit_of_work(sessions) as session:
        (gone,) = [row.id for row in await inbox.failed(session, limit=10)]
        assert gone == failed
    (erased,) = await _rows(sessions, [INBOUND_FAILED], erased=True)
    async with unit_of_work(sessions) as session:
        listed = await inbox.failed(session, limit=10)
        assert [(row.id, row.erased) for row in listed] == [(erased, True), (failed, False)]
        assert [row.id for row in await inbox.failed(session, limit=1)] == [erased]
        report = await inbox.requeue(session, [failed, handled, waiting, erased, 999])
    assert report.requeued == [failed] and report.erased == [erased]
    assert report.not_failed == [handled, waiting, 999]
    assert await _statuses(sessions) == {
        INBOUND_REQUEUED: 1,
        INBOUND_FAILED: 1,
        INBOUND_HANDLED: 1,
        INBOUND_RECEIVED: 1,
    }


async def test_all_failed_updates_are_queued_in_chunks_and_taken_in_batches(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _rows(sessions, [INBOUND_FAILED] * 1_203)
    async with unit_of_work(sessions) as session:
        report = await inbox.requeue(session, None)
    assert report.requeued == ids and not report.erased and not report.not_failed
    async with unit_of_work(sessions) as session:
        again = await inbox.requeue(session, ids[:700])  # queued already: not failed now
    assert again.requeued == [] and again.not_failed == ids[:700]
    taken: list[int] = []
    while True:
        async with unit_of_work(sessions) as session:
            batch = await inbox.claim_requeued(session, limit=500)
        if not batch:
            break
        taken += [row.id for row in batch]
    assert taken == ids  # oldest first, each once
    assert await _statuses(sessions) == {INBOUND_RECEIVED: 1_203}


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_two_instances_looking_at_once_take_each_update_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _rows(sessions, [INBOUND_FAILED] * 3)
    async with unit_of_work(sessions) as session:
        await inbox.requeue(session, None)
    first = sessions()
    claimed = await inbox.claim_requeued(first, limit=10)  # holds the rows, uncommitted
    assert [row.id for row in claimed] == ids

    async def second() -> list[int]:
        async with unit_of_work(sessions) as session:
            return [row.id for row in await inbox.claim_requeued(session, limit=10)]

    other = asyncio.create_task(second())
    await asyncio.sleep(0.3)
    assert not other.done()  # it waits on the rows the first one took
    await first.commit()
    await first.close()
    assert await other == []


def _message(update_id: int) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_795_400_000,
            "chat": {"id": 7, "type": "private"},
            "from": {"id": 7, "is_bot": False, "first_name": "小明"},
            "text": "团费怎么交？",
        },
    }


async def test_an_instance_starting_leaves_requeued_updates_another_one_took(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A webhook instance starting takes over updates left more than a few minutes ago;
    a requeued one is old by its arrival, but was taken just now by another instance."""
    (row_id,) = await _rows(sessions, [INBOUND_FAILED])
    async with unit_of_work(sessions) as session:
        await session.execute(
            update(InboundMessage).values(
                payload=_message(1), received_at=utcnow() - timedelta(days=2)
            )
        )
        await inbox.requeue(session, [row_id])
    bot = Bot(TOKEN)
    taking, starting, restarted = (intake.DurableUpdateQueue(sessions) for _ in range(3))
    assert await intake.take_requeued(taking, sessions, bot) == 1
    stranded = datetime.now(UTC) - STRANDED_AFTER
    assert await intake.recover(starting, sessions, bot, received_before=stranded) == 0
    # Killed before handling it: a restart (polling) takes it, still as a late one.
    assert await intake.recover(restarted, sessions, bot) == 1
    (queued,) = [restarted.get_nowait()]
    assert isinstance(queued, TgUpdate) and restarted.take_late(queued) is not None
    assert restarted.take_stored(queued) == row_id


async def test_a_copy_sent_and_answered_since_is_found(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """What counts as the same update sent again: a later one from the same person in the
    same chat, of the same kind and text (a press: on the same message), handled."""

    async def add(**values: object) -> int:
        number = 100 + len(added)
        fields: dict[str, object] = {
            "update_id": number,
            "fingerprint": f"{number}:7:{number}:0:",
            "telegram_user_id": 7,
            "chat_id": 7,
            "message_id": number,
            "kind": "text",
            "text": "团费怎么交？",
            "payload": {"update_id": number},
            "status": INBOUND_HANDLED,
        } | values
        async with unit_of_work(sessions) as session:
            row = InboundMessage(**fields)
            session.add(row)
            await session.flush()
            added.append(row.id)
            return row.id

    async def resent(inbound_id: int | None) -> bool:
        async with sessions() as session:
            return await inbox.resent(session, inbound_id=inbound_id)

    added: list[int] = []
    earlier = await add()  # a handled copy from before does not count
    failed = await add(status=INBOUND_FAILED)
    assert earlier < failed and not await resent(failed)
    await add(text="团费怎么交")  # another text
    await add(chat_id=8)  # another chat
    await add(telegram_user_id=8)  # another person in the chat
    await add(kind="photo")  # the same words as a caption
    await add(status=INBOUND_FAILED)  # a copy that failed too was never answered
    assert not await resent(failed)
    await add()
    assert await resent(failed)

    pressed = await add(kind="callback", text="lang:en", message_id=50, status=INBOUND_FAILED)
    await add(kind="callback", text="lang:en", message_id=51)  # a button on another message
    assert not await resent(pressed)
    await add(kind="callback", text="lang:en", message_id=50)
    assert await resent(pressed)

    sticker = await add(kind="sticker", text=None, status=INBOUND_FAILED)
    await add(kind="sticker", text=None)
    assert not await resent(sticker) and not await resent(None)
