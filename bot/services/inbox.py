"""The inbound log: every update is stored on arrival, before anything can fail."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, cast, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update

from bot.services import conversations
from storage.base import utcnow
from storage.db import insert_for
from storage.models import (
    INBOUND_FAILED,
    INBOUND_HANDLED,
    INBOUND_RECEIVED,
    INBOUND_REQUEUED,
    InboundMessage,
)

# Message attributes, most specific first, that name what kind of message arrived.
_MESSAGE_KINDS = (
    "photo",
    "sticker",
    "voice",
    "video",
    "video_note",
    "audio",
    "document",
    "animation",
    "location",
    "contact",
    "poll",
)


def message_kind(message: Message) -> str:
    """Classify a message as command, text, photo, sticker, … or other."""
    if message.text is not None:
        return "command" if message.text.startswith("/") else "text"
    return next((kind for kind in _MESSAGE_KINDS if getattr(message, kind, None)), "other")


def reads(update: Update) -> bool:
    """Whether the bot reads ``update``: a message of any kind, or a button press.

    Other kinds (reactions, member changes, poll answers, join requests, …) it never asks
    Telegram for (``bot.runner.ALLOWED_UPDATES``): they name people who did not write to
    the bot. If one comes anyway (``allowed_updates`` set by hand, or left from an earlier
    deployment), only that it came is recorded: its id and its kind, nobody's id or name.
    """
    return update.callback_query is not None or update.effective_message is not None


def update_type(update: Update) -> str:
    """The kind of ``update`` as Telegram names it: message, callback_query, …"""
    return next((kind for kind in Update.ALL_TYPES if getattr(update, kind, None)), "other")


def describe(update: Update) -> tuple[str, str | None]:
    """Return the kind of an update and the text it carries, if any."""
    if update.callback_query is not None:
        return "callback", update.callback_query.data
    message = update.effective_message
    if message is not None:
        return message_kind(message), message.text if message.text is not None else message.caption
    return update_type(update), None


def fingerprint(update: Update) -> str:
    """Identify a delivery of ``update``: the same for a redelivery, new for a new update.

    Telegram re-sends an update with the same ``update_id`` when a webhook answer was not
    2xx or came too late, so the id is the heart of the key. The date (of the message, or
    of a member update) and the id of a query tell a redelivery from a new update that
    reuses an old id, as Telegram does after a quiet week.
    """
    message = update.effective_message
    payload = next(
        (getattr(update, kind) for kind in Update.ALL_TYPES if getattr(update, kind, None)), None
    )
    dated = message if message is not None else payload
    moment = getattr(dated, "date", None)
    date = int(moment.timestamp()) if moment else ""
    # Queries (callback, inline, shipping, pre-checkout) and polls carry their own id.
    ident = "" if payload is None or payload is message else getattr(payload, "id", "")
    # An update the bot does not read keeps no chat: a private chat's id is a person's.
    chat = update.effective_chat.id if update.effective_chat and reads(update) else ""
    message_id = message.message_id if message is not None else ""
    return f"{update.update_id}:{chat}:{message_id}:{date}:{ident}"[:96]


def anonymous_fingerprint(key: str) -> str:
    """``key`` without its chat id, as /forget leaves it (the rest still spots a redelivery)."""
    update_id, _chat, rest = [*key.split(":", 2), "", ""][:3]
    return f"{update_id}:-:{rest}"


_ROW_COLUMNS = (
    "update_id",
    "fingerprint",
    "telegram_user_id",
    "chat_id",
    "message_id",
    "kind",
    "text",
    "payload",
    "status",
    "received_at",
)

_BY_FINGERPRINT = select(InboundMessage.id, InboundMessage.status).where(
    InboundMessage.fingerprint == bindparam("fingerprint")
)
_MARK_DONE = (
    update(InboundMessage)
    .where(
        InboundMessage.id == bindparam("inbound_id"),
        InboundMessage.status == INBOUND_RECEIVED,
    )
    .values(
        status=bindparam("new_status"), error=bindparam("new_error"), handled_at=bindparam("at")
    )
    .execution_options(synchronize_session=False)
)


# What is kept of a message an update quotes (the bot's card a cadre replied to, the
# message under a pressed button) once the update is handled: enough to know which
# message it was, never its text. The text may be a young person's question (masked) or
# name: kept, it would outlive their /forget in a staff member's row.
_QUOTE_KEPT = frozenset({"message_id", "date", "chat", "from"})


# Fields of a message that hold another message (kept as its ids), or part of one (a
# reply's quoted words, a reply to a message elsewhere: dropped).
_HOLDS_MESSAGE = ("reply_to_message", "pinned_message")
_HOLDS_PART = ("quote", "external_reply")


# Other people an update carries, beside its sender. What a young person sends may name
# them; the inbound log keeps what handling reads of them, never who they are, from the
# moment the update is stored (a row waiting to be handled, or failed, is no exception):
# - a forward's origin: that it was forwarded, from what kind of sender, and when; who
#   first wrote it (a user, their name, a group or channel, a signature) is not kept;
# - a text_mention entity (someone mentioned by their account): where it stands in the
#   text, not the User object; in a caption, a poll, a game, a checklist, a gift's words
#   or a rich message's text (a text_mention of its own there, at any depth) alike;
# - a story forwarded or replied to: its id, not its chat (the poster's private chat);
# - a shared contact: that it was one ({}), not its name, number, vcard or user id (the
#   bot answers every contact alike);
# - a message replied to or pinned that is no bot's (a classmate's, in a group): its ids
#   (only the bot's own card is read further, for its ticket);
# - a reply to a message in another chat (external_reply): dropped; its origin names
#   that message's sender, and nothing here reads it;
# - users shared (a keyboard request, which the bot never makes): their request id; a
#   chat shared: its request id and chat id;
# - a member someone else added to a group or removed from it: dropped (one who joined
#   or left by themselves is the sender);
# - people a service message names beside its sender (classmates invited to a video
#   chat, a giveaway's winners, the other person of a proximity alert, the group's next
#   owner), who added a poll's option or ticked a checklist's task (as themselves or as a
#   chat), who opened the topic of a channel's direct messages chat the message is in
#   (its topic id stays), and whom a guest bot's message answers (guest_bot_caller_user
#   and _chat): dropped, but for the sender (and the message's own chat);
# - chats other than the message's own and the sender's, in a giveaway (those to join,
#   the one that ran it: as a forward's origin would name it) and as a gift's publisher:
#   dropped;
# - a message a service message is about (a giveaway completed, a checklist's tasks done
#   or added, a poll's option added or deleted, a suggested post): as replied to, above.
# A guest_message (sent to the bot as a guest in a chat) is stripped as any message.
# Kept as they come: via_bot (a bot, not a person), sender_chat (the sender speaking as
# their channel or as the group) and quote (words of the message replied to, formatting
# only; dropped once handled, above).
# PTB cannot read some of these back as they are stored: :func:`readable` fills blanks in.
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
# Users a service message names beside its sender: in a list, or one each; of these PTB
# requires some (:func:`readable` fills them in blank).
_USER_LISTS_IN = (("video_chat_participants_invited", "users"), ("giveaway_winners", "winners"))
_REQUIRED_USERS_IN = (
    ("proximity_alert_triggered", "traveler"),
    ("proximity_alert_triggered", "watcher"),
    ("chat_owner_changed", "new_owner"),
)
_USERS_IN = (
    *_REQUIRED_USERS_IN,
    ("chat_owner_left", "new_owner"),
    ("direct_messages_topic", "user"),
)
# Whom a guest bot's message answers: a user, or a chat.
_CALLER_USER, _CALLER_CHAT = "guest_bot_caller_user", "guest_bot_caller_chat"
# Chats a part names: in a list, or one (PTB requires it: :func:`readable` fills it in).
_CHAT_LISTS_IN = (("giveaway", "chats"),)
_REQUIRED_CHATS_IN = (("giveaway_winners", "chat"),)
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
        (_CHAT_LISTS_IN, _REQUIRED_CHATS_IN, own_chat),
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


# What PTB requires of what is stored without it, to read a stored update back (after a
# crash, or requeued): blanks, in memory only. Handled, the update is stored reduced again.
_USER_BLANK = {"id": 0, "is_bot": False, "first_name": ""}
_ORIGIN_BLANKS: dict[str, dict[str, Any]] = {
    "user": {"sender_user": _USER_BLANK},
    "hidden_user": {"sender_user_name": ""},
    "chat": {"sender_chat": {"id": 0, "type": "group"}},
    "channel": {"chat": {"id": 0, "type": "channel"}, "message_id": 0},
}
_CONTACT_BLANKS = {"phone_number": "", "first_name": ""}
_STORY_CHAT_BLANK = {"id": 0, "type": "private"}
_CHAT_BLANK = {"id": 0, "type": "channel"}


def _filled(message: dict[str, Any]) -> dict[str, Any] | None:
    out: dict[str, Any] | None = None
    origin = message.get("forward_origin")
    if isinstance(origin, dict):
        blanks = _ORIGIN_BLANKS.get(str(origin.get("type")), {})
        if missing := {k: v for k, v in blanks.items() if k not in origin}:
            out = {**message, "forward_origin": {**origin, **missing}}
    for key in _STORIES:
        story = message.get(key)
        if isinstance(story, dict) and "chat" not in story:
            out = {**(out or message), key: {**story, "chat": _STORY_CHAT_BLANK}}
    contact = message.get("contact")
    if isinstance(contact, dict) and not set(_CONTACT_BLANKS) <= set(contact):
        out = {**(out or message), "contact": {**_CONTACT_BLANKS, **contact}}
    for key in _HOLDS_MESSAGE:
        held = message.get(key)
        if isinstance(held, dict) and (inner := _filled(held)) is not None:
            out = {**(out or message), key: inner}
    for key, name in _REQUIRED_USERS_IN:
        part = (out or message).get(key)
        if isinstance(part, dict) and name not in part:
            out = {**(out or message), key: {**part, name: _USER_BLANK}}
    for key, name in _REQUIRED_CHATS_IN:
        part = (out or message).get(key)
        if isinstance(part, dict) and name not in part:
            out = {**(out or message), key: {**part, name: _CHAT_BLANK}}
    return out


def readable(payload: dict[str, Any]) -> dict[str, Any]:
    """A stored update's payload as PTB can read it back: a forward's origin, a contact,
    a story, a service message and a giveaway's winners, stored without who they name, get
    the blank fields PTB requires."""
    out = dict(payload)
    for key in _MESSAGES:
        message = out.get(key)
        if isinstance(message, dict) and (filled := _filled(message)) is not None:
            out[key] = filled
    query = out.get("callback_query")
    if isinstance(query, dict):
        pressed = query.get("message")
        if isinstance(pressed, dict) and (filled := _filled(pressed)) is not None:
            out["callback_query"] = {**query, "message": filled}
    return out


def _without_quotes(message: dict[str, Any]) -> dict[str, Any] | None:
    if not any(isinstance(message.get(k), dict) for k in (*_HOLDS_MESSAGE, *_HOLDS_PART)):
        return None
    out = {k: v for k, v in message.items() if k not in _HOLDS_PART}
    for key in _HOLDS_MESSAGE:
        if isinstance(message.get(key), dict):
            out[key] = {k: v for k, v in message[key].items() if k in _QUOTE_KEPT}
    return out


def _unquoted(payload: dict[str, Any]) -> dict[str, Any] | None:
    """``payload`` without other people, and with the messages it quotes reduced to their
    ids; None if it has neither."""
    clean = _without_others(payload)
    changed = clean is not None
    out = dict(payload if clean is None else clean)
    for key in ("message", "edited_message"):
        message = out.get(key)
        if isinstance(message, dict) and (stripped := _without_quotes(message)) is not None:
            out[key] = stripped
            changed = True
    query = out.get("callback_query")
    if isinstance(query, dict) and isinstance(query.get("message"), dict):
        pressed = query["message"]
        out["callback_query"] = {
            **query,
            "message": {k: v for k, v in pressed.items() if k in _QUOTE_KEPT},
        }
        changed = True
    return out if changed else None


def strip_quotes(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with the messages it quotes reduced to their ids."""
    return _unquoted(payload) or payload


def quoted_texts(payload: dict[str, Any]) -> list[str]:
    """The texts and captions of the messages ``payload`` quotes, whole or in part."""
    quoted = []
    for key in ("message", "edited_message"):
        message = payload.get(key)
        if isinstance(message, dict):
            quoted += [message.get(k) for k in (*_HOLDS_MESSAGE, *_HOLDS_PART)]
    query = payload.get("callback_query")
    if isinstance(query, dict):
        quoted.append(query.get("message"))
    return [
        str(q[k]) for q in quoted if isinstance(q, dict) for k in ("text", "caption") if q.get(k)
    ]


def unquoted(update: Update) -> dict[str, Any] | None:
    """The stored form of a handled ``update`` that quotes a message (a reply, a button
    press) or forwards one: its payload without the quoted text, and like every stored
    update without the other people it carries (the forwarded message's original sender,
    in forward_origin or the legacy forward_* fields, among them); None for one that does
    neither (it stays as it was stored)."""
    message = update.effective_message
    if update.callback_query is None and (
        message is None
        or (
            message.reply_to_message is None
            and message.pinned_message is None
            and message.quote is None
            and message.external_reply is None
            and message.forward_origin is None
            and not any(k in message.api_kwargs for k in _LEGACY_FORWARD)
        )
    ):
        return None
    return _unquoted(update.to_dict())


def _stored_payload(update: Update) -> dict[str, Any]:
    """``update`` as the inbound log stores it on arrival: without the other people it
    carries (see above), all that handling it reads kept (:func:`readable`); of an update
    the bot does not read (:func:`reads`), only its id."""
    if not reads(update):
        return {"update_id": update.update_id}
    payload = update.to_dict()
    return _without_others(payload) or payload


def _sender_and_chat(update: Update) -> tuple[int | None, int | None]:
    """The ids of ``update``'s sender and chat as stored: none for one the bot does not
    read (:func:`reads`)."""
    if not reads(update):
        return None, None
    user, chat = update.effective_user, update.effective_chat
    return (user.id if user else None), (chat.id if chat else None)


def _row_values(update: Update) -> dict[str, Any]:
    kind, text = describe(update)
    message = update.effective_message
    sender, chat = _sender_and_chat(update)
    return {
        "update_id": update.update_id,
        "fingerprint": fingerprint(update),
        "telegram_user_id": sender,
        "chat_id": chat,
        "message_id": message.message_id if message else None,
        "kind": kind,
        "text": text,
        "payload": _stored_payload(update),
        "status": INBOUND_RECEIVED,
        "received_at": utcnow(),
    }


# The hot statements are built once (per dialect), not per update: building and keying
# a statement cost more than running it (issue 7's load benchmark).
_STORE_STATEMENTS: dict[Any, Any] = {}


def _store_statement(insert: Any) -> Any:
    """Insert the row unless this delivery is stored already, under its own key or under
    the anonymous key /forget left it with: one statement."""
    statement = _STORE_STATEMENTS.get(insert)
    if statement is None:
        table = InboundMessage.__table__
        forgotten = exists().where(table.c.fingerprint == bindparam("anonymous"))
        row = select(
            *(
                bindparam(f"v_{name}", type_=table.c[name].type).label(name)
                for name in _ROW_COLUMNS
            )
        ).where(~forgotten)
        # On the table, not the entity: an ORM insert given parameters is a bulk insert.
        statement = (
            insert(table)
            .from_select(list(_ROW_COLUMNS), row)
            .on_conflict_do_nothing(index_elements=[table.c.fingerprint])
            .returning(table.c.id)
        )
        _STORE_STATEMENTS[insert] = statement
    return statement


async def store(session: AsyncSession, update: Update) -> int | None:
    """Store ``update``; return its new row's id, or None if this delivery was stored before.

    A concurrent insert of the same delivery (another instance) loses quietly, and so
    does a redelivery of an update stored before its sender used /forget.
    """
    values = _row_values(update)
    parameters = {f"v_{name}": value for name, value in values.items()}
    parameters["anonymous"] = anonymous_fingerprint(values["fingerprint"])
    new_id: int | None = await session.scalar(_store_statement(insert_for(session)), parameters)
    return new_id


def _storable(text: str | None) -> str | None:
    """``text`` with what no database can hold (a lone surrogate) replaced."""
    return text.encode("utf-8", "replace").decode("utf-8") if text else text


async def store_unstorable(session: AsyncSession, update: Update, error: BaseException) -> None:
    """Keep what can be kept of an update whose row could not be written as it came: its
    ids, kind and text (made storable), marked failed with the reason, so that the batch
    it arrived with is stored and confirmed (one bad update must not stop the intake), and
    an operator sees it (``voy updates``)."""
    kind, text = describe(update)
    sender, chat = _sender_and_chat(update)
    message = update.effective_message
    row = {
        "update_id": update.update_id,
        "fingerprint": fingerprint(update),
        "telegram_user_id": sender,
        "chat_id": chat,
        "message_id": message.message_id if message else None,
        "kind": kind,
        "text": _storable(text),
        "payload": {"update_id": update.update_id},
        "status": INBOUND_FAILED,
        "error": f"not stored as it came: {type(error).__name__}: {str(error)[:300]}",
        "received_at": utcnow(),
    }
    insert = insert_for(session)
    await session.execute(
        insert(InboundMessage.__table__)
        .values(**row)
        .on_conflict_do_nothing(index_elements=[InboundMessage.__table__.c.fingerprint])
    )


async def to_handle(session: AsyncSession, update: Update) -> int | None:
    """Return the id of ``update``'s row if it still waits to be handled, else None.

    An update that reached the edge without passing the durable intake (tests that call
    ``process_update``) is stored here.
    """
    found = (await session.execute(_BY_FINGERPRINT, {"fingerprint": fingerprint(update)})).first()
    if found is None:
        return await store(session, update)
    return int(found.id) if found.status == INBOUND_RECEIVED else None


async def mark_done(
    session: AsyncSession,
    *,
    inbound_id: int,
    error: str | None = None,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Mark an inbound update handled, or failed with ``error``; False if it was not waiting.

    The mark is conditional, so of two sessions handling the same update only one can
    commit its work: the caller rolls back when this returns False. A failed update keeps
    what its chat was in the middle of (:func:`moved_on` compares it when it is retried)
    and its payload as stored (to be handled again); a handled one is stored as ``payload``
    when given (:func:`unquoted`).
    """
    params = {
        "inbound_id": inbound_id,
        "new_status": INBOUND_FAILED if error else INBOUND_HANDLED,
        "new_error": error,
        "at": utcnow(),
    }
    if payload is not None and not error:
        result = await session.execute(_MARK_DONE.values(payload=payload), params)
    else:
        result = await session.execute(_MARK_DONE, params)
    done = bool(result.rowcount)  # type: ignore[attr-defined]
    if done and error:
        chat_id = await session.scalar(
            select(InboundMessage.chat_id).where(InboundMessage.id == inbound_id)
        )
        await session.execute(
            update(InboundMessage)
            .where(InboundMessage.id == inbound_id)
            .values(context=await conversations.stamp(session, chat_id))
            .execution_options(synchronize_session=False)
        )
    return done


async def moved_on(session: AsyncSession, *, inbound_id: int | None) -> bool:
    """Whether the chat of a requeued update is in the middle of something else than when
    it failed (a cadre answering another question, a wish draft begun or a step further):
    handled now, a text would go to that instead."""
    if inbound_id is None:
        return False
    row = (
        await session.execute(
            select(InboundMessage.chat_id, InboundMessage.context).where(
                InboundMessage.id == inbound_id
            )
        )
    ).first()
    if row is None or row.context is None:
        return False
    return row.context != await conversations.stamp(session, row.chat_id)


async def resent(session: AsyncSession, *, inbound_id: int | None) -> bool:
    """Whether the sender of a requeued update sent it again after it failed, and that
    copy was handled: the apology asked them to, so they were answered then.

    A copy is a later message in the same chat with the same text or caption, in reply
    to the same message or to none (a cadre's standard answer to another card is no
    copy), or a later press of the same button on the same message. An update without
    text (a sticker, a photo alone) has no copy. The caller checks first whether the
    chat moved on (:func:`moved_on`): a text typed into one step is no copy of a text
    typed into another.
    """
    if inbound_id is None:
        return False
    row = (
        await session.execute(
            select(
                InboundMessage.chat_id,
                InboundMessage.telegram_user_id,
                InboundMessage.message_id,
                InboundMessage.kind,
                InboundMessage.text,
                InboundMessage.payload,
            ).where(InboundMessage.id == inbound_id)
        )
    ).first()
    if row is None or row.text is None or row.chat_id is None:
        return False
    copies = select(InboundMessage.payload).where(
        InboundMessage.id > inbound_id,
        InboundMessage.telegram_user_id == row.telegram_user_id,
        InboundMessage.chat_id == row.chat_id,
        InboundMessage.kind == row.kind,
        InboundMessage.text == row.text,
        InboundMessage.status == INBOUND_HANDLED,
    )
    if row.kind == "callback":
        copies = copies.where(InboundMessage.message_id == row.message_id)
    replied = _replied_to(row.payload)
    return any(_replied_to(payload) == replied for payload in await session.scalars(copies))


def _replied_to(payload: dict[str, Any]) -> int | None:
    """The message a stored update's message replied to, if any."""
    message = payload.get("message") or payload.get("edited_message") or {}
    replied = message.get("reply_to_message") or {}
    found = replied.get("message_id")
    return int(found) if found is not None else None


# /forget and the retention purge empty the stored update: it cannot be handled again.
_ERASED = cast(InboundMessage.payload, String) == "{}"
# Ids per statement when many rows are requeued at once.
_CHUNK = 500


@dataclass(frozen=True)
class FailedUpdate:
    """An update stored as failed, as an operator sees it (never its text)."""

    id: int
    received_at: datetime
    kind: str
    telegram_user_id: int | None
    error: str | None
    # Its sender used /forget, or the retention purge blanked it: it cannot be retried.
    erased: bool


async def failed(session: AsyncSession, *, limit: int) -> list[FailedUpdate]:
    """The newest ``limit`` updates stored as failed, newest first."""
    rows = await session.execute(
        select(
            InboundMessage.id,
            InboundMessage.received_at,
            InboundMessage.kind,
            InboundMessage.telegram_user_id,
            InboundMessage.error,
            _ERASED.label("erased"),
        )
        .where(InboundMessage.status == INBOUND_FAILED)
        .order_by(InboundMessage.id.desc())
        .limit(limit)
    )
    return [FailedUpdate(*row) for row in rows]


@dataclass
class Requeued:
    """What :func:`requeue` did."""

    requeued: list[int] = field(default_factory=list)
    # Failed, but the update is erased: left as it is.
    erased: list[int] = field(default_factory=list)
    # Named, but not failed (handled, waiting, queued already) or no such row.
    not_failed: list[int] = field(default_factory=list)


async def requeue(session: AsyncSession, ids: Sequence[int] | None) -> Requeued:
    """Queue failed updates to be handled again: those with ``ids``, or every one (None).

    A running instance takes them within ``VOY_REQUEUE_INTERVAL_S`` (``bot.intake``).
    """
    query = select(InboundMessage.id, _ERASED).where(InboundMessage.status == INBOUND_FAILED)
    found: dict[int, bool] = {}
    if ids is None:
        found = {row_id: bool(erased) for row_id, erased in await session.execute(query)}
    else:
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), _CHUNK):
            chunk = query.where(InboundMessage.id.in_(wanted[start : start + _CHUNK]))
            found.update((row_id, bool(erased)) for row_id, erased in await session.execute(chunk))
    report = Requeued(
        requeued=sorted(row_id for row_id, erased in found.items() if not erased),
        erased=sorted(row_id for row_id, erased in found.items() if erased),
        not_failed=sorted(set(ids or ()) - found.keys()),
    )
    for start in range(0, len(report.requeued), _CHUNK):
        await session.execute(
            update(InboundMessage)
            .where(
                InboundMessage.id.in_(report.requeued[start : start + _CHUNK]),
                InboundMessage.status == INBOUND_FAILED,
            )
            .values(status=INBOUND_REQUEUED)
            .execution_options(synchronize_session=False)
        )
    return report


@dataclass(frozen=True)
class Claimed:
    """A stored update this instance took to handle: requeued, or left by a crash."""

    id: int
    payload: dict[str, Any]
    received_at: datetime
    # Set when it was requeued: it is handled late (its sender is told).
    requeued_at: datetime | None = None


async def claim_requeued(session: AsyncSession, *, limit: int) -> list[Claimed]:
    """Take up to ``limit`` requeued updates, oldest first, back to "received", noting
    when (``requeued_at``: a webhook instance starting meanwhile leaves them alone).

    Each row is taken by a conditional update, so of several instances looking at once
    only one takes it. The caller commits, then queues them.
    """
    now = utcnow()
    rows = (
        await session.execute(
            select(InboundMessage.id, InboundMessage.payload, InboundMessage.received_at)
            .where(InboundMessage.status == INBOUND_REQUEUED)
            .order_by(InboundMessage.id)
            .limit(limit)
        )
    ).all()
    claimed = []
    for row_id, payload, received_at in rows:
        result = await session.execute(
            update(InboundMessage)
            .where(InboundMessage.id == row_id, InboundMessage.status == INBOUND_REQUEUED)
            .values(status=INBOUND_RECEIVED, error=None, handled_at=None, requeued_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            claimed.append(Claimed(row_id, payload, received_at, now))
    return claimed


async def unhandled(session: AsyncSession, *, stranded_before: datetime | None) -> list[Claimed]:
    """The stored updates never handled (a crash), oldest first; with ``stranded_before``
    only those received (or taken again after a requeue) before then."""
    query = select(
        InboundMessage.id,
        InboundMessage.payload,
        InboundMessage.received_at,
        InboundMessage.requeued_at,
    ).where(InboundMessage.status == INBOUND_RECEIVED)
    if stranded_before is not None:
        query = query.where(
            func.coalesce(InboundMessage.requeued_at, InboundMessage.received_at) < stranded_before
        )
    return [Claimed(*row) for row in await session.execute(query.order_by(InboundMessage.id))]


async def earlier_in_album(
    session: AsyncSession, *, chat_id: int, album: str, update_id: int
) -> bool:
    """Whether a message of the album ``album`` came into ``chat_id`` before the update
    ``update_id``: Telegram sends an album's photos or files as messages of their own,
    and the reply to the first one stands for all of them."""
    earlier = await session.scalar(
        select(InboundMessage.id)
        .where(
            InboundMessage.chat_id == chat_id,
            InboundMessage.update_id < update_id,
            InboundMessage.payload["message"]["media_group_id"].as_string() == album,
        )
        .limit(1)
    )
    return earlier is not None
