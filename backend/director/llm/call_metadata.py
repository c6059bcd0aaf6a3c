"""Who a model call is for (``session_id``, ``msg_id``, ``agent``, ``user``), handed to LiteLLM.

Set by the per-turn metering around each call and read by the LiteLLM adapter, which passes it as
``metadata``: LiteLLM's callbacks (Langfuse, OpenTelemetry, a CustomLogger) receive it with every
call. A context variable because the adapter's signature is provider-neutral and shared.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_metadata: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "llm_call_metadata", default=None
)


def current_call_metadata() -> dict[str, Any] | None:
    return _metadata.get()


@contextmanager
def call_metadata(metadata: dict[str, Any]) -> Iterator[None]:
    token = _metadata.set(metadata)
    try:
        yield
    finally:
        _metadata.reset(token)
