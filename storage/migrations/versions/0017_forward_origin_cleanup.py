"""inbound_messages: a handled update keeps no trace of who first wrote a forwarded
message. The rows stored before 0016's code kept the whole forward_origin (a user, their
name, a group or channel, a signature), and until the next commit the legacy forward_*
fields Telegram sends beside it: the origin is reduced to its type and date, and of the
legacy fields only forward_date stays. Rows not yet handled stay whole (they are handled
again, and reduced then).

Revision ID: 0017_forward_origin_cleanup
Revises: 0016_forwarded_messages
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0017_forward_origin_cleanup"
down_revision = "0016_forwarded_messages"
branch_labels = None
depends_on = None

# As bot.services.inbox strips a handled update (copied here: a migration must not change
# when the application's code does).
_ORIGIN_KEPT = frozenset({"type", "date"})
_LEGACY_FORWARD = (
    "forward_from",
    "forward_from_chat",
    "forward_from_message_id",
    "forward_signature",
    "forward_sender_name",
)
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
            kept = {k: v for k, v in message.items() if k not in _LEGACY_FORWARD}
            origin = message.get("forward_origin")
            if isinstance(origin, dict):
                kept["forward_origin"] = {k: v for k, v in origin.items() if k in _ORIGIN_KEPT}
            out[key] = kept
    return out


def upgrade() -> None:
    """Apply this revision: strip the forwarded messages' senders of every handled row,
    in batches."""
    bind = op.get_bind()
    forwarded = sa.cast(_inbound.c.payload, sa.Text).like('%"forward\\_%', escape="\\")
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
                forwarded,
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
    """Revert this revision: nothing to undo (what was stripped is gone; the older code
    reads the rows as they are)."""
