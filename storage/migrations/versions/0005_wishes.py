"""micro-wishes and their audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "wishes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("photo_file_id", sa.String(length=256), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("beneficiary", sa.String(length=8), nullable=False),
        sa.Column("relation", sa.String(length=64), nullable=True),
        sa.Column("age_band", sa.String(length=8), nullable=False),
        sa.Column("guardian_consent", sa.Boolean(), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=True),
        sa.Column("place", sa.String(length=128), nullable=True),
        sa.Column("value_yuan", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimer_user_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_reminded", sa.Boolean(), nullable=False),
        sa.Column("proof_text", sa.Text(), nullable=True),
        sa.Column("proof_file_id", sa.String(length=256), nullable=True),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirm_reminded", sa.Boolean(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["claimer_user_id"],
            ["users.id"],
            name=op.f("fk_wishes_claimer_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_wishes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wishes")),
    )
    with op.batch_alter_table("wishes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_wishes_claimer_user_id"), ["claimer_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_wishes_region_code"), ["region_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_wishes_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_wishes_submitted_at"), ["submitted_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_wishes_user_id"), ["user_id"], unique=False)

    op.create_table(
        "wish_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wish_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=False),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["wish_id"],
            ["wishes.id"],
            name=op.f("fk_wish_events_wish_id_wishes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wish_events")),
    )
    with op.batch_alter_table("wish_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wish_events_wish_id"), ["wish_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("wish_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wish_events_wish_id"))

    op.drop_table("wish_events")
    with op.batch_alter_table("wishes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wishes_user_id"))
        batch_op.drop_index(batch_op.f("ix_wishes_submitted_at"))
        batch_op.drop_index(batch_op.f("ix_wishes_status"))
        batch_op.drop_index(batch_op.f("ix_wishes_region_code"))
        batch_op.drop_index(batch_op.f("ix_wishes_claimer_user_id"))

    op.drop_table("wishes")
