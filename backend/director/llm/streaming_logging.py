"""When LiteLLM's per-stream success logging may be skipped (``litellm.disable_streaming_logging``).

That logging rebuilds the whole response and runs the success callbacks, in a worker thread, for every
streamed call: measured here it is about a quarter of LiteLLM's CPU per call (bench/cluster.py prints
the difference). Director reads usage from the stream itself and prices it with ``cost_per_token``
(llm/litellm.py), so with no LiteLLM callback registered nothing reads that logging's result. A
deployment that registers one (``litellm.callbacks``, ``success_callback``) gets it back, so its
callbacks still see every streamed call.
"""

from __future__ import annotations

from types import ModuleType

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
