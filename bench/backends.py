"""Run a benchmark on SQLite (a temp file) and a real PostgreSQL (TEST_POSTGRES_DSN, or a throwaway cluster)."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def on_each_backend(bench: Callable[[str, Any], None], argv: list[str]) -> None:
    """``bench(name, db)`` on the backends named in ``argv`` (``sqlite``, ``postgres``; default both)."""
    parts = set(argv) or {"sqlite", "postgres"}
    if "sqlite" in parts:
        from director.db.sqlite import SQLiteDB

        with tempfile.TemporaryDirectory() as tmp:
            db = SQLiteDB(Path(tmp) / "bench.db")
            try:
                bench("SQLite", db)
            finally:
                db.close()
    if "postgres" in parts:
        from director.db.postgres import PostgresDB

        from tests.fakes.postgres import create_database, drop_database, start_postgres

        server = start_postgres()
        dsn = create_database(server, prefix="director_bench")
        db = PostgresDB(dsn)
        try:
            bench("PostgreSQL", db)
        finally:
            db.close()
            drop_database(server, dsn)
            server.stop()
