"""Hostile input, property-based: random and nasty messages, commands, buttons and replies.

Everything goes through the sandbox to the real Application, as a young person who has
picked a region, as a cadre of the demo org, and as a user the bot has never seen. After
every message or button press these hold:

- nothing reached the error handler or the edge's last-resort logging (no ERROR record),
  and the update's inbound row is marked handled, without an error;
- the sandbox recorded no Bot API violation (the ``sandbox`` fixture checks again at the end);
- the inbound row exists exactly once and holds the text (or caption, or callback data)
  exactly as it was sent (on PostgreSQL a NUL character is kept as U+FFFD);
- the bot answered: a message in a private chat gets at least one reply there, a button
  press gets its callback query answered;
- a stranger pressing buttons with other people's ids changes none of their items.

Single messages are tested one kind at a time; ``test_random_conversations_hold_up`` chains
up to eight steps (real buttons included) to reach states one message alone never does.
Lone surrogates are left out: Telegram's UTF-8 transport, and the sandbox's, cannot carry them.

The budget comes from ``VOY_HYPOTHESIS_PROFILE``: ``ci`` (the default) is derandomized
and small so the file runs in well under a minute; ``hunt`` draws many more random
examples for local bug hunting (``VOY_HYPOTHESIS_EXAMPLES`` overrides the count).
Each test shares one running bot across its examples; every example starts from a known
state (pending conversations cleared) and checks only what it sent.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from telegram.ext import CommandHandler

from bot import callbacks
from bot.menus import ROLE_COMMANDS, YOUTH_COMMANDS
from storage.models import INBOUND_HANDLED, InboundMessage
from storage.outbox import STATE_PENDING, STATE_SENDING, OutboxMessage
from storage.questions import Conversation, Question, QuestionEvent
from storage.wishes import Wish, WishEvent
from tests.conftest import run_backend
from tests.support import COMMITTEE_CHAT, BotHarness

_PROFILE = os.environ.get("VOY_HYPOTHESIS_PROFILE", "ci")
_EXAMPLES = int(os.environ.get("VOY_HYPOTHESIS_EXAMPLES", "0")) or (
    400 if _PROFILE == "hunt" else 50
)
# One running bot serves all examples of a test, so the function-scoped harness is wanted.
BUDGET = settings(
    max_examples=_EXAMPLES,
    derandomize=_PROFILE != "hunt",
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)

YOUTH = {"id": 1101, "first_name": "小青", "language_code": "zh-hans"}
CADRE = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}
BOT_USERNAME = "voice_of_youth_bot"  # the sandbox's default

# Fragments that have broken bots before: HTML, entities, zero-width and bidi marks,
# combining marks, emoji sequences, astral characters, Telegram syntax, SQL-ish text.
NASTY = [
    "<b>",
    "</b>",
    "<b>&",
    "&amp;",
    "&lt;",
    "&#0;",
    "<a href='javascript:x'>x</a>",
    "<script>",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u202e",
    "\u2066",
    "\ufeff",
    "\u00ad",
    "e\u0301\u0301\u0301",
    "👨‍👩‍👧‍👦",
    "🏳️‍🌈",
    "🇨🇳",
    "𝕳𝖊𝖑𝖑𝖔",
    "𠀀",
    "مرحبا",
    "שלום",
    "नमस्ते",
    "青年之声",
    "請問",
    "\n",
    "\r\n",
    "\t",
    "\u3000",
    "\u00a0",
    "\x01",
    "\x07",
    "\x1b[31m",
    "\x7f",
    "\u2028",
    "/start",
    "@voice_of_youth_bot",
    "#tag",
    "$USD",
    "https://example.com/?a=1&b=<2>",
    "'; DROP TABLE users; --",
    "%s%n{0}{name}",
    "${jndi:x}",
    "几岁可以入团",
    "我想自杀",
    "13812345678",
    "v1:ok:1",
    "*_`[]()~",
]

_CHARS = st.characters(exclude_categories=("Cs",))  # Telegram never delivers lone surrogates
fragments = st.lists(st.sampled_from(NASTY), min_size=1, max_size=12).map("".join)
random_text = st.text(_CHARS, min_size=1, max_size=200)
mixed = st.lists(st.one_of(fragments, random_text), min_size=1, max_size=4).map("".join)
huge = st.builds(lambda part, size: (part * size)[:size], mixed, st.integers(4097, 9000))
only_space = st.text(st.sampled_from(" \t\n\u3000\u00a0\u200b"), min_size=1, max_size=30)
texts = st.one_of(mixed, random_text, huge, only_space)


def _printable(text: str) -> str:
    """Texts the sandbox accepts as a message: not empty."""
    return text if text else "?"


def _commands(harness: BotHarness) -> list[str]:
    """The menu's commands and every command a handler is registered for."""
    names = set(YOUTH_COMMANDS).union(*(extra for _, extra in ROLE_COMMANDS))
    for handlers in harness.app.handlers.values():
        for handler in handlers:
            if isinstance(handler, CommandHandler):
                names.update(handler.commands)
    return sorted(names)


def command_lines(harness: BotHarness) -> st.SearchStrategy[str]:
    """Commands (ours and unknown), addressed or not, with odd arguments."""
    name = st.one_of(
        st.sampled_from(_commands(harness)),
        st.sampled_from(["digest", "admin", "START", "Start", "start_", "x" * 40]),
        st.text(st.characters(categories=("Ll", "Nd")), min_size=1, max_size=20),
    )
    addressee = st.sampled_from(["", f"@{BOT_USERNAME}", "@otherbot", "@", "@" + "b" * 40])
    argument = st.one_of(
        st.just(""),
        st.sampled_from(
            [" join-", " join-" + "A" * 80, " ../../etc", " 0", " -1", " 9" * 30, " 💥"]
        ),
        texts.map(lambda t: " " + t),
    )
    return st.builds(lambda n, a, arg: f"/{n}{a}{arg}", name, addressee, argument)


def callback_data() -> st.SearchStrategy[str]:
    """Forged payloads: random ones within 64 bytes, and well-formed ones with wrong ids."""
    action = st.sampled_from(sorted(callbacks.ACTIONS))
    ident = st.one_of(
        st.integers(0, 40),  # real rows, often someone else's
        st.sampled_from([2**31 - 1, 2**31, 2**63, 10**10 - 1]),
        st.integers(-5, 10**12),
    ).map(str)
    code = st.one_of(
        st.sampled_from(["en", "zh-Hans", "city", "approve", "reject", "-", "kind", "x" * 40]),
        st.text(st.characters(codec="ascii"), max_size=8),
    )
    arg = st.one_of(ident, code)
    well_formed = st.builds(
        lambda version, a, args: ":".join([version, a, *args]),
        st.sampled_from(["v1", "v1", "v0", "v2", "V1", ""]),
        action,
        st.lists(arg, max_size=3),
    )
    raw = st.text(_CHARS, min_size=1, max_size=64)
    return st.one_of(well_formed, raw).filter(lambda d: 0 < len(d.encode()) <= 64)


class Watch:
    """ERROR records of the bot's loggers and PTB's, collected between checks."""

    def __init__(self) -> None:
        self.records: list[logging.LogRecord] = []
        self.handler = _Collect(self.records)

    def errors(self) -> list[str]:
        """Drain and format what was collected."""
        found = [f"{r.name}: {r.getMessage()} {r.exc_info!r}" for r in self.records]
        self.records.clear()
        return found


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def watch() -> Iterator[Watch]:
    """Collect ERROR log records from every logger for the duration of a test."""
    collector = Watch()
    root = logging.getLogger()
    root.addHandler(collector.handler)
    yield collector
    root.removeHandler(collector.handler)


async def _reset(harness: BotHarness) -> None:
    """Forget pending conversations (awaited answers, wish drafts) so examples start clean."""
    async with harness.sessions() as session:
        await session.execute(delete(Conversation))
        await session.commit()


async def _youth_with_region(harness: BotHarness) -> None:
    if await harness.user(YOUTH["id"]) is not None:
        return
    replies = await harness.send(YOUTH, "/start")
    await harness.press(YOUTH, replies[-1], "高新区")


async def _inbound(harness: BotHarness, chat_id: int, message_id: int) -> list[InboundMessage]:
    async with harness.sessions() as session:
        rows = await session.scalars(
            select(InboundMessage).where(
                InboundMessage.chat_id == chat_id, InboundMessage.message_id == message_id
            )
        )
        return list(rows)


async def _drained(harness: BotHarness, timeout: float = 10.0) -> None:
    """Wait until the outbox has sent what is due, so its errors belong to this example."""
    now = harness.app.bot_data.services.clock.now()
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with harness.sessions() as session:
            waiting = await session.scalar(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.state.in_((STATE_PENDING, STATE_SENDING)),
                    OutboxMessage.due_at <= now,
                )
            )
        if not waiting:
            return
        assert asyncio.get_running_loop().time() < deadline, f"{waiting} pushes stuck"
        await asyncio.sleep(0.02)


def _as_stored(text: str | None) -> str | None:
    """PostgreSQL text cannot hold U+0000: it is stored as U+FFFD (storage/db.py)."""
    if text is None or run_backend() != "postgres":
        return text
    return text.replace("\x00", "\ufffd")


async def _check(
    harness: BotHarness, watch: Watch, *, chat_id: int, message_id: int, stored: str | None
) -> None:
    await _drained(harness)
    rows = await _inbound(harness, chat_id, message_id)
    assert len(rows) == 1, f"stored {len(rows)} times"
    (row,) = rows
    assert row.status == INBOUND_HANDLED and row.error is None, row.error
    assert row.text == _as_stored(stored), "stored text differs from what was sent"
    assert watch.errors() == []
    assert harness.server.violations == []


async def _send_and_check(
    harness: BotHarness,
    watch: Watch,
    user: dict[str, Any],
    text: str,
    *,
    chat_id: int | None = None,
    reply_to: int | None = None,
) -> list[dict[str, Any]]:
    chat = chat_id if chat_id is not None else user["id"]
    before = await harness._last_id(chat)
    mark = await harness.inbound_mark()
    sent = await harness.client.send_text(user, text, chat_id=chat_id, reply_to=reply_to)
    await harness.settled(sent["update_id"], after=mark)
    await _check(harness, watch, chat_id=chat, message_id=sent["message_id"], stored=text)
    replies = [
        m
        for m in await harness.client.messages(chat)
        if m["from_bot"] and m["message_id"] > before
    ]
    if chat > 0:
        assert replies, "the bot did not answer"
    return replies


def _user(kind: str, unknown_id: int, language: str | None) -> dict[str, Any]:
    if kind == "youth":
        return YOUTH
    if kind == "cadre":
        return CADRE
    user: dict[str, Any] = {"id": unknown_id, "first_name": "<b>&\u202e陌生人\x00"}
    if language is not None:
        user["language_code"] = language
    return user


who = st.sampled_from(["youth", "cadre", "unknown"])
unknown_ids = st.integers(10_000, 2**52)  # Telegram ids need more than 32 bits
languages = st.one_of(st.none(), st.sampled_from(["zh-hans", "zh-hant", "en", "ru", "zh", "x"]))


@BUDGET
@given(kind=who, uid=unknown_ids, language=languages, text=texts)
@example(kind="youth", uid=10_000, language=None, text="<b>&")
@example(kind="unknown", uid=2**52, language="zh-hant", text="问" * 5000)
# Found by hunting: the urgent card carried the whole text and broke the 4096 limit.
@example(kind="youth", uid=10_000, language=None, text="我想自杀" + "啊" * 5000)
# Found by hunting on PostgreSQL: a NUL character made the message impossible to store.
@example(kind="unknown", uid=10_000, language="en", text="hi\x00there")
@example(kind="cadre", uid=10_000, language=None, text=" \u200b\u3000 ")
async def test_any_text_is_stored_and_answered(
    harness: BotHarness, watch: Watch, kind: str, uid: int, language: str | None, text: str
) -> None:
    await _youth_with_region(harness)
    await _reset(harness)
    await _send_and_check(harness, watch, _user(kind, uid, language), _printable(text))


@BUDGET
@given(data=st.data(), kind=who, uid=unknown_ids)
@example(data=None, kind="youth", uid=10_000).via("the /start payload of a cadre invite")
async def test_any_command_is_stored_and_answered(
    harness: BotHarness, watch: Watch, data: st.DataObject | None, kind: str, uid: int
) -> None:
    await _youth_with_region(harness)
    await _reset(harness)
    line = "/start join-forged" if data is None else data.draw(command_lines(harness))
    await _send_and_check(harness, watch, _user(kind, uid, "zh-hans"), line)


@BUDGET
@given(kind=who, uid=unknown_ids, first=texts, edited=texts)
@example(kind="youth", uid=10_000, first="团费怎么交", edited="x" * 5000)
async def test_any_edit_of_any_message_is_stored_and_answered(
    harness: BotHarness, watch: Watch, kind: str, uid: int, first: str, edited: str
) -> None:
    """An edit is stored as its own row and answered (joining a question's ticket, or a
    request to send it again); it never becomes a second question."""
    await _youth_with_region(harness)
    await _reset(harness)
    user = _user(kind, uid, "zh-hans")
    first, edited = _printable(first), _printable(edited)
    mark = await harness.inbound_mark()
    sent = await harness.client.send_text(user, first)
    await harness.settled(sent["update_id"], after=mark)
    await _drained(harness)
    before = await harness._last_id(user["id"])
    async with harness.sessions() as session:
        asked = await session.scalar(select(func.count()).select_from(Question))
    mark = await harness.inbound_mark()
    change = await harness.client.edit_text(user, sent["message_id"], edited)
    await harness.settled(change["update_id"], after=mark)
    await _drained(harness)
    rows = sorted(await _inbound(harness, user["id"], sent["message_id"]), key=lambda r: r.id)
    assert [row.text for row in rows] == [_as_stored(first), _as_stored(edited)]
    assert all(row.status == INBOUND_HANDLED and row.error is None for row in rows)
    assert watch.errors() == [] and harness.server.violations == []
    async with harness.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Question)) <= (asked or 0) + 1
    messages = await harness.client.messages(user["id"])
    assert [m for m in messages if m["from_bot"] and m["message_id"] > before]


@BUDGET
@given(kind=who, uid=unknown_ids, caption=st.one_of(st.none(), texts))
@example(kind="youth", uid=10_000, caption="x" * 1500)
async def test_photos_with_any_caption_are_stored_and_answered(
    harness: BotHarness, watch: Watch, kind: str, uid: int, caption: str | None
) -> None:
    await _youth_with_region(harness)
    await _reset(harness)
    user = _user(kind, uid, "en")
    caption = caption or None
    before = await harness._last_id(user["id"])
    mark = await harness.inbound_mark()
    sent = await harness.client.send_photo(user, caption=caption)
    await harness.settled(sent["update_id"], after=mark)
    await _check(harness, watch, chat_id=user["id"], message_id=sent["message_id"], stored=caption)
    messages = await harness.client.messages(user["id"])
    assert [m for m in messages if m["from_bot"] and m["message_id"] > before]


@BUDGET
@given(kind=who, uid=unknown_ids, data=callback_data(), pick=st.integers(0, 10**6))
@example(kind="youth", uid=10_000, data="v1:ok:2147483648", pick=0)
@example(kind="cadre", uid=10_000, data="v1:qpto:1:99999", pick=0)
@example(kind="unknown", uid=10_000, data="v1:wrv:1:approve", pick=0)
@example(kind="unknown", uid=10_000, data="v1:idn:1", pick=0)  # another's question
@example(kind="unknown", uid=10_000, data="v1:qok:2", pick=0)
@example(kind="unknown", uid=10_000, data="v1:qspam:2", pick=0)
async def test_forged_buttons_are_answered(
    harness: BotHarness, watch: Watch, kind: str, uid: int, data: str, pick: int
) -> None:
    await _youth_with_region(harness)
    await _reset(harness)
    if not getattr(harness, "_hostile_questions", False):
        # A few real questions, so small ids point at rows that exist (and are not yours).
        for question in ("篮球场什么时候修好", "图书馆几点开门", "请问几岁可以入团"):
            await harness.send(YOUTH, question)
        harness._hostile_questions = True  # type: ignore[attr-defined]
    user = _user(kind, uid, "en")
    replies = await _send_and_check(harness, watch, user, "/help")
    target = replies[pick % len(replies)]["message_id"]
    others = await _others_things(harness)
    mark = await harness.inbound_mark()
    sent = await harness.client.press(user, target, data)
    await harness.settled(sent["update_id"], after=mark)
    answer = await harness.client.callback_answer(sent["callback_query_id"])
    await _drained(harness)
    assert answer["answered"], "the button press was never answered"
    async with harness.sessions() as session:
        rows = list(
            await session.scalars(
                select(InboundMessage).where(InboundMessage.update_id == sent["update_id"])
            )
        )
    rows = [row for row in rows if row.id > mark]
    assert len(rows) == 1
    # The press that confirms /forget is erased with everything else the person sent: no
    # text, and no longer their id.
    erased = data.startswith("v1:fgy:") and rows[0].telegram_user_id != user["id"]
    assert rows[0].text == (None if erased else _as_stored(data)), (data, rows[0].text)
    assert rows[0].status == INBOUND_HANDLED and rows[0].error is None, rows[0].error
    assert watch.errors() == []
    assert harness.server.violations == []
    if kind == "unknown":  # owns nothing and holds no role: someone else's ids do nothing
        assert await _others_things(harness) == others, f"{data!r} changed another's item"


async def _others_things(harness: BotHarness) -> tuple[object, ...]:
    """Every question and wish as last changed, and their audit logs' lengths."""
    async with harness.sessions() as session:
        questions = (await session.execute(select(Question.id, Question.updated_at))).all()
        wishes = (await session.execute(select(Wish.id, Wish.updated_at))).all()
        events = await session.scalar(select(func.count(QuestionEvent.id)))
        wish_events = await session.scalar(select(func.count(WishEvent.id)))
    return sorted(questions), sorted(wishes), events, wish_events


@BUDGET
@given(kind=who, uid=unknown_ids, text=texts, pick=st.integers(0, 10**6), group=st.booleans())
@example(kind="youth", uid=10_000, text="谢谢", pick=0, group=False)
@example(kind="unknown", uid=10_000, text="<b>我来回答", pick=0, group=True)
async def test_replies_to_any_message_are_handled(
    harness: BotHarness,
    watch: Watch,
    kind: str,
    uid: int,
    text: str,
    pick: int,
    group: bool,
) -> None:
    """Replies to the bot's messages (answers, cards, pool cards) and to one's own."""
    await _youth_with_region(harness)
    await _reset(harness)
    if not getattr(harness, "_hostile_cards", False):
        # An answered FAQ question, a routed one (its card goes to a cadre or the pool).
        await harness.send(YOUTH, "请问几岁可以入团")
        await harness.send(YOUTH, "篮球场什么时候修好")
        await harness.send(CADRE, "/queue")
        await harness.send(CADRE, "/pool", chat_id=COMMITTEE_CHAT)
        harness._hostile_cards = True  # type: ignore[attr-defined]
    user = _user(kind, uid, "zh-hans")
    chat_id = COMMITTEE_CHAT if group else user["id"]
    if not group and kind == "unknown":
        await _send_and_check(harness, watch, user, "/help")
    messages = await harness.client.messages(chat_id)
    target = messages[pick % len(messages)]["message_id"]
    await _send_and_check(
        harness,
        watch,
        user,
        _printable(text),
        chat_id=chat_id if group else None,
        reply_to=target,
    )


def _buttons(messages: list[dict[str, Any]]) -> list[tuple[int, str]]:
    found = []
    for message in messages:
        markup = message.get("reply_markup") or {}
        rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else markup
        for row in rows:
            found.extend((message["message_id"], b["callback_data"]) for b in row)
    return found


async def _press_and_check(
    harness: BotHarness, watch: Watch, user: dict[str, Any], message_id: int, data: str
) -> None:
    mark = await harness.inbound_mark()
    sent = await harness.client.press(user, message_id, data)
    await harness.settled(sent["update_id"], after=mark)
    answer = await harness.client.callback_answer(sent["callback_query_id"])
    assert answer["answered"], f"the press of {data!r} was never answered"
    await _drained(harness)
    async with harness.sessions() as session:
        rows = list(
            await session.scalars(
                select(InboundMessage).where(
                    InboundMessage.update_id == sent["update_id"], InboundMessage.id > mark
                )
            )
        )
    assert len(rows) == 1 and rows[0].text == _as_stored(data)
    assert rows[0].status == INBOUND_HANDLED and rows[0].error is None, rows[0].error
    assert watch.errors() == []
    assert harness.server.violations == []


async def _step(
    harness: BotHarness, watch: Watch, data: st.DataObject, user: dict[str, Any]
) -> None:
    """One random thing a person does, checked.

    Everything is drawn up front, whatever the chat holds, so that drawing does not depend
    on the bot's state (hypothesis needs the same draws to replay an example).
    """
    action = data.draw(st.sampled_from(["text", "command", "photo", "button", "forged", "reply"]))
    text = _printable(data.draw(texts))
    line = data.draw(command_lines(harness))
    caption = data.draw(st.one_of(st.none(), texts)) or None
    pick = data.draw(st.integers(0, 10**6))
    forged = data.draw(callback_data())
    chat = user["id"]
    messages = await harness.client.messages(chat) if await harness._last_id(chat) else []
    real = _buttons(messages)
    if action == "text":
        await _send_and_check(harness, watch, user, text)
    elif action == "command":
        await _send_and_check(harness, watch, user, line)
    elif action == "photo":
        before = await harness._last_id(chat)
        mark = await harness.inbound_mark()
        sent = await harness.client.send_photo(user, caption=caption)
        await harness.settled(sent["update_id"], after=mark)
        await _check(harness, watch, chat_id=chat, message_id=sent["message_id"], stored=caption)
        replies = [m for m in await harness.client.messages(chat) if m["message_id"] > before]
        assert any(m["from_bot"] for m in replies), "the bot did not answer"
    elif action == "button" and real:
        message_id, payload = real[pick % len(real)]
        await _press_and_check(harness, watch, user, message_id, payload)
    elif action == "forged" and messages:
        message_id = messages[pick % len(messages)]["message_id"]
        await _press_and_check(harness, watch, user, message_id, forged)
    elif action == "reply" and messages:
        target = messages[pick % len(messages)]["message_id"]
        await _send_and_check(harness, watch, user, text, reply_to=target)
    else:
        await _send_and_check(harness, watch, user, "/start")


@settings(BUDGET, max_examples=max(15, _EXAMPLES // 3))  # each example is up to 8 steps
@given(data=st.data(), uid=unknown_ids)
async def test_random_conversations_hold_up(
    harness: BotHarness, watch: Watch, data: st.DataObject, uid: int
) -> None:
    """Sequences of texts, commands, photos, real and forged buttons and replies, by
    everyone in turn: real buttons walk the real flows (region, wishes, cards) into states
    one message alone never reaches."""
    await _youth_with_region(harness)
    await _reset(harness)
    for kind in data.draw(st.lists(who, min_size=1, max_size=8)):
        await _step(harness, watch, data, _user(kind, uid, "zh-hans"))
