"""The `director` command as a subprocess against a real server: output, exit codes, Ctrl+C -> stop,
sessions/show/export, and interactive mode under a pty."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.client.conftest import TOKEN
from tests.fakes.providers import Reply
from tests.fakes.server_process import free_port

DIRECTOR = [sys.executable, "-m", "director.cli"]


def cli_env(server_url: str, token: str | None = TOKEN) -> dict[str, str]:
    env = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    env["DIRECTOR_URL"] = server_url
    if token is not None:
        env["DIRECTOR_AUTH_TOKEN"] = token
    return env


def run(
    server_url: str, *args: str, token: str | None = TOKEN, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*DIRECTOR, *args],
        env=cli_env(server_url, token),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "director"
    assert script.is_file()
    assert (
        "chat" in subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30).stdout
    )


def test_chat_streams_the_answer_to_stdout_and_steps_to_stderr(live_server, fake) -> None:
    fake.script(Reply(tool_calls=[("pricing", {"models": ["gpt-4o"]})]), Reply(text="It costs **$2.50**."))
    result = run(live_server.url, "chat", "How much is gpt-4o?", "--agent", "pricing")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "It costs **$2.50**.\n"
    assert "… pricing:" in result.stderr and "✓ pricing:" in result.stderr
    assert [t["function"]["name"] for t in fake.requests[0].json["tools"]] == ["pricing"]


def test_json_output_is_one_event_a_line_ending_with_the_final_message(live_server, fake) -> None:
    fake.script(Reply(text="Paris."))
    result = run(live_server.url, "chat", "Capital of France?", "--json")
    assert result.returncode == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[-1]["type"] == "final" and records[-1]["message"]["status"] == "success"
    assert "".join(r["text"] for r in records if r["type"] == "delta") == "Paris."


def test_a_failed_turn_exits_1_and_says_why(live_server, fake) -> None:
    fake.script(Reply(status=400, body={"error": {"message": "bad things", "type": "invalid_request_error"}}))
    result = run(live_server.url, "chat", "break please")
    assert result.returncode == 1
    assert "[error]" in result.stderr


def test_unreachable_server_and_bad_token_have_their_own_exit_codes(live_server) -> None:
    result = run(f"http://127.0.0.1:{free_port()}", "chat", "hi")
    assert result.returncode == 3 and "Cannot reach a Director server" in result.stderr
    result = run(live_server.url, "chat", "hi", token="wrong-token-xyz")
    assert result.returncode == 4 and "DIRECTOR_AUTH_TOKEN" in result.stderr
    assert "wrong-token-xyz" not in result.stderr
    result = run(live_server.url, "sessions", token=None)
    assert result.returncode == 4


def test_ctrl_c_sends_stop_and_keeps_what_was_written(live_server, fake) -> None:
    words = [f"word{i} " for i in range(200)]
    fake.script(Reply(text="".join(words), chunks=words, chunk_delay=0.05))
    process = subprocess.Popen(
        [*DIRECTOR, "chat", "Write a lot", "--json"],
        env=cli_env(live_server.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    session_id = None
    for line in process.stdout:
        record = json.loads(line)
        if record["type"] == "delta":
            session_id = record["session_id"]
            break
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 130
    final = json.loads(rest.splitlines()[-1])
    assert final["type"] == "final" and final["message"]["status"] == "stopped"
    assert final["message"]["stop_reason"] == "user"
    # The server stopped the turn (what it stored says so), long before the 200 words were written.
    stored = httpx.get(
        f"{live_server.url}/session/{session_id}", headers={"Authorization": f"Bearer {TOKEN}"}
    ).json()["conversation"][-1]
    assert stored["status"] == "stopped" and stored["content"][-1]["text"].startswith("word0 ")
    assert "word199" not in stored["content"][-1]["text"]


def test_sessions_show_and_export(live_server, fake, tmp_path: Path) -> None:
    fake.script(Reply(text="Blue, mostly."))
    asked = run(live_server.url, "chat", "What colour is the sea?", "--json")
    session_id = json.loads(asked.stdout.splitlines()[-1])["message"]["session_id"]

    listed = run(live_server.url, "sessions")
    assert listed.returncode == 0
    assert any(
        line.startswith(session_id) and line.endswith("What colour is the sea?")
        for line in listed.stdout.splitlines()
    )

    shown = run(live_server.url, "show", session_id)
    assert shown.returncode == 0
    assert shown.stdout.startswith("# What colour is the sea?") and "Blue, mostly." in shown.stdout

    exported = run(live_server.url, "export", session_id, "--format", "json", cwd=tmp_path)
    assert exported.returncode == 0
    document = json.loads((tmp_path / f"director-{session_id}.json").read_text())
    assert document["session"]["session_id"] == session_id
    md = run(live_server.url, "export", session_id, "-o", "-")
    assert md.stdout == shown.stdout

    missing = run(live_server.url, "show", "no-such-session")
    assert missing.returncode == 5 and "not_found" in missing.stderr


def read_until(fd: int, marker: str, seen: list[str], timeout_s: float = 30.0, after: str = "") -> str:
    """Read the pty until ``marker`` appears (after the first ``after``, when given)."""
    deadline = time.monotonic() + timeout_s

    def found() -> bool:
        text = "".join(seen)
        start = text.find(after) + len(after) if after and after in text else (0 if not after else None)
        return start is not None and marker in text[start:]

    while not found():
        if time.monotonic() > deadline:
            raise AssertionError(f"{marker!r} not seen; got {''.join(seen)!r}")
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen.append(os.read(fd, 4096).decode(errors="replace"))
            except OSError:
                break
    return "".join(seen)


def test_interactive_mode_under_a_pty_keeps_one_session(live_server, fake) -> None:
    fake.script(Reply(text="Hello there."), Reply(text="Still here."))
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI with the pty as its terminal
        os.execvpe(DIRECTOR[0], [*DIRECTOR, "chat"], cli_env(live_server.url))
    seen: list[str] = []
    try:
        read_until(fd, "you> ", seen)
        os.write(fd, b"hi\r")
        read_until(fd, "you> ", seen, after="Hello there.")  # the answer, then a new prompt
        seen.clear()
        os.write(fd, b"again\r")
        read_until(fd, "Still here.", seen)
        os.write(fd, b"\x04")  # Ctrl+D leaves
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    # Both questions went to the same session: the second request carries the first exchange.
    contents = [m.get("content") for m in fake.requests[1].json["messages"]]
    assert "hi" in contents and "Hello there." in contents and "again" in contents


def test_model_is_sent_with_the_chat() -> None:
    from tests.fakes.recording_socket_server import RecordingSocketServer

    server = RecordingSocketServer()
    try:
        result = run(
            server.url,
            "chat",
            "hi",
            "--model",
            "anthropic/claude-sonnet-4-5",
            "--agent",
            "pricing",
            token=None,
        )
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
    [payload] = server.payloads
    assert payload["model"] == "anthropic/claude-sonnet-4-5"
    assert payload["agents"] == ["pricing"] and payload["content"] == "hi"
