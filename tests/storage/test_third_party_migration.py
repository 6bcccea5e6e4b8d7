"""0018_third_parties_cleanup strips other people from the updates stored before the
intake did so, handled or not: a mention's User object, a forward's first writer (in
rows not yet handled), a shared contact's details, a classmate's message replied to or
pinned, a reply to a message elsewhere, shared users and chats, members someone else
added or removed. What handling reads stays, so a row not yet handled still is."""

from __future__ import annotations

from typing import Any

from storage import migrate
from storage.db import create_engine
from tests.storage.stored_updates import assert_stripped, rows_of, upgraded

ME = {"id": 1001, "is_bot": False, "first_name": "小明"}
BOT = {"id": 999, "is_bot": True, "first_name": "青年之声"}
FRIEND = {"id": 853_274_619, "is_bot": False, "first_name": "张三丰", "username": "zhangsan_2010"}
CHAT = {"id": 1001, "type": "private", "first_name": "小明"}
GROUP = {"id": -100555, "type": "supergroup", "title": "初二(3)班"}
THIRD_PARTY = ("853274619", "张三丰", "zhangsan_2010", "13812345678", "东湖路8号")
MENTION = {"type": "text_mention", "offset": 0, "length": 2, "user": FRIEND}
BASE = {"message_id": 60, "date": 2, "chat": CHAT, "from": ME}
CARD = {"message_id": 59, "date": 1, "chat": CHAT, "from": BOT, "text": "📨 问题 #1"}
CLASSMATE = {"message_id": 30, "date": 1, "chat": GROUP, "from": FRIEND, "text": "东湖路8号"}
CONTACT = {"phone_number": "+8613812345678", "first_name": "张三丰", "user_id": 853_274_619}
FORWARD = {
    **BASE,
    "text": "班长说集合",
    "entities": [MENTION],
    "forward_origin": {"type": "user", "date": 1, "sender_user": FRIEND},
    "forward_from": FRIEND,
    "forward_date": 1,
}
PAYLOADS: dict[str, dict[str, Any]] = {
    "forward": {"message": FORWARD},
    "caption": {
        "message": {**BASE, "photo": [], "caption": "班长", "caption_entities": [MENTION]}
    },
    "contact": {"message": {**BASE, "contact": CONTACT}},
    "story": {
        "message": {
            **BASE,
            "story": {"chat": {**CHAT, "id": FRIEND["id"], "first_name": "张三丰"}, "id": 3},
            "forward_origin": {"type": "user", "date": 1, "sender_user": FRIEND},
        }
    },
    "reply": {"message": {**BASE, "chat": GROUP, "text": "/queue", "reply_to_message": CLASSMATE}},
    "card": {
        "message": {**BASE, "text": "班长 说", "entities": [MENTION], "reply_to_message": CARD}
    },
    "pinned": {"message": {**BASE, "chat": GROUP, "pinned_message": CLASSMATE}},
    "external": {
        "message": {
            **BASE,
            "text": "这是真的吗",
            "external_reply": {
                "origin": {"type": "user", "date": 1, "sender_user": FRIEND},
                "contact": CONTACT,
            },
        }
    },
    "shared": {
        "message": {
            **BASE,
            "users_shared": {"request_id": 1, "users": [{"user_id": 853_274_619}]},
        }
    },
    "chat_shared": {
        "message": {
            **BASE,
            "chat_shared": {"request_id": 2, "chat_id": -100777, "title": "张三丰的群"},
        }
    },
    "members": {
        "message": {**BASE, "chat": GROUP, "new_chat_members": [FRIEND, BOT]},
    },
    "left": {"message": {**BASE, "chat": GROUP, "left_chat_member": FRIEND}},
    "edited": {"edited_message": {**BASE, "text": "班长", "entities": [MENTION]}},
    "press": {
        "callback_query": {
            "id": "q",
            "from": ME,
            "chat_instance": "c",
            "data": "v1:hum:1",
            "message": {**CARD, "reply_to_message": FORWARD},
        }
    },
    "plain": {"message": {**BASE, "text": "张三丰 is my own word"}},
}


def _row(n: int, name: str, status: str) -> dict[str, Any]:
    return {
        "update_id": n,
        "fingerprint": f"m18:{n}",
        "telegram_user_id": 1001,
        "chat_id": 1001,
        "message_id": n,
        "kind": "text",
        "text": name,
        "status": status,
        "payload": {"update_id": n, **PAYLOADS[name]},
    }


async def test_stored_updates_lose_the_third_parties_they_carry(db_url: str) -> None:
    engine = create_engine(db_url)
    rows = rows_of(PAYLOADS, _row)
    try:
        found = await upgraded(engine, rows, before="0017_forward_origin_cleanup")
        assert_stripped(found, rows, THIRD_PARTY)
        message = found["forward"]["message"]
        assert message["forward_origin"] == {"type": "user", "date": 1}
        assert message["forward_date"] == 1 and "forward_from" not in message
        assert message["entities"] == [{"type": "text_mention", "offset": 0, "length": 2}]
        assert found["contact"]["message"]["contact"] == {}
        assert found["reply"]["message"]["reply_to_message"] == {
            "message_id": 30,
            "date": 1,
            "chat": GROUP,
        }
        assert found["card"]["message"]["reply_to_message"] == CARD
        assert "external_reply" not in found["external"]["message"]
        assert found["shared"]["message"]["users_shared"] == {"request_id": 1, "users": []}
        assert found["chat_shared"]["message"]["chat_shared"] == {
            "request_id": 2,
            "chat_id": -100777,
        }
        assert found["members"]["message"]["new_chat_members"] == [BOT]
        assert "left_chat_member" not in found["left"]["message"]
        pressed = found["press"]["callback_query"]["message"]
        assert pressed["text"] == CARD["text"]
        assert pressed["reply_to_message"] == {"message_id": 60, "date": 2, "chat": CHAT}
        await migrate.downgrade(engine, "0017_forward_origin_cleanup")
        assert await migrate.current_revision(engine) == "0017_forward_origin_cleanup"
    finally:
        await engine.dispose()
