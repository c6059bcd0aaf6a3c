"""Per-chat model settings: ``sessions.model`` and ``sessions.reasoning_effort`` (NULL: the default).

Both nullable, with no default, so existing sessions keep using the server's configured model.
Frozen once released.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from director.db.schema import StoredText

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("sessions")}
    for name in ("model", "reasoning_effort"):
        if name not in existing:
            op.add_column("sessions", sa.Column(name, StoredText, nullable=True))


def downgrade() -> None:
    raise NotImplementedError("Director does not downgrade schemas: restore a backup instead")
