"""outbox.file_id: send a photo or document Telegram already holds (a claimer's proof)

Revision ID: 0011_outbox_file_id
Revises: 0010_waiting_since
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_outbox_file_id"
down_revision = "0010_waiting_since"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file_id", sa.String(length=255), nullable=True))


def downgrade() -> None:
    """Revert this revision; a photo still to be sent by file_id could not be sent
    without the column, so it is cancelled."""
    op.execute(
        "UPDATE outbox SET state = 'cancelled', lease_until = NULL"
        " WHERE file_id IS NOT NULL AND state IN ('pending', 'sending')"
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("file_id")
