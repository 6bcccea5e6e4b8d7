"""Test support: personas, the bot harness that drives the real Application via the sandbox."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, column, func, insert, select, table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.context import BotApplication
from knowledge.store import current_version
from sandbox import SandboxClient, SandboxServer
from storage.base import UTCDateTime
from storage.models import INBOUND_RECEIVED, InboundMessage, User

ROOT = Path(__file__).resolve().parents[1]


def run_voy(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run this tree's ``voy`` in a child process (its own logging, no pytest), with no
    ``VOY_`` setting but ``env``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VOY_")}
    environ.update(env)
    environ["PYTHONPATH"] = str(ROOT)  # this tree's code, not an editable install's
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


TOKEN = "123456789:SANDBOX-test-token"

XIAOMING = {"id": 1001, "first_name": "小明", "language_code": "zh-hans"}
XIAOMEI = {"id": 1002, "first_name": "小美", "language_code": "zh-hant"}
ALEX = {"id": 1003, "first_name": "Alex", "language_code": "en"}
CADRE_WANG = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}
COMMITTEE_CHAT = -1001000000001


@dataclass
class BotHarness:
    """A running bot on a sandbox, with helpers to talk to it as a person would."""

    app: BotApplication
    server: SandboxServer
    client: SandboxClient
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings

    async def inbound_mark(self) -> int:
        """The newest inbound row's id: rows after it belong to what is sent next."""
        async with self.sessions() as session:
            return int(await session.scalar(select(func.max(InboundMessage.id))) or 0)

    async def settled(
        self, update_id: int, timeout: float = 10.0, *, after: int = 0
    ) -> InboundMessage:
        """Wait until the bot has handled ``update_id`` (the edge marks it).

        ``after`` skips older rows with the same update id (ids restart, as in Telegram).
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with self.sessions() as session:
                row = await session.scalar(
                    select(InboundMessage)
                    .where(InboundMessage.update_id == update_id, InboundMessage.id > after)
                    .order_by(InboundMessage.id.desc())
                    .limit(1)
                )
            if row is not None and row.status != INBOUND_RECEIVED:
                return row
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"update {update_id} not handled; inbound row: {row}")
            await asyncio.sleep(0.02)

    async def knowledge_current(self, timeout: float = 10.0) -> int:
        """Wait until the bot's FAQ index is built from the store's current version.

        A question waits only briefly for a rebuild (``knowledge.index.REBUILD_WAIT_S``)
        and is otherwise matched against the previous index, so a test that changes the
        knowledge base waits for this before asking what the change should answer.
        """
        index = self.app.bot_data.services.knowledge
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with self.sessions() as session:
                version = await current_version(session)
                await index.refresh(session)  # starts the rebuild if none is running
            if index.version == version:
                return version
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"FAQ index at version {index.version}, store at {version}")
            await asyncio.sleep(0.02)

    async def send(
        self, user: dict[str, Any], text: str, *, chat_id: int | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Send ``text`` as ``user``; return the bot messages that arrived in reply."""
        chat = chat_id if chat_id is not None else user["id"]
        before = await self._last_id(chat)
        mark = await self.inbound_mark()
        sent = await self.client.send_text(user, text, chat_id=chat_id, **kwargs)
        await self.settled(sent["update_id"], after=mark)
        return [
            m
            for m in await self.client.messages(chat)
            if m["from_bot"] and m["message_id"] > before
        ]

    async def press(
        self,
        user: dict[str, Any],
        message: dict[str, Any],
        button_text: str,
        *,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """Press the inline button labelled ``button_text`` on ``message``; return the answer."""
        data = button_data(message, button_text)
        return await self.press_data(user, message["message_id"], data, chat_id=chat_id)

    async def press_data(
        self, user: dict[str, Any], message_id: int, data: str, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """Press a button with raw callback ``data``; return the bot's callback answer."""
        mark = await self.inbound_mark()
        sent = await self.client.press(user, message_id, data, chat_id=chat_id)
        await self.settled(sent["update_id"], after=mark)
        return await self.client.callback_answer(sent["callback_query_id"])

    async def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """Return a message of ``chat_id`` as it stands now."""
        for message in await self.client.messages(chat_id):
            if message["message_id"] == message_id:
                return message
        raise LookupError(f"no message {message_id} in chat {chat_id}")

    async def user(self, telegram_id: int) -> User | None:
        """Read a user row."""
        async with self.sessions() as session:
            return await session.scalar(select(User).where(User.telegram_id == telegram_id))

    async def _last_id(self, chat_id: int) -> int:
        try:
            messages = await self.client.messages(chat_id)
        except RuntimeError as exc:  # the sandbox answers 404 for a chat not seen yet
            if " 404 " not in str(exc):
                raise
            return 0
        return max((m["message_id"] for m in messages), default=0)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten a message's inline keyboard."""
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else markup
    return [button for row in rows for button in row]


def button_data(message: dict[str, Any], text: str) -> str:
    """Return the callback data of the button whose label contains ``text``."""
    labels = []
    for button in buttons(message):
        labels.append(button["text"])
        if text in button["text"]:
            return str(button["callback_data"])
    raise LookupError(f"no button {text!r} among {labels}")


def texts(messages: list[dict[str, Any]]) -> str:
    """Join the texts of ``messages`` for assertions."""
    return "\n".join(m.get("text") or m.get("caption") or "" for m in messages)


async def user_as_of_old_revision(connection: AsyncConnection, telegram_id: int) -> int:
    """Insert a young person's row with only the columns every revision's ``users`` has
    (a migration test's data, written before upgrading: the model has newer columns)."""
    now = datetime.now(UTC)
    old_users = table(
        "users",
        column("id", Integer),
        column("telegram_id", BigInteger),
        column("first_name", String),
        column("locale", String),
        column("roles", JSON),
        column("last_seen_at", UTCDateTime()),
        column("created_at", UTCDateTime()),
        column("updated_at", UTCDateTime()),
    )
    inserted = await connection.execute(
        insert(old_users)
        .values(
            telegram_id=telegram_id,
            first_name="青年",
            locale="zh-Hans",
            roles=[],
            last_seen_at=now,
            created_at=now,
            updated_at=now,
        )
        .returning(old_users.c.id)
    )
    return int(inserted.scalar_one())
