"""A LiteLLM callback registered for one block of a test (LiteLLM's callback lists are process-wide)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def registered(callback: object) -> Iterator[None]:
    """``callback`` in ``litellm.callbacks`` for the block; afterwards out of every list LiteLLM copied
    it into (it splits a registered callback into its success lists)."""
    from director.llm.litellm import ensure_litellm

    litellm = ensure_litellm()
    litellm.callbacks.append(callback)
    try:
        yield
    finally:
        for name in ("callbacks", "success_callback", "_async_success_callback"):
            hooks = getattr(litellm, name)
            hooks[:] = [hook for hook in hooks if hook is not callback]
