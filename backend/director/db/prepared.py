"""``Prepared``: a SQLAlchemy Core statement compiled once for one dialect, run on a DBAPI cursor.

Going through SQLAlchemy's ``Connection.execute`` costs ~25 us a statement (execution context, event
dispatch, result wrapping): more than SQLite takes to run the statement itself, and 2-3x what the
hand-written drivers code cost per call before this layer. So the statement stays written once, in
Core, and SQLAlchemy still compiles it (placeholders, dialect syntax) and supplies each column type's
own bind and result processors; only the per-call execution is done here, at the driver's speed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable

Processor = Callable[[Any], Any]


class Prepared:
    def __init__(self, statement: Executable, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        # Values SQLAlchemy bound itself (e.g. LIMIT 1); callers' values are added per call.
        self._defaults = {name: value for name, value in compiled.params.items() if value is not None}
        self._bind: dict[str, Processor] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._bind[name] = processor
        columns = getattr(statement, "selected_columns", None) or []
        self._columns = [column.key for column in columns]
        # Only our own column types convert results (JSON parsing): for the rest the drivers already
        # return what the old code returned (str, float), and SQLAlchemy's numeric processors would
        # want the driver's type code, known only per result.
        self._result = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            if isinstance(column.type, TypeDecorator)
            else None
            for column in columns
        ]

    def params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        params = {**self._defaults, **values}
        for name, processor in self._bind.items():
            if name in params:
                params[name] = processor(params[name])
        return params

    def run(self, cursor: Any, values: Mapping[str, Any] | None = None) -> Any:
        cursor.execute(self.sql, self.params(values or {}))
        return cursor

    def run_many(self, cursor: Any, rows: list[Mapping[str, Any]]) -> Any:
        """The statement once per row, in one driver call (one parse on SQLite; one round trip on psycopg)."""
        cursor.executemany(self.sql, [self.params(values) for values in rows])
        return cursor

    def row(self, raw: tuple[Any, ...]) -> dict[str, Any]:
        return {
            key: processor(value) if processor is not None and value is not None else value
            for key, processor, value in zip(self._columns, self._result, raw, strict=True)
        }

    def first(self, cursor: Any, values: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        raw = self.run(cursor, values).fetchone()
        return self.row(raw) if raw is not None else None

    def all(self, cursor: Any, values: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return [self.row(raw) for raw in self.run(cursor, values).fetchall()]
