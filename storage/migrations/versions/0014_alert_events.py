"""question_events: an "alert" event records when a call for help was raised (in the
question or in a follow-up), so the digest counts it in that week; urgent questions from
before get one at the time they were asked

Revision ID: 0014_alert_events
Revises: 0013_inbound_requeue
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_alert_events"
down_revision = "0013_inbound_requeue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision: one alert per urgent question that has none, when asked."""
    op.execute(
        sa.text(
            'INSERT INTO question_events (question_id, "trigger", from_state, to_state, actor,'
            " note, created_at)"
            " SELECT q.id, 'alert', q.status, q.status, 'system', '', q.asked_at"
            " FROM questions q WHERE q.urgent = :yes AND NOT EXISTS (SELECT 1 FROM"
            " question_events e WHERE e.question_id = q.id AND e.\"trigger\" = 'alert')"
        ).bindparams(yes=True)
    )


def downgrade() -> None:
    """Revert this revision (the flag on the question stays; the older digest reads it)."""
    op.execute(sa.text("DELETE FROM question_events WHERE \"trigger\" = 'alert'"))
