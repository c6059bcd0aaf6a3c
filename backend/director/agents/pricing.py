"""pricing: prices, context windows and capabilities of models, from LiteLLM's bundled model map.

Works offline: LiteLLM is imported with ``LITELLM_LOCAL_MODEL_COST_MAP=True`` (by ``ensure_litellm``),
so the numbers are those of the installed LiteLLM release.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any

from pydantic import BaseModel, Field

from director.agents.base import AgentResponse, AgentStatus, BaseAgent

PER_MILLION = 1_000_000
MAX_SUGGESTIONS = 5


class ModelPricing(BaseModel):
    model: str  # as asked
    matched: str  # the key found in LiteLLM's map
    provider: str | None = None
    mode: str | None = None
    input_per_1m: float | None = None  # USD per 1M input tokens
    output_per_1m: float | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    tool_calling: bool = False
    vision: bool = False
    reasoning: bool = False


def model_map() -> dict[str, dict[str, Any]]:
    from director.llm.litellm import ensure_litellm

    return ensure_litellm().model_cost


def _per_million(value: Any) -> float | None:
    # Round away float noise (2.5e-06 * 1e6 = 2.4999999999999996).
    return round(float(value) * PER_MILLION, 6) if isinstance(value, int | float) else None


def find_model(model: str, table: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """Exact key first, then without the provider prefix (``openai/gpt-4o`` is keyed ``gpt-4o``)."""
    name = model.strip()
    candidates = [name, name.lower()]
    if "/" in name:
        provider, bare = name.split("/", 1)
        candidates += [bare, bare.lower()]
        if provider == "gemini":
            candidates.append(f"gemini/{bare}")
    for key in candidates:
        info = table.get(key)
        if isinstance(info, dict) and ("input_cost_per_token" in info or "max_input_tokens" in info):
            return key, info
    return None


def suggest(model: str, table: dict[str, dict[str, Any]]) -> list[str]:
    bare = model.split("/", 1)[-1].lower()
    keys = [k for k in table if k != "sample_spec"]
    close = difflib.get_close_matches(bare, keys, n=MAX_SUGGESTIONS, cutoff=0.6)
    if len(close) < MAX_SUGGESTIONS:
        close += [k for k in sorted(keys, key=len) if bare in k.lower() and k not in close]
    return close[:MAX_SUGGESTIONS]


def describe(model: str, key: str, info: dict[str, Any]) -> ModelPricing:
    return ModelPricing(
        model=model,
        matched=key,
        provider=info.get("litellm_provider"),
        mode=info.get("mode"),
        input_per_1m=_per_million(info.get("input_cost_per_token")),
        output_per_1m=_per_million(info.get("output_cost_per_token")),
        max_input_tokens=info.get("max_input_tokens"),
        max_output_tokens=info.get("max_output_tokens"),
        tool_calling=bool(info.get("supports_function_calling")),
        vision=bool(info.get("supports_vision")),
        reasoning=bool(info.get("supports_reasoning")),
    )


def _money(value: float | None) -> str:
    return "?" if value is None else f"${value:,.2f}"


def summary_line(row: ModelPricing) -> str:
    context = f"{row.max_input_tokens:,}-token context" if row.max_input_tokens else "context unknown"
    caps = [name for name in ("tool_calling", "vision", "reasoning") if getattr(row, name)]
    caps_text = ", ".join(c.replace("_", " ") for c in caps) or "no listed capabilities"
    return (
        f"{row.model}: {_money(row.input_per_1m)} in / {_money(row.output_per_1m)} out per 1M tokens, "
        f"{context}; {caps_text}"
    )


class PricingAgent(BaseAgent):
    name = "pricing"
    description = (
        "Looks up LLM prices (USD per 1M input/output tokens), context windows and capabilities "
        "(tool calling, vision, reasoning) from LiteLLM's model map; compares several models."
    )

    def run(self, models: Annotated[list[str], Field(min_length=1, max_length=20)]) -> AgentResponse:
        """Look up model prices and capabilities.

        Args:
            models: LiteLLM model names, e.g. ["gpt-4o", "anthropic/claude-sonnet-4-5"].
        """
        self.report("Looking up " + ", ".join(models))
        table = model_map()
        found: list[ModelPricing] = []
        unknown: dict[str, list[str]] = {}
        for model in models:
            match = find_model(model, table)
            if match is None:
                unknown[model] = suggest(model, table)
            else:
                found.append(describe(model, *match))
        lines = [summary_line(row) for row in found]
        for model, close in unknown.items():
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            lines.append(f"{model}: not in LiteLLM's model map.{hint}")
        data: dict[str, Any] = {
            "models": [row.model_dump() for row in found],
            "unknown": [{"model": m, "suggestions": s} for m, s in unknown.items()],
        }
        if len(found) > 1:
            priced = [r for r in found if r.input_per_1m is not None and r.output_per_1m is not None]
            if priced:
                data["cheapest_input"] = min(priced, key=lambda r: r.input_per_1m or 0).model
                data["cheapest_output"] = min(priced, key=lambda r: r.output_per_1m or 0).model
        status = AgentStatus.SUCCESS if found else AgentStatus.ERROR
        return AgentResponse(status=status, message="\n".join(lines), data=data)
