"""0021_topics_callers_chats strips from the updates stored before the intake did so,
handled or not, the third parties 0018 and 0020 left: who opened a channel's
direct-messages topic (its id stays), whom a guest bot answered, a chat that ticked a
task or added a poll option, a classmate's channel in a giveaway, its winners or as a
gift's publisher, in a message or in the bot's card it quotes, and whoever a
guest_message carries. What handling reads stays, so a row not yet handled still is."""

from __future__ import annotations

from typing import Any

from storage import migrate
from storage.db import create_engine
from tests.bot.test_stored_third_parties import GIFT, UNIQUE_GIFT
from tests.storage.stored_updates import assert_stripped, rows_of, upgraded

ME = {"id": 1001, "is_bot": False, "first_name": "小明"}
BOT = {"id": 999, "is_bot": True, "first_name": "青年之声"}
FRIEND = {"id": 853_274_619, "is_bot": False, "first_name": "张三丰", "username": "zhangsan_2010"}
GROUP = {"id": -100555, "type": "supergroup", "title": "初二(3)班"}
DIRECT = {"id": -100888, "type": "supergroup", "title": "团委私信", "is_direct_messages": True}
CHANNEL = {"id": -100999, "type": "channel", "title": "团委"}
FRIENDS_CHANNEL = {"id": -1_008_532_746, "type": "channel", "title": "张三丰的频道"}
THIRD_PARTY = ("853274619", "张三丰", "zhangsan_2010")
TOPIC = {"topic_id": 77, "user": FRIEND}
CALLED = {"guest_bot_caller_user": FRIEND, "guest_bot_caller_chat": FRIENDS_CHANNEL}
BASE = {"message_id": 60, "date": 2, "chat": GROUP, "from": ME}
CARD = {"message_id": 59, "date": 1, "chat": DIRECT, "from": BOT, "text": "📨 问题 #1"}
IDS = {"message_id": 30, "date": 1, "chat": GROUP}
CLASSMATE = {**IDS, "from": FRIEND, "text": "张三丰 说的"}
POLL = {
    "id": "p1",
    "question": "哪天",
    "options": [
        {"persistent_id": "1", "text": "周六", "voter_count": 0},
        {
            "persistent_id": "2",
            "text": "周日",
            "voter_count": 0,
            "added_by_chat": FRIENDS_CHANNEL,
            "addition_date": 1,
        },
    ],
    "total_voter_count": 0,
    "is_closed": False,
    "is_anonymous": True,
    "type": "regular",
    "allows_multiple_answers": False,
    "allows_revoting": False,
    "members_only": False,
}
WINNERS = {
    "giveaway_message_id": 3,
    "winners_selection_date": 1,
    "winner_count": 1,
    "winners": [ME],
}
PAYLOADS: dict[str, dict[str, Any]] = {
    "topic": {
        "message": {
            **BASE,
            "chat": DIRECT,
            "from": {"id": 136_817_688, "is_bot": True, "first_name": "Channel"},
            "sender_chat": CHANNEL,
            "direct_messages_topic": TOPIC,
            "text": "收到",
        }
    },
    "caller": {"message": {**BASE, "from": {**BOT, "id": 556}, "text": "东湖", **CALLED}},
    "card": {
        "message": {
            **BASE,
            "chat": DIRECT,
            "text": "周六",
            "reply_to_message": {**CARD, "direct_messages_topic": TOPIC, **CALLED},
        }
    },
    "press": {
        "callback_query": {
            "id": "q1",
            "from": ME,
            "chat_instance": "c",
            "data": "v1:hum:1",
            "message": {**CARD, "direct_messages_topic": TOPIC},
        }
    },
    "ticked": {
        "message": {
            **BASE,
            "checklist": {
                "title": "清单",
                "tasks": [
                    {
                        "id": 1,
                        "text": "买书",
                        "completed_by_chat": FRIENDS_CHANNEL,
                        "completion_date": 1,
                    }
                ],
            },
        }
    },
    "option": {"message": {**BASE, "poll": POLL}},
    "giveaway": {
        "message": {
            **BASE,
            "giveaway": {
                "chats": [FRIENDS_CHANNEL, GROUP],
                "winners_selection_date": 9,
                "winner_count": 2,
            },
        }
    },
    "winners": {"message": {**BASE, "giveaway_winners": {**WINNERS, "chat": FRIENDS_CHANNEL}}},
    "gift": {"message": {**BASE, "gift": {"gift": {**GIFT, "publisher_chat": FRIENDS_CHANNEL}}}},
    "unique": {"message": {**BASE, "unique_gift": {"gift": UNIQUE_GIFT, "origin": "upgrade"}}},
    "guest": {
        "guest_message": {
            **BASE,
            "text": "真的吗",
            "guest_query_id": "gq1",
            "reply_to_message": CLASSMATE,
        }
    },
    "edited": {
        "edited_message": {
            **BASE,
            "chat": DIRECT,
            "edit_date": 3,
            "text": "收到了",
            "direct_messages_topic": TOPIC,
            "sender_chat": CHANNEL,
        }
    },
    # The sender's own topic, a giveaway of the group it is in: they stay as they are.
    "plain": {
        "message": {
            **BASE,
            "direct_messages_topic": {"topic_id": 78, "user": ME},
            "giveaway_winners": {**WINNERS, "chat": GROUP},
        }
    },
}


def _row(n: int, name: str, status: str) -> dict[str, Any]:
    return {
        "update_id": n,
        "fingerprint": f"m21:{n}",
        "telegram_user_id": 1001,
        "chat_id": GROUP["id"],
        "message_id": n,
        "kind": "callback" if name == "press" else "other",
        "text": name,
        "status": status,
        "payload": {"update_id": n, **PAYLOADS[name]},
    }


async def test_stored_updates_lose_topic_openers_guest_callers_and_others_chats(
    db_url: str,
) -> None:
    engine = create_engine(db_url)
    rows = rows_of(PAYLOADS, _row)
    try:
        found = await upgraded(engine, rows, before="0020_third_parties_in_parts")
        assert_stripped(found, rows, THIRD_PARTY)
        message = {name: found[name].get("message") for name in found}
        assert message["topic"]["direct_messages_topic"] == {"topic_id": 77}
        assert found["edited"]["edited_message"]["direct_messages_topic"] == {"topic_id": 77}
        assert message["caller"]["text"] == "东湖"
        assert not [k for k in message["caller"] if k.startswith("guest_bot_caller")]
        card = message["card"]["reply_to_message"]
        assert card == {**CARD, "direct_messages_topic": {"topic_id": 77}}  # the card's text stays
        pressed = found["press"]["callback_query"]["message"]
        assert pressed == {**CARD, "direct_messages_topic": {"topic_id": 77}}
        assert message["ticked"]["checklist"]["tasks"] == [
            {"id": 1, "text": "买书", "completion_date": 1}
        ]
        assert message["option"]["poll"]["options"][1] == {
            "persistent_id": "2",
            "text": "周日",
            "voter_count": 0,
            "addition_date": 1,
        }
        assert message["giveaway"]["giveaway"]["chats"] == [GROUP]
        assert message["winners"]["giveaway_winners"] == WINNERS
        assert message["gift"]["gift"] == {"gift": GIFT}
        unique = {k: v for k, v in UNIQUE_GIFT.items() if k != "publisher_chat"}
        assert message["unique"]["unique_gift"]["gift"] == unique
        assert found["guest"]["guest_message"]["reply_to_message"] == IDS
        await migrate.downgrade(engine, "0020_third_parties_in_parts")
        assert await migrate.current_revision(engine) == "0020_third_parties_in_parts"
    finally:
        await engine.dispose()
