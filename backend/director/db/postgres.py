"""PostgreSQL backend (``DB_TYPE=postgres``): psycopg 3 through SQLAlchemy's pool, JSONB columns.

Nothing connects at construction: the pool opens and the schema is migrated on first use, so the
server starts even while PostgreSQL is still coming up (``health_check()`` reports it meanwhile).
"""

from __future__ import annotations

from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import SecretStr
from sqlalchemy import URL, create_engine

from director.db.base import DBType
from director.db.sql import SQLDB


def _as_is(value: Any) -> Any:
    return value


class PostgresDB(SQLDB):
    db_type = DBType.POSTGRES

    def __init__(
        self,
        dsn: str | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        user: str | None = None,
        password: str | SecretStr | None = None,
        dbname: str | None = None,
        pool_max_size: int = 10,
        connect_timeout_s: int = 5,
        pool_timeout_s: float = 30.0,
    ):
        if isinstance(password, SecretStr):
            password = password.get_secret_value()
        fields = {"host": host, "port": port, "user": user, "password": password, "dbname": dbname}
        conninfo = make_conninfo(
            dsn or "",
            **{k: v for k, v in fields.items() if v not in (None, "")},
            connect_timeout=connect_timeout_s,
            application_name="director",
        )
        parts = conninfo_to_dict(conninfo)
        engine = create_engine(
            URL.create("postgresql+psycopg"),  # no credentials in the URL: repr and logs show none
            connect_args=parts,
            pool_size=pool_max_size,
            max_overflow=0,
            pool_timeout=pool_timeout_s,
            # JSON columns bind JSON text made before the transaction and are parsed by the column
            # type (db/schema.py JSONDocument), as on SQLite: psycopg passes the text through.
            json_serializer=_as_is,
            json_deserializer=_as_is,
        )
        # What logs and repr may show: never the password.
        where = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"
        super().__init__(engine, where)
