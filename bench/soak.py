"""Chaos soak (prints figures; not a test, not part of `make test`).

    .venv/bin/python bench/soak.py [--minutes 1] [--clients 12] [--full-disk-s 0]

N minutes of mixed load against a real server subprocess (SQLite) and the fake OpenAI provider:
concurrent Socket.IO clients send turns (quick answers, slow "drip" streams, turns they stop), new
sessions and follow-ups, while the server is restarted with SIGTERM and with kill -9 in turn; with
``--full-disk-s`` (root only) the SQLite file sits on a small tmpfs that is filled for that long.

At the end, with the server stopped gracefully, every final message a client received is compared
with the stored row (same msg_id): prints lost (no row), corrupted (a different row), answers left
"progress" in storage, session ids handed out but not stored (phantoms) and duplicate ids, which
must all be zero; finals that said they were not saved are counted apart. Also prints the worker's
RSS, threads and open fds (first/last/max per server incarnation) and turn p50/p95.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sqlite3
import statistics
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

import socketio  # noqa: E402

from tests.fakes.providers import FakeOpenAI, RecordedRequest, Reply  # noqa: E402
from tests.fakes.server_process import ServerProcess, start_server  # noqa: E402

NAMESPACE = "/chat"
SAMPLE_EVERY_S = 2.0
WORDS = "the keeper trims the wick at dusk and winds the clockwork that turns the lens".split()


@dataclass
class Turn:
    kind: str  # quick | drip | stop
    msg_id: str
    session_id: str | None
    sent_at: float
    final: dict[str, Any] | None = None
    final_at: float = 0.0
    error: dict[str, Any] | None = None
    seen_session_ids: set[str] = field(default_factory=set)


def reply_for(req: RecordedRequest) -> Reply:
    text = next(m["content"] for m in reversed(req.json["messages"]) if m["role"] == "user")
    words = random.choices(WORDS, k=12)
    if text.startswith("DRIP") or text.startswith("STOP"):
        return Reply(text=" ".join(words), chunk_delay=0.25)
    return Reply(text=" ".join(words[:6]))


class Client:
    """One simulated user: a loop of turns over a socket it reconnects whenever the server restarts."""

    def __init__(self, url: str, deadline: float, turns: list[Turn], lock: threading.Lock):
        self.url, self.deadline, self.turns, self.lock = url, deadline, turns, lock
        self.session_id: str | None = None
        self.current: Turn | None = None
        self.changed = threading.Condition()
        self.sio: socketio.Client | None = None

    def _connect(self) -> bool:
        while time.monotonic() < self.deadline:
            sio = socketio.Client(reconnection=False)
            sio.on("chat", self._on_chat, namespace=NAMESPACE)
            sio.on("chat_delta", self._on_delta, namespace=NAMESPACE)
            sio.on("error", self._on_error, namespace=NAMESPACE)
            sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)
            try:
                sio.connect(self.url, namespaces=[NAMESPACE], transports=["websocket"], wait_timeout=5)
            except Exception:
                time.sleep(0.3)
                continue
            self.sio = sio
            return True
        return False

    def _on_chat(self, message: dict[str, Any]) -> None:
        with self.changed:
            turn = self.current
            if turn is None:
                return
            if message.get("session_id"):
                turn.seen_session_ids.add(message["session_id"])
            if message["msg_type"] == "input" and message.get("client_msg_id") == turn.msg_id:
                self.session_id = message["session_id"]
            if message["msg_type"] == "output" and message.get("client_msg_id") == turn.msg_id:
                if message["status"] != "progress":
                    turn.final, turn.final_at = message, time.monotonic()
                    self.changed.notify_all()

    def _on_delta(self, delta: dict[str, Any]) -> None:
        with self.changed:
            turn = self.current
            if turn is not None and turn.kind == "stop" and self.sio is not None:
                turn.kind = "stop-sent"
                threading.Thread(
                    target=self._emit, args=("stop", {"session_id": delta["session_id"]}), daemon=True
                ).start()

    def _emit(self, event: str, payload: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            if self.sio is not None:
                self.sio.emit(event, payload, namespace=NAMESPACE)

    def _on_error(self, payload: dict[str, Any]) -> None:
        with self.changed:
            if self.current is not None:
                self.current.error = payload
                self.changed.notify_all()

    def _on_disconnect(self, *_args: Any) -> None:
        with self.changed:
            self.sio = None
            self.changed.notify_all()

    def _turn_over(self, turn: Turn) -> bool:
        return bool(turn.final or turn.error or self.sio is None or time.monotonic() > self.deadline)

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            if self.sio is None and not self._connect():
                return
            roll = random.random()
            kind = "quick" if roll < 0.7 else "drip" if roll < 0.9 else "stop"
            if random.random() < 0.15:
                self.session_id = None  # start a new session now and then
            prefix = {"quick": "Q", "drip": "DRIP", "stop": "STOP"}[kind]
            turn = Turn(kind, f"c-{os.urandom(6).hex()}", self.session_id, time.monotonic())
            with self.lock:
                self.turns.append(turn)
            payload: dict[str, Any] = {"content": f"{prefix} {' '.join(random.choices(WORDS, k=5))}"}
            payload["msg_id"] = turn.msg_id
            if self.session_id:
                payload["session_id"] = self.session_id
            with self.changed:
                self.current = turn
            self._emit("chat", payload)
            with self.changed:
                self.changed.wait_for(lambda turn=turn: self._turn_over(turn), timeout=30)
                self.current = None
            if turn.error and turn.error.get("code") == "storage_full":
                time.sleep(min(2.0, turn.error.get("retry_after", 1)))  # back off (capped: it is a soak)
            elif turn.error and turn.error.get("code") in ("session_busy", "server_stopping"):
                time.sleep(0.2)
        if self.sio is not None:
            with contextlib.suppress(Exception):
                self.sio.disconnect()


def worker_pid(master: int | None) -> int | None:
    if master is None:
        return None
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def sample(pid: int) -> tuple[float, int, int] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
        threads = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads")))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration, ValueError):
        return None
    return rss_kb / 1024, threads, fds


class Monitor(threading.Thread):
    def __init__(self, server: ServerProcess, stop: threading.Event):
        super().__init__(daemon=True)
        self.server, self.stop_event = server, stop
        self.by_pid: dict[int, list[tuple[float, int, int]]] = {}

    def run(self) -> None:
        while not self.stop_event.wait(SAMPLE_EVERY_S):
            pid = worker_pid(self.server.pid)
            if pid and (figures := sample(pid)):
                self.by_pid.setdefault(pid, []).append(figures)


def chaos(server: ServerProcess, deadline: float, restarts: int, disk: Any, full_disk_s: float) -> list[str]:
    """SIGTERM and kill -9 in turn, spread over the run; one full-disk window in the middle."""
    log: list[str] = []
    span = deadline - time.monotonic()
    events = [(span * (i + 1) / (restarts + 2), "sigterm" if i % 2 == 0 else "kill") for i in range(restarts)]
    if disk is not None and full_disk_s > 0:
        events.append((span / 2 - full_disk_s / 2, "fill"))
        events.append((span / 2 + full_disk_s / 2, "free"))
    start = time.monotonic()
    for at, what in sorted(events):
        time.sleep(max(0.0, start + at - time.monotonic()))
        if what == "sigterm":
            code = server.stop()
            server.start()
            log.append(f"SIGTERM restart (exit {code})")
        elif what == "kill":
            server.kill()
            server.start()
            log.append("kill -9 restart")
        elif what == "fill":
            disk.fill()
            log.append("disk filled")
        else:
            disk.free()
            log.append("disk freed")
    return log


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def audit(server: ServerProcess, turns: list[Turn], db_path: Path) -> dict[str, int]:
    counts = dict(received=0, lost=0, corrupted=0, told_not_saved=0, phantom_sessions=0, duplicates=0)
    conversations: dict[str, list[dict[str, Any]] | None] = {}

    def conversation(session_id: str) -> list[dict[str, Any]] | None:
        if session_id not in conversations:
            status, body = get_json(f"{server.url}/session/{session_id}")
            conversations[session_id] = body["conversation"] if status == 200 else None
        return conversations[session_id]

    for turn in turns:
        for session_id in turn.seen_session_ids:
            if conversation(session_id) is None:
                counts["phantom_sessions"] += 1
        if turn.final is None:
            continue
        counts["received"] += 1
        answer = next((b for b in turn.final["content"] if b.get("agent_name") == "assistant"), {})
        if (answer.get("data") or {}).get("error_type") == "storage_full":
            counts["told_not_saved"] += 1
            continue
        stored = next(
            (m for m in conversation(turn.final["session_id"]) or [] if m["msg_id"] == turn.final["msg_id"]),
            None,
        )
        if stored is None:
            counts["lost"] += 1
        elif stored != turn.final:
            counts["corrupted"] += 1
    for messages in conversations.values():
        ids = [m["msg_id"] for m in messages or []]
        counts["duplicates"] += len(ids) - len(set(ids))
    conn = sqlite3.connect(db_path)
    try:
        counts["progress_rows"] = conn.execute(
            "SELECT count(*) FROM conversations WHERE json_extract(message, '$.status') = 'progress'"
        ).fetchone()[0]
        counts["integrity_ok"] = int(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    finally:
        conn.close()
    return counts


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else (values[0] if values else 0.0)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--restarts", type=int, default=4, help="SIGTERM and kill -9, alternating")
    parser.add_argument("--log", default="/tmp/director-soak-server.log", help="where the server log is kept")
    parser.add_argument("--full-disk-s", type=float, default=0.0, help="seconds of a full disk (root only)")
    args = parser.parse_args()

    fake = FakeOpenAI()
    fake.responder = reply_for
    fake._server.handle_error = lambda request, client_address: None  # clients vanish at restarts
    disk_cm: Any = contextlib.nullcontext(None)
    if args.full_disk_s > 0:
        from tests.fakes.small_disk import small_disk

        disk_cm = small_disk("64m")
    with disk_cm as disk:
        env = {
            "LITELLM_CHAT_MODEL": "openai/fake-model",
            "LITELLM_API_BASE": fake.api_base,
            "LITELLM_API_KEY": "sk-soak-key",
            "LITELLM_NUM_RETRIES": "0",
            "DIRECTOR_LOG_LEVEL": "info",
        }
        if disk is not None:
            env["SQLITE_DB_PATH"] = str(disk.path / "director.db")
        server = start_server(env)
        db_path = Path(server.env["SQLITE_DB_PATH"])
        deadline = time.monotonic() + args.minutes * 60
        turns: list[Turn] = []
        lock = threading.Lock()
        stop_monitor = threading.Event()
        monitor = Monitor(server, stop_monitor)
        monitor.start()
        clients = [Client(server.url, deadline, turns, lock) for _ in range(args.clients)]
        threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
        for thread in threads:
            thread.start()
        events = chaos(server, deadline, args.restarts, disk, args.full_disk_s)
        for thread in threads:
            thread.join(60)
        stop_monitor.set()
        time.sleep(0.5)
        code = server.stop()  # graceful: nothing may be left "progress" after this
        server.start()
        counts = audit(server, turns, db_path)
        logs = server.logs()
        Path(args.log).write_text(logs)
        server.cleanup()
    fake.close()

    finished = [t for t in turns if t.final is not None]
    by_status: dict[str, int] = {}
    for turn in finished:
        by_status[turn.final["status"]] = by_status.get(turn.final["status"], 0) + 1
    quick = [t.final_at - t.sent_at for t in finished if t.kind == "quick" and t.final["status"] == "success"]
    print(
        f"soak: {args.minutes:g} min, {args.clients} clients, events: {'; '.join(events)}; final exit {code}"
    )
    codes: dict[str, int] = {}
    for turn in turns:
        if turn.error:
            codes[turn.error.get("code", "?")] = codes.get(turn.error.get("code", "?"), 0) + 1
    print(f"refused by code: {codes}")
    print(
        f"turns sent {len(turns)}, finals received {len(finished)} {by_status}, "
        f"refused {sum(1 for t in turns if t.error)}, cut (no final: server killed/restarted) "
        f"{sum(1 for t in turns if t.final is None and not t.error)}"
    )
    if quick:
        print(
            f"quick turn latency: p50 {pct(quick, 50) * 1000:.0f} ms, p95 {pct(quick, 95) * 1000:.0f} ms "
            f"({len(quick)} turns)"
        )
    warm = int(20 / SAMPLE_EVERY_S)  # LiteLLM's import adds ~170 MB in a worker's first seconds
    for pid, samples in monitor.by_pid.items():
        rss, nthreads, fds = zip(*samples, strict=True)
        after = (
            f"; after 20 s: RSS {rss[warm]:.0f} MB, threads {nthreads[warm]}, fds {fds[warm]}"
            if len(rss) > warm
            else ""
        )
        print(
            f"worker {pid}: {len(samples)} samples over {len(samples) * SAMPLE_EVERY_S:.0f} s; RSS MB "
            f"first/last/max {rss[0]:.0f}/{rss[-1]:.0f}/{max(rss):.0f}; threads {nthreads[0]}/{nthreads[-1]}/"
            f"{max(nthreads)}; fds {fds[0]}/{fds[-1]}/{max(fds)}{after}"
        )
    print("audit: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(
        f"log: {logs.count('Traceback')} tracebacks, {logs.count('DatabaseClosedError')} DatabaseClosedError, "
        f"{logs.count('STORAGE FULL')} STORAGE FULL lines, "
        f"{logs.count('could not be saved in time')} turns not saved in time at shutdown"
    )
    bad = counts["lost"] + counts["corrupted"] + counts["phantom_sessions"] + counts["duplicates"]
    bad += counts["progress_rows"] + (1 - counts["integrity_ok"])
    print("RESULT: " + ("OK, nothing lost or corrupted" if bad == 0 else f"FAILED ({bad} problems)"))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
