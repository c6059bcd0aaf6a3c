"""Compaction: ``context_summaries``, the summaries that stand for a chat's oldest turns in the model's
context (core/compaction.py).

Only adds a table: every existing session, message and context is left as it was (a chat is compacted
the first time its context comes near the model's window). Frozen once released.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from director.db.schema import StoredText, Timestamp

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "context_summaries",
        sa.Column(
            "session_id",
            sa.Text,
            sa.ForeignKey("sessions.session_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("through_msg_id", sa.Text, primary_key=True),
        sa.Column("covered", sa.Integer, nullable=False),
        sa.Column("digest", sa.Text, nullable=False),
        sa.Column("summary", StoredText, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("Director does not downgrade schemas: restore a backup instead")
