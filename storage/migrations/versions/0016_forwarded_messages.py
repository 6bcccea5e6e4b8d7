"""question_messages.forwarded: the young person forwarded the message (someone else's
words; the card says so, and who first wrote them is not kept)

Revision ID: 0016_forwarded_messages
Revises: 0015_unquote_inbound
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_forwarded_messages"
down_revision = "0015_unquote_inbound"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision (earlier messages count as the young person's own)."""
    with op.batch_alter_table("question_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("forwarded", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("question_messages", schema=None) as batch_op:
        batch_op.drop_column("forwarded")
