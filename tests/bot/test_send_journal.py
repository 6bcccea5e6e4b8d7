"""The journal of an update's sends (bot.api_bot): an attempt after a passing failure pairs
its sends with the earlier attempts' in order, per chat and method, and sends nothing twice."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest

from bot.api_bot import Sent, _once, compact

# PTB warns when asked to compare objects it cannot (a keyboard removal, an album's media).
pytestmark = pytest.mark.filterwarnings("error")


class Telegram:
    """Records the calls that reach "Telegram" and answers them like it."""

    def __init__(self, *, refuse_edits: bool = False) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refuse_edits = refuse_edits
        self.next_id = 100

    async def __call__(self, method: str, data: dict[str, Any]) -> Any:
        self.calls.append((method, data))
        if method == "editMessageText":
            if self.refuse_edits:
                raise BadRequest("Message can't be edited")
            return {"message_id": data["message_id"], "text": data["text"]}
        self.next_id += 1
        if method == "sendMediaGroup":
            return [{"message_id": self.next_id}]
        return {"message_id": self.next_id, "text": data.get("text")}


def _keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data=data)]])


async def _attempt(
    journal: list[Sent], telegram: Telegram, sends: list[tuple[str, dict[str, Any]]]
) -> list[Any]:
    replayed: set[int] = set()
    return [await _once(journal, replayed, method, data, telegram) for method, data in sends]


async def test_the_same_sends_are_not_made_again() -> None:
    journal: list[Sent] = []
    telegram = Telegram()

    def sends() -> list[tuple[str, dict[str, Any]]]:  # built anew by each attempt
        return [
            ("sendMessage", {"chat_id": 1, "text": "答案", "reply_markup": _keyboard("v1:ok:1")}),
            ("sendMessage", {"chat_id": 1, "text": "还有", "reply_markup": ReplyKeyboardRemove()}),
            ("sendMediaGroup", {"chat_id": 2, "media": [InputMediaPhoto("file-id")]}),
        ]

    first = await _attempt(journal, telegram, sends())
    assert len(telegram.calls) == 3
    again = await _attempt(journal, telegram, sends())
    assert again == first and len(telegram.calls) == 3 and len(journal) == 3


async def test_a_text_reading_differently_is_edited_in_place_in_order() -> None:
    journal: list[Sent] = []
    telegram = Telegram()
    await _attempt(
        journal,
        telegram,
        [
            (
                "sendMessage",
                {"chat_id": 1, "text": "问题编号 12", "reply_markup": _keyboard("a:12")},
            ),
            ("sendMessage", {"chat_id": 1, "text": "谢谢"}),
        ],
    )
    telegram.calls.clear()
    results = await _attempt(
        journal,
        telegram,
        [
            (
                "sendMessage",
                {"chat_id": 1, "text": "问题编号 13", "reply_markup": _keyboard("a:13")},
            ),
            ("sendMessage", {"chat_id": 1, "text": "谢谢"}),
            ("sendMessage", {"chat_id": 1, "text": "新的一条"}),
        ],
    )
    (edit, send) = telegram.calls  # the first edited, the second reused, the third sent
    assert edit[0] == "editMessageText" and edit[1]["message_id"] == 101
    assert edit[1]["text"] == "问题编号 13" and edit[1]["reply_markup"] == _keyboard("a:13")
    assert send == ("sendMessage", {"chat_id": 1, "text": "新的一条"})
    assert [r["message_id"] for r in results] == [101, 102, 103]


async def test_what_cannot_be_edited_is_sent_anew() -> None:
    journal: list[Sent] = []
    telegram = Telegram()
    await _attempt(journal, telegram, [("sendMessage", {"chat_id": 1, "text": "一"})])
    await _attempt(
        journal,
        telegram,
        [("sendMessage", {"chat_id": 1, "text": "二", "reply_markup": ReplyKeyboardRemove()})],
    )
    refusing = Telegram(refuse_edits=True)
    await _attempt(journal, refusing, [("sendMessage", {"chat_id": 1, "text": "三"})])
    assert [method for method, _ in telegram.calls] == ["sendMessage", "sendMessage"]
    assert [method for method, _ in refusing.calls] == ["editMessageText", "sendMessage"]


async def test_other_chats_and_methods_do_not_pair() -> None:
    journal: list[Sent] = []
    telegram = Telegram()
    await _attempt(journal, telegram, [("sendMessage", {"chat_id": 1, "text": "一"})])
    await _attempt(
        journal,
        telegram,
        [
            ("sendMessage", {"chat_id": 2, "text": "一"}),
            ("sendPhoto", {"chat_id": 1, "photo": "file-id"}),
        ],
    )
    assert len(telegram.calls) == 3


async def test_an_upload_matches_by_its_bytes_and_is_kept_as_a_hash() -> None:
    journal: list[Sent] = []
    telegram = Telegram()

    def export(content: bytes) -> tuple[str, dict[str, Any]]:  # a new upload each attempt
        return ("sendDocument", {"chat_id": 1, "document": InputFile(content, "mydata.json")})

    await _attempt(journal, telegram, [export(b'{"a": 1}')])
    kept = compact(journal)
    assert "file:mydata.json:" in str(kept[0].data["document"])
    assert not any(isinstance(v, InputFile) for v in kept[0].data.values())  # no bytes held
    await _attempt(kept, telegram, [export(b'{"a": 1}')])
    assert len(telegram.calls) == 1
    await _attempt(kept, telegram, [export(b'{"a": 2}')])  # other bytes: sent anew
    assert len(telegram.calls) == 2
