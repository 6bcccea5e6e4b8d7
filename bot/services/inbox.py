"""The inbound log: every update is stored on arrival, before anything can fail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update

from storage.base import utcnow
from storage.db import insert_for
from storage.models import INBOUND_FAILED, INBOUND_HANDLED, INBOUND_RECEIVED, InboundMessage

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


def describe(update: Update) -> tuple[str, str | None]:
    """Return the kind of an update and the text it carries, if any."""
    if update.callback_query is not None:
        return "callback", update.callback_query.data
    message = update.effective_message
    if message is not None:
        return message_kind(message), message.text if message.text is not None else message.caption
    return "other", None


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
    chat = update.effective_chat.id if update.effective_chat else ""
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


def _row_values(update: Update) -> dict[str, Any]:
    kind, text = describe(update)
    message = update.effective_message
    return {
        "update_id": update.update_id,
        "fingerprint": fingerprint(update),
        "telegram_user_id": update.effective_user.id if update.effective_user else None,
        "chat_id": update.effective_chat.id if update.effective_chat else None,
        "message_id": message.message_id if message else None,
        "kind": kind,
        "text": text,
        "payload": update.to_dict(),
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


async def to_handle(session: AsyncSession, update: Update) -> int | None:
    """Return the id of ``update``'s row if it still waits to be handled, else None.

    An update that reached the edge without passing the durable intake (tests that call
    ``process_update``) is stored here.
    """
    found = (await session.execute(_BY_FINGERPRINT, {"fingerprint": fingerprint(update)})).first()
    if found is None:
        return await store(session, update)
    return int(found.id) if found.status == INBOUND_RECEIVED else None


async def mark_done(session: AsyncSession, *, inbound_id: int, error: str | None = None) -> bool:
    """Mark an inbound update handled, or failed with ``error``; False if it was not waiting.

    The mark is conditional, so of two sessions handling the same update only one can
    commit its work: the caller rolls back when this returns False.
    """
    result = await session.execute(
        _MARK_DONE,
        {
            "inbound_id": inbound_id,
            "new_status": INBOUND_FAILED if error else INBOUND_HANDLED,
            "new_error": error,
            "at": utcnow(),
        },
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
