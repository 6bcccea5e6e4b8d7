"""erasures: who used /forget, as a keyed hash of their Telegram id, so that erasures can
be applied again after a backup from before them is restored

Revision ID: 0019_erasures
Revises: 0018_third_parties_cleanup
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_erasures"
down_revision = "0018_third_parties_cleanup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "erasures",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("secret_check", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_erasures")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("erasures")
