"""The context window compaction counts against (``max_input_tokens``) and the offline token count."""

from __future__ import annotations

from typing import Any

import pytest
from director.core.metered_llm import CallScope, MeteredLLM, UsageMeter
from director.llm.config import LiteLLMConfig
from director.llm.litellm import LiteLLM, ensure_litellm
from director.llm.token_count import count_input_tokens


def _llm(**values: Any) -> LiteLLM:
    return LiteLLM(LiteLLMConfig(_env_file=None, api_key="sk-test-0000", **values))


def test_the_window_comes_from_litellms_map_unless_the_setting_declares_it() -> None:
    mapped = ensure_litellm().get_model_info("openai/gpt-4o")["max_input_tokens"]
    plain = _llm(chat_model="openai/gpt-4o")
    assert plain.max_input_tokens == mapped and not plain.max_input_tokens_declared

    declared = _llm(chat_model="openai/gpt-4o", max_input_tokens=5000)
    assert declared.max_input_tokens == 5000 and declared.max_input_tokens_declared
    # Another model of the same provider (a chat's choice) keeps the declared window, as LITELLM_EXTRA_PARAMS
    # goes with it; another provider's model has its own, from the map.
    assert declared.with_settings("openai/gpt-4o-mini", None).max_input_tokens == 5000
    other = declared.with_settings("anthropic/claude-sonnet-4-5", None)
    assert (
        other.max_input_tokens
        == ensure_litellm().get_model_info("anthropic/claude-sonnet-4-5")["max_input_tokens"]
    )
    assert not other.max_input_tokens_declared

    # A local model the map cannot know (Ollama's would be asked over HTTP): unknown, unless declared.
    assert _llm(chat_model="ollama_chat/llama3.1").max_input_tokens is None
    assert _llm(chat_model="ollama_chat/llama3.1", max_input_tokens=8192).max_input_tokens == 8192


def test_wrappers_pass_the_window_and_the_count_through() -> None:
    inner = _llm(chat_model="ollama_chat/llama3.1", max_input_tokens=4096)
    metered = MeteredLLM(inner, UsageMeter(None, None), CallScope(session_id="s"))  # type: ignore[arg-type]
    assert metered.max_input_tokens == 4096 and metered.max_input_tokens_declared
    messages = [{"role": "user", "content": "How long is this message, in tokens?"}]
    assert metered.count_input_tokens(messages, None) == inner.count_input_tokens(messages, None) > 0


def test_counting_never_downloads_a_tokenizer(monkeypatch: pytest.MonkeyPatch) -> None:
    ensure_litellm()
    from litellm import utils

    attempts: list[Any] = []

    def no_download(*args: Any, **kwargs: Any) -> Any:
        # LiteLLM would catch this and fall back to tiktoken: the attempt itself is what must not happen.
        attempts.append(args)
        raise OSError("no network")

    monkeypatch.setattr(utils.tokenizer_dispatch, "from_pretrained", no_download)
    monkeypatch.setattr(utils, "create_pretrained_tokenizer", no_download)
    # Forget any tokenizer LiteLLM already chose or loaded, so a download would be attempted again
    # (which helpers are cached differs between LiteLLM versions).
    for name in ("_load_huggingface_tokenizer", "_select_tokenizer_helper"):
        getattr(getattr(utils, name, None), "cache_clear", lambda: None)()
    messages = [{"role": "user", "content": "bonjour, ça va ? 日本語 😀"}]
    tools = [{"name": "pricing", "description": "prices", "parameters": {"type": "object", "properties": {}}}]
    for model in ("ollama_chat/llama-3-8b", "replicate/llama-2-70b", "cohere/command-r", "openai/gpt-4o"):
        without_tools = count_input_tokens(model, messages, None)
        assert 0 < without_tools < count_input_tokens(model, messages, tools)
    # Images are counted at LiteLLM's default size, never fetched.
    image = [
        {"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": "http://192.0.2.1/x.png"}},
    ]
    assert count_input_tokens("openai/gpt-4o", [{"role": "user", "content": image}], None) > 0
    assert attempts == []
