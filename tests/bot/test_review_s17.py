"""What a review of session 17's privacy work found, without Telegram: each test failed
on the code before its fix."""

from __future__ import annotations

import json
from typing import Any

import pytest
from telegram import Update

from bot.services import inbox

CHAT = {"id": 1001, "type": "private", "first_name": "小明"}
FRIEND = {"id": 1777, "is_bot": False, "first_name": "张三丰", "username": "zhangsan_2010"}
CHANNEL = {"id": -1001777, "type": "channel", "title": "东湖青年频道", "username": "donghu"}
# Telegram sends a forward's legacy fields beside forward_origin (Bot API before 7.0),
# and PTB keeps them (api_kwargs) in update.to_dict().
LEGACY: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {"type": "user", "date": 1_795_000_000, "sender_user": FRIEND},
        {"forward_from": FRIEND, "forward_date": 1_795_000_000},
    ),
    (
        {"type": "hidden_user", "date": 1_795_000_000, "sender_user_name": "李四光"},
        {"forward_sender_name": "李四光", "forward_date": 1_795_000_000},
    ),
    (
        {
            "type": "channel",
            "date": 1_795_000_000,
            "chat": CHANNEL,
            "message_id": 88,
            "author_signature": "小编甲",
        },
        {
            "forward_from_chat": CHANNEL,
            "forward_from_message_id": 88,
            "forward_signature": "小编甲",
            "forward_date": 1_795_000_000,
        },
    ),
]
THIRD_PARTY = ("张三丰", "zhangsan_2010", "1777", "李四光", "东湖青年频道", "donghu", "小编甲")


@pytest.mark.parametrize(("origin", "legacy"), LEGACY)
def test_a_handled_forward_keeps_no_legacy_sender_fields(
    origin: dict[str, Any], legacy: dict[str, Any]
) -> None:
    update = Update.de_json(
        {
            "update_id": 1,
            "message": {
                "message_id": 41,
                "date": 1_795_000_100,
                "chat": CHAT,
                "from": {"id": 1001, "is_bot": False, "first_name": "小明"},
                "text": "这个夏令营是真的吗",
                "forward_origin": origin,
                **legacy,
            },
        },
        None,
    )
    assert update is not None
    assert set(legacy) <= set(update.to_dict()["message"])  # what would be stored
    stored = inbox.unquoted(update)
    assert stored is not None
    for leaked in THIRD_PARTY:
        assert leaked not in json.dumps(stored, ensure_ascii=False), leaked
    message = stored["message"]
    assert message["forward_origin"] == {"type": origin["type"], "date": 1_795_000_000}
    assert message["forward_date"] == 1_795_000_000  # when, not who, may stay
    assert message["text"] == "这个夏令营是真的吗"
    assert inbox.strip_quotes(update.to_dict()) == stored
