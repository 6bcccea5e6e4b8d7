"""The sandbox's world: users, chats and their messages."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.errors import ApiError, bad_request
from sandbox.files import FileRecord

SUPERGROUP_BELOW = -1_000_000_000_000  # Telegram supergroup ids look like -100xxxxxxxxxx


@dataclass
class Media:
    """A photo, document, sticker or voice attached to a message."""

    kind: str
    file: FileRecord
    emoji: str | None = None
    duration: int | None = None


@dataclass
class StoredMessage:
    """A message as it stands now (after edits); rendered on demand."""

    chat_id: int
    message_id: int
    sender: dict[str, Any]
    from_bot: bool
    date: int
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    html: str | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to: int | None = None
    media: Media | None = None
    edit_date: int | None = None
    forward_origin: dict[str, Any] | None = None
    # A shared contact (the Bot API's Contact): a message of its own.
    contact: dict[str, Any] | None = None
    # Photos sent together as an album share one (each is a message of its own).
    media_group_id: str | None = None
    # A service message: someone pinned the message with this id (``pinned_message``).
    pinned: int | None = None


@dataclass
class Chat:
    """A private chat with one user, or a group the bot is in."""

    id: int
    type: str
    title: str | None = None
    user: dict[str, Any] | None = None
    admins: set[int] = field(default_factory=set)
    creator: int | None = None
    members: set[int] = field(default_factory=set)
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1

    def telegram(self) -> dict[str, Any]:
        """The Bot API Chat object."""
        if self.type == "private" and self.user is not None:
            data = {"id": self.id, "type": "private", "first_name": self.user["first_name"]}
            for key in ("last_name", "username"):
                if self.user.get(key):
                    data[key] = self.user[key]
            return data
        return {"id": self.id, "type": self.type, "title": self.title or f"Group {self.id}"}

    def add(self, sender: dict[str, Any], *, from_bot: bool, **fields: Any) -> StoredMessage:
        """Store a new message with the chat's next message_id."""
        message = StoredMessage(
            chat_id=self.id,
            message_id=self.next_message_id,
            sender=sender,
            from_bot=from_bot,
            date=int(time.time()),
            **fields,
        )
        self.next_message_id += 1
        self.messages[message.message_id] = message
        return message

    def find(self, message_id: int, missing: str) -> StoredMessage:
        """Return the message or raise ``Bad Request: <missing>``."""
        message = self.messages.get(message_id)
        if message is None:
            raise bad_request(missing)
        return message


class World:
    """Users, chats and blocks; the single source of truth for both APIs."""

    def __init__(self) -> None:
        self.users: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.chats: dict[int, Chat] = {}

    def user(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Register or refresh a user from a control-API payload; return the User object."""
        user_id = payload.get("id")
        if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
            raise ValueError("user.id must be a positive integer")
        name = payload.get("first_name") or self.users.get(user_id, {}).get("first_name")
        if not isinstance(name, str) or not name:
            raise ValueError("user.first_name is required")
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": name}
        for key in ("last_name", "username", "language_code"):
            value = payload.get(key) or self.users.get(user_id, {}).get(key)
            if value:
                user[key] = str(value)
        self.users[user_id] = user
        return user

    def private_chat(self, user: dict[str, Any]) -> Chat:
        """The private chat with ``user`` (created on first contact)."""
        chat = self.chats.get(user["id"])
        if chat is None:
            chat = self.chats[user["id"]] = Chat(id=user["id"], type="private")
        chat.user = user
        return chat

    def group(self, chat_id: int, *, title: str | None = None, type_: str | None = None) -> Chat:
        """Create or update a group chat (negative id)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat = self.chats.get(chat_id)
        if chat is None:
            default = "supergroup" if chat_id < SUPERGROUP_BELOW else "group"
            chat = self.chats[chat_id] = Chat(id=chat_id, type=type_ or default)
        if title:
            chat.title = title
        if type_:
            chat.type = type_
        return chat

    def chat_for_bot(self, chat_id: Any, *, sending: bool = True) -> Chat:
        """Resolve a chat_id the bot passed; raise like Telegram when it cannot be used."""
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise bad_request("chat not found")
        if sending and chat.type == "private" and chat.id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user", violation=False)
        return chat
