"""The real LiteLLM Proxy (``litellm --config``, no database) between Director and a fake upstream.

What the fake proxy in tests/fakes/wire/litellm_proxy.py claims, checked against the real thing: its
key check, its error bodies (the upstream's 401 naming the model group), its cost header and
``/model/info``, and that it retries upstream itself. The proxy needs ``litellm[proxy]``, which the
project does not depend on: ``make proxy-test`` installs it in ``.venv-proxy`` and runs this file with
``DIRECTOR_LITELLM_PROXY_BIN`` pointing at it. The proxy takes about 30 s to start here, so without that
variable the tests are skipped: ``make test`` does not run them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from director.llm import proxy
from director.llm.base import LLMErrorType, LLMResponse
from director.llm.config import LiteLLMConfig
from director.llm.litellm import LiteLLM

from tests.fakes.providers import FakeOpenAI, Reply

PROXY_BIN = Path(os.environ.get("DIRECTOR_LITELLM_PROXY_BIN") or "/nonexistent/litellm")
MASTER_KEY = "sk-real-proxy-master-0001"
UPSTREAM_KEY = "sk-upstream-key-in-the-proxy-config"
HI = [{"role": "user", "content": "hi"}]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not PROXY_BIN.is_file(), reason="the real LiteLLM proxy runs only with `make proxy-test`"
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def proxy_url(upstream: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = tmp_path_factory.mktemp("proxy") / "config.yaml"
    # The alias "gpt-4o" is priced by the proxy's config at 1 and 2 USD per million tokens: not
    # public gpt-4o's price, which Director must not use for it.
    config.write_text(
        f"""model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: {upstream.api_base}
      api_key: {UPSTREAM_KEY}
    model_info:
      input_cost_per_token: 0.000001
      output_cost_per_token: 0.000002
litellm_settings:
  num_retries: 2
router_settings:
  retry_after: 0
  disable_cooldowns: true  # one test's failures must not bench the alias for the next
general_settings:
  master_key: {MASTER_KEY}
"""
    )
    port = _free_port()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    log = (config.parent / "proxy.log").open("w")
    process = subprocess.Popen(
        [str(PROXY_BIN), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health/liveliness", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the LiteLLM proxy did not start: see {log.name}")
        time.sleep(0.5)
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(autouse=True)
def fresh(upstream: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    upstream.reset()
    proxy.CATALOG.clear()
    for name in ("LITELLM_PROXY_API_BASE", "LITELLM_PROXY_API_KEY", "LITELLM_NUM_RETRIES"):
        monkeypatch.delenv(name, raising=False)


def _llm(proxy_url: str, key: str = MASTER_KEY) -> LiteLLM:
    return LiteLLM(
        LiteLLMConfig(
            _env_file=None, chat_model="litellm_proxy/gpt-4o", api_base=proxy_url, api_key=key, timeout=60
        )
    )


def test_answers_tools_and_cost_through_the_real_proxy(upstream: FakeOpenAI, proxy_url: str) -> None:
    upstream.script(
        Reply(text="Four.", prompt_tokens=1000, completion_tokens=500),
        Reply(tool_calls=[("pricing", {"models": ["a"]}), ("pricing", {"models": ["b"]})]),
    )
    llm = _llm(proxy_url)
    r = llm.chat_completions(HI)
    assert r.ok and r.content == "Four.", r.content
    assert r.cost == pytest.approx(1000 * 1e-6 + 500 * 2e-6)  # the proxy's price for its alias
    *_, streamed = llm.chat_completions_stream(
        HI, tools=[{"name": "pricing", "parameters": {"type": "object"}}]
    )
    assert isinstance(streamed, LLMResponse) and streamed.ok, streamed.content
    assert [c.tool.arguments for c in streamed.tool_calls] == [{"models": ["a"]}, {"models": ["b"]}]
    # A stream carries no x-litellm-response-cost header (only its zeroed -original siblings): the
    # alias's price comes from /model/info instead, never 0.0.
    assert streamed.cost == pytest.approx(10 * 1e-6 + 5 * 2e-6)
    # The upstream got the key from the proxy's config; Director's key stayed with the proxy.
    assert {q.headers["authorization"] for q in upstream.requests} == {f"Bearer {UPSTREAM_KEY}"}


def test_a_wrong_key_is_told_apart_from_an_upstream_401(upstream: FakeOpenAI, proxy_url: str) -> None:
    wrong = _llm(proxy_url, key="sk-not-the-master-key").chat_completions(HI)
    assert wrong.error_type == LLMErrorType.AUTH and "master key" in wrong.content, wrong.content
    assert upstream.requests == []
    upstream.responder = lambda req: Reply(status=401)
    refused = _llm(proxy_url).chat_completions(HI)
    assert refused.error_type == LLMErrorType.AUTH, refused.content
    assert "accepted your key" in refused.content and "model group gpt-4o" in refused.content


def test_the_proxy_retries_and_director_does_not_multiply_them(upstream: FakeOpenAI, proxy_url: str) -> None:
    upstream.responder = lambda req: Reply(status=503)
    r = _llm(proxy_url).chat_completions(HI)
    assert r.error_type == LLMErrorType.SERVER, r.content
    assert len(upstream.requests) == 3  # the proxy's own 1 + 2 retries, once: Director sent one request


def test_the_proxys_model_list(proxy_url: str) -> None:
    [model] = proxy.list_proxy_models(proxy_url, MASTER_KEY)
    assert model["id"] == "litellm_proxy/gpt-4o" and model["max_input_tokens"] == 128000
    assert (model["input_cost_per_mtok"], model["output_cost_per_mtok"]) == (1.0, 2.0)
    assert model["supports_tools"] is True
