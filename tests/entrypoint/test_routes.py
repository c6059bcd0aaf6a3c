"""REST with app.test_client(): sessions, errors as JSON, auth, CORS and the frontend fallback."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.entrypoint.conftest import WAIT_S, blocking_stream, start_blocked_turn
from tests.fakes.scripted_llm import ScriptedLLM, ScriptedStream, text_response


def _chat(server, content: str, session_id: str | None = None) -> dict:
    client = server.client()
    payload = {"content": content} | ({"session_id": session_id} if session_id else {})
    client.emit("chat", payload)
    final = client.final_output()
    server.wait_idle()
    return final


def test_health_and_agents(server):
    http = server.app.test_client()
    # auth_required joined the body so a client knows about the token before its first call.
    health = http.get("/health").json
    assert health == {
        "status": "ok",
        "auth_required": False,
        "worker": f"{socket.gethostname()}:{server.settings.port}",
        "message_queue": "none",  # one process on its own
        "database": "ok",
    }
    agents = http.get("/agent").json
    assert [a["name"] for a in agents] == ["echo", "shout"]
    assert all(a["description"] for a in agents)


def test_sessions_listed_newest_first_with_title_and_conversation(make_server):
    server = make_server(ScriptedLLM(text_response("a1"), text_response("b1"), text_response("a2")))
    first = _chat(server, "first topic")["session_id"]
    second = _chat(server, "second topic")["session_id"]
    http = server.app.test_client()
    assert [(s["session_id"], s["title"]) for s in http.get("/session").json] == [
        (second, "second topic"),
        (first, "first topic"),
    ]
    _chat(server, "more on the first", session_id=first)
    assert [s["session_id"] for s in http.get("/session").json] == [first, second]

    detail = http.get(f"/session/{first}").json
    assert detail["session_id"] == first and detail["title"] == "first topic"
    kinds = [(m["msg_type"], m["content"][0]["text"]) for m in detail["conversation"]]
    assert kinds == [
        ("input", "first topic"),
        ("output", "a1"),
        ("input", "more on the first"),
        ("output", "a2"),
    ]


def test_unknown_session_is_404_json(server):
    http = server.app.test_client()
    response = http.get("/session/does-not-exist")
    assert response.status_code == 404 and response.json["code"] == "not_found"
    response = http.delete("/session/does-not-exist")
    assert response.status_code == 404 and response.json["code"] == "not_found"


def test_delete_session_removes_it_but_not_while_a_turn_runs(make_server):
    release, started = threading.Event(), threading.Event()
    server = make_server(
        ScriptedLLM(text_response("done"), ScriptedStream(blocking_stream(release, started)))
    )
    session_id = _chat(server, "keep me")["session_id"]
    http = server.app.test_client()

    client = server.client()
    client.emit("chat", {"session_id": session_id, "content": "slow one"})
    assert started.wait(WAIT_S)
    busy = http.delete(f"/session/{session_id}")
    assert busy.status_code == 409 and busy.json["code"] == "session_busy"
    release.set()
    client.final_output()
    server.wait_idle()

    deleted = http.delete(f"/session/{session_id}")
    assert deleted.status_code == 200 and deleted.json["deleted"] is True
    assert http.get(f"/session/{session_id}").status_code == 404
    assert server.db.get_conversations(session_id) == []


def test_config_check_has_no_secrets(make_server):
    server = make_server(auth_token="tok-SECRET-1", postgres_password="pg-SECRET-2")
    http = server.app.test_client()
    response = http.get("/config/check", headers={"Authorization": "Bearer tok-SECRET-1"})
    assert response.json == {
        "llm_configured": True,
        "llm_type": "litellm",
        "chat_model": "scripted",
        "db_configured": True,
        "db_type": "sqlite",
        "auth_required": True,
        "allow_remote_images": False,
        "mcp_servers": [],
    }
    assert "SECRET" not in response.get_data(as_text=True)


def test_errors_are_json_with_proper_codes(server):
    http = server.app.test_client()
    not_found = http.get("/no/such/thing")
    assert not_found.status_code == 404 and not_found.is_json
    wrong_method = http.post("/session")
    assert wrong_method.status_code == 405 and wrong_method.json["code"] == "method_not_allowed"


def test_internal_error_is_json_500_and_logged(server, monkeypatch, caplog):
    def broken():
        raise RuntimeError("db exploded with detail")

    monkeypatch.setattr(server.db, "get_sessions", broken)
    response = server.app.test_client().get("/session")
    assert response.status_code == 500 and response.json["code"] == "internal_error"
    assert "exploded" not in response.get_data(as_text=True)
    assert "db exploded with detail" in caplog.text


def test_bearer_token_required_except_health_and_frontend(make_server, caplog):
    server = make_server(auth_token="tok-SECRET-1")
    http = server.app.test_client()
    for path in ("/agent", "/session", "/config/check", "/session/x"):
        response = http.get(path)
        assert response.status_code == 401 and response.json["code"] == "unauthorized", path
    assert http.get("/agent", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert http.get("/agent", headers={"Authorization": "Basic tok-SECRET-1"}).status_code == 401
    assert http.get("/agent", headers={"Authorization": "Bearer tok-SECRET-1"}).status_code == 200
    assert http.get("/health").status_code == 200
    assert http.get("/").status_code == 200
    assert "tok-SECRET-1" not in caplog.text


def test_cors_allows_configured_and_own_origin_only(make_server):
    server = make_server(cors_origins="http://app.example:3000")
    http = server.app.test_client()
    allowed = http.get("/agent", headers={"Origin": "http://app.example:3000"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://app.example:3000"
    own = http.get("/agent", headers={"Origin": "http://localhost"})  # test client's Host is localhost
    assert own.headers["Access-Control-Allow-Origin"] == "http://localhost"
    evil = http.get("/agent", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in evil.headers
    preflight = http.options(
        "/session/x",
        headers={"Origin": "http://app.example:3000", "Access-Control-Request-Method": "DELETE"},
    )
    assert preflight.status_code == 200 and "DELETE" in preflight.headers["Access-Control-Allow-Methods"]


def test_default_cors_allows_vite_dev_server_but_not_others(server):
    http = server.app.test_client()
    for origin in ("http://localhost:5173", "http://127.0.0.1:5173"):
        assert (
            http.get("/health", headers={"Origin": origin}).headers["Access-Control-Allow-Origin"] == origin
        )
    assert (
        "Access-Control-Allow-Origin" not in http.get("/health", headers={"Origin": "http://x.test"}).headers
    )


def test_socket_io_uses_the_same_origin_policy(make_server):
    # The test client skips engine.io's HTTP layer, so check the policy engine.io was given
    # (tests/integration checks a real handshake from a foreign origin).
    server = make_server(cors_origins="http://app.example:3000")
    policy = server.socketio.server.eio.cors_allowed_origins
    environ = {"HTTP_HOST": "127.0.0.1:8000", "wsgi.url_scheme": "http"}
    assert policy("http://app.example:3000", environ)
    assert policy("http://127.0.0.1:8000", environ)
    assert not policy("http://evil.example", environ)
    assert not policy("http://127.0.0.1:8001", environ)


def test_frontend_served_from_dist_when_built(make_server, tmp_path):
    server = make_server()
    http = server.app.test_client()
    fallback = http.get("/")
    assert fallback.status_code == 200 and "make install" in fallback.get_data(as_text=True)

    dist = tmp_path / "no-frontend"  # the dir the fixture points the app at
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<html>the real UI</html>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    assert "the real UI" in http.get("/").get_data(as_text=True)
    assert http.get("/assets/app.js").get_data(as_text=True) == "console.log(1)"
    assert http.get("/assets/../../secret").status_code == 404
    assert http.get("/missing.js").status_code == 404


def test_pages_carry_a_content_security_policy(make_server, tmp_path):
    http = make_server().app.test_client()
    dist = tmp_path / "no-frontend"
    dist.mkdir()
    (dist / "index.html").write_text("<html>ui</html>")
    page = http.get("/")
    policy = page.headers["Content-Security-Policy"]
    # Only the app's own scripts run, nothing can frame the page, and sockets stay same-origin.
    assert (
        "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in policy and "connect-src 'self'" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff" and page.headers["X-Frame-Options"] == "DENY"
    api = http.get("/agent")
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in api.headers  # JSON is not rendered as a page


@pytest.mark.parametrize("allowed", [False, True])
def test_remote_images_follow_the_setting_in_the_csp_and_the_config(make_server, allowed):
    http = make_server(allow_remote_images=allowed).app.test_client()
    policy = http.get("/").headers["Content-Security-Policy"]
    img_src = next(d.strip() for d in policy.split(";") if d.strip().startswith("img-src"))
    # Without the opt-in the browser itself refuses any image that is not the app's own.
    assert img_src == ("img-src 'self' data: https:" if allowed else "img-src 'self' data:")
    assert http.get("/config/check").json["allow_remote_images"] is allowed


def test_health_says_when_a_token_is_required_without_needing_it(make_server):
    http = make_server(auth_token="s3cret-token-value").app.test_client()
    response = http.get("/health")
    assert response.status_code == 200
    assert response.json["auth_required"] is True
    assert "s3cret-token-value" not in response.get_data(as_text=True)


def test_output_left_in_progress_by_a_crash_is_shown_as_interrupted(server):
    """A SIGKILL mid-turn leaves an output row in "progress"; no turn runs, so it must not spin forever."""
    server.db.create_session("crashed", title="t")
    server.db.add_or_update_msg_to_conv(
        {
            "session_id": "crashed",
            "msg_id": "in1",
            "msg_type": "input",
            "status": "success",
            "content": [{"type": "text", "text": "question", "status": "success"}],
        }
    )
    server.db.add_or_update_msg_to_conv(
        {
            "session_id": "crashed",
            "msg_id": "out1",
            "msg_type": "output",
            "status": "progress",
            "content": [{"type": "text", "agent_name": "echo", "status": "progress", "text": ""}],
        }
    )
    conversation = server.app.test_client().get("/session/crashed").json["conversation"]
    assert conversation[0]["content"][0]["text"] == "question"
    output = conversation[1]
    assert output["status"] == "error"
    assert output["content"][0]["status"] == "error"
    answer = next(b for b in output["content"] if b["agent_name"] == "assistant")
    assert "interrupted" in answer["text"]
    # The stored row is not rewritten by a read.
    assert server.db.get_conversations("crashed")[1]["status"] == "progress"


def test_running_turn_is_not_shown_as_interrupted(make_server):
    server, client, session_id, release = start_blocked_turn(make_server, "slow one")
    try:
        conversation = server.app.test_client().get(f"/session/{session_id}").json["conversation"]
        assert conversation[-1]["msg_type"] == "output" and conversation[-1]["status"] == "progress"
    finally:
        release.set()
    assert client.final_output()["status"] == "success"
    server.wait_idle()
