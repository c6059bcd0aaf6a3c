"""Ctrl+C in the terminal of `make run` (the server module) and of `make cluster` (the cluster command)
stops in about a second with a client connected mid-turn: the turn is saved as stopped and the client
hears it, and nothing is left to gunicorn's SIGKILL. The command runs under a pty, so Ctrl+C signals
the terminal's whole foreground group, as in a shell (under gunicorn: master and worker at once)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.fakes.cluster_command import free_run_of_ports, listening
from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess, free_port, wait_for_health
from tests.fakes.terminal import Terminal
from tests.integration.conftest import provider_env
from tests.integration.live_client import LiveClient, answer_text, disconnect_all
from tests.integration.test_cluster_command import cluster_env

pytestmark = pytest.mark.integration

WORDS = [f"word{i}" for i in range(40)]
# About 10 s of answer: far longer than stopping may take, so only the drain can end it in time.
CHUNK_DELAY_S = 0.25
# "About a second", with room for a loaded 2-core machine shared with other test runs.
STOP_WITHIN_S = 5.0
# The cluster then stops Redis and PostgreSQL (a shutdown checkpoint) after its servers. Either bound is
# well under the 10 s after which gunicorn's master used to SIGKILL a worker that did not drain.
CLUSTER_STOP_WITHIN_S = 8.0


def slow_reply() -> Reply:
    return Reply(text=" ".join(WORDS), chunk_delay=CHUNK_DELAY_S)


def start_slow_turn(client: LiveClient) -> str:
    """Sends a chat and waits until its answer streams. Returns the session."""
    client.emit("chat", {"content": "Take your time"})
    client.wait_for(lambda c: bool(c.of("chat_delta")), timeout=90)  # the first turn may wait on warm-up
    return client.of("chat_delta")[0]["session_id"]


def stop_with_ctrl_c(terminal: Terminal, client: LiveClient) -> tuple[int, float, list[dict]]:
    """Ctrl+C; returns the exit code, the seconds it took and the finished outputs the client got."""
    started = time.monotonic()
    terminal.press_ctrl_c()
    code = terminal.wait(30)
    elapsed = time.monotonic() - started
    finished = [m for m in client.outputs() if m["status"] != "progress"]
    return code, elapsed, finished


def assert_stopped_cleanly(
    code: int, elapsed: float, finished: list[dict], output: str, within_s: float = STOP_WITHIN_S
) -> None:
    assert code == 0, output
    assert "SIGKILL" not in output and "Traceback" not in output, output
    assert elapsed < within_s, f"stopping took {elapsed:.1f} s\n{output}"
    # The client heard the end of its turn before its socket closed.
    assert len(finished) == 1 and finished[0]["stopped"] is True, finished
    assert finished[0]["stop_reason"] == "shutdown"


def assert_saved_as_stopped(url: str, session_id: str) -> None:
    conversation = requests.get(f"{url}/session/{session_id}", timeout=10).json()["conversation"]
    assert [m["msg_type"] for m in conversation] == ["input", "output"]
    answer = conversation[1]
    assert answer["status"] == "stopped" and answer["stopped"] is True
    assert answer["stop_reason"] == "shutdown"
    # What had streamed before Ctrl+C is kept, and the rest never came.
    assert answer_text(answer).startswith("word0") and answer_text(answer) != " ".join(WORDS)


@pytest.mark.parametrize("signal_name", ["ctrl+c", "SIGQUIT"])
def test_ctrl_c_on_make_run_saves_the_running_turn_and_stops_in_a_second(
    fake_openai: FakeOpenAI, signal_name: str
) -> None:
    # The holder gives the command a clean environment and a work dir, and restarts it afterwards.
    with ServerProcess(provider_env(fake_openai), free_port()) as holder:
        argv = [sys.executable, "-m", "director.entrypoint.api.server"]
        with Terminal(argv, holder.env, holder.workdir) as terminal:
            wait_for_health(holder.url, 30, alive=lambda: terminal.process.poll() is None)
            fake_openai.script(slow_reply())
            client = LiveClient(holder.url)
            try:
                session_id = start_slow_turn(client)
                if signal_name == "ctrl+c":
                    code, elapsed, finished = stop_with_ctrl_c(terminal, client)
                else:
                    # SIGQUIT to the master: gunicorn's "quick shutdown", which it passes on to the worker.
                    started = time.monotonic()
                    terminal.process.send_signal(signal.SIGQUIT)
                    code = terminal.wait(30)
                    elapsed = time.monotonic() - started
                    finished = [m for m in client.outputs() if m["status"] != "progress"]
            finally:
                disconnect_all([client])
            assert_stopped_cleanly(code, elapsed, finished, terminal.output())
        holder.start()
        assert_saved_as_stopped(holder.url, session_id)


@pytest.mark.postgres
@pytest.mark.timeout(420)  # initdb, two starts of four processes and LiteLLM's import, on 2 shared cores
def test_ctrl_c_on_make_cluster_saves_the_running_turn_and_stops_in_a_second(
    tmp_path: Path, cluster_dir: Path, fake_openai: FakeOpenAI
) -> None:
    port = free_run_of_ports(2)
    env = cluster_env(fake_openai, tmp_path, cluster_dir, port)
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "director.entrypoint.cluster"]
    with Terminal(argv, env, tmp_path) as terminal:
        terminal.wait_for_output("Director cluster is listening on", 120)
        fake_openai.script(slow_reply())
        client = LiveClient(url, transports=["polling", "websocket"])  # through nginx, as a browser
        try:
            session_id = start_slow_turn(client)
            code, elapsed, finished = stop_with_ctrl_c(terminal, client)
        finally:
            disconnect_all([client])
        assert_stopped_cleanly(code, elapsed, finished, terminal.output(), CLUSTER_STOP_WITHIN_S)
    assert not any(listening(port + i) for i in range(3)), "nginx or a server still listening"

    # Started again on the same data, the cluster shows the turn as it was saved.
    with Terminal(argv, env, tmp_path) as terminal:
        terminal.wait_for_output("Director cluster is listening on", 120)
        assert_saved_as_stopped(url, session_id)
        terminal.press_ctrl_c()
        assert terminal.wait(30) == 0
