"""The per-chat model, end to end: a real server subprocess, real LiteLLM and fake OpenAI, Anthropic
and Ollama servers on three ports, each provider with its own credentials (the default model's through
LITELLM_*, Anthropic's from ``.env`` only, Ollama's from the environment)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.providers import FakeAnthropic, FakeOllama, FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess, start_server
from tests.integration.conftest import API_KEY, provider_env
from tests.integration.live_client import LiveClient, answer_text

pytestmark = pytest.mark.integration

ANTHROPIC_KEY = "sk-ant-from-dotenv-5150"
CLAUDE = "anthropic/claude-fake"
LLAMA = "ollama_chat/llama-fake"
GROQ = "groq/llama-no-key"  # curated, but no GROQ_API_KEY anywhere
TEXT_ONLY = "openai/gpt-3.5-turbo"  # LiteLLM's map: no vision
VISION = "openai/gpt-4o"
PNG_URL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeOpenAI, FakeAnthropic, FakeOllama]]:
    openai, anthropic, ollama = FakeOpenAI(), FakeAnthropic(), FakeOllama()
    yield openai, anthropic, ollama
    for fake in (openai, anthropic, ollama):
        fake.close()


@pytest.fixture(scope="module")
def server(fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    openai, anthropic, ollama = fakes
    env_file = Path(tmp_path_factory.mktemp("env")) / ".env"
    # Only in .env: LiteLLM itself never reads this file, Director must.
    env_file.write_text(f"ANTHROPIC_API_KEY={ANTHROPIC_KEY}\nANTHROPIC_API_BASE={anthropic.url}\n")
    env = provider_env(
        openai,
        DIRECTOR_ENV_FILE=str(env_file),
        OLLAMA_API_BASE=ollama.url,
        LITELLM_MODELS=f"{CLAUDE},{LLAMA},{GROQ},{TEXT_ONLY},{VISION}",
        # Written for the default (OpenAI) provider: must never reach Anthropic or Ollama.
        LITELLM_EXTRA_PARAMS='{"seed": 7}',
    )
    process = start_server(env)
    process.wait_until_warm()
    yield process
    process.cleanup()


@pytest.fixture
def client(server: ServerProcess, fakes) -> Iterator[LiveClient]:
    for fake in fakes:
        fake.reset()
    live = LiveClient(server.url)
    yield live
    live.disconnect()


def http(server: ServerProcess, path: str, method: str = "GET", body: object = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        server.url + path, method=method, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_each_chat_uses_its_own_model_and_provider_credentials(server, fakes, client) -> None:
    openai, anthropic, ollama = fakes
    anthropic.script(Reply(text="Claude here."))
    first = client.ask("hello", model=CLAUDE)
    session_id = first["session_id"]

    assert answer_text(first) == "Claude here." and first["usage"]["model"] == CLAUDE
    assert len(anthropic.requests) == 1 and openai.requests == []
    sent = anthropic.requests[0]
    assert sent.json["model"] == "claude-fake"
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY  # its own key (from .env), not LITELLM_API_KEY
    assert "seed" not in sent.json  # LITELLM_EXTRA_PARAMS belongs to the default's provider

    status, stored = http(server, f"/session/{session_id}")
    assert status == 200 and stored["model"] == CLAUDE and stored["reasoning_effort"] is None
    listed = http(server, "/session")[1]
    assert next(s for s in listed if s["session_id"] == session_id)["model"] == CLAUDE

    # The next turn without a model keeps the chat's model.
    anthropic.script(Reply(text="Still Claude."))
    assert answer_text(client.ask("again", session_id=session_id)) == "Still Claude."

    # PATCH switches it; the history (with Claude's answers) is replayed to Ollama.
    status, patched = http(server, f"/session/{session_id}", "PATCH", {"model": LLAMA})
    assert status == 200 and patched["model"] == LLAMA
    ollama.script(Reply(text="Llama now."))
    third = client.ask("and now?", session_id=session_id)
    assert answer_text(third) == "Llama now." and third["usage"]["model"] == LLAMA
    replayed = [m["content"] for m in ollama.requests[0].json["messages"] if m["role"] == "assistant"]
    assert replayed == ["Claude here.", "Still Claude."]
    assert "seed" not in ollama.requests[0].json and len(anthropic.requests) == 2

    # null puts it back to the default model, which gets its own key and extra parameters.
    assert http(server, f"/session/{session_id}", "PATCH", {"model": None})[1]["model"] is None
    openai.script(Reply(text="Default again."))
    fourth = client.ask("back", session_id=session_id)
    assert fourth["usage"]["model"] == "openai/fake-model"
    assert openai.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert openai.requests[0].json["seed"] == 7


def test_a_model_that_is_not_allowed_is_refused_naming_the_setting(server, fakes, client) -> None:
    client.clear()
    client.emit("chat", {"content": "hi", "model": "openai/gpt-4o-mini"})
    error = client.error()
    assert error["code"] == "invalid_model" and "LITELLM_MODELS" in error["message"]
    assert "LITELLM_ALLOW_ANY_MODEL" in error["message"]
    assert client.of("chat") == []  # nothing stored, no session handed out
    assert all(fake.all_requests == [] for fake in fakes)

    anthropic = fakes[1]
    anthropic.script(Reply(text="ok"))
    session_id = client.ask("hi", model=CLAUDE)["session_id"]
    status, body = http(server, f"/session/{session_id}", "PATCH", {"model": "mistral/nope"})
    assert status == 400 and body["code"] == "invalid_model" and "LITELLM_MODELS" in body["message"]
    status, body = http(server, f"/session/{session_id}", "PATCH", {"reasoning_effort": "extreme"})
    assert status == 400 and body["code"] == "invalid_reasoning_effort"
    assert http(server, f"/session/{session_id}")[1]["model"] == CLAUDE  # unchanged
    assert http(server, "/session/unknown-id", "PATCH", {"model": CLAUDE})[0] == 404


def test_a_missing_key_fails_the_turn_at_once_naming_the_variable(server, fakes, client) -> None:
    final = client.ask("hi", model=GROQ)
    block = next(b for b in final["content"] if b["agent_name"] == "assistant")
    assert final["status"] == "error"
    assert "GROQ_API_KEY" in block["text"] and "nothing reached the provider" in block["text"]
    assert block["data"]["error_type"] == "auth"
    assert all(fake.all_requests == [] for fake in fakes)


def test_a_chats_model_survives_a_restart(server, fakes) -> None:
    openai, anthropic, ollama = fakes
    for fake in fakes:
        fake.reset()
    with _Client(server) as client:
        session_id = client.ask("hi", model=LLAMA)["session_id"]
    server.restart()
    server.wait_until_warm()
    assert http(server, f"/session/{session_id}")[1]["model"] == LLAMA
    ollama.script(Reply(text="remembered"))
    with _Client(server) as client:
        answer = client.ask("still you?", session_id=session_id)
    assert answer_text(answer) == "remembered" and openai.requests == []


class _Client:
    def __init__(self, server: ServerProcess):
        self.live = LiveClient(server.url)

    def __enter__(self) -> LiveClient:
        return self.live

    def __exit__(self, *exc: object) -> None:
        self.live.disconnect()


def test_images_go_to_a_vision_model_and_a_text_model_is_refused_first(server, fakes, client) -> None:
    openai = fakes[0]
    content = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": PNG_URL}},
    ]
    client.emit("chat", {"content": content, "model": TEXT_ONLY})
    error = client.error()
    assert error["code"] == "model_without_vision"
    assert (
        TEXT_ONLY in error["message"] and "openai/fake-model" in error["message"]
    )  # an allowed vision model
    assert all(fake.all_requests == [] for fake in fakes) and client.of("chat") == [], [
        (type(fake).__name__, [r.path for r in fake.all_requests]) for fake in fakes
    ]

    openai.script(Reply(text="One transparent pixel."))
    answer = client.ask(content, model=VISION)
    assert answer_text(answer) == "One transparent pixel."
    sent = openai.requests[0].json["messages"][-1]["content"]
    assert sent[1] == {"type": "image_url", "image_url": {"url": PNG_URL}}
    stored = http(server, f"/session/{answer['session_id']}")[1]["conversation"]
    assert stored[0]["msg_type"] == "input" and stored[0]["images"][0]["image_url"]["url"] == PNG_URL
