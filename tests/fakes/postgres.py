"""A real, throwaway PostgreSQL cluster for tests (not a fake: the name keeps test helpers together).

``start_postgres()`` uses ``TEST_POSTGRES_DSN`` when set (its user needs CREATEDB); otherwise it runs
``initdb`` + ``pg_ctl start`` in a temp dir on a free loopback port with trust auth, and ``stop()``
removes everything. ``create_database()`` gives a test (or a server under test) its own empty database;
``create_schema()`` is the cheap per-test variant for code that takes a DSN.

Raises ``PostgresUnavailable`` when no binaries are found; callers decide between skip and fail
(``skip_or_fail_without_postgres`` does that the way the test suite wants: fail when ``CI`` is set).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

logger = logging.getLogger(__name__)

ENV_DSN = "TEST_POSTGRES_DSN"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be started or reached."""


class PostgresNotInstalled(PostgresUnavailable):
    """No PostgreSQL binaries on this machine (and no TEST_POSTGRES_DSN)."""


@dataclass
class PostgresServer:
    dsn: str  # connects to the maintenance database ("postgres") as a superuser or CREATEDB user
    data_dir: Path | None = None  # None when the server is external (TEST_POSTGRES_DSN)
    bin_dir: Path | None = None
    _root: Path | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.data_dir is not None and self.bin_dir is not None:
            # immediate: the data is thrown away, so there is nothing to flush.
            _run_as_owner(
                [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "immediate", "-w"],
                check=False,
            )
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)


def find_pg_bin() -> Path | None:
    """The newest PostgreSQL bin dir with initdb: $PG_BIN, PATH, then Debian's versioned dirs."""
    candidates = []
    if os.environ.get("PG_BIN"):
        candidates.append(Path(os.environ["PG_BIN"]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _owner() -> str | None:
    """initdb refuses to run as root: run the cluster as the ``postgres`` user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresUnavailable(
            "running as root but there is no 'postgres' user to own the cluster"
        ) from exc
    return "postgres"


def _run_as_owner(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    owner = _owner()
    if owner is not None:
        cmd = ["runuser", "-u", owner, "--", *cmd]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise PostgresUnavailable(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _wait_ready(dsn: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"PostgreSQL did not accept connections: {exc}") from exc
            time.sleep(0.05)


def start_postgres() -> PostgresServer:
    external = os.environ.get(ENV_DSN)
    if external:
        _wait_ready(external)
        return PostgresServer(dsn=external)

    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise PostgresNotInstalled(
            "PostgreSQL binaries (initdb, pg_ctl) not found; install them with `make system-deps` "
            f"or point {ENV_DSN} at a server"
        )
    root = Path(tempfile.mkdtemp(prefix="director-pg-"))
    data_dir = root / "data"
    owner = _owner()
    if owner is not None:
        shutil.chown(root, user=owner, group=None)
    try:
        # --no-sync and fsync=off: a throwaway cluster has nothing to protect, and it starts faster.
        _run_as_owner(
            [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "-A", "trust"]
            + ["-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]
        )
        server = None
        for _attempt in range(3):  # the free port can be taken between probing and binding
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            result = _run_as_owner(
                [str(bin_dir / "pg_ctl"), "start", "-D", str(data_dir), "-w", "-t", "30"]
                + ["-l", str(root / "server.log"), "-o", options],
                check=False,
            )
            if result.returncode == 0:
                dsn = make_conninfo(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
                server = PostgresServer(dsn=dsn, data_dir=data_dir, bin_dir=bin_dir, _root=root)
                break
            logger.warning("pg_ctl start failed on port %s: %s", port, result.stderr.strip())
        if server is None:
            log = (root / "server.log").read_text(errors="replace")[-2000:]
            raise PostgresUnavailable(f"PostgreSQL failed to start; server log tail:\n{log}")
        # A crashed test run must not leave a postgres process behind.
        atexit.register(server.stop)
        _wait_ready(server.dsn)
        return server
    except BaseException:
        _run_as_owner([str(bin_dir / "pg_ctl"), "stop", "-D", str(data_dir), "-m", "immediate"], check=False)
        shutil.rmtree(root, ignore_errors=True)
        raise


def create_database(server: PostgresServer, prefix: str = "director_test") -> str:
    """Create an empty database and return a DSN for it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(server.dsn)
    params["dbname"] = name
    return make_conninfo(**params)


def server_env(dsn: str) -> dict[str, str]:
    """The settings that point a Director server at the database of ``dsn``."""
    params = conninfo_to_dict(dsn)
    return {
        "DB_TYPE": "postgres",
        "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(params.get("port", 5432)),
        "POSTGRES_USER": str(params.get("user", "postgres")),
        "POSTGRES_DB": str(params["dbname"]),
        **({"POSTGRES_PASSWORD": str(params["password"])} if params.get("password") else {}),
    }


def drop_database(server: PostgresServer, dsn: str) -> None:
    name = conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create_schema(database_dsn: str, prefix: str = "director_test") -> str:
    """Create an empty schema in an existing database and return a DSN whose search_path is it.

    Much cheaper than a database per test (~0.2 ms vs ~200 ms); unqualified table names land in it.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    return make_conninfo(database_dsn, options=f"-c search_path={name}")


def drop_schema(dsn: str) -> None:
    params = conninfo_to_dict(dsn)
    name = params.pop("options").split("search_path=", 1)[1]
    with psycopg.connect(make_conninfo(**params), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def skip_or_fail_without_postgres(reason: str) -> None:
    """In CI a missing PostgreSQL is a failure (the tests must run there); locally it is a skip."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required when CI is set: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not available: {reason}")


@contextlib.contextmanager
def database_on_disk(server: PostgresServer, directory: Path) -> Iterator[str]:
    """A database whose tables live in a tablespace at ``directory`` (a small disk a test can fill;
    the WAL stays in the cluster's own directory, as on a server whose data volume fills up).
    Yields its DSN; drops it and the tablespace afterwards. Needs a cluster started here."""
    import pytest

    if server.data_dir is None:
        pytest.skip("needs a PostgreSQL started by the tests (its tablespace must be on this machine)")
    owner = _owner()
    if owner is not None:
        shutil.chown(directory, user=owner)
    name = f"director_disk_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(
                sql.Identifier(name), sql.Literal(str(directory))
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TABLESPACE {}").format(sql.Identifier(name), sql.Identifier(name))
        )
    try:
        yield make_conninfo(server.dsn, dbname=name)
    finally:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP TABLESPACE IF EXISTS {}").format(sql.Identifier(name)))
