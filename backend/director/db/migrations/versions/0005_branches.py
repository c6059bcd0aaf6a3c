"""Branches: messages form a tree (``conversations.parent_msg_id``), each turn's share of the model's
context is kept (``turn_contexts``), and which branch is shown is stored (``branch_state``).

Existing sessions are linear: each message's parent is the one before it (creation order, insertion
order on a tie, as the conversation was always read). Their saved context stays in ``context_messages``
and is marked as belonging to the session's last question, so continuing a chat sees exactly what it
saw before; a branch made from an older point rebuilds the context from the messages themselves.
Frozen: later changes go in new versions, never here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from director.db.schema import JSONDocument, Timestamp

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _session_key() -> sa.Column:
    return sa.Column(
        "session_id", sa.Text, sa.ForeignKey("sessions.session_id", ondelete="CASCADE"), primary_key=True
    )


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("conversations", sa.Column("parent_msg_id", sa.Text))
    op.add_column("conversations", sa.Column("msg_type", sa.Text))
    op.create_table(
        "turn_contexts",
        _session_key(),
        sa.Column("msg_id", sa.Text, primary_key=True),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("messages", JSONDocument, nullable=False),
    )
    op.create_table(
        "branch_state",
        _session_key(),
        sa.Column("view_tip", sa.Text),
        sa.Column("context_tip", sa.Text),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    _link_linear_sessions(bind)


def _link_linear_sessions(bind: sa.Connection) -> None:
    postgres = bind.dialect.name == "postgresql"
    msg_type = "message->>'msg_type'" if postgres else "json_extract(message, '$.msg_type')"
    tie_break = "seq" if postgres else "rowid"
    rows = bind.execute(
        sa.text(
            f"SELECT session_id, msg_id, {msg_type} FROM conversations "
            f"ORDER BY session_id, created_at, {tie_break}"
        )
    ).all()
    with_context = {row[0] for row in bind.execute(sa.text("SELECT session_id FROM context_messages"))}
    links: list[dict[str, str | None]] = []
    last: dict[str, str] = {}
    last_input: dict[str, str] = {}
    for session_id, msg_id, kind in rows:
        links.append({"sid": session_id, "mid": msg_id, "parent": last.get(session_id), "type": kind})
        last[session_id] = msg_id
        if kind == "input":
            last_input[session_id] = msg_id
    if links:
        bind.execute(
            sa.text(
                "UPDATE conversations SET parent_msg_id = :parent, msg_type = :type "
                "WHERE session_id = :sid AND msg_id = :mid"
            ),
            links,
        )
    states = [
        {
            "sid": session_id,
            "view": tip,
            "context": last_input.get(session_id) if session_id in with_context else None,
        }
        for session_id, tip in last.items()
    ]
    if states:
        bind.execute(
            sa.text(
                "INSERT INTO branch_state (session_id, view_tip, context_tip, updated_at) "
                "VALUES (:sid, :view, :context, 0)"
            ),
            states,
        )


def downgrade() -> None:
    raise NotImplementedError("Director does not downgrade schemas: restore a backup instead")
