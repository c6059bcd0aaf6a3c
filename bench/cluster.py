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
Prints the walls and the ratios; target (b)/(c) <= 0.75 on a 2-core machine, against LiteLLM's defaults (the
issue's ``litellm.completion(stream=True)``) and, stricter, against bare LiteLLM with the logging cut the servers
take. One process is bounded by LiteLLM's CPU per call on one core, two processes use both. The bench
process itself (200 clients and the fake provider) shares those cores.
Each run also prints the CPU seconds each kind of process (servers, redis-server, postgres, nginx, this
bench process) spent on the turns, from the first send to the last final message (the clients' connects
and disconnects are outside that window), and the servers' CPU per turn: what the two cores were busy with.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.cpu_usage import CpuMeter, describe, own_cpu_s  # noqa: E402
from bench.sessions import (  # noqa: E402
    LATENCY_S,
    TimedFakeOpenAI,
    bench_bare_litellm,
    bench_concurrent_sessions,
    server_env,
    warm_up,
)
from tests.fakes.cluster_command import ClusterCommand  # noqa: E402
from tests.fakes.server_process import ServerProcess, start_server  # noqa: E402

N_SESSIONS = 200
WORKERS = 2


def run_turns(fake: TimedFakeOpenAI, url: str, root_pid: int) -> tuple[float, list[dict[str, Any]]]:
    """The turns' wall time; prints the CPU every process spent on them (where the cores went)."""
    meter = CpuMeter(root_pid)
    result = bench_concurrent_sessions(fake, _Url(url), N_SESSIONS, meter)  # type: ignore[arg-type]
    print(f"      {describe(meter.spent, N_SESSIONS)}")
    return result


def one_process(fake: TimedFakeOpenAI) -> tuple[float, list[dict[str, Any]]]:
    server: ServerProcess = start_server(server_env(fake) | {"SERVER_THREADS": "512"})
    try:
        warm_up(server)
        assert server.pid is not None
        return run_turns(fake, server.url, server.pid)
    finally:
        server.cleanup()


def start_cluster(fake: TimedFakeOpenAI) -> ClusterCommand:
    # ClusterCommand starts again on new ports if one of its run was taken meanwhile.
    return ClusterCommand(server_env(fake) | {"SERVER_THREADS": "512"}, workers=WORKERS).start()


def cluster_of_two(fake: TimedFakeOpenAI) -> float:
    cluster = start_cluster(fake)
    try:
        for url in cluster.worker_urls:  # each process imports LiteLLM and makes its first call
            warm_up(_Url(url))
        assert cluster.process is not None
        wall, _ = run_turns(fake, cluster.url, cluster.process.pid)
        return wall
    finally:
        cluster.cleanup()


class _Url:
    def __init__(self, url: str):
        self.url = url


def bare(fake: TimedFakeOpenAI, bodies: list[dict[str, Any]], skip_logging: bool) -> float:
    from director.llm.litellm import ensure_litellm

    litellm = ensure_litellm()
    litellm.disable_streaming_logging = skip_logging
    before = own_cpu_s()
    wall = bench_bare_litellm(fake, bodies, stop_after_usage=True)
    cpu_ms = 1000 * (own_cpu_s() - before) / len(bodies)
    print(f"      CPU: this process (LiteLLM calls + fake provider) {cpu_ms:.1f} ms per call")
    return wall


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
        # The baseline is litellm.completion(stream=True) as it comes (LiteLLM's defaults); the
        # stricter comparison gives bare LiteLLM the same logging cut the servers take.
        print(f"  (b)/(c) cluster / bare (LiteLLM's defaults): {clustered / bare_log:5.2f}  (target <= 0.75)")
        print(
            f"  (b)/(c) cluster / bare (logging skipped):    {clustered / bare_skip:5.2f}  (stricter; also <= 0.75 wanted)"
        )
        print(f"  (a)/(c) 1 process / bare (skipped): {single / bare_skip:5.2f}")
        print(f"  (b)/(a) cluster / 1 process:       {clustered / single:5.2f}")
        print(f"  logging on / skipped, bare:        {bare_log / bare_skip:5.2f}")
        print(f"  (b)/0.5 s: {clustered / LATENCY_S:5.2f}")
    finally:
        fake.close()


if __name__ == "__main__":
    main()
