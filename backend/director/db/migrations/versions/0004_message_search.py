"""Full-text search over messages (issue 13): an index of every stored message's text.

SQLite: an FTS5 table (unicode61 tokenizer, diacritics folded), emptied of a session's rows by a
trigger when the session is deleted (virtual tables take no foreign keys). PostgreSQL: a table with a
generated ``tsvector`` ('simple' configuration: no language's stemming, any script) and a GIN index,
its rows deleted with their session by the foreign key. Messages stored before this version are
indexed here, so old chats are found too.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from director.db.schema import conversations
from director.db.search import SearchStatements

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

logger = logging.getLogger("director.db.migrations")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "CREATE TABLE message_search ("
            " session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,"
            " msg_id TEXT NOT NULL,"
            " body TEXT NOT NULL,"
            " tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED,"
            " PRIMARY KEY (session_id, msg_id))"
        )
        op.execute("CREATE INDEX message_search_tsv ON message_search USING GIN (tsv)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE message_search USING fts5("
            " body, session_id UNINDEXED, msg_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER message_search_forget_session AFTER DELETE ON sessions BEGIN"
            " DELETE FROM message_search WHERE session_id = old.session_id; END"
        )
    # Messages stored before this version: indexed now, in the migration's transaction.
    statements = SearchStatements(bind.dialect.name)
    cursor = bind.connection.cursor()  # the same connection, so the same transaction
    count = 0
    for message in bind.execute(sa.select(conversations.c.message)).scalars().all():
        statements.index(cursor, message)
        count += 1
    if count:
        logger.info("indexed %d stored messages for search", count)


def downgrade() -> None:
    raise NotImplementedError("Director does not downgrade schemas: restore a backup instead")
