"""pricing against LiteLLM's real bundled model map (no network: the local cost map is forced)."""

from __future__ import annotations

import pytest
from director.agents.pricing import PricingAgent, model_map


@pytest.fixture(scope="module")
def table():
    return model_map()


def test_known_models_with_prices_and_capabilities(table) -> None:
    response = PricingAgent().call({"models": ["gpt-4o", "anthropic/claude-sonnet-4-5"]})
    assert response.status == "success"
    rows = {row["model"]: row for row in response.data["models"]}
    gpt = rows["gpt-4o"]
    # Compare with the bundled data itself, so the test follows LiteLLM upgrades.
    assert gpt["input_per_1m"] == pytest.approx(table["gpt-4o"]["input_cost_per_token"] * 1e6)
    assert gpt["output_per_1m"] == pytest.approx(table["gpt-4o"]["output_cost_per_token"] * 1e6)
    assert gpt["max_input_tokens"] == table["gpt-4o"]["max_input_tokens"]
    assert gpt["tool_calling"] is True and gpt["provider"] == "openai"
    claude = rows["anthropic/claude-sonnet-4-5"]
    assert claude["matched"] == "claude-sonnet-4-5" and claude["provider"] == "anthropic"
    assert claude["vision"] is bool(table["claude-sonnet-4-5"].get("supports_vision"))
    assert response.data["cheapest_input"] in rows
    assert "gpt-4o: $" in response.message and "per 1M tokens" in response.message


def test_reasoning_capability(table) -> None:
    response = PricingAgent().call({"models": ["o3-mini"]})
    assert response.data["models"][0]["reasoning"] is bool(table["o3-mini"].get("supports_reasoning"))


def test_unknown_model_is_reported_with_suggestions() -> None:
    response = PricingAgent().call({"models": ["gpt-4o", "gpt-4oo-turbo-xyz"]})
    assert response.status == "success"
    (unknown,) = response.data["unknown"]
    assert unknown["model"] == "gpt-4oo-turbo-xyz"
    assert unknown["suggestions"] and all(isinstance(s, str) for s in unknown["suggestions"])
    assert "not in LiteLLM's model map" in response.message


def test_all_unknown_is_an_error() -> None:
    response = PricingAgent().call({"models": ["zzz-no-such-model-qq"]})
    assert response.status == "error"
    assert response.data["models"] == []
