"""inbound_messages: a handled update keeps no text of the messages it quotes (the card a
cadre replied to or pressed a button under, a pinned card, a reply's quoted words): the
rows stored before are stripped the same way, so a young person's /forget reaches them;
an index on chat_id (/mydata and /forget look a person's rows up by chat too);
users.private_since (broadcasts leave out people the bot cannot write to in private),
set for every user so far

Revision ID: 0015_unquote_inbound
Revises: 0014_alert_events
Create Date: 2026-11-23
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0015_unquote_inbound"
down_revision = "0014_alert_events"
branch_labels = None
depends_on = None

# As bot.services.inbox strips a handled update (copied here: a migration must not change
# when the application's code does).
_KEPT = frozenset({"message_id", "date", "chat", "from"})
_HOLDS_MESSAGE = ("reply_to_message", "pinned_message")
_HOLDS_PART = ("quote", "external_reply")
# Each batch is a range of this many ids, from the next stored one, which reads its own
# rows once: a filter on the text with ORDER BY id LIMIT made PostgreSQL read and sort all
# the rows after the previous batch (or the whole table) for each batch.
_STEP = 10_000

_inbound = sa.table(
    "inbound_messages",
    sa.column("id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("payload", sa.JSON),
)


def _stripped(payload: dict[str, Any]) -> dict[str, Any]:
    out = dict(payload)
    for key in ("message", "edited_message"):
        message = out.get(key)
        if isinstance(message, dict):
            kept = {k: v for k, v in message.items() if k not in _HOLDS_PART}
            for field in _HOLDS_MESSAGE:
                if isinstance(message.get(field), dict):
                    kept[field] = {k: v for k, v in message[field].items() if k in _KEPT}
            out[key] = kept
    query = out.get("callback_query")
    if isinstance(query, dict) and isinstance(query.get("message"), dict):
        out["callback_query"] = {
            **query,
            "message": {k: v for k, v in query["message"].items() if k in _KEPT},
        }
    return out


def upgrade() -> None:
    """Apply this revision: the index; strip the quoted messages of every handled row, in
    batches."""
    op.create_index("ix_inbound_messages_chat_id", "inbound_messages", ["chat_id"])
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("private_since", sa.DateTime(timezone=True)))
    op.execute(sa.text("UPDATE users SET private_since = created_at"))
    bind = op.get_bind()
    text = sa.cast(_inbound.c.payload, sa.Text)
    quoting = sa.or_(
        *(text.like(f'%"{field}"%') for field in (*_HOLDS_MESSAGE, *_HOLDS_PART, "callback_query"))
    )
    first = sa.select(sa.func.min(_inbound.c.id))
    start = bind.scalar(first.where(_inbound.c.id > 0))
    while start is not None:
        end = start + _STEP
        rows = bind.execute(
            sa.select(_inbound.c.id, _inbound.c.payload)
            .where(
                _inbound.c.id >= start,
                _inbound.c.id < end,
                _inbound.c.status == "handled",
                quoting,
            )
            .order_by(_inbound.c.id)
        ).all()
        for row_id, payload in rows:
            if isinstance(payload, dict):
                stripped = _stripped(payload)
                if stripped != payload:
                    bind.execute(
                        sa.update(_inbound).where(_inbound.c.id == row_id).values(payload=stripped)
                    )
        start = bind.scalar(first.where(_inbound.c.id >= end))


def downgrade() -> None:
    """Revert this revision: drop the index (what was stripped is gone; the older code
    reads the rows as they are)."""
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("private_since")
    op.drop_index("ix_inbound_messages_chat_id", table_name="inbound_messages")
