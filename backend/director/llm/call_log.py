"""One log line per model call: session, agent, model, tokens, cost, latency, outcome.

The figures travel on the record as ``call`` (a dict), so the JSON format (``DIRECTOR_LOG_FORMAT=json``,
``director/log_format.py``) writes them as fields; the text format reads them in the message.
Nothing secret is in it, and the handlers' ``RedactingFilter`` masks the message anyway.
"""

from __future__ import annotations

import logging
from typing import Any

from director.llm.base import LLMResponse
from director.llm.redact import protect

logger = logging.getLogger("director.llm.calls")
protect(logger)


def call_figures(agent: str | None, response: LLMResponse) -> dict[str, Any]:
    """What one model call used, as the usage row, the answer's ``calls`` and the log line carry it."""
    return {
        "agent": agent,
        "model": response.model,
        "input_tokens": response.send_tokens,
        "output_tokens": response.recv_tokens,
        "cached_tokens": response.cached_tokens,
        "cost_usd": response.cost,
        "latency_ms": round(response.latency_ms, 1) if response.latency_ms is not None else None,
        "outcome": response.error_type.value if response.error_type else "success",
    }


def log_call(session_id: str, agent: str | None, response: LLMResponse) -> None:
    call = {"session_id": session_id, **call_figures(agent, response)}
    cost = f"{response.cost:.6f}" if response.cost is not None else "unpriced"
    logger.info(
        "model call session=%s agent=%s model=%s tokens_in=%d tokens_out=%d cached=%d cost_usd=%s "
        "latency_ms=%s outcome=%s",
        session_id,
        agent or "-",
        call["model"],
        call["input_tokens"],
        call["output_tokens"],
        call["cached_tokens"],
        cost,
        call["latency_ms"],
        call["outcome"],
        extra={"call": call},
    )
