"""The statement that lets a turn's start be one transaction (``SQLDB.save_input_message``), once per engine."""

from __future__ import annotations

from sqlalchemy import Engine, func

from director.db import dialects
from director.db.prepared import Prepared
from director.db.schema import sessions


class TurnStatements:
    def __init__(self, engine: Engine):
        dialect = engine.dialect
        insert = dialects.insert(dialect.name, sessions)
        # The session row made (titled) when new, else bumped and titled only when it has no title yet:
        # a title the user or the model already gave it stays.
        self.touch_titled = Prepared(
            insert.on_conflict_do_update(
                index_elements=[sessions.c.session_id],
                set_={
                    "updated_at": insert.excluded.updated_at,
                    "title": func.coalesce(func.nullif(sessions.c.title, ""), insert.excluded.title),
                },
            ),
            dialect,
        )
