"""The inbound fingerprint: a redelivery matches, a new update reusing an id does not."""

from __future__ import annotations

from typing import Any

from telegram import Update

from bot.services.inbox import fingerprint

USER = {"id": 1001, "is_bot": False, "first_name": "小明"}
CHAT = {"id": 1001, "type": "private", "first_name": "小明"}


def _update(data: dict[str, Any]) -> Update:
    update = Update.de_json(data, None)
    assert update is not None
    return update


def _message(update_id: int, date: int) -> dict[str, Any]:
    message = {"message_id": 5, "date": date, "chat": CHAT, "from": USER, "text": "hi"}
    return {"update_id": update_id, "message": message}


def _member(update_id: int, date: int) -> dict[str, Any]:
    member = {"status": "member", "user": {"id": 1, "is_bot": True, "first_name": "bot"}}
    kicked = {**member, "status": "kicked", "until_date": 0}
    body = {"chat": CHAT, "from": USER, "date": date, "old_chat_member": member}
    return {"update_id": update_id, "my_chat_member": {**body, "new_chat_member": kicked}}


def _callback(update_id: int, query_id: str) -> dict[str, Any]:
    message = {"message_id": 5, "date": 1_795_000_000, "chat": CHAT, "text": "pick"}
    query = {"id": query_id, "from": USER, "chat_instance": "1", "message": message, "data": "x"}
    return {"update_id": update_id, "callback_query": query}


def _poll_answer(update_id: int, poll_id: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "poll_answer": {
            "poll_id": poll_id,
            "user": USER,
            "option_ids": [0],
            "option_persistent_ids": ["a"],
        },
    }


def test_a_redelivery_has_the_same_fingerprint() -> None:
    for data in (_message(7, 1_795_000_000), _member(7, 1_795_000_000), _callback(7, "q1")):
        assert fingerprint(_update(data)) == fingerprint(_update(dict(data)))


def test_a_reused_update_id_is_a_new_update() -> None:
    pairs = [
        (_message(7, 1_795_000_000), _message(7, 1_795_700_000)),
        (_member(7, 1_795_000_000), _member(7, 1_795_700_000)),
        (_callback(7, "q1"), _callback(7, "q2")),
        (_message(7, 1_795_000_000), _message(8, 1_795_000_000)),
    ]
    for first, second in pairs:
        assert fingerprint(_update(first)) != fingerprint(_update(second))


def test_updates_without_a_chat_are_keyed_by_id() -> None:
    one, two = _update(_poll_answer(9, "p1")), _update(_poll_answer(10, "p1"))
    assert fingerprint(one) != fingerprint(two)
    assert fingerprint(one).startswith("9:")
