"""inbound_messages: failed updates can be requeued (context, requeued_at; a partial index
on the rows still to be handled: received, requeued)

Revision ID: 0013_inbound_requeue
Revises: 0012_wish_review_reminded
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_inbound_requeue"
down_revision = "0012_wish_review_reminded"
branch_labels = None
depends_on = None

_UNFINISHED = sa.text("status IN ('received', 'requeued')")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("context", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("requeued_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_inbound_messages_unfinished",
        "inbound_messages",
        ["status"],
        sqlite_where=_UNFINISHED,
        postgresql_where=_UNFINISHED,
    )


def downgrade() -> None:
    """Revert this revision (a requeued row is left failed: no code reads the word)."""
    op.execute(sa.text("UPDATE inbound_messages SET status = 'failed' WHERE status = 'requeued'"))
    op.drop_index("ix_inbound_messages_unfinished", table_name="inbound_messages")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_column("requeued_at")
        batch_op.drop_column("context")
