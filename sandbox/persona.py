"""Personas: the pretend users offered by the web chat and used by tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PERSONA_KINDS = ("youth", "cadre", "committee")


@dataclass(frozen=True)
class Persona:
    """A pretend Telegram user, optionally speaking in a group chat.

    Attributes:
        id: The user's Telegram id (positive).
        first_name: Display name.
        language_code: IETF tag Telegram reports for the user, e.g. ``"zh-hans"``.
        kind: ``"youth"``, ``"cadre"`` or ``"committee"`` (what the persona plays).
        chat_id: None for the user's private chat with the bot; a negative id for a group
            (the committee chat), in which case ``id`` is the member who speaks there.
        last_name: Optional last name.
        username: Optional @username (without the @).
        chat_title: Title of the group when ``chat_id`` is a group.
    """

    id: int
    first_name: str
    language_code: str = "zh-hans"
    kind: str = "youth"
    chat_id: int | None = None
    last_name: str | None = None
    username: str | None = None
    chat_title: str | None = None

    def __post_init__(self) -> None:
        if self.id <= 0:
            raise ValueError("Persona.id must be a positive user id")
        if self.kind not in PERSONA_KINDS:
            raise ValueError(f"Persona.kind must be one of {PERSONA_KINDS}, not {self.kind!r}")
        if self.chat_id is not None and self.chat_id > 0 and self.chat_id != self.id:
            raise ValueError("a private chat_id must equal the persona's id (or be None)")

    @property
    def chat(self) -> int:
        """The chat this persona talks in: its group, or its private chat (== id)."""
        return self.chat_id if self.chat_id is not None else self.id

    def user_payload(self) -> dict[str, Any]:
        """The ``user`` object the control API expects."""
        data: dict[str, Any] = {"id": self.id, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data

    def to_dict(self) -> dict[str, Any]:
        """JSON form served by ``GET /sandbox/api/personas``."""
        return {**asdict(self), "chat": self.chat}


DEFAULT_PERSONAS = (
    Persona(id=1001, first_name="小明", language_code="zh-hans", kind="youth"),
    Persona(id=1002, first_name="小红", language_code="zh-hant", kind="youth"),
    Persona(id=2001, first_name="李老师", language_code="zh-hans", kind="cadre"),
    Persona(
        id=3001,
        first_name="王书记",
        kind="committee",
        chat_id=-100_123_456_789,
        chat_title="团委工作群",
    ),
)
