"""Cluster benchmark (prints figures; not a test). Run: .venv/bin/python bench/cluster.py

200 concurrent sessions, one streamed turn each, over 200 real Socket.IO clients (websocket), the
fake OpenAI provider answering after 0.5 s, measured three ways in one run:
(a) one server process (what `make run` starts);
(b) `make cluster` with CLUSTER_WORKERS=2 (python -m director.entrypoint.cluster: Redis, PostgreSQL,
    two servers, nginx), the clients connecting through nginx;
(c) bare ``litellm.completion(stream=True)`` from 200 threads in this process, replaying the request
    bodies the servers sent, read as Director's adapter reads them (stopping after the usage chunk);
    once with LiteLLM's streaming success logging skipped (what Director does while no LiteLLM
    callback is registered, llm/streaming_logging.py) and once with it on (LiteLLM's default).
Prints the walls and the ratios; target (b)/(c) <= 0.75 on a 2-core machine: one process is bounded by
LiteLLM's CPU per call on one core, two processes use both. The bench process itself (200 clients and
the fake provider) shares those cores.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.sessions import (  # noqa: E402
    LATENCY_S,
    BenchClient,
    TimedFakeOpenAI,
    bench_bare_litellm,
    parallel,
    server_env,
    warm_up,
)
from tests.fakes.server_process import ServerProcess, free_port, start_server, wait_for_health  # noqa: E402

N_SESSIONS = 200
WORKERS = 2


def run_turns(fake: TimedFakeOpenAI, url: str) -> tuple[float, list[dict[str, Any]]]:
    clients = parallel(lambda _: BenchClient(url), list(range(N_SESSIONS)), workers=25)
    fake.reset()
    fake.latency = LATENCY_S
    fake.responder = lambda request: _reply()
    started = time.perf_counter()
    for client in clients:
        client.send("benchmark question")
    for client in clients:
        if not client.done.wait(180):
            raise RuntimeError("a benchmark turn did not finish")
    wall = max(c.finished_at for c in clients) - started
    failures = [c.final for c in clients if not c.final or c.final.get("status") != "success"]
    if failures:
        raise RuntimeError(f"{len(failures)} turns failed, e.g. {failures[0]}")
    bodies = [r.json for r in fake.requests]
    parallel(lambda c: c.sio.disconnect(), clients, workers=50)
    return wall, bodies


def _reply() -> Any:
    from tests.fakes.providers import Reply

    return Reply(text="A short streamed answer for the benchmark turn.")


class ClusterCommand:
    """`make cluster` as a subprocess, in its own temp CLUSTER_DIR; Ctrl+C (SIGINT) stops it."""

    def __init__(self, fake: TimedFakeOpenAI):
        self.dir = Path(tempfile.mkdtemp(prefix="director-bench-cluster-"))
        self.dir.chmod(0o755)  # as root, PostgreSQL runs as user postgres
        self.port = _free_run_of_ports(WORKERS)
        env = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
        env.update(
            server_env(fake),
            LITELLM_LOCAL_MODEL_COST_MAP="True",
            LITELLM_OFFLINE_MODE="true",
            DIRECTOR_ENV_FILE=str(self.dir / "no.env"),
            CLUSTER_DIR=str(self.dir),
            CLUSTER_WORKERS=str(WORKERS),
            SERVER_PORT=str(self.port),
            SERVER_THREADS="512",
        )
        self.log = open(self.dir / "cluster.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "director.entrypoint.cluster"],
            env=env,
            cwd=self.dir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[str]:
        return [f"http://127.0.0.1:{self.port + i}" for i in range(1, WORKERS + 1)]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _free_run_of_ports(count: int) -> int:
    import socket

    def listening(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    for _ in range(50):
        base = free_port()
        if base + count < 65535 and not any(listening(base + i) for i in range(1, count + 1)):
            return base
    raise RuntimeError("no run of free ports")


def one_process(fake: TimedFakeOpenAI) -> tuple[float, list[dict[str, Any]]]:
    server: ServerProcess = start_server(server_env(fake) | {"SERVER_THREADS": "512"})
    try:
        warm_up(server)
        return run_turns(fake, server.url)
    finally:
        server.cleanup()


def cluster_of_two(fake: TimedFakeOpenAI) -> float:
    cluster = ClusterCommand(fake)
    try:
        wait_for_health(cluster.url, 120, alive=lambda: cluster.process.poll() is None)
        for url in cluster.workers():  # each process imports LiteLLM and makes its first call
            wait_for_health(url, 60)
            warm_up(_Url(url))
        wall, _ = run_turns(fake, cluster.url)
        return wall
    finally:
        cluster.stop()


class _Url:
    def __init__(self, url: str):
        self.url = url


def bare(fake: TimedFakeOpenAI, bodies: list[dict[str, Any]], skip_logging: bool) -> float:
    from director.llm.litellm import ensure_litellm

    litellm = ensure_litellm()
    litellm.disable_streaming_logging = skip_logging
    return bench_bare_litellm(fake, bodies, stop_after_usage=True)


def main() -> None:
    print(f"cluster bench: {N_SESSIONS} concurrent sessions, one turn each, provider latency {LATENCY_S} s")
    print(f"  cores: {os.cpu_count()}")
    fake = TimedFakeOpenAI()
    try:
        single, bodies = one_process(fake)
        print(f"  (a) 1 process:                        {single:6.2f} s")
        clustered = cluster_of_two(fake)
        print(f"  (b) make cluster, {WORKERS} processes + nginx: {clustered:6.2f} s")
        bare_skip = bare(fake, bodies, skip_logging=True)
        bare_log = bare(fake, bodies, skip_logging=False)
        print(f"  (c) bare litellm, {N_SESSIONS} threads, streaming logging skipped: {bare_skip:6.2f} s")
        print(f"      bare litellm, {N_SESSIONS} threads, streaming logging on:      {bare_log:6.2f} s")
        print(f"  (b)/(c) cluster / bare (skipped):  {clustered / bare_skip:5.2f}  (target <= 0.75)")
        print(f"  (b)/(c) cluster / bare (logging):  {clustered / bare_log:5.2f}")
        print(f"  (a)/(c) 1 process / bare (skipped): {single / bare_skip:5.2f}")
        print(f"  (b)/(a) cluster / 1 process:       {clustered / single:5.2f}")
        print(f"  logging on / skipped, bare:        {bare_log / bare_skip:5.2f}")
        print(f"  (b)/0.5 s: {clustered / LATENCY_S:5.2f}")
    finally:
        fake.close()


if __name__ == "__main__":
    main()
