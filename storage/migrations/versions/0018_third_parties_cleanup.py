"""inbound_messages: a stored update keeps nobody but its sender, from the moment it is
stored. The rows stored before kept the other people an update carries until handled,
and some even then: a text_mention entity's User object, a forward's first writer
(rows not yet handled), a shared contact's name, number and vcard, a classmate's
message replied to or pinned in a group (with its sender), a reply to a message in
another chat, a story's poster, shared users and chats, members someone else added or
removed. Each row, handled or not, loses them as bot.services.inbox stores an update
now; a row not yet handled can still be handled (inbox.readable).

Revision ID: 0018_third_parties_cleanup
Revises: 0017_forward_origin_cleanup
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0018_third_parties_cleanup"
down_revision = "0017_forward_origin_cleanup"
branch_labels = None
depends_on = None

# As bot.services.inbox stores an update (copied here: a migration must not change when
# the application's code does).
_ORIGIN_KEPT = frozenset({"type", "date"})
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
_MESSAGES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
)
# A row holds one of these only if its text has one of these keys or values.
_MARKERS = (
    '"text_mention"',
    '"forward_',
    '"contact"',
    '"reply_to_message"',
    '"pinned_message"',
    '"external_reply"',
    '"users_shared"',
    '"chat_shared"',
    '"new_chat_members"',
    '"left_chat_member"',
    '"story"',
    '"reply_to_story"',
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
    if not isinstance(entities, list) or not any(
        isinstance(e, dict) and "user" in e for e in entities
    ):
        return None
    return [
        {k: v for k, v in e.items() if k != "user"} if isinstance(e, dict) else e for e in entities
    ]


def _without_others_in(message: dict[str, Any]) -> dict[str, Any] | None:
    changed: dict[str, Any] = {}
    origin = message.get("forward_origin")
    if isinstance(origin, dict) and not set(origin) <= _ORIGIN_KEPT:
        changed["forward_origin"] = {k: v for k, v in origin.items() if k in _ORIGIN_KEPT}
    for key in _ENTITIES:
        if (entities := _unmentioned(message.get(key))) is not None:
            changed[key] = entities
    if isinstance(message.get("contact"), dict) and message["contact"]:
        changed["contact"] = {}
    for key in _HOLDS_MESSAGE:
        held = message.get(key)
        if not isinstance(held, dict):
            continue
        if _is_bot(held.get("from")):
            if (inner := _without_others_in(held)) is not None:
                changed[key] = inner
        elif not set(held) <= _IDS:
            changed[key] = {k: v for k, v in held.items() if k in _IDS}
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

    members = message.get("new_chat_members")
    if isinstance(members, list) and not all(own(m) for m in members):
        changed["new_chat_members"] = [m for m in members if own(m)]
    dropped = [k for k in (*_LEGACY_FORWARD, "external_reply") if k in message]
    if "left_chat_member" in message and not own(message["left_chat_member"]):
        dropped.append("left_chat_member")
    if not changed and not dropped:
        return None
    out = {k: v for k, v in message.items() if k not in dropped}
    out.update(changed)
    return out


def _without_others(payload: dict[str, Any]) -> dict[str, Any] | None:
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
    """Apply this revision: strip the other people from every stored update, in
    batches."""
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
