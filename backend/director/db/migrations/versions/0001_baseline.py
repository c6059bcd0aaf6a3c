"""Baseline: the schema as it was before versioned migrations (sessions, conversations, context).

A database made by that code has these tables but no version table: each object is created only
when missing, so such a database is adopted as it is (nothing rewritten, nothing lost) and stamped.
Frozen: later changes go in new versions, never here.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from director.db.schema import JSONDocument, StoredText, Timestamp

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

logger = logging.getLogger("director.db.migrations")


def _session_key(**key: bool) -> sa.Column:
    return sa.Column("session_id", sa.Text, sa.ForeignKey("sessions.session_id", ondelete="CASCADE"), **key)


def _times(*names: str) -> list[sa.Column]:
    return [sa.Column(name, Timestamp, nullable=False) for name in names]


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    if existing & {"sessions", "conversations", "context_messages"}:
        logger.info("adopting a database made before versioned migrations (tables: %s)", sorted(existing))

    if "sessions" not in existing:
        op.create_table(
            "sessions",
            # nullable=True reproduces the pre-migration DDL (no NOT NULL on SQLite's text keys, which
            # PostgreSQL adds by itself); ids are checked non-empty before any write anyway.
            sa.Column("session_id", sa.Text, primary_key=True, nullable=True),
            sa.Column("title", StoredText),
            *_times("created_at", "updated_at"),
            sa.Column("metadata", JSONDocument, nullable=False, server_default="{}"),
        )
    indexes = {index["name"] for index in sa.inspect(bind).get_indexes("sessions")}
    if "sessions_updated_at" not in indexes:
        op.create_index("sessions_updated_at", "sessions", ["updated_at"])

    if "conversations" not in existing:
        # PostgreSQL has no rowid: an identity column keeps insertion order (dialects.insertion_order).
        seq = (
            [sa.Column("seq", sa.BigInteger, sa.Identity(always=True))]
            if bind.dialect.name == "postgresql"
            else []
        )
        op.create_table(
            "conversations",
            *seq,
            _session_key(nullable=False),
            sa.Column("msg_id", sa.Text, nullable=False),
            sa.Column("conv_id", sa.Text),
            *_times("created_at", "updated_at"),
            sa.Column("message", JSONDocument, nullable=False),
            sa.PrimaryKeyConstraint("session_id", "msg_id"),
        )

    if "context_messages" not in existing:
        op.create_table(
            "context_messages",
            _session_key(primary_key=True, nullable=True),
            *_times("updated_at"),
            sa.Column("messages", JSONDocument, nullable=False),
        )


def downgrade() -> None:
    raise NotImplementedError("Director does not downgrade schemas: restore a backup instead")
