"""Prompt caching where the provider wants markers: Anthropic-style ``cache_control`` breakpoints.

OpenAI and most others cache long prompts by themselves (their cached tokens are counted and priced
all the same). Anthropic's models cache only up to a ``cache_control`` breakpoint, so for them every
call marks its stable prefix through LiteLLM's own injection hook (``cache_control_injection_points``):
the system prompt (the tools come before it, so they are cached with it) and the conversation's last
message, so the next step or turn reads everything before its own new messages from the cache.
"""

from __future__ import annotations

from typing import Any

from director.llm.config import provider_of

# Providers whose (Anthropic) models take cache_control markers; LiteLLM's model map says which models.
MARKER_PROVIDERS = frozenset({"anthropic", "bedrock", "vertex_ai", "vertex_ai_beta"})
INJECTION_POINTS: list[dict[str, Any]] = [
    {"location": "message", "role": "system"},
    {"location": "message", "index": -1},
]


def cache_injection_points(model: str) -> list[dict[str, Any]] | None:
    """LiteLLM's ``cache_control_injection_points`` for ``model``, or None when it needs none."""
    if provider_of(model) not in MARKER_PROVIDERS:
        return None
    # Called while building a request, so LiteLLM (offline, configured by llm/litellm.py) is loaded.
    from litellm.utils import supports_prompt_caching

    try:
        supported = supports_prompt_caching(model)
    except Exception:  # a model LiteLLM does not know: no markers, the call itself decides
        return None
    return [dict(point) for point in INJECTION_POINTS] if supported else None
