"""has_price: what the unpriced-model rule (DIRECTOR_ALLOW_UNPRICED_MODELS) asks before each call under a budget."""

from __future__ import annotations

from director.llm.prices import has_price


def test_models_in_litellms_price_map_are_priced() -> None:
    assert has_price("openai/gpt-4o-mini") and has_price("anthropic/claude-sonnet-4-5")


def test_unknown_models_are_not() -> None:
    assert not has_price("openai/fake-model") and not has_price("ollama/my-own-model") and not has_price("")


def test_a_litellm_proxy_prices_its_own_calls() -> None:
    assert has_price("litellm_proxy/team-default")
