"""compare_models: run one prompt on several LiteLLM models at once and tabulate the results.

Each model gets an adapter with the default LLM's settings but its own model and that provider's
credentials (``LiteLLM.for_model``). A model that fails is a row with its (safe) error message; the
comparison itself still succeeds.
"""

from __future__ import annotations

import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from pydantic import BaseModel, Field

from director.agents.base import AgentResponse, AgentStatus, BaseAgent
from director.agents.settings import load_agent_settings
from director.llm.base import LLMResponse
from director.llm.litellm import LiteLLM
from director.llm.redact import protect
from director.llm.wrapping import unwrap

logger = logging.getLogger(__name__)
# Agent tracebacks and provider errors can carry keys: mask them in every line we log.
protect(logger)

MAX_ANSWER_CHARS = 4000  # per model, in what goes back to the model and the UI


class ComparisonRow(BaseModel):
    model: str
    answer: str | None = None
    latency_ms: float | None = None
    tokens: int | None = None
    cost: float | None = None
    error: str | None = None
    error_type: str | None = None


def allowed_models(llm: LiteLLM) -> list[str]:
    """The models an agent may call at the model's request: the configured model and its fallbacks.

    Model names in tool arguments can come from a prompt-injected page; an unchecked name such as
    ``ollama/llama3`` makes the server POST to a fixed local port, whatever
    DIRECTOR_ALLOW_PRIVATE_URLS says. (Until per-chat models exist, this is the whole policy.)
    """
    return [m for m in llm.models if m]


def refusal(refused: list[str], allowed: list[str]) -> AgentResponse:
    return AgentResponse(
        status=AgentStatus.ERROR,
        message=(
            f"Not allowed: {', '.join(refused)[:300]}. compare_models may only use the models this server "
            f"is configured with ({', '.join(allowed)}: the chat model and its fallback models)."
        ),
        data={"refused": refused, "allowed": allowed},
    )


def _row(model: str, response: LLMResponse) -> ComparisonRow:
    if not response.ok:
        return ComparisonRow(
            model=model,
            latency_ms=response.latency_ms,
            error=response.content or "The call failed.",
            error_type=response.error_type.value if response.error_type else None,
        )
    answer = response.content
    if len(answer) > MAX_ANSWER_CHARS:
        answer = answer[:MAX_ANSWER_CHARS] + "…"
    return ComparisonRow(
        model=model,
        answer=answer,
        latency_ms=round(response.latency_ms, 1) if response.latency_ms is not None else None,
        tokens=response.total_tokens or (response.send_tokens + response.recv_tokens) or None,
        cost=response.cost,
    )


def _table(rows: list[ComparisonRow]) -> str:
    lines = ["| model | latency | tokens | cost | result |", "|---|---|---|---|---|"]
    for r in rows:
        latency = f"{r.latency_ms:,.0f} ms" if r.latency_ms is not None else "?"
        cost = f"${r.cost:.6f}" if r.cost is not None else "?"
        result = f"error: {r.error}" if r.error else " ".join((r.answer or "").split())[:80]
        lines.append(f"| {r.model} | {latency} | {r.tokens or '?'} | {cost} | {result} |")
    return "\n".join(lines)


class CompareModelsAgent(BaseAgent):
    name = "compare_models"
    description = (
        "Runs one prompt on several LiteLLM models concurrently and returns each model's answer, "
        "latency, token count and cost."
    )

    def run(
        self,
        prompt: Annotated[str, Field(min_length=1)],
        models: Annotated[list[str], Field(min_length=1)],
    ) -> AgentResponse:
        """Compare models on one prompt.

        Args:
            prompt: The prompt to send to every model.
            models: LiteLLM model strings, e.g. ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"].
        """
        limit = load_agent_settings().compare_max_models
        models = list(dict.fromkeys(m.strip() for m in models if m.strip()))
        if not models:
            return AgentResponse(status=AgentStatus.ERROR, message="No model names were given.")
        if len(models) > limit:
            return AgentResponse(
                status=AgentStatus.ERROR,
                message=f"At most {limit} models can be compared at once (DIRECTOR_COMPARE_MAX_MODELS).",
            )
        # None, or NotConfiguredLLM: nothing to take settings from (a per-turn wrapper such as
        # the usage meter is looked through).
        if not isinstance(unwrap(self.llm), LiteLLM):
            return AgentResponse(status=AgentStatus.ERROR, message="No language model is configured.")
        allowed = allowed_models(self.llm)
        if refused := [m for m in models if m not in allowed]:
            return refusal(refused, allowed)
        llm = self.llm
        self.report(f"Asking {len(models)} models")

        def one(model: str) -> ComparisonRow | LLMResponse:
            try:
                return llm.for_model(model).chat_completions([{"role": "user", "content": prompt}])
            except Exception as exc:  # e.g. a ConfigError for a bad model string: a row, not a failed turn
                logger.warning("compare_models: %s failed: %r", model, exc)
                message = (
                    getattr(exc, "message", None) or f"Could not call this model ({type(exc).__name__})."
                )
                return ComparisonRow(model=model, error=message)

        with ThreadPoolExecutor(max_workers=len(models), thread_name_prefix="compare") as pool:
            # Each call runs in its own copy of this thread's context, so usage metering and
            # LiteLLM callbacks know which agent made it.
            futures = [pool.submit(contextvars.copy_context().run, one, model) for model in models]
            results = [future.result() for future in futures]
        rows = []
        for model, result in zip(models, results, strict=True):
            if isinstance(result, LLMResponse):
                self.record_usage(result)  # here, in run's thread: the pool's threads lack the turn's context
                result = _row(model, result)
            rows.append(result)
        succeeded = sum(1 for r in rows if r.error is None)
        status = AgentStatus.SUCCESS if succeeded else AgentStatus.ERROR
        return AgentResponse(
            status=status,
            message=f"{succeeded} of {len(rows)} models answered.\n\n{_table(rows)}",
            data={"prompt": prompt, "rows": [r.model_dump() for r in rows]},
        )
