"""Child processes of `make cluster` (and of the tests that start the same things): redis-server,
PostgreSQL, nginx, Director servers. Each runs in its own session, so a Ctrl+C in the terminal
reaches only the supervisor, which then stops each one the way that suits it."""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from director.entrypoint.api.message_queue import ping

logger = logging.getLogger(__name__)

STOP_TIMEOUT_S = 15.0


class ServiceError(RuntimeError):
    """A service could not be found, started or reached (the message says which and why)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until(ready: Callable[[], bool], what: str, timeout_s: float, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if not alive():
            raise ServiceError(f"{what} exited while starting")
        if time.monotonic() > deadline:
            raise ServiceError(f"{what} did not become ready within {timeout_s:.0f} s")
        time.sleep(0.05)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Child:
    """One supervised process: started in its own session, stopped with ``stop_signal`` then SIGKILL."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        stop_signal: int = signal.SIGTERM,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        user: str | None = None,
        cwd: Path | None = None,
    ):
        self.name = name
        self.argv = list(argv)
        self.stop_signal = stop_signal
        self.env = env
        self.log = log
        self.user = user
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Child:
        out: IO[bytes] | None = open(self.log, "ab") if self.log is not None else None  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                start_new_session=True,
                user=self.user,
                cwd=self.cwd,
            )
        except FileNotFoundError as exc:
            raise ServiceError(f"{self.name}: {self.argv[0]} not found (run `make system-deps`)") from exc
        finally:
            if out is not None:
                out.close()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(self.stop_signal)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %.0f s: killing it", self.name, timeout_s)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=timeout_s)
        return process.returncode

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log is not None and self.log.exists() else ""


def redis_child(data_dir: Path, port: int, host: str = "127.0.0.1") -> Child:
    """redis-server on ``host:port`` with its files in ``data_dir`` (no persistence: it carries events)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = ["redis-server", "--bind", host, "--port", str(port), "--dir", str(data_dir)]
    argv += ["--save", "", "--appendonly", "no", "--protected-mode", "yes"]
    return Child("redis-server", argv, log=data_dir / "redis.log")


def start_redis(data_dir: Path, port: int, host: str = "127.0.0.1", timeout_s: float = 10.0) -> Child:
    child = redis_child(data_dir, port, host).start()
    try:
        url = f"redis://{host}:{port}/0"
        wait_until(lambda: ping(url) is None, "redis-server", timeout_s, child.alive)
    except ServiceError as exc:
        child.stop()
        raise ServiceError(f"{exc}\n{child.logs()[-2000:]}") from None
    return child


def nginx_binary() -> str:
    # Debian puts nginx in /usr/sbin, which a normal user's PATH may not include.
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin") or "nginx"


def nginx_child(config: Path, runtime_dir: Path) -> Child:
    # QUIT: graceful; the supervisor stops the servers behind it right after.
    argv = [nginx_binary(), "-c", str(config), "-p", str(runtime_dir), "-g", "daemon off;"]
    return Child("nginx", argv, stop_signal=signal.SIGQUIT, log=runtime_dir / "nginx.out")


def start_nginx(config: Path, runtime_dir: Path, host: str, port: int, timeout_s: float = 10.0) -> Child:
    child = nginx_child(config, runtime_dir).start()
    try:
        wait_until(lambda: port_open(host, port), "nginx", timeout_s, child.alive)
    except ServiceError as exc:
        child.stop()
        error_log = runtime_dir / "error.log"
        detail = error_log.read_text(errors="replace")[-2000:] if error_log.exists() else ""
        raise ServiceError(f"{exc}\n{child.logs()[-1000:]}{detail}") from None
    return child


def find_pg_bin() -> Path | None:
    """The newest PostgreSQL bin dir (Debian keeps initdb out of PATH, under a versioned dir)."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    return next((c for c in candidates if (c / "initdb").exists() and (c / "postgres").exists()), None)


def pg_owner() -> str | None:
    """PostgreSQL refuses to run as root: when we are root it runs as the ``postgres`` user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceError("running as root but there is no 'postgres' user to run PostgreSQL") from None
    return "postgres"


def start_postgres(root: Path, port: int, user: str, database: str, timeout_s: float = 30.0) -> Child:
    """PostgreSQL with its data in ``root/data`` (kept across runs: it holds the sessions), listening
    on 127.0.0.1:``port`` only, trusting local connections; ``database`` is created if missing."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise ServiceError("PostgreSQL (initdb, postgres) not found: run `make system-deps`")
    owner = pg_owner()
    root.mkdir(parents=True, exist_ok=True)
    data_dir = root / "data"
    if owner is not None:
        shutil.chown(root, user=owner)
        reachable = subprocess.run(["test", "-w", str(root)], user=owner, cwd="/", check=False)
        if reachable.returncode != 0:
            raise ServiceError(
                f"PostgreSQL runs as user {owner}, who cannot reach {root} (a parent directory is private): "
                "set CLUSTER_DIR to a directory it can reach, such as /var/tmp/director-cluster"
            )
    if not (data_dir / "PG_VERSION").exists():
        logger.info("creating a PostgreSQL cluster in %s", data_dir)
        initdb = [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", user, "-A", "trust", "-E", "UTF8"]
        result = subprocess.run(
            [*initdb, "--locale=C", "--no-instructions"], capture_output=True, text=True, user=owner, cwd=root
        )
        if result.returncode != 0:
            raise ServiceError(f"initdb failed: {result.stderr.strip()}")
    argv = [str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port), "-k", str(root)]
    argv += ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"]
    # SIGINT is PostgreSQL's "fast" shutdown: the servers are already stopped when it gets it.
    log = root / "postgres.log"
    child = Child("postgres", argv, stop_signal=signal.SIGINT, log=log, user=owner, cwd=root).start()
    try:
        wait_until(lambda: _create_database(port, user, database), "PostgreSQL", timeout_s, child.alive)
    except ServiceError as exc:
        child.stop()
        raise ServiceError(f"{exc}\n{child.logs()[-2000:]}") from None
    return child


def _create_database(port: int, user: str, database: str) -> bool:
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(
            host="127.0.0.1", port=port, user=user, dbname="postgres", connect_timeout=2, autocommit=True
        ) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        return True
    except psycopg.OperationalError:
        return False
