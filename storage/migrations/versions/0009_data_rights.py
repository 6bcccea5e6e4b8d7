"""data rights: forgotten users and the personal data access log

Revision ID: 0009_data_rights
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_data_rights"
down_revision = "0008_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "personal_data_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("viewer_user_id", sa.Integer(), nullable=True),
        sa.Column("viewer_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("subject_user_id", sa.Integer(), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_user_id"],
            ["users.id"],
            name=op.f("fk_personal_data_access_subject_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["viewer_user_id"],
            ["users.id"],
            name=op.f("fk_personal_data_access_viewer_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_data_access")),
    )
    with op.batch_alter_table("personal_data_access", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_personal_data_access_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_personal_data_access_subject_user_id"),
            ["subject_user_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_personal_data_access_viewer_user_id"), ["viewer_user_id"], unique=False
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("forgotten_at")
    with op.batch_alter_table("personal_data_access", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_personal_data_access_viewer_user_id"))
        batch_op.drop_index(batch_op.f("ix_personal_data_access_subject_user_id"))
        batch_op.drop_index(batch_op.f("ix_personal_data_access_created_at"))
    op.drop_table("personal_data_access")
