"""When LiteLLM's per-stream success logging may be skipped (``litellm.disable_streaming_logging``).

That logging rebuilds the whole response and runs the success callbacks, in a worker thread, for every
streamed call: measured here it is about a quarter of LiteLLM's CPU per call (bench/cluster.py prints
the difference). Director reads usage from the stream itself and prices it with ``cost_per_token``
(llm/litellm.py), so with no LiteLLM callback registered nothing reads that logging's result. A
deployment that registers one (``litellm.callbacks``, ``success_callback``) gets it back, so its
callbacks still see every streamed call. The same holds for the end-of-stream success handler
(``skip_success_handler``), which runs even with that logging off.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

# LiteLLM's lists of what runs after a successful call (``callbacks`` is split into the others).
_SUCCESS_HOOKS = ("callbacks", "success_callback", "_async_success_callback")


def success_callbacks_registered(litellm: ModuleType) -> bool:
    return any(
        _is_a_callback(litellm, callback)
        for name in _SUCCESS_HOOKS
        for callback in getattr(litellm, name, None) or ()
    )


def _is_a_callback(litellm: ModuleType, callback: object) -> bool:
    # Creating any litellm ``Cache`` registers LiteLLM's own "cache" hook for good, and its Gemini
    # path creates one at import (vertex_ai_context_caching, only to compute cache keys): after the
    # first Gemini call the hook is there although no cache is configured (``litellm.cache`` None),
    # when it does nothing with the logging's result.
    return not (callback == "cache" and getattr(litellm, "cache", None) is None)


def apply(litellm: ModuleType) -> None:
    """Skip the streaming success logging exactly when no callback would receive it."""
    litellm.disable_streaming_logging = not success_callbacks_registered(litellm)


def success_handler_needed(litellm: ModuleType) -> bool:
    """Whether anything reads what LiteLLM's end-of-stream success handler produces.

    Its readers: registered callbacks, a response cache, and the payload it prints when
    ``LITELLM_PRINT_STANDARD_LOGGING_PAYLOAD`` is set. (LiteLLM's SDK budget, ``litellm.max_budget``,
    counts only calls that do not stream.)
    """
    return (
        success_callbacks_registered(litellm)
        or getattr(litellm, "cache", None) is not None
        or bool(os.getenv("LITELLM_PRINT_STANDARD_LOGGING_PAYLOAD"))
    )


def skip_success_handler(stream: Any) -> None:
    """Drop this stream's end-of-stream success handler: for a call whose result nothing reads
    (``success_handler_needed`` was False when it was made; the caller asks once per call).

    Even with the per-chunk logging off, a finished stream hands its whole rebuilt response to a worker
    thread that prices it again and builds a logging payload: about 1.8 ms of CPU per call here, some
    15% of LiteLLM's share of a call (bench/llm_overhead.py prints the CPU per call). Director prices the
    usage itself. Only this stream's own logging object is touched, so another call (or a callback
    registered later) is unaffected.
    """
    logging_obj = getattr(stream, "logging_obj", None)
    if logging_obj is not None and callable(getattr(logging_obj, "success_handler", None)):
        logging_obj.success_handler = _nothing_reads_it


def _nothing_reads_it(*args: object, **kwargs: object) -> None:
    return None
