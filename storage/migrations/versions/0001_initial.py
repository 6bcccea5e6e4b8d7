"""initial schema: users, organisation, inbound log

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "cadres",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("duty_days", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("away_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cadres")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_cadres_telegram_id")),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(length=96), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_inbound_messages_fingerprint")),
    )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbound_messages_telegram_user_id"), ["telegram_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inbound_messages_update_id"), ["update_id"], unique=False
        )

    op.create_table(
        "org_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_org_settings")),
    )
    op.create_table(
        "regions",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["regions.code"],
            name=op.f("fk_regions_parent_code_regions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_regions")),
    )
    op.create_table(
        "topics",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_topics")),
    )
    op.create_table(
        "cadre_regions",
        sa.Column("cadre_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["cadre_id"],
            ["cadres.id"],
            name=op.f("fk_cadre_regions_cadre_id_cadres"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["region_code"],
            ["regions.code"],
            name=op.f("fk_cadre_regions_region_code_regions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cadre_id", "region_code", name=op.f("pk_cadre_regions")),
    )
    op.create_table(
        "cadre_topics",
        sa.Column("cadre_id", sa.Integer(), nullable=False),
        sa.Column("topic_code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["cadre_id"],
            ["cadres.id"],
            name=op.f("fk_cadre_topics_cadre_id_cadres"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_code"],
            ["topics.code"],
            name=op.f("fk_cadre_topics_topic_code_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cadre_id", "topic_code", name=op.f("pk_cadre_topics")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("first_name", sa.String(length=128), nullable=False),
        sa.Column("language_code", sa.String(length=16), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("unreachable_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["region_code"],
            ["regions.code"],
            name=op.f("fk_users_region_code_regions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_users_telegram_id")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("users")
    op.drop_table("cadre_topics")
    op.drop_table("cadre_regions")
    op.drop_table("topics")
    op.drop_table("regions")
    op.drop_table("org_settings")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_messages_update_id"))
        batch_op.drop_index(batch_op.f("ix_inbound_messages_telegram_user_id"))

    op.drop_table("inbound_messages")
    op.drop_table("cadres")
