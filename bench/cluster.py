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
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

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


def run_turns(fake: TimedFakeOpenAI, url: str) -> tuple[float, list[dict[str, Any]]]:
    return bench_concurrent_sessions(fake, _Url(url), N_SESSIONS)  # type: ignore[arg-type]


def one_process(fake: TimedFakeOpenAI) -> tuple[float, list[dict[str, Any]]]:
    server: ServerProcess = start_server(server_env(fake) | {"SERVER_THREADS": "512"})
    try:
        warm_up(server)
        return run_turns(fake, server.url)
    finally:
        server.cleanup()


def cluster_of_two(fake: TimedFakeOpenAI) -> float:
    cluster = ClusterCommand(server_env(fake) | {"SERVER_THREADS": "512"}, workers=WORKERS).start()
    try:
        for url in cluster.worker_urls:  # each process imports LiteLLM and makes its first call
            warm_up(_Url(url))
        wall, _ = run_turns(fake, cluster.url)
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
