"""The statements of compaction's summaries (``context_summaries``, migration 0006), once per engine."""

from __future__ import annotations

from sqlalchemy import Engine, bindparam, select

from director.db import dialects
from director.db.prepared import Prepared
from director.db.schema import context_summaries


class SummaryStatements:
    def __init__(self, engine: Engine):
        dialect = engine.dialect
        table = context_summaries.c
        self.upsert = Prepared(
            dialects.upsert(
                dialect.name,
                context_summaries,
                [table.session_id, table.through_msg_id],
                ["covered", "digest", "summary", "created_at"],
            ),
            dialect,
        )
        self.of_session = Prepared(
            select(table.through_msg_id, table.covered, table.digest, table.summary, table.created_at)
            .where(table.session_id == bindparam("sid"))
            .order_by(table.covered.desc(), table.created_at.desc()),
            dialect,
        )
