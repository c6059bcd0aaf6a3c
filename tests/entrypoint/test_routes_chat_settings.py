"""PATCH /session/<id>: rename and pin over REST; GET /session lists pinned chats first."""

from __future__ import annotations

from tests.entrypoint.test_routes import _chat
from tests.fakes.scripted_llm import ScriptedLLM, text_response


def test_rename_and_pin_over_rest(make_server):
    server = make_server(ScriptedLLM(text_response("a"), text_response("b")))
    first = _chat(server, "first topic")["session_id"]
    second = _chat(server, "second topic")["session_id"]
    http = server.app.test_client()

    response = http.patch(f"/session/{first}", json={"title": "Renamed", "pinned": True})
    assert response.status_code == 200
    assert response.json["title"] == "Renamed" and response.json["metadata"]["pinned"] is True
    listed = http.get("/session").json
    assert [(s["session_id"], s["title"]) for s in listed] == [(first, "Renamed"), (second, "second topic")]

    assert http.patch(f"/session/{first}", json={"pinned": False}).status_code == 200
    assert [s["session_id"] for s in http.get("/session").json] == [second, first]


def test_bad_rename_requests_are_clear_errors(make_server):
    server = make_server(ScriptedLLM(text_response("a")))
    session_id = _chat(server, "topic")["session_id"]
    http = server.app.test_client()
    for body in [None, [], {}, {"title": ""}, {"title": 3}, {"pinned": "yes"}]:
        response = http.patch(f"/session/{session_id}", json=body)
        assert response.status_code == 400, body
        assert response.json["code"] == "invalid_payload" and response.json["message"]
    missing = http.patch("/session/nope", json={"pinned": True})
    assert missing.status_code == 404
    assert http.get(f"/session/{session_id}").json["title"] == "topic"
