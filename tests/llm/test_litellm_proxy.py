"""A LiteLLM Proxy in front of the providers: its URL and key, its errors, retries, prices and models.

Against a fake that speaks the proxy's API (tests/fakes/wire/litellm_proxy.py): its chat routes, its
key check (master key, no database), its error bodies, ``/model/info`` and ``/v1/models``.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from director.errors import ConfigError, ProxyCatalogError
from director.llm import proxy
from director.llm.base import LLMErrorType, LLMResponse, LLMResponseStatus
from director.llm.config import LiteLLMConfig
from director.llm.litellm import LiteLLM, ensure_litellm

from tests.fakes.providers import FAKE_API_KEY, Reply
from tests.fakes.wire.litellm_proxy import FakeLiteLLMProxy, alias, proxy_error, upstream_auth_error

pytestmark = pytest.mark.integration

HI = [{"role": "user", "content": "hi"}]
PROXY_ENV = (
    "LITELLM_PROXY_API_BASE",
    "LITELLM_PROXY_API_KEY",
    "LITELLM_API_BASE",
    "LITELLM_API_KEY",
    "OPENAI_API_KEY",
)


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in PROXY_ENV + ("LITELLM_NUM_RETRIES", "OPENAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    proxy.CATALOG.clear()
    yield
    proxy.CATALOG.clear()


@pytest.fixture
def fake() -> Iterator[FakeLiteLLMProxy]:
    server = FakeLiteLLMProxy()
    yield server
    server.close()


def _llm(**values: Any) -> LiteLLM:
    values.setdefault("chat_model", "litellm_proxy/team-gpt")
    values.setdefault("retry_backoff", 0.001)
    return LiteLLM(LiteLLMConfig(_env_file=values.pop("_env_file", None), **values))


def _call(llm: LiteLLM, stream: bool) -> LLMResponse:
    if stream:
        *_, final = llm.chat_completions_stream(HI)
        assert isinstance(final, LLMResponse)
        return final
    return llm.chat_completions(HI)


# --- where requests go ------------------------------------------------------------------------


def test_the_proxy_url_and_key_come_from_litellm_proxy_variables(
    fake: FakeLiteLLMProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITELLM_PROXY_API_BASE", fake.url)
    monkeypatch.setenv("LITELLM_PROXY_API_KEY", FAKE_API_KEY)
    r = _llm().chat_completions(HI)
    assert r.ok, r.content
    [req] = fake.requests
    assert req.json["model"] == "team-gpt" and req.headers["authorization"] == f"Bearer {FAKE_API_KEY}"


def test_the_proxy_url_is_read_from_the_env_file_too(fake: FakeLiteLLMProxy, tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"LITELLM_PROXY_API_BASE={fake.url}\nLITELLM_PROXY_API_KEY={FAKE_API_KEY}\n")
    r = _llm(_env_file=env).chat_completions(HI)
    assert r.ok and len(fake.requests) == 1


@pytest.mark.parametrize("where", ["primary", "fallback", "for_model"])
def test_no_proxy_url_is_refused_before_anything_is_sent(where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_PROXY_API_KEY", FAKE_API_KEY)
    connections = _record_connections(monkeypatch)
    with pytest.raises(ConfigError) as refused:
        if where == "primary":
            _llm()
        elif where == "fallback":
            _llm(chat_model="openai/gpt-4o", api_key="sk-openai", fallback_models=["litellm_proxy/team-gpt"])
        else:
            _llm(chat_model="openai/gpt-4o", api_key="sk-openai").for_model("litellm_proxy/team-gpt")
    assert refused.value.variable == "LITELLM_API_BASE"
    assert "LITELLM_PROXY_API_BASE" in refused.value.message and "\n" not in refused.value.message
    assert connections == []


def _record_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address any socket in this process connects to from now on."""
    seen: list[Any] = []
    original = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        seen.append(address)
        return original(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def test_no_connection_goes_anywhere_but_the_configured_proxy(
    fake: FakeLiteLLMProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chat, streams, errors, a proxy fallback and a switched model, prices and the model list."""
    monkeypatch.setenv("LITELLM_PROXY_API_BASE", fake.url)
    monkeypatch.setenv("LITELLM_PROXY_API_KEY", FAKE_API_KEY)
    ensure_litellm()  # importing LiteLLM is allowed no network either, but it is not what is tested here
    connections = _record_connections(monkeypatch)
    fake.script(
        Reply(text="a"), Reply(text="b"), upstream_auth_error("team-gpt"), Reply(status=503), Reply(text="c")
    )
    llm = _llm()
    assert llm.chat_completions(HI).ok
    assert _call(llm, stream=True).ok
    assert llm.chat_completions(HI).error_type == LLMErrorType.AUTH
    # an OpenAI primary falling back to the proxy: its URL and key are the proxy's, never api.openai.com
    other = _llm(
        chat_model="openai/gpt-4o",
        api_key=FAKE_API_KEY,
        api_base=fake.url + "/v1",
        num_retries=0,
        fallback_models=["litellm_proxy/team-gpt"],
    )
    fallback = other.chat_completions(HI)
    assert fallback.ok and fallback.model == "litellm_proxy/team-gpt"
    assert other.for_model("litellm_proxy/team-gpt").chat_completions(HI).ok
    assert proxy.list_proxy_models(fake.url, FAKE_API_KEY)
    assert connections and {addr[:2] for addr in connections} == {("127.0.0.1", fake.port)}
    assert [r.path for r in fake.requests][-3:] == [
        "/v1/chat/completions",
        "/chat/completions",
        "/chat/completions",
    ]
    assert all(r.headers["authorization"] == f"Bearer {FAKE_API_KEY}" for r in fake.all_requests)


# --- keys and errors --------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_an_empty_key_says_no_key_is_set(
    fake: FakeLiteLLMProxy, stream: bool, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITELLM_API_KEY", "")
    r = _call(_llm(api_base=fake.url), stream)
    assert r.status == LLMResponseStatus.ERROR and r.error_type == LLMErrorType.LOCAL, r.content
    assert (
        "no API key is set" in r.content
        and "LITELLM_API_KEY" in r.content
        and "LITELLM_PROXY_API_KEY" in r.content
    )
    assert "500" not in r.content and fake.all_requests == [] and sleeps == []


@pytest.mark.parametrize("stream", [False, True])
def test_a_wrong_key_on_a_proxy_without_database_is_a_key_problem_not_an_invalid_request(
    fake: FakeLiteLLMProxy, stream: bool, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        r = _call(_llm(api_base=fake.url, api_key="sk-virtual-key-0000"), stream)
    assert r.error_type == LLMErrorType.AUTH, r.content
    assert "master key" in r.content and "LITELLM_API_KEY" in r.content and "(HTTP 400)" in r.content
    assert "CHAT_MODEL" not in r.content and "invalid" not in r.content
    assert "No connected db" not in r.content  # the proxy's own words are never shown
    assert "sk-virtual-key-0000" not in r.content + caplog.text
    assert len(fake.all_requests) == 1 and sleeps == []


def test_a_wrong_key_on_a_proxy_with_a_database(sleeps: list[float]) -> None:
    with FakeLiteLLMProxy(database=True) as fake:
        r = _llm(api_base=fake.url, api_key="sk-virtual-key-0000").chat_completions(HI)
    assert (
        r.error_type == LLMErrorType.AUTH
        and "refused the key" in r.content
        and "LITELLM_API_KEY" in r.content
    )
    assert "Invalid proxy server token" not in r.content and sleeps == []


@pytest.mark.parametrize(("stream", "style"), [(False, "1.106"), (True, "1.106"), (False, "received")])
def test_an_upstream_401_behind_the_proxy_points_at_the_proxy_config(
    fake: FakeLiteLLMProxy, stream: bool, style: str, sleeps: list[float]
) -> None:
    fake.script(upstream_auth_error("team-gpt", style))
    r = _call(_llm(api_base=fake.url, api_key=FAKE_API_KEY), stream)
    assert r.error_type == LLMErrorType.AUTH, r.content
    assert "accepted your key" in r.content and "proxy's config" in r.content
    assert "model group team-gpt" in r.content and "(HTTP 401)" in r.content
    assert "Incorrect API key" not in r.content and "sk-upstr" not in r.content
    assert len(fake.requests) == 1 and sleeps == []


# --- retries ----------------------------------------------------------------------------------


def test_the_proxy_owns_retries_by_default(fake: FakeLiteLLMProxy, sleeps: list[float]) -> None:
    fake.responder = lambda req: Reply(status=503)
    r = _llm(api_base=fake.url, api_key=FAKE_API_KEY).chat_completions(HI)
    assert r.error_type == LLMErrorType.SERVER and len(fake.requests) == 1 and sleeps == []


def test_an_explicit_retry_setting_still_applies_to_the_proxy(
    fake: FakeLiteLLMProxy, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITELLM_NUM_RETRIES", "2")
    fake.responder = lambda req: Reply(status=503)
    r = _llm(api_base=fake.url, api_key=FAKE_API_KEY).chat_completions(HI)
    assert r.error_type == LLMErrorType.SERVER and len(fake.requests) == 3 and len(sleeps) == 2


def test_an_unreachable_proxy_is_tried_once_more(sleeps: list[float]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    r = _llm(api_base=f"http://127.0.0.1:{dead}", api_key=FAKE_API_KEY).chat_completions(HI)
    assert r.error_type == LLMErrorType.CONNECTION and len(sleeps) == 1


# --- cost -------------------------------------------------------------------------------------


def test_an_alias_is_priced_by_the_proxy_not_by_a_public_model_of_the_same_name(sleeps: list[float]) -> None:
    # The proxy calls its "gpt-4o" alias a cheap model: LiteLLM's public gpt-4o price would be wrong.
    cheap = alias("gpt-4o", "openai/gpt-4o-mini", 1.5e-7, 6e-7)
    with FakeLiteLLMProxy(aliases=[cheap]) as fake:
        fake.script(*[Reply(text="x", prompt_tokens=1000, completion_tokens=500)] * 2)
        llm = _llm(chat_model="litellm_proxy/gpt-4o", api_base=fake.url, api_key=FAKE_API_KEY)
        first, second = llm.chat_completions(HI), _call(llm, stream=True)
        info_calls = [r for r in fake.all_requests if r.path == "/model/info"]
    expected = 1000 * 1.5e-7 + 500 * 6e-7
    assert first.cost == pytest.approx(expected) and second.cost == pytest.approx(expected)
    public = sum(ensure_litellm().cost_per_token(model="gpt-4o", prompt_tokens=1000, completion_tokens=500))
    assert first.cost != pytest.approx(public)
    assert len(info_calls) == 1  # cached


def test_the_proxys_cost_header_wins(fake: FakeLiteLLMProxy) -> None:
    fake.script(Reply(text="x", headers={"x-litellm-response-cost": "0.042"}))
    fake.script(Reply(text="y", headers={"x-litellm-response-cost": "0.042"}))
    llm = _llm(api_base=fake.url, api_key=FAKE_API_KEY)
    assert llm.chat_completions(HI).cost == pytest.approx(0.042)
    assert _call(llm, stream=True).cost == pytest.approx(0.042)
    assert not [r for r in fake.all_requests if r.path == "/model/info"]  # no need to ask


def test_an_alias_the_proxy_does_not_price_has_no_cost() -> None:
    with FakeLiteLLMProxy(aliases=[alias("gpt-4o", "openai/gpt-4o", None, None)]) as fake:
        r = _llm(chat_model="litellm_proxy/gpt-4o", api_base=fake.url, api_key=FAKE_API_KEY).chat_completions(
            HI
        )
    assert r.ok and r.total_tokens == 15 and r.cost is None


# --- the proxy's models -----------------------------------------------------------------------


def test_list_proxy_models_from_model_info(fake: FakeLiteLLMProxy) -> None:
    fake.aliases.append(alias("local-llama", "ollama_chat/llama3.1", None, None))
    fake.aliases.append(
        {**alias("embed", "openai/text-embedding-3-small", 2e-8, 0), "model_info": {"mode": "embedding"}}
    )
    assert proxy.list_proxy_models(fake.url, FAKE_API_KEY) == [
        {
            "id": "litellm_proxy/local-llama",
            "provider": "litellm_proxy",
            "max_input_tokens": None,
            "input_cost_per_mtok": None,
            "output_cost_per_mtok": None,
            "supports_tools": None,
            "supports_vision": None,
            "supports_reasoning": None,
        },
        {
            "id": "litellm_proxy/team-gpt",
            "provider": "litellm_proxy",
            "max_input_tokens": 128000,
            "input_cost_per_mtok": 1.0,
            "output_cost_per_mtok": 2.0,
            "supports_tools": True,
            "supports_vision": True,
            "supports_reasoning": None,
        },
    ]


def test_list_proxy_models_falls_back_to_v1_models() -> None:
    with FakeLiteLLMProxy(model_info=False) as fake:
        models = proxy.list_proxy_models(fake.url, FAKE_API_KEY)
    assert [(m["id"], m["input_cost_per_mtok"]) for m in models] == [("litellm_proxy/team-gpt", None)]


def test_list_proxy_models_with_a_wrong_key_or_no_proxy_says_what_to_check(fake: FakeLiteLLMProxy) -> None:
    with pytest.raises(ProxyCatalogError) as refused:
        proxy.list_proxy_models(fake.url, "sk-wrong-key-123")
    assert refused.value.status_code == 400 and "LITELLM_API_KEY" in refused.value.message
    assert "sk-wrong-key-123" not in refused.value.message
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    with pytest.raises(ProxyCatalogError) as unreachable:
        proxy.list_proxy_models(f"http://user:pw@127.0.0.1:{dead}/", FAKE_API_KEY)
    assert f"http://127.0.0.1:{dead}" in unreachable.value.message and "pw" not in unreachable.value.message


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (
            proxy_error(401, "key not allowed to access model", "key_model_access_denied"),
            "does not let this key use",
        ),
        (
            proxy_error(400, "Budget has been exceeded! Current cost: 5.1", "budget_exceeded"),
            "budget of this key is spent",
        ),
    ],
)
def test_the_proxys_access_and_budget_refusals_say_so(
    fake: FakeLiteLLMProxy, reply: Reply, says: str, sleeps: list[float]
) -> None:
    fake.script(reply)
    r = _llm(api_base=fake.url, api_key=FAKE_API_KEY).chat_completions(HI)
    assert r.error_type == LLMErrorType.AUTH and says in r.content, r.content
    assert "5.1" not in r.content and "not allowed" not in r.content and sleeps == []


@pytest.mark.parametrize("header", ["nan", "-1", "inf", "free", ""])
def test_an_unusable_cost_header_falls_back_to_the_proxys_prices(fake: FakeLiteLLMProxy, header: str) -> None:
    fake.script(Reply(text="x", headers={"x-litellm-response-cost": header}))
    r = _llm(api_base=fake.url, api_key=FAKE_API_KEY).chat_completions(HI)
    assert r.cost == pytest.approx(10 * 1e-6 + 5 * 2e-6)  # team-gpt's /model/info price


def test_a_stream_with_only_the_zeroed_cost_breakdown_is_priced_by_model_info(fake: FakeLiteLLMProxy) -> None:
    # What the real proxy sends on a stream: no x-litellm-response-cost, its "-original" sibling at 0.0.
    fake.script(Reply(text="x", headers={"x-litellm-response-cost-original": "0.0"}))
    r = _call(_llm(api_base=fake.url, api_key=FAKE_API_KEY), stream=True)
    assert r.cost == pytest.approx(10 * 1e-6 + 5 * 2e-6)
