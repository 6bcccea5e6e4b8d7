"""Third parties in a stored update: what a young person sends may carry other people
(a mention of a classmate, a forwarded message's first writer, a friend's contact, a
classmate's message replied to in a group). The inbound log keeps what handling reads of
them, never who they are: from the moment an update is stored, not only once handled,
and what it keeps can still be handled after a crash or a requeue."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Message, Update

from bot.services import inbox
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import INBOUND_RECEIVED, InboundMessage

ME = {"id": 1001, "is_bot": False, "first_name": "小明"}
CHAT = {"id": 1001, "type": "private", "first_name": "小明"}
GROUP = {"id": -100555, "type": "supergroup", "title": "初二(3)班"}
BOT = {"id": 999, "is_bot": True, "first_name": "青年之声", "username": "voy_bot"}
# Third parties: nothing of them may be stored.
FRIEND = {
    "id": 853_274_619,
    "is_bot": False,
    "first_name": "张三丰",
    "last_name": "Zhang",
    "username": "zhangsan_2010",
}
WRITER = {"id": 764_183_552, "is_bot": False, "first_name": "李四光", "username": "lisiguang"}
THIRD_PARTY = (
    "853274619",
    "张三丰",
    "Zhang",
    "zhangsan_2010",
    "764183552",
    "李四光",
    "lisiguang",
    "13812345678",
    "东湖路8号",
)
DATE = 1_795_000_100
CARD = {
    "message_id": 40,
    "date": DATE - 50,
    "chat": CHAT,
    "from": BOT,
    "text": "📨 问题 #12 已转给团干部",
}
MENTION = {"type": "text_mention", "offset": 0, "length": 2, "user": FRIEND}
CONTACT = {
    "phone_number": "+8613812345678",
    "first_name": "张三丰",
    "last_name": "Zhang",
    "user_id": 853_274_619,
    "vcard": "BEGIN:VCARD\nFN:张三丰\nTEL:+8613812345678\nEND:VCARD",
}
CLASSMATES_MESSAGE = {
    "message_id": 30,
    "date": DATE - 90,
    "chat": GROUP,
    "from": FRIEND,
    "text": "张三丰 住在东湖路8号",
    "entities": [MENTION],
}
IDS_ONLY = {"message_id": 30, "date": DATE - 90, "chat": GROUP}
UNMENTIONED = [{"type": "text_mention", "offset": 0, "length": 2}]
PHOTO = [{"file_id": "p", "file_unique_id": "pu", "width": 9, "height": 9}]
POLL = {
    "id": "p1",
    "question": "张三 说的对吗",
    "question_entities": [MENTION],
    "options": [
        {"persistent_id": "1", "text": "张三", "text_entities": [MENTION], "voter_count": 0},
        {"persistent_id": "2", "text": "周日", "voter_count": 0, "added_by_user": FRIEND},
    ],
    "total_voter_count": 0,
    "is_closed": False,
    "is_anonymous": True,
    "type": "quiz",
    "allows_multiple_answers": False,
    "allows_revoting": False,
    "members_only": False,
    "correct_option_ids": [0],
    "explanation": "张三 知道",
    "explanation_entities": [MENTION],
    "description": "张三 问的",
    "description_entities": [MENTION],
}
# A task of a checklist a classmate completed.
TASK = {
    "id": 1,
    "text": "张三 买书",
    "text_entities": [MENTION],
    "completed_by_user": FRIEND,
    "completion_date": DATE - 5,
}
GIFT = {
    "id": "g1",
    "star_count": 15,
    "sticker": {
        "file_id": "s",
        "file_unique_id": "su",
        "width": 9,
        "height": 9,
        "is_animated": False,
        "is_video": False,
        "type": "custom_emoji",
    },
}
# A giveaway a classmate ran in the group.
CLASSMATES_GIVEAWAY = {
    **IDS_ONLY,
    "from": FRIEND,
    "giveaway": {
        "chats": [GROUP],
        "winners_selection_date": DATE - 60,
        "winner_count": 2,
        "prize_description": "张三丰 送的书",
    },
}


def _message(chat: dict[str, Any] = CHAT, **fields: Any) -> dict[str, Any]:
    return {"message_id": 41, "date": DATE, "chat": chat, "from": ME, **fields}


Check = Callable[[dict[str, Any], Message], None]


def _forward(stored: dict[str, Any], revived: Message) -> None:
    assert stored["forward_origin"] == {"type": "user", "date": DATE - 600}
    assert stored["forward_date"] == DATE - 600  # when, not who
    assert stored["entities"] == UNMENTIONED
    assert revived.forward_origin is not None  # handled as a forward
    assert revived.text == "班长说周六在东湖公园集合"


def _caption(stored: dict[str, Any], revived: Message) -> None:
    assert stored["caption_entities"] == UNMENTIONED
    assert revived.caption == "班长拍的" and revived.photo


def _contact(stored: dict[str, Any], revived: Message) -> None:
    assert stored["contact"] == {}
    assert revived.contact is not None and inbox.message_kind(revived) == "contact"


def _classmate_replied_to(stored: dict[str, Any], revived: Message) -> None:
    assert stored["reply_to_message"] == IDS_ONLY
    assert revived.reply_to_message is not None and revived.reply_to_message.message_id == 30
    assert revived.reply_to_message.from_user is None  # not the bot's: not a card


def _card_replied_to(stored: dict[str, Any], revived: Message) -> None:
    card = stored["reply_to_message"]
    assert {k: card[k] for k in CARD} == CARD  # the bot's own card: its header is read
    assert stored["entities"] == UNMENTIONED
    replied = revived.reply_to_message
    assert replied is not None and replied.from_user is not None and replied.from_user.is_bot
    assert replied.text == CARD["text"]


def _external(stored: dict[str, Any], revived: Message) -> None:
    assert "external_reply" not in stored and revived.external_reply is None


def _shared_users(stored: dict[str, Any], revived: Message) -> None:
    assert stored["users_shared"] == {"request_id": 1, "users": []}
    assert revived.users_shared is not None


def _shared_chat(stored: dict[str, Any], revived: Message) -> None:
    assert stored["chat_shared"] == {"request_id": 2, "chat_id": -100777}
    assert revived.chat_shared is not None


def _added(stored: dict[str, Any], revived: Message) -> None:
    assert stored["new_chat_members"] == [BOT]  # the bot itself, not the classmate
    assert [u.id for u in revived.new_chat_members] == [BOT["id"]]


def _removed(stored: dict[str, Any], revived: Message) -> None:
    assert "left_chat_member" not in stored and revived.left_chat_member is None


def _pinned(stored: dict[str, Any], revived: Message) -> None:
    assert stored["pinned_message"] == IDS_ONLY
    assert revived.pinned_message is not None


def _story(stored: dict[str, Any], revived: Message) -> None:
    assert revived.story is not None  # handled as a forwarded story


def _giveaway_won(stored: dict[str, Any], revived: Message) -> None:
    assert stored["giveaway_winners"]["winners"] == []  # how many won, not who
    assert revived.giveaway_winners is not None and revived.giveaway_winners.winner_count == 2


def _invited(stored: dict[str, Any], revived: Message) -> None:
    assert stored["video_chat_participants_invited"] == {"users": []}
    assert revived.video_chat_participants_invited is not None


def _near_a_classmate(stored: dict[str, Any], revived: Message) -> None:
    # The sender's own part of the alert stays, the classmate's is blank once read back.
    alert = stored["proximity_alert_triggered"]
    assert alert in ({"traveler": ME, "distance": 50}, {"watcher": ME, "distance": 50})
    read = revived.proximity_alert_triggered
    assert read is not None and read.distance == 50
    assert {read.traveler.id, read.watcher.id} == {ME["id"], 0}


def _new_owner(stored: dict[str, Any], revived: Message) -> None:
    assert stored["chat_owner_changed"] == {}
    assert revived.chat_owner_changed is not None


def _owner_left(stored: dict[str, Any], revived: Message) -> None:
    assert stored["chat_owner_left"] == {}
    assert revived.chat_owner_left is not None


def _poll(stored: dict[str, Any], revived: Message) -> None:
    poll = stored["poll"]
    for key in ("question_entities", "explanation_entities", "description_entities"):
        assert poll[key] == UNMENTIONED, key
    assert poll["options"][0]["text_entities"] == UNMENTIONED
    assert "added_by_user" not in poll["options"][1]
    assert revived.poll is not None and revived.poll.question == POLL["question"]
    assert inbox.message_kind(revived) == "poll"


def _game(stored: dict[str, Any], revived: Message) -> None:
    assert stored["game"]["text_entities"] == UNMENTIONED
    assert revived.game is not None and revived.game.text == "张三 得了一百分"


def _task_done(task: dict[str, Any]) -> None:
    assert task["text_entities"] == UNMENTIONED and "completed_by_user" not in task
    assert task["completion_date"] == DATE - 5  # done, not by whom


def _checklist(stored: dict[str, Any], revived: Message) -> None:
    assert stored["checklist"]["title_entities"] == UNMENTIONED
    _task_done(stored["checklist"]["tasks"][0])
    assert revived.checklist is not None and revived.checklist.title == "张三 的清单"


def _tasks_added(stored: dict[str, Any], revived: Message) -> None:
    _task_done(stored["checklist_tasks_added"]["tasks"][0])
    assert stored["checklist_tasks_added"]["checklist_message"] == IDS_ONLY
    assert revived.checklist_tasks_added is not None


def _option_added(stored: dict[str, Any], revived: Message) -> None:
    added = stored["poll_option_added"]
    assert added["option_text_entities"] == UNMENTIONED
    assert added["poll_message"] == IDS_ONLY
    assert revived.poll_option_added is not None


def _gift(stored: dict[str, Any], revived: Message) -> None:
    assert stored["gift"]["entities"] == UNMENTIONED
    assert revived.gift is not None and revived.gift.text == "张三 生日快乐"


def _rich(stored: dict[str, Any], revived: Message) -> None:
    (paragraph,) = stored["rich_message"]["blocks"]
    assert paragraph["text"] == [
        "看",
        {"type": "text_mention", "text": {"type": "bold", "text": "班长"}},
    ]
    assert revived.api_kwargs["rich_message"] == stored["rich_message"]  # PTB keeps it as is


def _giveaway_completed(stored: dict[str, Any], revived: Message) -> None:
    assert stored["giveaway_completed"] == {"winner_count": 2, "giveaway_message": IDS_ONLY}
    assert revived.giveaway_completed is not None


# The chat a friend's story was posted in: a private chat, named by the friend.
FRIENDS_CHAT = {**{k: FRIEND[k] for k in ("id", "first_name", "username")}, "type": "private"}
# A classmate's channel: named by them, as the chat their posts speak as.
FRIENDS_CHANNEL = {"id": -1_008_532_746, "type": "channel", "title": "张三丰的频道"}
# A channel's direct messages chat, and the topic a classmate opened in it.
DIRECT = {"id": -100_888, "type": "supergroup", "title": "团委私信", "is_direct_messages": True}
FRIENDS_TOPIC = {"topic_id": 77, "user": FRIEND}
CHANNEL = {"id": -100_999, "type": "channel", "title": "团委"}
# Another bot, a guest in the group, answering whoever called it.
GUEST_BOT = {"id": 556, "is_bot": True, "first_name": "百科", "username": "baike_bot"}
CALLED_BY_A_CLASSMATE = {
    "guest_bot_caller_user": FRIEND,
    "guest_bot_caller_chat": {**FRIENDS_CHANNEL, "username": "zhangsan_2010"},
}
UNIQUE_GIFT = {
    "gift_id": "u1",
    "base_name": "小熊",
    "name": "小熊-7",
    "number": 7,
    "model": {"name": "m", "sticker": GIFT["sticker"], "rarity_per_mille": 5},
    "symbol": {"name": "s", "sticker": GIFT["sticker"], "rarity_per_mille": 5},
    "backdrop": {
        "name": "b",
        "colors": {"center_color": 1, "edge_color": 2, "symbol_color": 3, "text_color": 4},
        "rarity_per_mille": 5,
    },
    "publisher_chat": FRIENDS_CHANNEL,
}


def _topic(stored: dict[str, Any], revived: Message) -> None:
    assert stored["direct_messages_topic"] == {"topic_id": 77}  # which topic, not who opened it
    assert revived.direct_messages_topic is not None
    assert revived.direct_messages_topic.topic_id == 77


def _guest_answer(stored: dict[str, Any], revived: Message) -> None:
    assert not [k for k in stored if k.startswith("guest_bot_caller")]
    assert revived.guest_bot_caller_user is None and revived.guest_bot_caller_chat is None
    assert revived.text == "张三 问的是东湖"


def _card_in_a_topic(stored: dict[str, Any], revived: Message) -> None:
    card = stored["reply_to_message"]
    assert {k: card[k] for k in CARD} == CARD  # the bot's own card: its header is read
    assert card["direct_messages_topic"] == {"topic_id": 77}
    assert not [k for k in card if k.startswith("guest_bot_caller")]
    replied = revived.reply_to_message
    assert replied is not None and replied.text == CARD["text"]


def _ticked_as_a_channel(stored: dict[str, Any], revived: Message) -> None:
    (task,) = stored["checklist"]["tasks"]
    assert "completed_by_chat" not in task and task["completion_date"] == DATE - 5
    assert revived.checklist is not None


def _added_as_a_channel(stored: dict[str, Any], revived: Message) -> None:
    option = stored["poll"]["options"][1]
    assert "added_by_chat" not in option and option["addition_date"] == DATE - 5
    assert revived.poll is not None and len(revived.poll.options) == 2


def _channels_giveaway(stored: dict[str, Any], revived: Message) -> None:
    assert stored["giveaway"]["chats"] == [GROUP]  # the group it is in, not the channel
    assert revived.giveaway is not None and revived.giveaway.winner_count == 2


def _channels_winners(stored: dict[str, Any], revived: Message) -> None:
    winners = stored["giveaway_winners"]
    assert "chat" not in winners and winners["winners"] == [ME]  # the sender won
    assert revived.giveaway_winners is not None and revived.giveaway_winners.chat.id == 0


def _published_gift(stored: dict[str, Any], revived: Message) -> None:
    (key,) = [k for k in ("gift", "gift_upgrade_sent", "unique_gift") if k in stored]
    assert "publisher_chat" not in stored[key]["gift"]  # the gift, not who published it
    assert getattr(revived, key) is not None


def _guest_message(stored: dict[str, Any], revived: Message) -> None:
    assert stored["reply_to_message"] == IDS_ONLY
    assert revived.text == "这是真的吗"


CASES: list[tuple[str, dict[str, Any], Check]] = [
    (
        "a forwarded message mentioning someone",
        {
            "message": _message(
                text="班长说周六在东湖公园集合",
                entities=[MENTION],
                forward_origin={"type": "user", "date": DATE - 600, "sender_user": WRITER},
                forward_from=WRITER,
                forward_date=DATE - 600,
            )
        },
        _forward,
    ),
    (
        "a caption mentioning someone",
        {
            "message": _message(
                photo=PHOTO,
                caption="班长拍的",
                caption_entities=[MENTION],
            )
        },
        _caption,
    ),
    ("a friend's contact", {"message": _message(contact=CONTACT)}, _contact),
    (
        "a reply to a classmate in a group",
        {"message": _message(GROUP, text="/queue", reply_to_message=CLASSMATES_MESSAGE)},
        _classmate_replied_to,
    ),
    (
        "a reply to the bot's card mentioning someone",
        {"message": _message(text="张三 周六下午", entities=[MENTION], reply_to_message=CARD)},
        _card_replied_to,
    ),
    (
        "a reply to a message in another chat",
        {
            "message": _message(
                text="这是真的吗",
                external_reply={
                    "origin": {"type": "user", "date": DATE - 900, "sender_user": FRIEND},
                    "chat": {"id": FRIEND["id"], "type": "private", "first_name": "张三丰"},
                    "message_id": 5,
                    "contact": CONTACT,
                },
            )
        },
        _external,
    ),
    (
        "users shared",
        {
            "message": _message(
                users_shared={
                    "request_id": 1,
                    "users": [{"user_id": FRIEND["id"], "first_name": "张三丰", "username": "x"}],
                }
            )
        },
        _shared_users,
    ),
    (
        "a chat shared",
        {
            "message": _message(
                chat_shared={
                    "request_id": 2,
                    "chat_id": -100777,
                    "title": "张三丰的群",
                    "username": "zhangsan_2010",
                }
            )
        },
        _shared_chat,
    ),
    (
        "a classmate added to a group",
        {"message": _message(GROUP, new_chat_members=[FRIEND, BOT])},
        _added,
    ),
    (
        "a classmate removed from a group",
        {"message": _message(GROUP, left_chat_member=FRIEND)},
        _removed,
    ),
    (
        "a classmate's message pinned",
        {"message": _message(GROUP, pinned_message=CLASSMATES_MESSAGE)},
        _pinned,
    ),
    (
        "a friend's story forwarded",
        {
            "message": _message(
                story={"chat": FRIENDS_CHAT, "id": 3},
                forward_origin={"type": "user", "date": DATE - 600, "sender_user": FRIEND},
            )
        },
        _story,
    ),
    (
        "a giveaway's winners announced",
        {
            "message": _message(
                GROUP,
                giveaway_winners={
                    "chat": GROUP,
                    "giveaway_message_id": 30,
                    "winners_selection_date": DATE - 60,
                    "winner_count": 2,
                    "winners": [FRIEND, WRITER],
                },
            )
        },
        _giveaway_won,
    ),
    (
        "a classmate's giveaway completed",
        {
            "message": _message(
                GROUP,
                giveaway_completed={"winner_count": 2, "giveaway_message": CLASSMATES_GIVEAWAY},
            )
        },
        _giveaway_completed,
    ),
    (
        "classmates invited to a video chat",
        {"message": _message(GROUP, video_chat_participants_invited={"users": [FRIEND, WRITER]})},
        _invited,
    ),
    (
        "a classmate's proximity alert triggered by the sender",
        {
            "message": _message(
                GROUP,
                proximity_alert_triggered={"traveler": ME, "watcher": FRIEND, "distance": 50},
            )
        },
        _near_a_classmate,
    ),
    (
        "the sender's proximity alert triggered by a classmate",
        {
            "message": _message(
                GROUP,
                proximity_alert_triggered={"traveler": FRIEND, "watcher": ME, "distance": 50},
            )
        },
        _near_a_classmate,
    ),
    (
        "a classmate made the group's owner",
        {"message": _message(GROUP, chat_owner_changed={"new_owner": FRIEND})},
        _new_owner,
    ),
    (
        "the group's owner left, a classmate to follow",
        {"message": _message(GROUP, chat_owner_left={"new_owner": FRIEND})},
        _owner_left,
    ),
    ("a poll mentioning someone", {"message": _message(GROUP, poll=POLL)}, _poll),
    (
        "a game mentioning someone",
        {
            "message": _message(
                GROUP,
                game={
                    "title": "答题",
                    "description": "答题",
                    "photo": PHOTO,
                    "text": "张三 得了一百分",
                    "text_entities": [MENTION],
                },
            )
        },
        _game,
    ),
    (
        "a checklist a classmate ticked",
        {
            "message": _message(
                GROUP,
                checklist={"title": "张三 的清单", "title_entities": [MENTION], "tasks": [TASK]},
            )
        },
        _checklist,
    ),
    (
        "tasks added to a classmate's checklist",
        {
            "message": _message(
                GROUP,
                checklist_tasks_added={
                    "checklist_message": {**IDS_ONLY, "from": FRIEND, "text": "张三丰"},
                    "tasks": [TASK],
                },
            )
        },
        _tasks_added,
    ),
    (
        "an option added to a classmate's poll",
        {
            "message": _message(
                GROUP,
                poll_option_added={
                    "poll_message": {**IDS_ONLY, "from": FRIEND, "poll": POLL},
                    "option_persistent_id": "3",
                    "option_text": "张三",
                    "option_text_entities": [MENTION],
                },
            )
        },
        _option_added,
    ),
    (
        "a gift with words mentioning someone",
        {
            "message": _message(
                gift={"gift": GIFT, "text": "张三 生日快乐", "entities": [MENTION]},
            )
        },
        _gift,
    ),
    (
        "a rich message mentioning someone",
        {
            "message": _message(
                rich_message={
                    "blocks": [
                        {
                            "type": "paragraph",
                            "text": [
                                "看",
                                {
                                    "type": "text_mention",
                                    "text": {"type": "bold", "text": "班长"},
                                    "user": FRIEND,
                                },
                            ],
                        }
                    ]
                }
            )
        },
        _rich,
    ),
    (
        "a channel's answer in the direct messages topic a classmate opened",
        {
            "message": _message(
                DIRECT,
                text="收到",
                sender_chat=CHANNEL,
                direct_messages_topic=FRIENDS_TOPIC,
                **{"from": {"id": 136_817_688, "is_bot": True, "first_name": "Channel"}},
            )
        },
        _topic,
    ),
    (
        "a guest bot's answer to a classmate",
        {
            "message": _message(
                GROUP,
                text="张三 问的是东湖",
                **{"from": GUEST_BOT},
                **CALLED_BY_A_CLASSMATE,
            )
        },
        _guest_answer,
    ),
    (
        "a reply to the bot's card in a classmate's topic, the bot a guest there",
        {
            "message": _message(
                DIRECT,
                text="周六",
                reply_to_message={
                    **CARD,
                    "direct_messages_topic": FRIENDS_TOPIC,
                    **CALLED_BY_A_CLASSMATE,
                },
            )
        },
        _card_in_a_topic,
    ),
    (
        "a checklist a classmate ticked as their channel",
        {
            "message": _message(
                GROUP,
                checklist={
                    "title": "清单",
                    "tasks": [
                        {
                            "id": 1,
                            "text": "买书",
                            "completed_by_chat": FRIENDS_CHANNEL,
                            "completion_date": DATE - 5,
                        }
                    ],
                },
            )
        },
        _ticked_as_a_channel,
    ),
    (
        "an option a classmate added to a poll as their channel",
        {
            "message": _message(
                GROUP,
                poll={
                    **POLL,
                    "question_entities": [],
                    "explanation_entities": [],
                    "description_entities": [],
                    "options": [
                        {"persistent_id": "1", "text": "周六", "voter_count": 0},
                        {
                            "persistent_id": "2",
                            "text": "周日",
                            "voter_count": 0,
                            "added_by_chat": FRIENDS_CHANNEL,
                            "addition_date": DATE - 5,
                        },
                    ],
                },
            )
        },
        _added_as_a_channel,
    ),
    (
        "a classmate's channel's giveaway forwarded",
        {
            "message": _message(
                GROUP,
                giveaway={
                    "chats": [FRIENDS_CHANNEL, GROUP],
                    "winners_selection_date": DATE + 60,
                    "winner_count": 2,
                },
                forward_origin={
                    "type": "channel",
                    "date": DATE - 600,
                    "chat": FRIENDS_CHANNEL,
                    "message_id": 3,
                },
            )
        },
        _channels_giveaway,
    ),
    (
        "a classmate's channel's giveaway won",
        {
            "message": _message(
                giveaway_winners={
                    "chat": FRIENDS_CHANNEL,
                    "giveaway_message_id": 3,
                    "winners_selection_date": DATE - 60,
                    "winner_count": 1,
                    "winners": [ME],
                },
            )
        },
        _channels_winners,
    ),
    (
        "a gift a classmate's channel published",
        {"message": _message(gift={"gift": {**GIFT, "publisher_chat": FRIENDS_CHANNEL}})},
        _published_gift,
    ),
    (
        "a gift's upgrade, the gift a classmate's channel's",
        {
            "message": _message(
                gift_upgrade_sent={"gift": {**GIFT, "publisher_chat": FRIENDS_CHANNEL}}
            )
        },
        _published_gift,
    ),
    (
        "a unique gift a classmate's channel published",
        {"message": _message(unique_gift={"gift": UNIQUE_GIFT, "origin": "upgrade"})},
        _published_gift,
    ),
    (
        "a guest message replying to a classmate",
        {
            "guest_message": _message(
                GROUP, text="这是真的吗", guest_query_id="gq1", reply_to_message=CLASSMATES_MESSAGE
            )
        },
        _guest_message,
    ),
    (
        "an edited message mentioning someone",
        {"edited_message": _message(text="班长说", entities=[MENTION], edit_date=DATE + 5)},
        lambda stored, _revived: None,
    ),
]


def _update(payload: dict[str, Any]) -> Update:
    update = Update.de_json({"update_id": 7, **payload}, None)
    assert update is not None
    return update


def _leaks(payload: Any) -> list[str]:
    text = json.dumps(payload, ensure_ascii=False)
    return [leaked for leaked in THIRD_PARTY if leaked in text]


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.mark.parametrize(("case", "payload", "check"), CASES, ids=[c[0] for c in CASES])
async def test_an_update_is_stored_without_third_parties_and_still_handled_alike(
    sessions: async_sessionmaker[AsyncSession],
    case: str,
    payload: dict[str, Any],
    check: Check,
) -> None:
    update = _update(payload)
    assert _leaks(update.to_dict()), "the case carries no third party"
    async with unit_of_work(sessions) as session:
        assert await inbox.store(session, update) is not None
    async with sessions() as session:
        row = await session.scalar(select(InboundMessage))
    assert row is not None and row.status == INBOUND_RECEIVED  # not handled yet
    assert _leaks(row.payload) == [], case
    # What the edge stores once it is handled holds none either.
    assert _leaks(inbox.unquoted(update) or {}) == [], case
    assert _leaks(inbox.strip_quotes(update.to_dict())) == [], case
    # A crash or a requeue rebuilds the update from the row: handled as it would have been.
    revived = Update.de_json(inbox.readable(row.payload), None)
    assert revived is not None and revived.effective_message is not None
    assert inbox.fingerprint(revived) == inbox.fingerprint(update)
    (key,) = payload
    check(row.payload[key], revived.effective_message)
    assert _leaks(inbox.unquoted(revived) or {}) == [], case


async def test_a_press_under_the_bot_reply_to_a_forward_is_stored_without_its_writer(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Telegram sends the pressed message with the message it replied to: a young
    person's forwarded message, whose origin names its first writer."""
    forwarded = _message(
        text="班长说周六集合",
        entities=[MENTION],
        forward_origin={"type": "user", "date": DATE - 600, "sender_user": WRITER},
        forward_from=WRITER,
        forward_date=DATE - 600,
    )
    pressed = {**CARD, "message_id": 42, "reply_to_message": forwarded}
    query = {"id": "q1", "from": ME, "chat_instance": "c", "data": "v1:hum:1", "message": pressed}
    update = _update({"callback_query": query})
    async with unit_of_work(sessions) as session:
        assert await inbox.store(session, update) is not None
    async with sessions() as session:
        stored = await session.scalar(select(InboundMessage.payload))
    assert stored is not None and _leaks(stored) == []
    message = stored["callback_query"]["message"]
    assert message["text"] == CARD["text"]  # the bot's own message stays
    assert message["reply_to_message"] == {"message_id": 41, "date": DATE, "chat": CHAT}
    revived = Update.de_json(inbox.readable(stored), None)
    assert revived is not None and revived.callback_query is not None
    assert revived.callback_query.data == "v1:hum:1"


KEPT: list[tuple[str, dict[str, Any]]] = [
    # Who joined a group by themselves is the sender.
    ("new_chat_members", _message(GROUP, new_chat_members=[ME])),
    # A bot, not a person; the sender chose it.
    ("via_bot", _message(text="天气", via_bot={"id": 555, "is_bot": True, "first_name": "天气"})),
    # The sender themselves, speaking as their channel or as the group (anonymous admin).
    ("sender_chat", _message(GROUP, text="/queue", sender_chat=GROUP)),
    # The topic the sender opened in a channel's direct messages chat: theirs.
    (
        "direct_messages_topic",
        _message(DIRECT, text="你好", direct_messages_topic={"topic_id": 77, "user": ME}),
    ),
    # A giveaway's winners announced in the group it ran in: the group is the message's.
    (
        "giveaway_winners",
        _message(
            GROUP,
            giveaway_winners={
                "chat": GROUP,
                "giveaway_message_id": 30,
                "winners_selection_date": DATE - 60,
                "winner_count": 1,
                "winners": [ME],
            },
        ),
    ),
    # Words of the bot's card replied to, formatting only: dropped once handled.
    (
        "quote",
        _message(text="这个呢", reply_to_message=CARD, quote={"text": "问题 #12", "position": 3}),
    ),
]


@pytest.mark.parametrize(("field", "message"), KEPT, ids=[k[0] for k in KEPT])
async def test_what_names_no_third_party_is_stored_as_sent(
    sessions: async_sessionmaker[AsyncSession], field: str, message: dict[str, Any]
) -> None:
    update = _update({"message": message})
    async with unit_of_work(sessions) as session:
        assert await inbox.store(session, update) is not None
    async with sessions() as session:
        stored = await session.scalar(select(InboundMessage.payload))
    assert stored is not None
    assert stored["message"][field] == update.to_dict()["message"][field]
