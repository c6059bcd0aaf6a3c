"""Two real server processes sharing a real redis-server (DIRECTOR_MESSAGE_QUEUE) and a real
PostgreSQL, behind nginx running the shipped deploy/nginx.conf; driven by real Socket.IO clients."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
import requests
from psycopg.conninfo import conninfo_to_dict

from tests.fakes.nginx import Nginx, start_nginx
from tests.fakes.postgres import PostgresServer, create_database
from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.redis_server import RedisServer, start_redis_server
from tests.fakes.server_process import ServerProcess, free_port, start_server
from tests.integration.conftest import provider_env
from tests.integration.live_client import LiveClient, answer_text, disconnect_all

pytestmark = pytest.mark.postgres

WAIT_S = 15.0
LEASE_S = 2.0


@dataclass
class Cluster:
    redis: RedisServer
    servers: list[ServerProcess]
    nginx: Nginx
    fake: FakeOpenAI
    dsn: str


@pytest.fixture(scope="module")
def cluster(module_fake: FakeOpenAI, postgres_server: PostgresServer) -> Iterator[Cluster]:
    redis = start_redis_server()
    dsn = create_database(postgres_server)
    params = conninfo_to_dict(dsn)
    env = provider_env(
        module_fake,
        DIRECTOR_MESSAGE_QUEUE=redis.url,
        DB_TYPE="postgres",
        POSTGRES_HOST=str(params.get("host", "127.0.0.1")),
        POSTGRES_PORT=str(params.get("port", 5432)),
        POSTGRES_USER=str(params.get("user", "postgres")),
        POSTGRES_DB=str(params["dbname"]),
        # A short lease, so a killed process's turn is found within seconds (the default is 10 s).
        DIRECTOR_TURN_LEASE_S=str(LEASE_S),
    )
    servers: list[ServerProcess] = []
    nginx = None
    try:
        servers = [start_server(env), start_server(env)]
        nginx = start_nginx([f"127.0.0.1:{server.port}" for server in servers])
        for server in servers:
            warmed_up(server)
        yield Cluster(redis, servers, nginx, module_fake, dsn)
    finally:
        if nginx is not None:
            nginx.cleanup()
        for server in servers:
            server.cleanup()
        redis.cleanup()


def warmed_up(server: ServerProcess, timeout_s: float = 90.0) -> None:
    """LiteLLM's import takes seconds (many on a loaded machine): the first turn must not time out on it."""
    deadline = time.monotonic() + timeout_s
    while "LLM layer warmed up" not in server.logs():
        assert time.monotonic() < deadline, server.logs()
        time.sleep(0.1)


@pytest.fixture
def clients() -> Iterator[list[LiveClient]]:
    made: list[LiveClient] = []
    yield made
    disconnect_all(made)


def health(url: str, session: requests.Session | None = None) -> dict:
    response = (session or requests).get(url + "/health", timeout=5)
    assert response.status_code == 200
    return response.json()


def wait_health(url: str, field: str, value: str, timeout_s: float = WAIT_S) -> float:
    start = time.monotonic()
    while (state := health(url)[field]) != value:
        assert time.monotonic() - start < timeout_s, f"{url} /health {field} stayed {state!r}"
        time.sleep(0.1)
    return time.monotonic() - start


def wait_log(server: ServerProcess, text: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in server.logs():
        assert time.monotonic() < deadline, f"{text!r} not in the log of {server.url}"
        time.sleep(0.1)


def joined(client: LiveClient, session_id: str) -> None:
    # call() waits for the server's ack: the join has happened before the test goes on.
    client.sio.call("join", {"session_id": session_id}, namespace="/chat", timeout=10)


def two_tabs_on_one_session(
    cluster: Cluster, clients: list[LiveClient]
) -> tuple[LiveClient, LiveClient, str]:
    """Alice on process 1 starts a session (one turn); Bob, on process 2, has joined it."""
    cluster.fake.reset()
    first, second = cluster.servers
    alice = LiveClient(first.url)
    bob = LiveClient(second.url)
    clients += [alice, bob]
    cluster.fake.script(Reply(text="hello"))
    first = alice.ask("hi")
    session_id = first["session_id"]
    # Redis delivers each event to every process in its own time: process 2 may still be handing out
    # the first turn's events when Bob's join lands, and Bob would then see that turn's final answer.
    bob.forgotten |= {first["msg_id"], first.get("parent_msg_id")}
    joined(bob, session_id)
    return alice, bob, session_id


def test_each_process_says_who_it_is_and_that_redis_and_postgres_answer(cluster):
    for server in cluster.servers:
        # Just started: the queue listener may still be subscribing.
        wait_health(server.url, "message_queue", "ok", timeout_s=5)
        body = health(server.url)
        assert body["worker"].endswith(f":{server.port}")
        assert (body["message_queue"], body["database"]) == ("ok", "ok")
    behind = health(cluster.nginx.url)["worker"]
    assert behind in {health(server.url)["worker"] for server in cluster.servers}


def test_nginx_spreads_new_clients_evenly_and_keeps_each_on_its_process(cluster):
    per_worker: Counter[str] = Counter()
    for _ in range(16):
        with requests.Session() as browser:  # keeps nginx's route cookie, as a browser does
            workers = {health(cluster.nginx.url, browser)["worker"] for _ in range(3)}
            assert len(workers) == 1, workers
            assert browser.cookies["director_route"] in {"p0", "p1"}  # it names the process
            per_worker.update(workers)
    # New clients go to the processes in turn.
    # (Random keys, the previous routing, split 16 clients 12/4 or worse in about one run of 13.)
    assert sorted(per_worker.values()) == [8, 8], per_worker


def test_a_cookie_naming_a_process_that_is_down_is_served_by_one_other(cluster):
    """A pinned client whose process died is answered by the next process, every request by the same one
    (its Engine.IO session is gone with the process either way; the client's reconnect starts one there)."""
    first, second = (f"127.0.0.1:{server.port}" for server in cluster.servers)
    nginx = start_nginx([f"127.0.0.1:{free_port()}", first, second])  # p0: nothing listens there
    try:
        with requests.Session() as browser:
            browser.cookies.set("director_route", "p0")
            assert {health(nginx.url, browser)["worker"] for _ in range(6)} == {
                health("http://" + first)["worker"]
            }
            browser.cookies.set("director_route", "p2")
            assert {health(nginx.url, browser)["worker"] for _ in range(3)} == {
                health("http://" + second)["worker"]
            }
        with requests.Session() as browser:
            browser.cookies.set("director_route", "a random key from an older config")
            assert health(nginx.url, browser)["worker"] in {
                health("http://" + a)["worker"] for a in (first, second)
            }
    finally:
        nginx.cleanup()


def test_a_turn_on_one_process_reaches_a_tab_on_the_other(cluster, clients):
    alice, bob, session_id = two_tabs_on_one_session(cluster, clients)
    cluster.fake.script(Reply(text="streamed across processes", chunks=["streamed", " across", " processes"]))

    alice.clear()
    alice.emit("chat", {"session_id": session_id, "content": "again"})
    final = bob.final_output(session_id, timeout=WAIT_S)
    assert final["status"] == "success"
    assert answer_text(final) == "streamed across processes"
    deltas = "".join(d["delta"] for d in bob.of("chat_delta") if d["session_id"] == session_id)
    assert deltas == "streamed across processes"
    assert [m["content"][0]["text"] for m in bob.of("chat") if m["msg_type"] == "input"] == ["again"]
    assert answer_text(alice.final_output(session_id)) == "streamed across processes"


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_chat_through_nginx(cluster, clients, transport):
    cluster.fake.reset()
    cluster.fake.script(Reply(text=f"over {transport} through nginx"))
    # A browser's Origin: the server compares it with the Host nginx passes on (port included).
    # (The websocket client sends this very Origin by itself; a second one would be joined to it.)
    origin = {"Origin": cluster.nginx.url} if transport == "polling" else {}
    client = LiveClient(cluster.nginx.url, transports=[transport], headers=origin)
    clients.append(client)
    assert client.sio.transport() == transport
    final = client.ask("hello")
    assert final["status"] == "success"
    assert answer_text(final) == f"over {transport} through nginx"


def test_polling_then_upgrade_through_nginx_stays_on_one_process(cluster, clients):
    cluster.fake.reset()
    cluster.fake.script(*[Reply(text=f"answer {i}") for i in range(3)])
    client = LiveClient(cluster.nginx.url, transports=["polling", "websocket"])
    clients.append(client)
    for i in range(3):
        assert answer_text(client.ask(f"question {i}")) == f"answer {i}"
    assert client.sio.transport() == "websocket"  # the upgrade reached the process holding the session


def test_redis_lost_and_back(cluster, clients):
    fake = cluster.fake
    first, second = cluster.servers
    alice, bob, session_id = two_tabs_on_one_session(cluster, clients)

    cluster.redis.stop()
    try:
        wait_health(first.url, "message_queue", "down")
        # The turn runs, its own client sees it, and it is saved: only the other process misses it.
        words = [f" w{i}" for i in range(40)]
        fake.script(Reply(text="".join(words), chunks=words))
        bob.clear()
        final = alice.ask("two", session_id=session_id)
        assert final["status"] == "success" and answer_text(final) == "".join(words)
        stored = requests.get(f"{second.url}/session/{session_id}", timeout=5).json()
        assert answer_text(stored["conversation"][-1]) == "".join(words)
        assert bob.outputs(session_id) == []
        # 40 deltas and the messages around them: logged once, not once (or twice) per event.
        undelivered = [
            line for line in first.logs().splitlines() if "not delivered to other processes" in line
        ]
        assert len(undelivered) == 1, undelivered
    finally:
        cluster.redis.start()

    for server in cluster.servers:
        wait_health(server.url, "message_queue", "ok")
    fake.script(Reply(text="after the outage"))
    alice.clear()
    alice.emit("chat", {"session_id": session_id, "content": "three"})
    assert answer_text(bob.final_output(session_id, timeout=WAIT_S)) == "after the outage"
    assert "reachable again" in first.logs()
    # Each process skips Redis for a second after a failure (fail fast): wait until both use it again.
    for server in cluster.servers:
        wait_log(server, "turn leases: redis://127.0.0.1")
        wait_log(server, "reachable again; busy claims are cluster-wide")
    held = Held(fake)
    try:
        chat_when_free(alice, session_id, "hold on")
        assert held.arrived.wait(WAIT_S)
        error = busy_error(bob, session_id, "me too")  # the busy claim is cluster-wide again
        assert error is not None and error["code"] == "session_busy"
    finally:
        held.release.set()
    assert answer_text(alice.final_output(session_id)) == "released"


def test_a_process_starting_leaves_a_turn_running_on_another_alone(cluster, clients):
    """A single server marks "progress" answers left by a dead process as interrupted when it starts;
    with several processes such an answer may be a turn running elsewhere, so it is not touched."""
    alice, _bob, session_id = two_tabs_on_one_session(cluster, clients)
    release = threading.Event()

    def held(_request) -> Reply:
        release.wait(60)
        return Reply(text="answered while the other process restarted")

    cluster.fake.responder = held
    try:
        alice.clear()
        alice.emit("chat", {"session_id": session_id, "content": "take your time"})
        alice.wait_for(lambda c: c.outputs(session_id))  # the answer is stored as "progress"
        second = cluster.servers[1]
        second.restart()
        assert stored_statuses(cluster, session_id) == ["success", "progress"]
        time.sleep(3 * LEASE_S)  # a few sweeps of the restarted process: the live turn's lease holds
        assert stored_statuses(cluster, session_id) == ["success", "progress"]
        assert "found by their expired turn lease" in second.logs()
    finally:
        release.set()
    final = alice.final_output(session_id)
    assert final["status"] == "success" and answer_text(final) == "answered while the other process restarted"


# -- one turn per session across the cluster (turn leases) ------------------------------------------


def stored_statuses(cluster: Cluster, session_id: str) -> list[str]:
    with psycopg.connect(cluster.dsn) as conn:
        rows = conn.execute(
            "SELECT message->>'status' FROM conversations WHERE session_id = %s "
            "AND message->>'msg_type' = 'output' ORDER BY seq",
            (session_id,),
        ).fetchall()
    return [row[0] for row in rows]


class Held:
    """A provider that holds the requests whose last message says ``hold`` until released."""

    def __init__(self, fake: FakeOpenAI):
        self.release = threading.Event()
        self.arrived = threading.Event()
        fake.responder = self

    def __call__(self, request) -> Reply:
        last = request.json["messages"][-1]["content"]
        text = last if isinstance(last, str) else " ".join(part.get("text", "") for part in last)
        if "hold" in text:
            self.arrived.set()
            self.release.wait(60)
            return Reply(text="released")
        return Reply(text=f"answer to {text}")


def chat_when_free(client: LiveClient, session_id: str, content: str, timeout_s: float = 5.0) -> None:
    """Send a chat and wait until it is accepted (its answer appears). A turn's final event goes out
    just before its claim is released, so a `session_busy` right after it is retried briefly."""
    deadline = time.monotonic() + timeout_s
    while True:
        client.clear()
        client.emit("chat", {"session_id": session_id, "content": content})
        client.wait_for(lambda c: c.of("error") or c.outputs(session_id))
        error = next(iter(client.of("error")), None)
        if error is None:
            return
        assert error["code"] == "session_busy" and time.monotonic() < deadline, error
        time.sleep(0.1)


def busy_error(client: LiveClient, session_id: str, content: str) -> dict | None:
    """Send a chat; the `session_busy` error if refused, else None once its answer arrived."""
    client.clear()
    client.emit("chat", {"session_id": session_id, "content": content})
    client.wait_for(
        lambda c: c.of("error") or [m for m in c.outputs(session_id) if m["status"] != "progress"]
    )
    return next(iter(client.of("error")), None)


def test_a_session_busy_on_one_process_is_refused_at_once_on_the_other(cluster, clients):
    alice, bob, session_id = two_tabs_on_one_session(cluster, clients)
    held = Held(cluster.fake)
    try:
        chat_when_free(alice, session_id, "hold on")
        assert held.arrived.wait(WAIT_S)
        started = time.monotonic()
        error = busy_error(bob, session_id, "me too")
        assert error is not None and error["code"] == "session_busy", (
            bob.events,
            cluster.servers[0].logs()[-3000:],
            cluster.servers[1].logs()[-3000:],
        )
        assert time.monotonic() - started < 2.0  # at once, not after the turn
        # Reading the session from the other process shows the answer as running, not cut.
        body = requests.get(f"{cluster.servers[1].url}/session/{session_id}", timeout=5).json()
        assert body["conversation"][-1]["status"] == "progress"
        # DELETE on the other process refuses it too, and deletes nothing.
        response = requests.delete(f"{cluster.servers[1].url}/session/{session_id}", timeout=5)
        assert response.status_code == 409 and response.json()["code"] == "session_busy"
    finally:
        held.release.set()
    released = alice.final_output(session_id)
    assert answer_text(released) == "released"
    # Bob's tab may still get late copies of that turn through Redis: they must not read as his
    # next message being accepted (CI once saw one, then the refusal that came with it).
    bob.forgotten |= {released["msg_id"], released["parent_msg_id"]}
    # Free again everywhere: the other process may now run the next turn, and then delete it.
    chat_when_free(bob, session_id, "now me")
    bob.wait_for(lambda c: "answer to now me" in [answer_text(m) for m in c.outputs(session_id)])
    deadline = time.monotonic() + 5  # the answer went out a moment before the other process released it
    while (
        status := requests.delete(f"{cluster.servers[0].url}/session/{session_id}", timeout=5).status_code
    ) == 409:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status == 200


def test_stop_sent_to_the_other_process_stops_the_turn(cluster, clients):
    alice, bob, session_id = two_tabs_on_one_session(cluster, clients)
    words = [f" w{i}" for i in range(200)]
    cluster.fake.script(Reply(text="".join(words), chunks=words, chunk_delay=0.05))
    alice.clear()
    alice.emit("chat", {"session_id": session_id, "content": "a long one"})
    alice.wait_for(lambda c: len(c.of("chat_delta")) >= 3)  # streaming on process 1
    bob.emit("stop", {"session_id": session_id})  # sent to process 2
    final = alice.final_output(session_id, timeout=5)  # well before the stream's 10 s
    assert final["stopped"] is True and final["stop_reason"] == "user"
    assert stored_statuses(cluster, session_id)[-1] == "stopped"
    assert "(from another process)" in cluster.servers[0].logs()


def test_a_killed_process_turn_is_marked_interrupted_and_the_session_continues_elsewhere(cluster, clients):
    """kill -9 process 2 mid-turn: its lease expires, a sweep marks the answer interrupted within
    2 x lease, process 1's own running turn and every finished answer are untouched."""
    cluster.fake.reset()
    first, second = cluster.servers
    held = Held(cluster.fake)
    survivor = LiveClient(first.url)
    victim = LiveClient(second.url)
    clients += [survivor, victim]
    kept_id = survivor.ask("first")["session_id"]
    cut_id = victim.ask("first")["session_id"]
    try:
        chat_when_free(survivor, kept_id, "hold this one too")
        chat_when_free(victim, cut_id, "hold on")  # its answer is stored as "progress"
        assert held.arrived.wait(WAIT_S)
        clients.remove(victim)
        second.kill()
        killed_at = time.monotonic()
        deadline = killed_at + 2 * LEASE_S + 10  # the documented bound, with slack for a loaded machine
        while stored_statuses(cluster, cut_id) != ["success", "error"]:
            assert time.monotonic() < deadline, stored_statuses(cluster, cut_id)
            time.sleep(0.1)
        assert "cut by a dead process as interrupted" in first.logs()
        # The session continues at once on the surviving process.
        chat_when_free(survivor, cut_id, "again", timeout_s=0.5)  # no lease left to wait for
        assert answer_text(survivor.final_output(cut_id)) == "answer to again"
        assert stored_statuses(cluster, cut_id) == ["success", "error", "success"]
        assert stored_statuses(cluster, kept_id) == ["success", "progress"]  # still running, untouched
    finally:
        held.release.set()
        if not second.alive():
            second.start()
            warmed_up(second)
    final = survivor.wait_for(
        lambda c: next(
            (m for m in c.outputs(kept_id) if m["status"] == "success" and answer_text(m) == "released"), None
        )
    )
    assert final is not None
    assert stored_statuses(cluster, kept_id) == ["success", "success"]
