"""Usage: one row per model call (``llm_calls``) and running totals per session and UTC day
(``usage_totals``), for chat totals, the Usage page and budgets checked before each call.

Only adds tables: every existing session, message and context is left as it was.
Frozen: later changes go in new versions, never here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from director.db.schema import Timestamp

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copies of the column types of this version (schema.py may change later).
_REAL = sa.Double().with_variant(sa.dialects.sqlite.REAL(), "sqlite")


def _counts(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Integer, nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "llm_calls",
        sa.Column("call_id", sa.Text, primary_key=True),
        sa.Column("session_id", sa.Text, nullable=False),
        sa.Column("msg_id", sa.Text),
        sa.Column("agent", sa.Text),
        sa.Column("model", sa.Text),
        *_counts("input_tokens", "output_tokens", "cached_tokens"),
        sa.Column("cost_usd", _REAL),
        sa.Column("latency_ms", _REAL),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("day", sa.Text, nullable=False),
    )
    # Covering the Usage page's range scans (GET /usage reads the index only).
    op.create_index(
        "llm_calls_created_at",
        "llm_calls",
        [
            "created_at",
            "day",
            "model",
            "session_id",
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "cost_usd",
        ],
    )
    op.create_index("llm_calls_session", "llm_calls", ["session_id"])
    op.create_table(
        "usage_totals",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        *_counts("input_tokens", "output_tokens", "cached_tokens"),
        sa.Column("cost_usd", _REAL, nullable=False),
        *_counts("llm_calls", "unpriced_calls"),
    )


def downgrade() -> None:
    op.drop_table("usage_totals")
    op.drop_index("llm_calls_session", table_name="llm_calls")
    op.drop_index("llm_calls_created_at", table_name="llm_calls")
    op.drop_table("llm_calls")
