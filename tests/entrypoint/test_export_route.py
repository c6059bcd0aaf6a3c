"""GET /session/<id>/export?format=md|json: one renderer, as a download."""

from __future__ import annotations

import json

from tests.fakes.scripted_llm import ScriptedLLM, text_response, tool_call, tool_response


def test_export_markdown_has_question_steps_and_answer(make_server):
    server = make_server(
        ScriptedLLM(
            tool_response(tool_call("echo", {"text": "ping"})), text_response("The echo said **ping**.")
        )
    )
    client = server.client()
    client.emit("chat", {"content": "Echo ping please"})
    session_id = client.final_output()["session_id"]
    server.wait_idle()

    response = server.app.test_client().get(f"/session/{session_id}/export?format=md")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="director-{session_id}.md"'
    body = response.get_data(as_text=True)
    assert body.startswith("# Echo ping please\n")
    assert "## You · " in body and "\nEcho ping please\n" in body
    assert "- **echo** (done): echoed ping" in body
    assert "The echo said **ping**." in body
    # Markdown is the default.
    assert server.app.test_client().get(f"/session/{session_id}/export").get_data(as_text=True) == body


def test_export_json_is_the_stored_session(make_server):
    server = make_server(ScriptedLLM(text_response("Four.")))
    client = server.client()
    client.emit("chat", {"content": "2+2?"})
    session_id = client.final_output()["session_id"]
    server.wait_idle()
    http = server.app.test_client()

    response = http.get(f"/session/{session_id}/export?format=json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = json.loads(response.get_data(as_text=True))
    assert document["format"] == "director-session" and document["version"] == 1
    assert document["session"]["session_id"] == session_id
    assert document["conversation"] == http.get(f"/session/{session_id}").json["conversation"]


def test_export_refuses_an_unknown_format_and_session(server):
    http = server.app.test_client()
    assert http.get("/session/nope/export").status_code == 404
    response = http.get("/session/nope/export?format=pdf")
    assert response.status_code == 400 and response.json["code"] == "invalid_format"
