"""inbound_messages: a stored update keeps no third party left by 0018 and 0020 either.
The rows stored before kept, handled or not: who opened the topic of a channel's direct
messages chat a message is in (direct_messages_topic.user), whom a guest bot's message
answered (guest_bot_caller_user and guest_bot_caller_chat), a chat that ticked a
checklist's task or added a poll's option, chats other than the message's own in a
giveaway or its winners and a gift's publisher, in a message or in the bot's own message
it quotes; and a guest_message was not stripped at all. Each row loses them as
bot.services.inbox stores an update now (the topic's id stays); a row not yet handled can
still be handled (inbox.readable).

Revision ID: 0021_topics_callers_chats
Revises: 0020_third_parties_in_parts
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0021_topics_callers_chats"
down_revision = "0020_third_parties_in_parts"
branch_labels = None
depends_on = None

# As bot.services.inbox stores an update (copied here: a migration must not change when
# the application's code does).
_ORIGIN_KEPT = frozenset({"type", "date"})
# A forward told the old way, which Telegram still sends beside forward_origin (no longer
# in the Bot API's description; PTB keeps them as api_kwargs and to_dict() writes them
# back): dropped, but for forward_date.
_LEGACY_FORWARD = (
    "forward_from",
    "forward_from_chat",
    "forward_from_message_id",
    "forward_signature",
    "forward_sender_name",
)
_HOLDS_MESSAGE = ("reply_to_message", "pinned_message")
_ENTITIES = ("entities", "caption_entities")
_IDS = frozenset({"message_id", "date", "chat"})
_CHAT_SHARED_KEPT = frozenset({"request_id", "chat_id"})
# A story forwarded or replied to: its chat is the poster's (a friend's private chat).
_STORIES = ("story", "reply_to_story")
# Entities in a part of a message (a poll's question, explanation and description, a
# game's text, a checklist's title, a gift's words, a poll's option added or deleted).
_ENTITIES_IN = (
    ("poll", "question_entities"),
    ("poll", "explanation_entities"),
    ("poll", "description_entities"),
    ("game", "text_entities"),
    ("checklist", "title_entities"),
    ("gift", "entities"),
    ("gift_upgrade_sent", "entities"),
    ("poll_option_added", "option_text_entities"),
    ("poll_option_deleted", "option_text_entities"),
)
# Items of a part (a poll's options, a checklist's tasks): their entities, and who added
# or ticked them (a user, or a chat).
_ITEMS_IN = (("poll", "options"), ("checklist", "tasks"), ("checklist_tasks_added", "tasks"))
_ITEM_USERS = ("added_by_user", "completed_by_user")
_ITEM_CHATS = ("added_by_chat", "completed_by_chat")
# Users a service message names beside its sender: in a list, or one each (of these,
# inbox.readable fills in blank those PTB requires).
_USER_LISTS_IN = (("video_chat_participants_invited", "users"), ("giveaway_winners", "winners"))
_USERS_IN = (
    ("proximity_alert_triggered", "traveler"),
    ("proximity_alert_triggered", "watcher"),
    ("chat_owner_changed", "new_owner"),
    ("chat_owner_left", "new_owner"),
    ("direct_messages_topic", "user"),
)
# Whom a guest bot's message answers: a user, or a chat.
_CALLER_USER, _CALLER_CHAT = "guest_bot_caller_user", "guest_bot_caller_chat"
# Chats a part names: in a list, or one (inbox.readable fills in the one PTB requires).
_CHAT_LISTS_IN = (("giveaway", "chats"),)
_CHATS_IN = (("giveaway_winners", "chat"),)
# Parts holding a gift, whose publisher is a chat.
_GIFTS = ("gift", "gift_upgrade_sent", "unique_gift")
# A message held in a service message, which is about it.
_HOLDS_MESSAGE_IN = (
    ("giveaway_completed", "giveaway_message"),
    ("checklist_tasks_done", "checklist_message"),
    ("checklist_tasks_added", "checklist_message"),
    ("poll_option_added", "poll_message"),
    ("poll_option_deleted", "poll_message"),
    ("suggested_post_approved", "suggested_post_message"),
    ("suggested_post_approval_failed", "suggested_post_message"),
    ("suggested_post_declined", "suggested_post_message"),
    ("suggested_post_paid", "suggested_post_message"),
    ("suggested_post_refunded", "suggested_post_message"),
)
# Where an update holds a message.
_MESSAGES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
    "guest_message",
)
# A row holds one of these only if its text has one of these keys (0018 and 0020 stripped
# the other people a message carries elsewhere, but in a guest_message).
_MARKERS = (
    '"direct_messages_topic"',
    '"guest_bot_caller_',
    '"completed_by_chat"',
    '"added_by_chat"',
    '"giveaway"',
    '"giveaway_winners"',
    '"publisher_chat"',
    '"guest_message"',
)
# Each batch is a range of this many ids, from the next stored one, which reads its own
# rows once: a filter on the text with ORDER BY id LIMIT made PostgreSQL read and sort all
# the rows after the previous batch (or the whole table) for each batch.
_STEP = 10_000

_inbound = sa.table(
    "inbound_messages",
    sa.column("id", sa.Integer),
    sa.column("payload", sa.JSON),
)


def _is_bot(user: Any) -> bool:
    return isinstance(user, dict) and bool(user.get("is_bot"))


def _unmentioned(entities: Any) -> list[Any] | None:
    """``entities`` without the users they mention; None if they mention nobody."""
    if not isinstance(entities, list) or not any(
        isinstance(e, dict) and "user" in e for e in entities
    ):
        return None
    return [
        {k: v for k, v in e.items() if k != "user"} if isinstance(e, dict) else e for e in entities
    ]


def _rich_unmentioned(text: Any) -> Any:
    """A rich message's text (blocks of texts in texts) without the users it mentions."""
    if isinstance(text, list):
        return [_rich_unmentioned(t) for t in text]
    if not isinstance(text, dict):
        return text
    mention = text.get("type") == "text_mention"
    return {k: _rich_unmentioned(v) for k, v in text.items() if not (mention and k == "user")}


def _held_without_others(held: dict[str, Any]) -> dict[str, Any] | None:
    """A message held in another one (replied to, pinned, …) without the other people it
    carries: the bot's own without them, any other reduced to its ids; None if it carries
    none."""
    if _is_bot(held.get("from")):
        return _without_others_in(held)
    return None if set(held) <= _IDS else {k: v for k, v in held.items() if k in _IDS}


def _in_part(message: dict[str, Any], key: str, name: str) -> Any:
    """``message[key][name]``, if there is one."""
    part = message.get(key)
    return part.get(name) if isinstance(part, dict) else None


def _item_without_others(
    item: Any, own: Callable[[Any], bool], own_chat: Callable[[Any], bool]
) -> Any:
    """A poll's option or a checklist's task without the users and chats it names but
    ``own`` and ``own_chat`` ones."""
    if not isinstance(item, dict):
        return item
    out = {
        k: v
        for k, v in item.items()
        if (k not in _ITEM_USERS or own(v)) and (k not in _ITEM_CHATS or own_chat(v))
    }
    if (entities := _unmentioned(item.get("text_entities"))) is not None:
        out["text_entities"] = entities
    return out


def _parts_without_others(
    message: dict[str, Any], own: Callable[[Any], bool], own_chat: Callable[[Any], bool]
) -> dict[str, dict[str, Any]]:
    """The parts of ``message`` (a poll, a game, a checklist, a service message's content)
    that carry other people than ``own`` ones, or other chats than ``own_chat`` ones,
    without them."""
    changed: dict[str, dict[str, Any]] = {}

    def change(key: str, name: str, value: Any) -> None:
        changed[key] = {**changed.get(key, message[key]), name: value}

    def drop(key: str, name: str) -> None:
        changed[key] = {k: v for k, v in changed.get(key, message[key]).items() if k != name}

    for key, name in _ENTITIES_IN:
        if (entities := _unmentioned(_in_part(message, key, name))) is not None:
            change(key, name, entities)
    for key, name in _ITEMS_IN:
        items = _in_part(message, key, name)
        if isinstance(items, list):
            clean = [_item_without_others(item, own, own_chat) for item in items]
            if clean != items:
                change(key, name, clean)
    for key, name in _HOLDS_MESSAGE_IN:
        held = _in_part(message, key, name)
        if isinstance(held, dict) and (inner := _held_without_others(held)) is not None:
            change(key, name, inner)
    for lists, singles, kept in (
        (_USER_LISTS_IN, _USERS_IN, own),
        (_CHAT_LISTS_IN, _CHATS_IN, own_chat),
    ):
        for key, name in lists:
            found = _in_part(message, key, name)
            if isinstance(found, list) and not all(kept(x) for x in found):
                change(key, name, [x for x in found if kept(x)])
        for key, name in singles:
            one = _in_part(message, key, name)
            if one is not None and not kept(one):
                drop(key, name)
    for key in _GIFTS:
        gift = _in_part(message, key, "gift")
        if (
            isinstance(gift, dict)
            and "publisher_chat" in gift
            and not own_chat(gift["publisher_chat"])
        ):
            change(key, "gift", {k: v for k, v in gift.items() if k != "publisher_chat"})
    return changed


def _without_others_in(message: dict[str, Any]) -> dict[str, Any] | None:
    """``message`` without the other people it carries; None if it carries none."""
    changed: dict[str, Any] = {}
    origin = message.get("forward_origin")
    if isinstance(origin, dict) and not set(origin) <= _ORIGIN_KEPT:
        changed["forward_origin"] = {k: v for k, v in origin.items() if k in _ORIGIN_KEPT}
    for key in _ENTITIES:
        if (entities := _unmentioned(message.get(key))) is not None:
            changed[key] = entities
    if isinstance(message.get("contact"), dict) and message["contact"]:
        changed["contact"] = {}
    rich = message.get("rich_message")
    if rich is not None and (plain := _rich_unmentioned(rich)) != rich:
        changed["rich_message"] = plain
    for key in _HOLDS_MESSAGE:
        held = message.get(key)
        if isinstance(held, dict) and (inner := _held_without_others(held)) is not None:
            changed[key] = inner
    for key in _STORIES:
        story = message.get(key)
        if isinstance(story, dict) and "chat" in story:
            changed[key] = {k: v for k, v in story.items() if k != "chat"}
    shared = message.get("users_shared")
    if isinstance(shared, dict) and shared.get("users"):
        changed["users_shared"] = {"request_id": shared.get("request_id"), "users": []}
    chat = message.get("chat_shared")
    if isinstance(chat, dict) and not set(chat) <= _CHAT_SHARED_KEPT:
        changed["chat_shared"] = {k: v for k, v in chat.items() if k in _CHAT_SHARED_KEPT}
    sender = message.get("from")
    sender_id = sender.get("id") if isinstance(sender, dict) else None

    def own(user: Any) -> bool:
        return _is_bot(user) or (isinstance(user, dict) and user.get("id") == sender_id)

    # The chat the message is in, and the chat its sender speaks as.
    chat_ids = {
        c.get("id")
        for c in (message.get("chat"), message.get("sender_chat"))
        if isinstance(c, dict)
    } - {None}

    def own_chat(chat: Any) -> bool:
        return isinstance(chat, dict) and chat.get("id") in chat_ids

    members = message.get("new_chat_members")
    if isinstance(members, list) and not all(own(m) for m in members):
        changed["new_chat_members"] = [m for m in members if own(m)]
    changed.update(_parts_without_others(message, own, own_chat))
    dropped = [k for k in (*_LEGACY_FORWARD, "external_reply") if k in message]
    if "left_chat_member" in message and not own(message["left_chat_member"]):
        dropped.append("left_chat_member")
    if _CALLER_USER in message and not own(message[_CALLER_USER]):
        dropped.append(_CALLER_USER)
    if _CALLER_CHAT in message and not own_chat(message[_CALLER_CHAT]):
        dropped.append(_CALLER_CHAT)
    if not changed and not dropped:
        return None
    out = {k: v for k, v in message.items() if k not in dropped}
    out.update(changed)
    return out


def _without_others(payload: dict[str, Any]) -> dict[str, Any] | None:
    """``payload`` without the other people its messages carry; None if they carry none."""
    out: dict[str, Any] | None = None
    for key in _MESSAGES:
        message = payload.get(key)
        if isinstance(message, dict) and (clean := _without_others_in(message)) is not None:
            out = dict(payload) if out is None else out
            out[key] = clean
    query = payload.get("callback_query")
    if isinstance(query, dict):
        pressed = query.get("message")
        if isinstance(pressed, dict) and (clean := _without_others_in(pressed)) is not None:
            out = dict(payload) if out is None else out
            out["callback_query"] = {**query, "message": clean}
    return out


def upgrade() -> None:
    """Apply this revision: strip the third parties 0018 and 0020 left from every stored
    update, in batches."""
    bind = op.get_bind()
    text = sa.cast(_inbound.c.payload, sa.Text)
    carries = sa.or_(*(text.like(f"%{marker}%") for marker in _MARKERS))
    first = sa.select(sa.func.min(_inbound.c.id))
    start = bind.scalar(first.where(_inbound.c.id > 0))
    while start is not None:
        end = start + _STEP
        rows = bind.execute(
            sa.select(_inbound.c.id, _inbound.c.payload)
            .where(_inbound.c.id >= start, _inbound.c.id < end, carries)
            .order_by(_inbound.c.id)
        ).all()
        for row_id, payload in rows:
            if isinstance(payload, dict) and (clean := _without_others(payload)) is not None:
                bind.execute(
                    sa.update(_inbound).where(_inbound.c.id == row_id).values(payload=clean)
                )
        start = bind.scalar(first.where(_inbound.c.id >= end))


def downgrade() -> None:
    """Revert this revision: nothing to undo (what was stripped is gone; the older code
    reads handled rows as they are, and those not yet handled only with this code's
    inbox.readable)."""
