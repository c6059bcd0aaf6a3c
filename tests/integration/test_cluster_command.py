"""`make cluster` itself (python -m director.entrypoint.cluster): it starts Redis, PostgreSQL, two
servers and nginx, serves a chat on SERVER_PORT, and Ctrl+C stops everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.fakes.cluster_command import free_run_of_ports, listening
from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import wait_for_health
from tests.integration.conftest import provider_env
from tests.integration.live_client import LiveClient, answer_text, disconnect_all

pytestmark = pytest.mark.postgres


def cluster_env(fake: FakeOpenAI, work_dir: Path, cluster_dir: Path, port: int) -> dict[str, str]:
    """A clean environment for the cluster command: two servers, nginx on ``port``, the fake model."""
    env = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    env.update(
        provider_env(fake),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_OFFLINE_MODE="true",
        DIRECTOR_ENV_FILE=str(work_dir / "no.env"),
        CLUSTER_DIR=str(cluster_dir),
        CLUSTER_WORKERS="2",
        SERVER_PORT=str(port),
        PYTHONUNBUFFERED="1",
        DIRECTOR_AUTO_TITLE="false",  # a title call would take the reply scripted for the answer
    )
    # As for every server the tests start (tests/fakes/server_process.py): the cluster's servers too.
    if worker := os.environ.get("DIRECTOR_TEST_SERVER_WORKER"):
        env["SERVER_WORKER"] = worker
    return env


@pytest.mark.timeout(300)  # initdb, four processes and LiteLLM's import, on a shared 2-core machine
def test_make_cluster_serves_and_ctrl_c_stops_everything(tmp_path, cluster_dir, module_fake):

    port = free_run_of_ports(2)
    env = cluster_env(module_fake, tmp_path, cluster_dir, port)
    log = open(tmp_path / "cluster.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "director.entrypoint.cluster"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    client = None
    try:
        wait_for_health(url, 90, alive=lambda: process.poll() is None)
        workers = {
            requests.get(f"http://127.0.0.1:{port + i}/health", timeout=5).json()["worker"] for i in (1, 2)
        }
        assert len(workers) == 2
        body = requests.get(url + "/health", timeout=5).json()
        assert body["worker"] in workers and body["database"] == "ok"
        module_fake.reset()
        module_fake.script(Reply(text="served by make cluster"))
        client = LiveClient(url, transports=["polling", "websocket"])
        # The servers import LiteLLM in the background: on a loaded machine that takes a while.
        assert answer_text(client.ask("hello", timeout=90)) == "served by make cluster"
        disconnect_all([client])
        client = None

        started = time.monotonic()
        process.send_signal(signal.SIGINT)  # what Ctrl+C sends
        assert process.wait(timeout=30) == 0
        stopped_in = time.monotonic() - started
    finally:
        if client is not None:
            disconnect_all([client])
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    output = (tmp_path / "cluster.log").read_text(errors="replace")
    assert "Director cluster is listening on" in output, output
    assert not any(listening(port + i) for i in range(3)), "nginx or a server still listening"
    leftovers = subprocess.run(["pgrep", "-f", str(cluster_dir)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", f"left running: {leftovers.stdout}"
    assert stopped_in < 20, stopped_in


@pytest.mark.timeout(400)
def test_the_test_harness_starts_again_when_a_chosen_port_was_taken_meanwhile(module_fake, monkeypatch):
    # What CI once hit: between choosing a run of free ports and the servers binding them, another
    # program took one. ClusterCommand (tests/fakes) must start again on a new run, not fail the tests.
    import socket

    from tests.fakes import cluster_command
    from tests.fakes.cluster_command import ClusterCommand

    thief = socket.socket()
    thief.bind(("127.0.0.1", 0))
    thief.listen()
    taken = thief.getsockname()[1]  # the first server's port (nginx's is the one before)
    runs = iter([taken - 1])
    real = cluster_command.free_run_of_ports
    monkeypatch.setattr(cluster_command, "free_run_of_ports", lambda count: next(runs, None) or real(count))
    try:
        cluster = ClusterCommand(provider_env(module_fake)).start()
    finally:
        thief.close()
    try:
        assert cluster.port != taken - 1
        assert requests.get(cluster.url + "/health", timeout=10).status_code == 200
    finally:
        cluster.cleanup()
