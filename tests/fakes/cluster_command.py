"""`make cluster` (``python -m director.entrypoint.cluster``) as a subprocess, for tests and benches:
its own temp CLUSTER_DIR, a free run of ports (nginx on ``port``, the servers on the next ones), a
clean environment, and Ctrl+C (SIGINT) to stop it.

    cluster = ClusterCommand(provider_env, workers=2).start()
    cluster.url, cluster.worker_urls, cluster.logs()
    cluster.cleanup()
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.fakes.server_process import free_port, wait_for_health

STARTUP_TIMEOUT_S = 180.0  # initdb, four processes and LiteLLM's import, on a shared 2-core machine
START_TRIES = 3  # a port of the chosen run taken before the servers bound it: start again on a new run


class _PortTaken(RuntimeError):
    pass


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def free_run_of_ports(count: int) -> int:
    """A port with the next ``count`` ones free too."""
    for _ in range(50):
        base = free_port()
        if base + count < 65535 and not any(listening(base + i) for i in range(count + 1)):
            return base
    raise RuntimeError("no run of free ports")


class ClusterCommand:
    def __init__(self, env: dict[str, str], workers: int = 2):
        self._provider_env = env
        self._workers = workers
        self.process: subprocess.Popen[bytes] | None = None
        self._prepare()
        atexit.register(self.cleanup)

    def _prepare(self) -> None:
        """A new directory and a new run of free ports (each start attempt gets its own)."""
        # Not a private temp dir: as root, PostgreSQL runs as user postgres, who must enter it.
        self.dir = Path(tempfile.mkdtemp(prefix="director-cluster-"))
        self.dir.chmod(0o755)
        self.port = free_run_of_ports(self._workers)
        self.url = f"http://127.0.0.1:{self.port}"
        self.worker_urls = [f"http://127.0.0.1:{self.port + i}" for i in range(1, self._workers + 1)]
        self.env = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
        self.env.update(
            {
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "LITELLM_OFFLINE_MODE": "true",
                "DIRECTOR_ENV_FILE": str(self.dir / "no.env"),
                "CLUSTER_DIR": str(self.dir),
                "CLUSTER_WORKERS": str(self._workers),
                "PYTHONUNBUFFERED": "1",
                # As in server_process: a title call would take a reply the tests scripted for an answer.
                "DIRECTOR_AUTO_TITLE": "false",
                **self._provider_env,
                "SERVER_PORT": str(self.port),
            }
        )
        self._log_path = self.dir / "cluster.log"

    def start(self) -> ClusterCommand:
        # The free ports are free when chosen; the servers bind them seconds later (initdb, Redis,
        # LiteLLM's import), and meanwhile another program's outgoing connection can take one as
        # its local port. Then start again on a new run rather than fail the tests.
        for attempt in range(1, START_TRIES + 1):
            try:
                return self._start_once()
            except _PortTaken as exc:
                if attempt == START_TRIES:
                    raise RuntimeError(str(exc)) from None
                self._prepare()
        raise AssertionError("unreachable")

    def _start_once(self) -> ClusterCommand:
        with open(self._log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "director.entrypoint.cluster"],
                env=self.env,
                cwd=self.dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_health(self.url, STARTUP_TIMEOUT_S, alive=self.alive)
            for url in self.worker_urls:
                wait_for_health(url, STARTUP_TIMEOUT_S)
        except Exception as exc:
            logs = self.logs()  # read before cleanup removes the directory they are in
            self.cleanup()
            error = _PortTaken if "already in use" in logs else RuntimeError
            raise error(f"make cluster did not start: {exc}\n{logs[-4000:]}") from None
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def logs(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """Ctrl+C, as a user stops it; SIGKILL to the group if it does not exit in time."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return process.returncode

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
