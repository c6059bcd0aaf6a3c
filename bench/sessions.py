"""Session-server benchmarks (prints figures; not a test). Run: .venv/bin/python bench/sessions.py [a] [c] [d] [e]

(a) 100 concurrent sessions, one streamed turn each, over 100 real Socket.IO clients against a real
    server subprocess, the fake OpenAI provider answering after 0.5 s;
(b) the same 100 LLM calls made with bare ``litellm.completion(stream=True)`` from 100 threads
    against the same fake, in the same run, read two ways: to the stream's end (what a plain
    ``for chunk in stream`` does) and stopping after the usage chunk, as Director's adapter does
    (LiteLLM's end-of-stream work after that chunk is skipped); prints (a)/(b) for both (target
    <= 1.25) and (a)/0.5 s;
(c) turn overhead beyond the provider's own time (one tool call, two LLM calls, fake latency 0),
    median of 60 turns (target <= 15 ms); the provider's time is measured inside the fake. Printed
    both including and excluding bare LiteLLM's own client time for the same two calls, measured
    side by side in the same run;
(d) server start to /health answering, median of 5 (target <= 1.5 s), each on a new database (what a
    first start pays: the schema is created);
(e) the same on the database an earlier start made (what every later start pays).

BENCH_DB=postgres runs the server on a throwaway PostgreSQL (tests/fakes/postgres.py: fsync off, so the
figures are CPU and round trips, not disk) instead of SQLite, for (a) and (c).

BENCH_SERVER_SOURCE=<a checkout> runs that checkout's server instead of this one (its ``backend`` goes
first on the server's PYTHONPATH), so a change can be compared with main in one session:
``git archive main backend | tar -x -C /tmp/main`` then ``BENCH_SERVER_SOURCE=/tmp/main``.
BENCH_SERVER_WORKER=gevent runs the server with ``SERVER_WORKER=gevent``.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

import socketio  # noqa: E402

from tests.fakes.providers import FakeOpenAI, Reply  # noqa: E402
from tests.fakes.server_process import ServerProcess, start_server  # noqa: E402

N_SESSIONS = 100
LATENCY_S = 0.5
OVERHEAD_TURNS = 60  # medians of more turns: single turns swing by several ms on a shared machine
ROUNDS = 3
STARTUPS = 5
API_KEY = "sk-bench-key"
NAMESPACE = "/chat"


class TimedFakeOpenAI(FakeOpenAI):
    """The fake provider, also recording how long it spent on each completion request."""

    def __init__(self) -> None:
        super().__init__()
        self.handle_s: list[float] = []
        self._times_lock = threading.Lock()
        # Clients closing idle keep-alive connections are not errors worth a traceback here.
        self._server.handle_error = lambda request, client_address: None

    def _handle(self, h: Any) -> None:
        started = time.perf_counter()
        try:
            super()._handle(h)
        finally:
            with self._times_lock:
                self.handle_s.append(time.perf_counter() - started)


class BenchClient:
    """A Socket.IO client that records when its turn's final message arrived."""

    def __init__(self, url: str):
        self.sio = socketio.Client(reconnection=False)
        self.done = threading.Event()
        self.final: dict[str, Any] | None = None
        self.finished_at = 0.0
        self.deltas = 0
        self.sio.on("chat", self._on_chat, namespace=NAMESPACE)
        self.sio.on("chat_delta", self._on_delta, namespace=NAMESPACE)
        self.sio.on("error", self._on_error, namespace=NAMESPACE)
        self.sio.connect(url, namespaces=[NAMESPACE], transports=["websocket"], wait_timeout=30)

    def _on_chat(self, message: dict[str, Any]) -> None:
        if message["msg_type"] == "output" and message["status"] != "progress":
            self.finished_at = time.perf_counter()
            self.final = message
            self.done.set()

    def _on_delta(self, _payload: dict[str, Any]) -> None:
        self.deltas += 1

    def _on_error(self, payload: dict[str, Any]) -> None:
        self.final = {"status": "error", "error": payload}
        self.finished_at = time.perf_counter()
        self.done.set()

    def send(self, content: str) -> None:
        self.done.clear()
        self.final = None
        self.sio.emit("chat", {"content": content}, namespace=NAMESPACE)


DB_ENV: dict[str, str] = {}  # the server's database settings: SQLite's defaults unless BENCH_DB=postgres


def server_env(fake: FakeOpenAI) -> dict[str, str]:
    env = {
        **DB_ENV,
        "LITELLM_CHAT_MODEL": "openai/fake-model",
        "LITELLM_API_BASE": fake.api_base,
        "LITELLM_API_KEY": API_KEY,
        "LITELLM_NUM_RETRIES": "0",
        "DIRECTOR_LOG_LEVEL": "warning",
    }
    if source := os.environ.get("BENCH_SERVER_SOURCE"):
        env["PYTHONPATH"] = str(Path(source) / "backend")
    if worker := os.environ.get("BENCH_SERVER_WORKER"):
        env["SERVER_WORKER"] = worker  # gthread or gevent: compare the two in one session
    return env


def process_tree_cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system) used so far by ``pid`` and its descendants (the server's workers), from
    /proc: on a shared machine, a server's own CPU per turn varies far less than wall times do. None
    where /proc is not there."""
    proc = Path("/proc")
    if pid is None or not (proc / str(pid)).exists():
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        child = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(child)
        times[child] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo.extend(children.get(current, []))
    return total


def parallel(fn: Any, items: list[Any], workers: int) -> list[Any]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def warm_up(server: ServerProcess) -> None:
    """One turn so LiteLLM's import and first-call costs are not in the measurements."""
    client = BenchClient(server.url)
    client.send("warm up")
    if not client.done.wait(120):
        raise RuntimeError("warm-up turn did not finish")
    client.sio.disconnect()


def bench_concurrent_sessions(
    fake: TimedFakeOpenAI, server: ServerProcess, n_sessions: int = N_SESSIONS, meter: Any = None
) -> tuple[float, list[dict[str, Any]]]:
    wall, _cpu, requests = bench_concurrent_sessions_cpu(fake, server, n_sessions, meter)
    return wall, requests


def bench_concurrent_sessions_cpu(
    fake: TimedFakeOpenAI, server: ServerProcess, n_sessions: int = N_SESSIONS, meter: Any = None
) -> tuple[float, float | None, list[dict[str, Any]]]:
    """Wall time from the first send to the last final message, and the server's CPU seconds meanwhile.

    ``meter`` (bench/cpu_usage.CpuMeter) is started and stopped around the same window: the clients'
    connects and disconnects, paid once per connection rather than per turn, are outside it."""
    clients = parallel(lambda _: BenchClient(server.url), list(range(n_sessions)), workers=20)
    fake.reset()
    fake.latency = LATENCY_S
    fake.responder = lambda request: Reply(text="A short streamed answer for the benchmark turn.")
    pid = getattr(server, "pid", None)  # None for a URL (bench/cluster.py)
    cpu_before = process_tree_cpu_s(pid)
    if meter is not None:
        meter.start()
    started = time.perf_counter()
    for client in clients:
        client.send("benchmark question")
    for client in clients:
        if not client.done.wait(120):
            raise RuntimeError("a benchmark turn did not finish")
    if meter is not None:
        meter.stop()
    cpu_after = process_tree_cpu_s(pid)
    wall = max(c.finished_at for c in clients) - started
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    failures = [c.final for c in clients if not c.final or c.final.get("status") != "success"]
    if failures:
        raise RuntimeError(f"{len(failures)} turns failed, e.g. {failures[0]}")
    print(f"    deltas received per client (median): {statistics.median(c.deltas for c in clients)}")
    requests = [r.json for r in fake.requests]
    parallel(lambda c: c.sio.disconnect(), clients, workers=n_sessions)
    return wall, cpu, requests


def bare_litellm_call(fake: FakeOpenAI, body: dict[str, Any], stop_after_usage: bool = False) -> int:
    """One streamed call with bare LiteLLM, replaying a request body the server sent.

    ``stop_after_usage`` reads the stream the way Director's adapter does: once the finish reason
    and then the usage chunk have arrived, stop and close it.
    """
    import litellm

    litellm.suppress_debug_info = True
    extra: dict[str, Any] = {"tools": body["tools"]} if body.get("tools") else {}
    if body.get("stream_options"):
        extra["stream_options"] = body["stream_options"]
    stream = litellm.completion(
        model="openai/fake-model",
        api_base=fake.api_base,
        api_key=API_KEY,
        messages=body["messages"],
        stream=True,
        **extra,
    )
    if not stop_after_usage:
        return sum(1 for _ in stream)
    count, finished = 0, False
    for chunk in stream:
        count += 1
        finished = finished or any(choice.finish_reason for choice in chunk.choices)
        if finished and getattr(chunk, "usage", None) is not None:
            break
    stream.completion_stream.close()
    return count


def bench_bare_litellm(
    fake: TimedFakeOpenAI, requests: list[dict[str, Any]], stop_after_usage: bool = False
) -> float:
    fake.latency = 0.0
    bare_litellm_call(fake, requests[0])  # warm: LiteLLM's import and first-call costs stay outside
    fake.latency = LATENCY_S
    started = time.perf_counter()
    chunks = parallel(
        lambda body: bare_litellm_call(fake, body, stop_after_usage), requests, workers=len(requests)
    )
    wall = time.perf_counter() - started
    assert all(n > 1 for n in chunks), "bare LiteLLM calls did not stream"
    return wall


@dataclass
class OverheadResult:
    turn: float
    provider: float
    overhead: float
    litellm_client: float  # bare LiteLLM's own time for the turn's two calls (call time - provider time)
    litellm_client_early: float  # the same, each stream read only up to its usage chunk (as the adapter)


def bench_turn_overhead(fake: TimedFakeOpenAI, server: ServerProcess) -> OverheadResult:
    client = BenchClient(server.url)
    fake.reset()
    fake.latency = 0.0
    overheads, turns, provider = [], [], []
    for i in range(OVERHEAD_TURNS + 2):
        fake.script(Reply(tool_calls=[("pricing", {"models": ["gpt-4o"]})]), Reply(text="It costs a little."))
        fake.handle_s.clear()
        started = time.perf_counter()
        client.send("What does gpt-4o cost?")
        if not client.done.wait(60):
            raise RuntimeError("overhead turn did not finish")
        turn = client.finished_at - started
        assert client.final and client.final["status"] == "success", client.final
        # The adapter closes a stream once its usage chunk is in, so the fake's handler may still be
        # writing the stream's last bytes (and recording its time) when the turn's answer arrives.
        handled_by = time.perf_counter() + 2.0
        while len(fake.handle_s) < 2 and time.perf_counter() < handled_by:
            time.sleep(0.001)
        assert len(fake.handle_s) == 2, fake.handle_s
        if i >= 2:  # the first turns warm the pricing agent's model map
            turns.append(turn)
            provider.append(sum(fake.handle_s))
            overheads.append(turn - sum(fake.handle_s))
    client.sio.disconnect()

    # LiteLLM's own client-side time for the same two requests, made bare from this process.
    bodies = [request.json for request in fake.requests[-2:]]
    replies = [Reply(tool_calls=[("pricing", {"models": ["gpt-4o"]})]), Reply(text="It costs a little.")]
    for _ in range(2):  # warm
        fake.script(*replies)
        for body in bodies:
            bare_litellm_call(fake, body)
    client_times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(OVERHEAD_TURNS):
        for early in (False, True):  # interleaved, so machine noise hits both alike
            fake.script(*replies)
            fake.handle_s.clear()
            started = time.perf_counter()
            for body in bodies:
                bare_litellm_call(fake, body, stop_after_usage=early)
            client_times[early].append(time.perf_counter() - started - sum(fake.handle_s))
    return OverheadResult(
        turn=statistics.median(turns),
        provider=statistics.median(provider),
        overhead=statistics.median(overheads),
        litellm_client=statistics.median(client_times[False]),
        litellm_client_early=statistics.median(client_times[True]),
    )


def bench_startup(fake: FakeOpenAI) -> tuple[float, list[float]]:
    times = []
    for _ in range(STARTUPS):
        server = start_server(server_env(fake))
        times.append(server.startup_s or 0.0)
        server.cleanup()
    return statistics.median(times), times


def run_a(fake: TimedFakeOpenAI, server: ServerProcess) -> None:
    print(
        f"(a) {N_SESSIONS} concurrent sessions, one streamed turn each, provider latency {LATENCY_S} s, "
        f"vs (b) the same LLM calls with bare litellm.completion(stream=True) from {N_SESSIONS} threads"
    )
    print(
        f"    {ROUNDS} alternating rounds on a shared machine; medians decide. Bare LiteLLM is read two "
        "ways: to the end, and stopping after the usage chunk (as the adapter does)"
    )
    server_walls, bare_walls, early_walls, server_cpus = [], [], [], []
    for round_no in range(1, ROUNDS + 1):
        server_wall, server_cpu, requests = bench_concurrent_sessions_cpu(fake, server)
        if server_cpu is not None:
            server_cpus.append(server_cpu)
        bare_wall = bench_bare_litellm(fake, requests)
        early_wall = bench_bare_litellm(fake, requests, stop_after_usage=True)
        server_walls.append(server_wall)
        bare_walls.append(bare_wall)
        early_walls.append(early_wall)
        print(
            f"    round {round_no}: server {server_wall:.3f} s, bare LiteLLM to the end {bare_wall:.3f} s "
            f"(ratio {server_wall / bare_wall:.2f}), up to usage {early_wall:.3f} s "
            f"(ratio {server_wall / early_wall:.2f})"
            + (
                f"; server CPU {server_cpu * 1000 / N_SESSIONS:.1f} ms per turn"
                if server_cpu is not None
                else ""
            )
        )
    server_wall = statistics.median(server_walls)
    bare_wall, early_wall = statistics.median(bare_walls), statistics.median(early_walls)
    print(f"    (a) server, first send to last final message:        {server_wall:.3f} s (median)")
    if server_cpus:
        cpu_per_turn = statistics.median(server_cpus) * 1000 / N_SESSIONS
        print(f"    (a) server CPU per turn (its LiteLLM calls included):  {cpu_per_turn:.1f} ms (median)")
    print(f"    (b) bare LiteLLM, 100 threads, streams read to end:   {bare_wall:.3f} s (median)")
    print(f"    (b') bare LiteLLM, 100 threads, up to usage chunk:    {early_wall:.3f} s (median)")
    print(f"    ratio server / bare LiteLLM read to the end: {server_wall / bare_wall:.2f}  (target <= 1.25)")
    print(f"    ratio server / bare LiteLLM up to the usage chunk: {server_wall / early_wall:.2f}")
    print(
        f"    ratio to the {LATENCY_S} s ideal: server {server_wall / LATENCY_S:.2f}, "
        f"bare LiteLLM {bare_wall / LATENCY_S:.2f} (to the end), {early_wall / LATENCY_S:.2f} (up to usage)"
    )


def run_c(fake: TimedFakeOpenAI, server: ServerProcess) -> None:
    result = bench_turn_overhead(fake, server)
    print(
        f"(c) turn with one tool call (pricing) + two streamed LLM calls, provider latency 0, "
        f"median of {OVERHEAD_TURNS}"
    )
    print(
        f"    turn {result.turn * 1000:.1f} ms; provider's own time (measured at the fake) "
        f"{result.provider * 1000:.1f} ms"
    )
    print(
        f"    overhead beyond the provider, including LiteLLM's own client time: "
        f"{result.overhead * 1000:.1f} ms  (target <= 15 ms)"
    )
    print(
        f"      bare LiteLLM's own client time for the same two calls: "
        f"{result.litellm_client_early * 1000:.1f} ms read up to the usage chunk (as the adapter), "
        f"{result.litellm_client * 1000:.1f} ms read to the end"
    )
    excluding = result.overhead - result.litellm_client_early
    print(
        f"    overhead excluding bare LiteLLM's client time (adapter beyond bare LiteLLM, server, engine, "
        f"agent, DB, real Socket.IO): {excluding * 1000:.1f} ms"
    )
    in_process = bench_engine_in_process()
    print(
        f"      of which the same turn in-process with a scripted LLM (engine, agent, SQLite, Socket.IO "
        f"test client): {in_process * 1000:.1f} ms"
    )


def bench_engine_in_process() -> float:
    """The same tool-call turn in-process: real app, engine, agent and SQLite, but a scripted LLM and
    Socket.IO's test client, so neither LiteLLM nor the network is in the figure."""
    import tempfile

    from director.agents import AGENTS
    from director.db.sqlite import SQLiteDB
    from director.entrypoint.api.app import create_app
    from director.entrypoint.api.settings import load_server_settings

    from tests.fakes.scripted_llm import ScriptedLLM, text_response, tool_call, tool_response

    llm = ScriptedLLM()
    with tempfile.TemporaryDirectory() as tmp:
        db = SQLiteDB(Path(tmp) / "bench.db")
        app, sio = create_app(load_server_settings(_env_file=None), llm=llm, db=db, agents=AGENTS)
        client = sio.test_client(app, namespace=NAMESPACE)

        def turn() -> float:
            llm.queue(
                tool_response(tool_call("pricing", {"models": ["gpt-4o"]}, call_id="c1")),
                text_response("It costs a little."),
            )
            started = time.perf_counter()
            client.emit("chat", {"content": "What does gpt-4o cost?"}, namespace=NAMESPACE)
            while True:
                for packet in client.get_received(NAMESPACE):
                    message = packet["args"][0]
                    if packet["name"] == "chat" and message["msg_type"] == "output":
                        if message["status"] != "progress":
                            return time.perf_counter() - started
                time.sleep(0.0002)

        for _ in range(3):
            turn()
        result = statistics.median(turn() for _ in range(OVERHEAD_TURNS))
        client.disconnect(namespace=NAMESPACE)
        db.close()
    return result


def bench_restart(fake: FakeOpenAI) -> tuple[float, list[float]]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        env = {**server_env(fake), "SQLITE_DB_PATH": str(Path(tmp) / "director.db")}
        start_server(env).cleanup()  # creates the database
        times = []
        for _ in range(STARTUPS):
            server = start_server(env)
            times.append(server.startup_s or 0.0)
            server.cleanup()
    return statistics.median(times), times


def run_e(fake: FakeOpenAI) -> None:
    median, samples = bench_restart(fake)
    print(
        f"(e) server start on an existing database to /health answering: median {median:.3f} s of {STARTUPS} "
        f"({', '.join(f'{s:.2f}' for s in samples)})"
    )


def run_d(fake: FakeOpenAI) -> None:
    median, samples = bench_startup(fake)
    print(
        f"(d) server start to /health answering: median {median:.3f} s of {STARTUPS} "
        f"({', '.join(f'{s:.2f}' for s in samples)})  (target <= 1.5 s)"
    )


def main() -> int:
    parts = set(sys.argv[1:]) or {"a", "c", "d", "e"}
    fake = TimedFakeOpenAI()
    postgres = None
    if os.environ.get("BENCH_DB") == "postgres":
        from tests.fakes import postgres as pg

        postgres = pg.start_postgres()
        DB_ENV.update(pg.server_env(pg.create_database(postgres, "director_bench")))
        print("database: PostgreSQL (throwaway, fsync off)")
    try:
        if parts & {"a", "c"}:
            server = start_server(server_env(fake))
            try:
                warm_up(server)
                if "a" in parts:
                    run_a(fake, server)
                if "c" in parts:
                    run_c(fake, server)
            finally:
                server.cleanup()
        if "d" in parts:
            run_d(fake)
        if "e" in parts:
            run_e(fake)
    finally:
        fake.close()
        if postgres is not None:
            postgres.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
