"""GET /session?q=: search every chat by text over REST (the DB side is in tests/db/test_search.py)."""

from __future__ import annotations

from director.db.search import MAX_QUERY_CHARS

from tests.entrypoint.test_routes import _chat
from tests.fakes.scripted_llm import ScriptedLLM, text_response


def test_search_returns_matching_chats_with_the_message_and_highlighted_parts(make_server):
    server = make_server(
        ScriptedLLM(text_response("Pelicans eat fish."), text_response("Owls hunt at night."))
    )
    birds = _chat(server, "what do pelicans eat?")
    _chat(server, "tell me about owls")
    http = server.app.test_client()

    (result,) = http.get("/session", query_string={"q": "fish"}).json
    assert result["session_id"] == birds["session_id"] and result["msg_id"] == birds["msg_id"]
    assert result["title"] == "what do pelicans eat?"
    assert {"text": "fish", "hit": True} in result["snippet"]
    assert http.get("/session", query_string={"q": "giraffes"}).json == []
    # A blank query is the plain list.
    assert len(http.get("/session", query_string={"q": "  "}).json) == 2


def test_too_long_a_search_is_a_clear_400(server):
    response = server.app.test_client().get("/session", query_string={"q": "x" * (MAX_QUERY_CHARS + 1)})
    assert response.status_code == 400
    assert response.json["code"] == "invalid_query"
