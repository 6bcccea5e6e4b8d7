"""wishes.review_reminded: the reviewers were reminded of a submission waiting too long

Revision ID: 0012_wish_review_reminded
Revises: 0011_outbox_file_id
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_wish_review_reminded"
down_revision = "0011_outbox_file_id"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision (wishes already waiting get their reminder on the next sweep)."""
    with op.batch_alter_table("wishes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review_reminded", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("wishes", schema=None) as batch_op:
        batch_op.drop_column("review_reminded")
