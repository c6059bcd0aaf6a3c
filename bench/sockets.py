"""Idle sockets benchmark (prints figures; not a test).
Run: .venv/bin/python bench/sockets.py [clients] [gevent|gthread]  (the server's SERVER_WORKER; gevent by default)

Connects 2,000 idle clients (default) to one real server process and keeps them connected: each
opens an Engine.IO websocket, connects the /chat namespace as the browser does and then only answers
pings. While they are all connected it prints:

- the time to connect them, and how many the server refused;
- ``/health`` latency p50/p99 over 200 requests, each on a new connection (target p99 <= 100 ms);
- the server's RSS (master and worker) before and after, and per idle socket;
- one full streamed turn from another client: time to its first delta and to its final message
  (the fake provider answers at once), so the figure is the server's own time under that load. A
  server whose socket slots are all taken (the threaded server's are SERVER_THREADS minus an eighth)
  refuses that client with 503: the turn is then printed as nan and the target as missed.

The clients are raw websockets on one asyncio loop (python-socketio clients need a thread each).
They connect from several 127.x addresses, a batch at a time: the server lets one address hold only a
share of the connections that have not connected the namespace yet (see admission.py).
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import os
import resource
import statistics
import struct
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import socketio  # noqa: E402

from bench.sessions import BenchClient, server_env  # noqa: E402
from tests.fakes.providers import FakeOpenAI, Reply  # noqa: E402
from tests.fakes.server_process import ServerProcess, start_server  # noqa: E402

N_CLIENTS = 2000
SOURCES = 16  # client addresses 127.0.1.1 ... 127.0.1.16
CONNECTING_AT_ONCE = 50
HEALTH_REQUESTS = 200
ENGINE_IO_PATH = "/socket.io/?EIO=4&transport=websocket"
CONNECT_CHAT = b"40/chat,"
PING, PONG = b"2", b"3"


def raise_open_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- a minimal websocket client (RFC 6455: text frames, masked as a client must) --------------


def text_frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x81, 0x80 | length)
    else:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, length)
    return head + mask + masked


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    return first & 0x0F, await reader.readexactly(length)


class IdleClient:
    """One browser tab that connected and then does nothing but answer the server's pings."""

    def __init__(self, host: str, port: int, source: str):
        self.host, self.port, self.source = host, port, source
        self.connected = False
        self.closed_by_server = False
        self.task: asyncio.Task[None] | None = None

    async def connect(self) -> bool:
        try:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, local_addr=(self.source, 0)
            )
            key = base64.b64encode(os.urandom(16)).decode()
            self.writer.write(
                (
                    f"GET {ENGINE_IO_PATH} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            head = await self.reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 101"):
                self.writer.close()
                return False
            _, opened = await read_frame(self.reader)  # engine.io "0{sid, pingInterval, ...}"
            if not opened.startswith(b"0"):
                return False
            self.writer.write(text_frame(CONNECT_CHAT))
            _, answer = await read_frame(self.reader)  # "40/chat,{sid}" once admitted
            self.connected = answer.startswith(b"40/chat,")
        except (OSError, asyncio.IncompleteReadError):
            return False
        if self.connected:
            self.task = asyncio.create_task(self.idle())
        return self.connected

    async def idle(self) -> None:
        try:
            while True:
                opcode, payload = await read_frame(self.reader)
                if opcode == 0x8:  # close
                    break
                if payload == PING:
                    self.writer.write(text_frame(PONG))
        except (OSError, asyncio.IncompleteReadError):
            pass
        self.closed_by_server = True
        self.connected = False

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.writer.close()


async def connect_all(port: int, n: int) -> tuple[list[IdleClient], float]:
    clients = [IdleClient("127.0.0.1", port, f"127.0.1.{1 + i % SOURCES}") for i in range(n)]
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)

    async def one(client: IdleClient) -> None:
        async with gate:
            await client.connect()

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in clients))
    return clients, time.perf_counter() - started


# --- measurements --------------------------------------------------------------------------------


def health_latencies(server: ServerProcess, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == 200, response.status
        times.append(time.perf_counter() - started)
    return times


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def server_pids(server: ServerProcess) -> tuple[int, int]:
    """The gunicorn master and its (one) worker."""
    master = server.pid
    assert master is not None
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return master, int(children[0])


def one_turn(server: ServerProcess, fake: FakeOpenAI) -> tuple[float, float, int]:
    """Seconds to the first delta and to the final message of one streamed turn, and the delta count."""
    fake.script(Reply(text=" ".join(f"word{i}" for i in range(40))))
    client = BenchClient(server.url)
    first_delta: list[float] = []
    client.sio.on("chat_delta", lambda _p: first_delta.append(time.perf_counter()), namespace="/chat")
    try:
        started = time.perf_counter()
        client.send("One turn while everyone idles")
        if not client.done.wait(60) or client.final is None or client.final["status"] != "success":
            raise RuntimeError(f"the turn did not finish: {client.final}")
        return (
            (first_delta[0] if first_delta else client.finished_at) - started,
            (client.finished_at - started),
            len(first_delta),
        )
    finally:
        client.sio.disconnect()


async def run(n: int, worker_class: str) -> int:
    raise_open_file_limit()
    fake = FakeOpenAI()
    server = start_server({**server_env(fake), "SERVER_WORKER": worker_class})
    clients: list[IdleClient] = []
    try:
        master, worker = server_pids(server)
        # A first turn, so LiteLLM's import is not part of the measured ones.
        await asyncio.to_thread(one_turn, server, fake)
        alone_delta, alone_final, _ = await asyncio.to_thread(one_turn, server, fake)
        idle_rss = rss_mb(worker)
        base = await asyncio.to_thread(health_latencies, server, HEALTH_REQUESTS)
        clients, connect_s = await connect_all(server.port, n)
        connected = sum(c.connected for c in clients)
        await asyncio.sleep(1)
        loaded = await asyncio.to_thread(health_latencies, server, HEALTH_REQUESTS)
        try:
            to_delta, to_final, deltas = await asyncio.to_thread(one_turn, server, fake)
        except socketio.exceptions.ConnectionError:  # a server whose sockets are all taken: 503
            to_delta = to_final = float("nan")
            deltas = 0
        worker_rss, master_rss = rss_mb(worker), rss_mb(master)
        still = sum(c.connected for c in clients)
        print(f"server worker: {worker_class}")
        print(
            f"idle clients: {connected}/{n} connected in {connect_s:.1f} s; {still} still connected at the end"
        )
        print(
            f"/health with no clients:   p50 {statistics.median(base) * 1000:6.1f} ms   "
            f"p99 {percentile(base, 99) * 1000:6.1f} ms"
        )
        print(
            f"/health with {connected} idle: p50 {statistics.median(loaded) * 1000:6.1f} ms   "
            f"p99 {percentile(loaded, 99) * 1000:6.1f} ms   (target p99 <= 100 ms)"
        )
        print(
            f"worker RSS: {idle_rss:.0f} MB before, {worker_rss:.0f} MB with {connected} idle sockets "
            f"({(worker_rss - idle_rss) * 1024 / max(connected, 1):.0f} KB each); master {master_rss:.0f} MB"
        )
        print(
            f"one streamed turn alone:          first delta after {alone_delta * 1000:4.0f} ms, "
            f"final message after {alone_final * 1000:4.0f} ms"
        )
        print(
            f"one streamed turn while they idle: first delta after {to_delta * 1000:4.0f} ms, "
            f"final message after {to_final * 1000:4.0f} ms ({deltas} deltas)"
        )
        ok = connected == n == still and percentile(loaded, 99) <= 0.100 and deltas > 0
        print("target met" if ok else "TARGET MISSED")
        return 0
    finally:
        for client in clients:
            client.close()
        server.cleanup()
        fake.close()


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else N_CLIENTS
    worker = sys.argv[2] if len(sys.argv) > 2 else "gevent"
    return asyncio.run(run(n, worker))


if __name__ == "__main__":
    sys.exit(main())
