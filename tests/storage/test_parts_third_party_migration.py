"""0020_third_parties_in_parts strips other people from the parts of the updates stored
before the intake did so, handled or not: classmates a service message names (a
giveaway's winners, the invited to a video chat, the other person of a proximity alert,
the group's next owner), a message a service message is about (a classmate's giveaway),
a mention's User object in a poll, a game, a checklist, a gift's words or a rich message,
who added a poll's option or ticked a checklist's task. What handling reads stays, so a
row not yet handled still is."""

from __future__ import annotations

from typing import Any

from storage import migrate
from storage.db import create_engine
from tests.bot.test_stored_third_parties import GIFT
from tests.storage.stored_updates import assert_stripped, rows_of, upgraded

ME = {"id": 1001, "is_bot": False, "first_name": "小明"}
FRIEND = {"id": 853_274_619, "is_bot": False, "first_name": "张三丰", "username": "zhangsan_2010"}
CHAT = {"id": 1001, "type": "private", "first_name": "小明"}
GROUP = {"id": -100555, "type": "supergroup", "title": "初二(3)班"}
THIRD_PARTY = ("853274619", "张三丰", "zhangsan_2010")
MENTION = {"type": "text_mention", "offset": 0, "length": 2, "user": FRIEND}
UNMENTIONED = [{"type": "text_mention", "offset": 0, "length": 2}]
BASE = {"message_id": 60, "date": 2, "chat": GROUP, "from": ME}
IDS = {"message_id": 30, "date": 1, "chat": GROUP}
POLL = {
    "id": "p1",
    "question": "班长 说的对吗",
    "options": [
        {"persistent_id": "1", "text": "对", "voter_count": 0},
        {"persistent_id": "2", "text": "不对", "voter_count": 0},
    ],
    "total_voter_count": 0,
    "is_closed": False,
    "is_anonymous": True,
    "type": "regular",
    "allows_multiple_answers": False,
    "allows_revoting": False,
    "members_only": False,
}
MENTIONING_POLL = {
    **POLL,
    "question_entities": [MENTION],
    "options": [
        {**POLL["options"][0], "text_entities": [MENTION]},
        {**POLL["options"][1], "added_by_user": FRIEND, "addition_date": 1},
    ],
}
TASK = {"id": 1, "text": "买书", "completed_by_user": FRIEND, "completion_date": 1}
MENTIONED_IN_RICH = {"type": "text_mention", "text": "班长", "user": FRIEND}
PAYLOADS: dict[str, dict[str, Any]] = {
    "winners": {
        "message": {
            **BASE,
            "giveaway_winners": {
                "chat": GROUP,
                "giveaway_message_id": 30,
                "winners_selection_date": 1,
                "winner_count": 2,
                "winners": [FRIEND, ME],
            },
        }
    },
    "completed": {
        "message": {
            **BASE,
            "giveaway_completed": {
                "winner_count": 1,
                "giveaway_message": {**IDS, "from": FRIEND, "text": "张三丰 送书"},
            },
        }
    },
    "invited": {"message": {**BASE, "video_chat_participants_invited": {"users": [FRIEND]}}},
    "proximity": {
        "message": {
            **BASE,
            "proximity_alert_triggered": {"traveler": FRIEND, "watcher": ME, "distance": 9},
        }
    },
    "owner": {"message": {**BASE, "chat_owner_changed": {"new_owner": FRIEND}}},
    "poll": {"message": {**BASE, "poll": MENTIONING_POLL}},
    "game": {
        "message": {
            **BASE,
            "game": {
                "title": "答题",
                "description": "答题",
                "photo": [],
                "text": "班长 赢了",
                "text_entities": [MENTION],
            },
        }
    },
    "checklist": {
        "message": {
            **BASE,
            "checklist": {"title": "班长", "title_entities": [MENTION], "tasks": [TASK]},
        }
    },
    "option": {
        "message": {
            **BASE,
            "poll_option_added": {
                "poll_message": {**IDS, "from": FRIEND, "poll": POLL},
                "option_persistent_id": "3",
                "option_text": "班长",
                "option_text_entities": [MENTION],
            },
        }
    },
    "gift": {"message": {**BASE, "gift": {"gift": GIFT, "text": "班长", "entities": [MENTION]}}},
    "rich": {
        "message": {
            **BASE,
            "rich_message": {"blocks": [{"type": "paragraph", "text": ["看", MENTIONED_IN_RICH]}]},
        }
    },
    "edited": {"edited_message": {**BASE, "edit_date": 3, "poll": MENTIONING_POLL}},
    # The sender's own poll names nobody: it stays as it is.
    "plain": {"message": {**BASE, "poll": {**POLL, "question": "张三丰 is my own word"}}},
}


def _row(n: int, name: str, status: str) -> dict[str, Any]:
    return {
        "update_id": n,
        "fingerprint": f"m19:{n}",
        "telegram_user_id": 1001,
        "chat_id": GROUP["id"],
        "message_id": n,
        "kind": "other",
        "text": name,
        "status": status,
        "payload": {"update_id": n, **PAYLOADS[name]},
    }


async def test_stored_updates_lose_the_third_parties_their_parts_carry(db_url: str) -> None:
    engine = create_engine(db_url)
    rows = rows_of(PAYLOADS, _row)
    try:
        found = await upgraded(engine, rows, before="0019_erasures")
        assert_stripped(found, rows, THIRD_PARTY)
        message = {name: found[name]["message"] for name in found if name != "edited"}
        assert message["winners"]["giveaway_winners"]["winners"] == [ME]  # the sender won
        assert message["completed"]["giveaway_completed"]["giveaway_message"] == IDS
        assert message["invited"]["video_chat_participants_invited"] == {"users": []}
        assert message["proximity"]["proximity_alert_triggered"] == {"watcher": ME, "distance": 9}
        assert message["owner"]["chat_owner_changed"] == {}
        poll = message["poll"]["poll"]
        assert poll["question_entities"] == UNMENTIONED
        assert poll["options"] == [
            {**POLL["options"][0], "text_entities": UNMENTIONED},
            {**POLL["options"][1], "addition_date": 1},
        ]
        assert found["edited"]["edited_message"]["poll"] == poll
        assert message["game"]["game"]["text_entities"] == UNMENTIONED
        checklist = message["checklist"]["checklist"]
        assert checklist["title_entities"] == UNMENTIONED
        assert checklist["tasks"] == [{"id": 1, "text": "买书", "completion_date": 1}]
        option = message["option"]["poll_option_added"]
        assert option["option_text_entities"] == UNMENTIONED and option["poll_message"] == IDS
        assert message["gift"]["gift"]["entities"] == UNMENTIONED
        rich = message["rich"]["rich_message"]["blocks"][0]["text"]
        assert rich == ["看", {"type": "text_mention", "text": "班长"}]
        await migrate.downgrade(engine, "0019_erasures")
        assert await migrate.current_revision(engine) == "0019_erasures"
    finally:
        await engine.dispose()
