"""Run the real server (``python -m director.entrypoint.api.server``) as a subprocess for tests.

    server = start_server({"LITELLM_CHAT_MODEL": "openai/fake-model", ...})
    requests.get(server.url + "/health")
    server.restart()          # same port, same env, same SQLite file
    server.kill()             # SIGKILL, for crash tests
    assert "sk-" not in server.logs()
    server.stop()

The child gets a clean environment (PATH, HOME, the given env, LiteLLM's offline switches) and a
temp working directory, so neither the host's environment nor the repo's ``.env`` leaks in.
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
import time
import urllib.error
import urllib.request
from pathlib import Path

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

# Every server started here, so a crashing test run or script cannot leave one running.
_running: set[ServerProcess] = set()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_running):
        server.stop()


class ServerStartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_health(url: str, timeout_s: float, alive: callable | None = None) -> float:  # type: ignore[valid-type]
    """Poll ``url/health`` until it answers 200; returns the seconds it took."""
    start = time.monotonic()
    deadline = start + timeout_s
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise ServerStartError("server process exited before /health answered")
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.01)
    raise ServerStartError(f"{url}/health did not answer within {timeout_s} s")


class ServerProcess:
    def __init__(self, env: dict[str, str], port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.workdir = Path(tempfile.mkdtemp(prefix="director-server-"))
        self.env = self._child_env(env)
        self._log_path = self.workdir / "server.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None

    def _child_env(self, env: dict[str, str]) -> dict[str, str]:
        child = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
        child.update(
            {
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "LITELLM_OFFLINE_MODE": "true",
                # A .env path that does not exist: the repo's .env must not leak into tests.
                "DIRECTOR_ENV_FILE": str(self.workdir / "no.env"),
                "SQLITE_DB_PATH": str(self.workdir / "director.db"),
                "SERVER_HOST": "127.0.0.1",
                "PYTHONUNBUFFERED": "1",
                # Tests count the provider's requests: the title call only where a test asks for it.
                "DIRECTOR_AUTO_TITLE": "false",
            }
        )
        # DIRECTOR_TEST_SERVER_WORKER=gevent runs every server the tests start under the gevent worker
        # (a test's own SERVER_WORKER still wins): the front door's tests then check that worker too.
        if worker := os.environ.get("DIRECTOR_TEST_SERVER_WORKER"):
            child["SERVER_WORKER"] = worker
        child.update(env)
        child["SERVER_PORT"] = str(self.port)
        return child

    def start(self) -> ServerProcess:
        log = open(self._log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "director.entrypoint.api.server"],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the test runner does not hit it twice
            )
        finally:
            log.close()
        _running.add(self)
        try:
            self.startup_s = wait_for_health(self.url, STARTUP_TIMEOUT_S, alive=self.alive)
        except ServerStartError as exc:
            self.stop()
            raise ServerStartError(f"{exc}\n--- server log ---\n{self.logs()}") from None
        return self

    def wait_until_warm(self, timeout_s: float = 90.0) -> None:
        """Wait for the background LiteLLM import to finish, so a test's first turn is not timed
        against it (it takes 2 s on an idle machine, many more on a loaded one)."""
        deadline = time.monotonic() + timeout_s
        while "LLM layer warmed up" not in self.logs() and "LLM warm-up failed" not in self.logs():
            if time.monotonic() > deadline or not self.alive():
                raise ServerStartError(f"the LLM layer did not warm up within {timeout_s} s\n{self.logs()}")
            time.sleep(0.05)

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self) -> int | None:
        """SIGTERM (graceful), then SIGKILL if it does not exit in time. Returns the exit code."""
        process = self._process
        if process is None:
            return None
        _running.discard(self)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_TIMEOUT_S)
        return process.returncode

    def kill(self) -> int | None:
        """SIGKILL the whole process group at once (a crash or power cut: no drain, nothing saved)."""
        process = self._process
        if process is None:
            return None
        _running.discard(self)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
        return process.returncode

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()

    def logs(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def start_server(env: dict[str, str], port: int | None = None) -> ServerProcess:
    """Start the real server on ``port`` (a free one by default) and wait until /health answers."""
    return ServerProcess(env, port or free_port()).start()
