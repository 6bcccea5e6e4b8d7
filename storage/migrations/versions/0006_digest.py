"""indexes for the weekly digest: a week's events by time, first answers by time,
open questions by last activity

Revision ID: 0006_digest
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0006_digest"
down_revision = "0009_data_rights"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("question_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_question_events_created_at_trigger",
            ["created_at", "trigger", "from_state", "question_id"],
            unique=False,
        )
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_questions_first_answered_at"), ["first_answered_at"], unique=False
        )
        batch_op.create_index(
            "ix_questions_status_last_activity_at",
            ["status", "last_activity_at", "assigned_cadre_id"],
            unique=False,
        )
    with op.batch_alter_table("wish_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_wish_events_created_at_trigger", ["created_at", "trigger"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("wish_events", schema=None) as batch_op:
        batch_op.drop_index("ix_wish_events_created_at_trigger")
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_index("ix_questions_status_last_activity_at")
        batch_op.drop_index(batch_op.f("ix_questions_first_answered_at"))
    with op.batch_alter_table("question_events", schema=None) as batch_op:
        batch_op.drop_index("ix_question_events_created_at_trigger")
