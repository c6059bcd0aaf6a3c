"""The front door under attack (prints figures; not a test). Run: .venv/bin/python bench/abuse.py [--seconds 20]

One real server (default settings, DIRECTOR_AUTH_TOKEN set, SQLite) and the fake OpenAI provider. Each
attack runs for ``--seconds`` from addresses that are not the user's (127.0.0.2 and up; an attacker
is not the user), while this script:
- asks ``/health`` every 50 ms and prints its p50 / p99 / max and any failures (target p99 <= 100 ms);
- has a user who connected before the attack chat once, mid-attack;
- has a new user connect (retrying as the web UI does) and chat once, mid-attack.

Attacks (issue 8's findings): unknown-packet POSTs to fresh polling sessions (1), bare websockets that
never authenticate, from one address and from 50 (2), held long-polls of unauthenticated sessions,
malformed Socket.IO packets from a connected client (6), and requests with a foreign Host (3).
The attack loops are bounded by time and stop by themselves; all traffic stays on 127.0.0.0/8.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

import socketio  # noqa: E402

from tests.fakes.attacks import bare_websocket, open_polling_session, post_packet, request  # noqa: E402
from tests.fakes.providers import FakeOpenAI, Reply  # noqa: E402
from tests.fakes.server_process import ServerProcess, start_server  # noqa: E402
from tests.integration.live_client import LiveClient, answer_text  # noqa: E402

TOKEN = "bench-abuse-token"
# Attackers run in their own processes: in this one they would compete with the /health sampler for
# the GIL, and the figures would measure the bench instead of the server.
ATTACKER_PROCESSES = 2
THREADS_PER_ATTACKER = 8


def attacker_address(index: int) -> str:
    return f"127.0.{1 + index // 250}.{2 + index % 250}"


def unknown_packets(url: str, stop: Any, index: int) -> None:
    source = attacker_address(0)
    while not stop.is_set():
        sid = open_polling_session(url, source=source)
        if sid is None:
            time.sleep(0.05)
            continue
        post_packet(url, sid, b"6", source=source, timeout=10)


def bare_websockets(addresses: int) -> Callable[[str, Any, int], None]:
    def attack(url: str, stop: Any, index: int) -> None:
        source = attacker_address(index % addresses)
        held = []
        while not stop.is_set():
            sock = bare_websocket(url, source=source)
            if sock is None:
                time.sleep(0.1)
            else:
                held.append(sock)
            if len(held) > 40:
                held.pop(0).close()
        for sock in held:
            sock.close()

    return attack


def held_polls(url: str, stop: Any, index: int) -> None:
    source = attacker_address(index % 4)
    while not stop.is_set():
        sid = open_polling_session(url, source=source)
        if sid is None:
            time.sleep(0.05)
            continue
        try:
            request(url, "GET", f"/socket.io/?EIO=4&transport=polling&sid={sid}", source=source, timeout=60)
        except OSError:
            pass


MALFORMED = [b"42/chat,[]", b"42/chat,[5,{}]", b"4x", b"49/chat,[]", b"", b"\xff\xfe", b"451-/chat,[]"]


def malformed_packets(url: str, stop: Any, index: int) -> None:
    while not stop.is_set():
        sid = open_polling_session(url)
        if sid is None:
            time.sleep(0.05)
            continue
        post_packet(url, sid, b'40/chat,{"token":"' + TOKEN.encode() + b'"}')
        for _ in range(50):
            if stop.is_set() or post_packet(url, sid, MALFORMED[index % len(MALFORMED)]) != 200:
                break


def foreign_host(url: str, stop: Any, index: int) -> None:
    source = attacker_address(index % 4)
    while not stop.is_set():
        request(
            url,
            "GET",
            "/session",
            headers={"Host": "evil.example", "Origin": "http://evil.example"},
            source=source,
        )


ATTACKS: dict[str, Callable[[str, Any, int], None]] = {
    "none (baseline)": lambda url, stop, index: stop.wait(3600),
    "unknown-packet POSTs (#1)": unknown_packets,
    "bare websockets, 1 address (#2)": bare_websockets(1),
    "bare websockets, 50 addresses (#2)": bare_websockets(50),
    "held unauthenticated long-polls": held_polls,
    "malformed packets, connected (#6)": malformed_packets,
    "foreign Host header (#3)": foreign_host,
}


def sample_health(url: str, stop: threading.Event) -> tuple[list[float], int]:
    times, failures = [], 0
    while not stop.is_set():
        started = time.perf_counter()
        try:
            status, _ = request(url, "GET", "/health", timeout=5)
            if status != 200:
                failures += 1
                continue
            times.append(time.perf_counter() - started)
        except OSError:
            failures += 1
        stop.wait(0.05)
    return times, failures


def chat_once(client: LiveClient, text: str) -> bool:
    try:
        return answer_text(client.ask(text, timeout=15)) == "ok"
    except AssertionError:
        return False


def new_user_chats(url: str, deadline: float) -> str:
    """Connect like the web UI (retry after a refusal) and chat; returns how it went."""
    attempts = 0
    while time.monotonic() < deadline:
        attempts += 1
        try:
            client = LiveClient(url, auth={"token": TOKEN})
        except socketio.exceptions.ConnectionError:
            time.sleep(0.5)
            continue
        try:
            ok = chat_once(client, "hello")
        finally:
            client.disconnect()
        return f"{'yes' if ok else 'NO'} ({attempts} attempt{'s' * (attempts > 1)})"
    return f"NO (refused {attempts} times)"


def attacker_process(attack: Callable, url: str, stop: Any, first_index: int) -> None:
    with ThreadPoolExecutor(THREADS_PER_ATTACKER) as pool:
        for index in range(first_index, first_index + THREADS_PER_ATTACKER):
            pool.submit(attack, url, stop, index)


def run_attack(server: ServerProcess, name: str, attack: Callable, seconds: float, user: LiveClient) -> dict:
    stop = threading.Event()
    attack_stop = multiprocessing.Event()
    health: dict = {}
    sampler = threading.Thread(
        target=lambda: health.update(zip(("times", "failures"), sample_health(server.url, stop), strict=True))
    )
    sampler.start()
    attackers = [
        multiprocessing.Process(
            target=attacker_process, args=(attack, server.url, attack_stop, n * THREADS_PER_ATTACKER)
        )
        for n in range(ATTACKER_PROCESSES)
    ]
    for process in attackers:
        process.start()
    time.sleep(min(3.0, seconds / 4))  # let the attack build up first
    existing = chat_once(user, "hello")
    started = time.monotonic()
    newcomer = new_user_chats(server.url, started + seconds / 2)
    time.sleep(max(0.0, seconds - min(3.0, seconds / 4) - (time.monotonic() - started)))
    attack_stop.set()
    stop.set()
    for process in attackers:
        process.join(30)
        if process.is_alive():
            process.kill()
    sampler.join()
    times = sorted(health["times"])
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000 if times else float("nan")  # noqa: E731
    return {
        "attack": name,
        "health_p50_ms": round(statistics.median(times) * 1000, 1) if times else None,
        "health_p99_ms": round(p(0.99), 1),
        "health_max_ms": round(times[-1] * 1000, 1) if times else None,
        "health_failures": health["failures"],
        "connected_user_chat": "yes" if existing else "NO",
        "new_user_chat": newcomer,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each attack")
    parser.add_argument("--only", help="run only attacks whose name contains this text")
    args = parser.parse_args()

    fake = FakeOpenAI()
    fake.responder = lambda request: Reply(text="ok")
    server = start_server(
        {
            "LITELLM_CHAT_MODEL": "openai/fake-model",
            "LITELLM_API_BASE": fake.api_base,
            "LITELLM_API_KEY": "sk-bench",
            "LITELLM_NUM_RETRIES": "0",
            "DIRECTOR_AUTH_TOKEN": TOKEN,
            "DIRECTOR_LOG_LEVEL": "warning",
        }
    )
    rows = []
    try:
        user = LiveClient(server.url, auth={"token": TOKEN})
        chat_once(user, "warm up")  # LiteLLM's import and first call are not part of any figure
        for name, attack in ATTACKS.items():
            if args.only and args.only not in name:
                continue
            print(f"attack: {name} ({args.seconds:.0f} s)...", flush=True)
            rows.append(run_attack(server, name, attack, args.seconds, user))
            if not user.sio.connected:
                user = LiveClient(server.url, auth={"token": TOKEN})
            time.sleep(6)  # the unadmitted leftovers reach their deadline
        user.disconnect()
        alive = server.alive()
        stopped_at = time.monotonic()
        code = server.stop()
        stop_s = time.monotonic() - stopped_at
    finally:
        server.cleanup()
        fake.close()
    print()
    print(f"{'attack':38} {'/health p50':>11} {'p99':>8} {'max':>8} {'fails':>5}  connected user  new user")
    for row in rows:
        print(
            f"{row['attack']:38} {row['health_p50_ms']:>9} ms {row['health_p99_ms']:>5} ms {row['health_max_ms']:>5} ms"
            f" {row['health_failures']:>5}  {row['connected_user_chat']:>14}  {row['new_user_chat']}"
        )
    print(f"\nserver alive after all attacks: {alive}; SIGTERM exit code {code} in {stop_s:.2f} s")
    print("targets: /health p99 <= 100 ms, every chat completes")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
