"""How long a server stalls while it runs turns (prints figures; not a test).

Run: .venv/bin/python bench/health_under_load.py

ROUNDS rounds of 100 concurrent sessions, one streamed turn each (bench/sessions.py (a)'s turns, the fake
provider answering after 0.5 s), while a poller asks the server's /health every 20 ms. Prints the server's
CPU per turn (mean and median over the rounds) and /health's latency: p50, p99, the longest, and how many
answers took over 250 ms. A process-wide pause (a garbage collection holding the GIL, say) shows as a
long /health answer.

BENCH_COMPARE_WITH=<a checkout> also runs that checkout's server (``git archive main backend | tar -x -C
/tmp/main``), both driven at the same time, so both see the same load on a shared machine: figures from
separate runs there differ by more than most changes do. BENCH_DB=postgres as in bench/sessions.py.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import sessions  # noqa: E402
from tests.fakes.server_process import ServerProcess, start_server  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "8"))
POLL_S = 0.02
STALL_S = 0.25
POSTGRES = None  # a throwaway PostgreSQL (tests/fakes/postgres.py) when BENCH_DB=postgres


class HealthPoller:
    """Asks /health every POLL_S from a thread of its own and records how long each answer took."""

    def __init__(self, url: str):
        self.url = url + "/health"
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            with contextlib.suppress(OSError), urllib.request.urlopen(self.url, timeout=10) as answer:
                answer.read()
            self.latencies.append(time.perf_counter() - started)
            self._stop.wait(POLL_S)

    def describe(self) -> str:
        xs = sorted(self.latencies)
        if not xs:
            return "/health never answered"
        p99 = xs[min(len(xs) - 1, int(len(xs) * 0.99))]
        stalls = sum(x > STALL_S for x in xs)
        return (
            f"/health while the turns ran ({len(xs)} asks): p50 {xs[len(xs) // 2] * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms, longest {xs[-1] * 1000:.0f} ms, {stalls} over {STALL_S * 1000:.0f} ms"
        )


def start(fake: sessions.TimedFakeOpenAI, source: str | None, database: str) -> ServerProcess:
    if source:
        os.environ["BENCH_SERVER_SOURCE"] = source
    else:
        os.environ.pop("BENCH_SERVER_SOURCE", None)
    sessions.DB_ENV.clear()
    if POSTGRES is not None:
        from tests.fakes import postgres as pg

        sessions.DB_ENV.update(pg.server_env(pg.create_database(POSTGRES, database)))
    return start_server(sessions.server_env(fake))


def main() -> int:
    global POSTGRES
    if os.environ.get("BENCH_DB") == "postgres":
        from tests.fakes import postgres as pg

        POSTGRES = pg.start_postgres()
    fake = sessions.TimedFakeOpenAI()
    servers: dict[str, ServerProcess] = {}
    try:
        servers["this checkout"] = start(fake, None, "bench_this")
        if other := os.environ.get("BENCH_COMPARE_WITH"):
            servers[other] = start(fake, other, "bench_other")
        for server in servers.values():
            sessions.warm_up(server)
        time.sleep(3)  # the warm-up thread's last start-up work is done
        with contextlib.redirect_stdout(io.StringIO()):  # a first round that is not counted
            for server in servers.values():
                sessions.bench_concurrent_sessions_cpu(fake, server, sessions.N_SESSIONS)
        cpu: dict[str, list[float]] = {name: [] for name in servers}
        pollers = {name: HealthPoller(server.url) for name, server in servers.items()}
        with contextlib.ExitStack() as stack:
            for poller in pollers.values():
                stack.enter_context(poller)
            for _ in range(ROUNDS):
                run_round(fake, servers, cpu)
        print(
            f"{ROUNDS} rounds of {sessions.N_SESSIONS} concurrent turns per server"
            + (", the servers driven at the same time" if len(servers) > 1 else "")
        )
        for name in servers:
            print(f"  {name}:")
            print(
                f"    server CPU per turn: mean {statistics.mean(cpu[name]):.1f} ms, "
                f"median {statistics.median(cpu[name]):.1f} ms "
                f"(rounds: {', '.join(f'{x:.1f}' for x in cpu[name])})"
            )
            print(f"    {pollers[name].describe()}")
    finally:
        for server in servers.values():
            server.cleanup()
        fake.close()
        if POSTGRES is not None:
            POSTGRES.stop()
    return 0


def run_round(
    fake: sessions.TimedFakeOpenAI, servers: dict[str, ServerProcess], cpu: dict[str, list[float]]
) -> None:
    spent: dict[str, float] = {}

    def drive(name: str) -> None:
        _wall, cpu_s, _requests = sessions.bench_concurrent_sessions_cpu(
            fake, servers[name], sessions.N_SESSIONS
        )
        spent[name] = cpu_s or 0.0

    with contextlib.redirect_stdout(io.StringIO()):
        threads = [threading.Thread(target=drive, args=(name,)) for name in servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for name in servers:
        cpu[name].append(spent[name] * 1000 / sessions.N_SESSIONS)


if __name__ == "__main__":
    sys.exit(main())
