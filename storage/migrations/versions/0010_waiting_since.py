"""questions.waiting_since: since when a question waits for staff (the digest's overdue)

Revision ID: 0010_waiting_since
Revises: 0006_digest
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_waiting_since"
down_revision = "0007_broadcasts"
branch_labels = None
depends_on = None

# The latest audit event after which the question waited for staff anew (as
# bot.services.lifecycle.fire sets it from now on); open questions only, the others
# are not waiting. A question without such an event falls back to when it was asked.
_BACKFILL = """
UPDATE questions SET waiting_since = COALESCE(
    (SELECT MAX(e.created_at) FROM question_events e
      WHERE e.question_id = questions.id
        AND (e."trigger" IN ('route', 'assign', 'unassign', 'reopen')
             OR (e."trigger" = 'follow_up' AND e.from_state IN ('answered', 'resolved')))),
    asked_at)
WHERE status IN ('routed', 'assigned')
"""


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_questions_status_waiting_since",
            ["status", "waiting_since", "assigned_cadre_id"],
            unique=False,
        )
    op.execute(_BACKFILL)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_index("ix_questions_status_waiting_since")
        batch_op.drop_column("waiting_since")
