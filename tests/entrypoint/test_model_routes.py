"""``GET /model`` (the catalog) and ``PATCH /session/<id>`` through the real app."""

from __future__ import annotations

from director.llm.config import LiteLLMConfig
from director.llm.litellm import LiteLLM


def _litellm_server(make_server, monkeypatch, **settings):
    monkeypatch.setenv("LITELLM_MODELS", "anthropic/claude-sonnet-4-5,groq/llama-3.3-70b-versatile")
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    llm = LiteLLM(LiteLLMConfig(_env_file=None, chat_model="openai/gpt-4o", api_key="sk-route-hidden-7781"))
    return make_server(llm=llm, **settings)


def test_model_catalog_with_query_and_allowed(make_server, monkeypatch) -> None:
    server = _litellm_server(make_server, monkeypatch)
    http = server.app.test_client()
    response = http.get("/model?allowed=true")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert [m["id"] for m in response.json] == [
        "openai/gpt-4o",
        "anthropic/claude-sonnet-4-5",
        "groq/llama-3.3-70b-versatile",
    ]
    assert response.json[2]["credentials"] == "missing" and response.json[2]["missing_env"] == [
        "GROQ_API_KEY"
    ]
    found = http.get("/model?q=gpt-4o-mini").json
    assert found and all("gpt-4o-mini" in m["id"] for m in found) and not any(m["allowed"] for m in found)
    assert "sk-route-hidden-7781" not in http.get("/model").get_data(as_text=True)


def test_model_catalog_needs_the_token(make_server, monkeypatch) -> None:
    server = _litellm_server(make_server, monkeypatch, auth_token="tok-1")
    http = server.app.test_client()
    assert http.get("/model").status_code == 401
    assert http.get("/model", headers={"Authorization": "Bearer tok-1"}).status_code == 200


def test_patch_session_settings(make_server, monkeypatch) -> None:
    server = _litellm_server(make_server, monkeypatch)
    server.db.create_session("s1", title="t")
    http = server.app.test_client()
    response = http.patch(
        "/session/s1", json={"model": "anthropic/claude-sonnet-4-5", "reasoning_effort": "low"}
    )
    assert response.status_code == 200
    assert (
        response.json["model"] == "anthropic/claude-sonnet-4-5" and response.json["reasoning_effort"] == "low"
    )
    assert http.get("/session/s1").json["model"] == "anthropic/claude-sonnet-4-5"
    refused = http.patch("/session/s1", json={"model": "openai/gpt-3.5-turbo"})
    assert refused.status_code == 400 and refused.json["code"] == "invalid_model"
    assert "LITELLM_MODELS" in refused.json["message"]
    assert (
        http.patch("/session/s1", data="nope", content_type="application/json").json["code"]
        == "invalid_payload"
    )
    assert http.patch("/session/s1", json={"reasoning_effort": None}).json["reasoning_effort"] is None
    assert http.get("/session").json[0]["model"] == "anthropic/claude-sonnet-4-5"
    preflight = http.options("/session/s1", headers={"Origin": "http://localhost:5173"})
    assert "PATCH" in preflight.headers.get("Access-Control-Allow-Methods", "")
