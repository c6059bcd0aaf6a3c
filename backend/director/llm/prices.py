"""Whether LiteLLM can price a model (its bundled price map, offline)."""

from __future__ import annotations

from director.llm.litellm import ensure_litellm
from director.llm.proxy import is_proxy_model


def has_price(model: str) -> bool:
    """True when LiteLLM knows this model's per-token price."""
    if not model:
        return False
    if is_proxy_model(model):
        # A LiteLLM proxy prices its own calls (its cost header, else its /model/info; llm/proxy.py).
        return True
    litellm = ensure_litellm()
    try:
        prompt, completion = litellm.cost_per_token(model=model, prompt_tokens=1000, completion_tokens=1000)
    except Exception:  # LiteLLM raises for models missing from its map
        return False
    return (prompt + completion) > 0
