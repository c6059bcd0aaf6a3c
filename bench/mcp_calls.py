"""MCP tool calls through MCPHub (prints figures; not a test). Run: .venv/bin/python bench/mcp_calls.py

Starts the test MCP server (tests/fakes/mcp_servers.py) over stdio and over streamable HTTP on 127.0.0.1,
then measures: the hub's start-up (spawn/connect, initialize, list tools), the round trip of one small
tool call from a thread (what an agent step pays on top of the tool's own work), the same from 8 threads
at once, and how long a crashed stdio server takes to be back.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "backend"))

from director.mcp.config import MCPServerSpec  # noqa: E402
from director.mcp.hub import MCPHub, MCPUnavailableError, ServerStatus  # noqa: E402

from tests.fakes.mcp_servers import running_http_server  # noqa: E402

CALLS = 200
THREADS = 8
PER_THREAD = 50


def measure(hub: MCPHub, server: str) -> None:
    started = time.perf_counter()
    hub.start(wait_s=60)
    print(f"  start-up (connect, initialize, list tools): {(time.perf_counter() - started) * 1000:.0f} ms")
    for _ in range(10):
        hub.call_tool(server, "add", {"a": 1, "b": 2})  # warm up
    times = []
    for i in range(CALLS):
        t0 = time.perf_counter()
        hub.call_tool(server, "add", {"a": i, "b": 1})
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    print(
        f"  one call: median {statistics.median(times):.2f} ms, p95 {times[int(len(times) * 0.95)]:.2f} ms "
        f"({CALLS} calls, one thread)"
    )

    def worker() -> None:
        for i in range(PER_THREAD):
            hub.call_tool(server, "add", {"a": i, "b": 2})

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    print(f"  {THREADS} threads: {THREADS * PER_THREAD / elapsed:.0f} calls/s")


def main() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    stdio = MCPServerSpec(
        name="fake", command=sys.executable, args=["-m", "tests.fakes.mcp_servers", "stdio"], cwd=str(REPO)
    )
    print("stdio:")
    hub = MCPHub([stdio])
    try:
        measure(hub, "fake")
    finally:
        hub.close()

    print("streamable HTTP (127.0.0.1):")
    with running_http_server() as url:
        hub = MCPHub([MCPServerSpec(name="remote", url=url)])
        try:
            measure(hub, "remote")
        finally:
            hub.close()

    print("crash and restart (stdio):")
    with tempfile.TemporaryDirectory() as tmp:
        spec = stdio.model_copy(update={"env": {"MCP_FAKE_CRASH_FLAG": str(Path(tmp) / "crashed")}})
        hub = MCPHub([spec])
        try:
            hub.start(wait_s=60)
            t0 = time.perf_counter()
            try:
                hub.call_tool("fake", "crash", {})
            except MCPUnavailableError:
                pass
            link = hub.links["fake"]
            while not (link.restarts and link.status == ServerStatus.READY):
                time.sleep(0.01)
            print(
                f"  back and ready {(time.perf_counter() - t0) * 1000:.0f} ms after the crash (first backoff 500 ms)"
            )
        finally:
            hub.close()


if __name__ == "__main__":
    main()
