"""LiteLLM bookkeeping that Director's own streamed calls skip while nothing reads it.

Two pieces of per-call work run inside ``litellm.completion`` before the adapter holds the stream, so they
cannot be dropped per stream the way ``streaming_logging.skip_success_handler`` drops the end-of-stream
handler:
- pricing the new stream object (``Logging.response_cost_calculator``, from ``update_response_metadata``).
  There is no usage yet; the price lands in the stream wrapper's hidden ``response_cost``, which only
  success callbacks and LiteLLM's own proxy read (its chunks start from a copy with that field None).
  Director prices the usage itself with ``cost_per_token`` (llm/litellm.py). About 0.7 ms of CPU per call.
- the service-timing event (``ServiceLogging.service_success_hook``). With ``litellm.service_callback``
  empty it builds a payload and, in a thread without an event loop (every turn's), starts a new one with
  ``asyncio.run`` for a coroutine that then does nothing.

``install`` wraps the two methods once, at import. The wrappers skip only inside ``skipping(True)``, which
the adapter enters around its own call when ``streaming_logging.success_handler_needed`` says nothing
reads LiteLLM's logging; a service callback registered at any time gets its events. Every other caller in
the process (a deployment's own LiteLLM calls, the benches' bare LiteLLM) gets LiteLLM's behaviour.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)

# Per thread (each thread starts with its own context): one turn's call never skips for another's.
_SKIP: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "director_skip_unread_bookkeeping", default=False
)
_MARK = "_director_unread_bookkeeping"


@contextmanager
def skipping(active: bool) -> Iterator[None]:
    """Skip the bookkeeping for the LiteLLM calls made in this block, on this thread, when ``active``."""
    token = _SKIP.set(active)
    try:
        yield
    finally:
        _SKIP.reset(token)


def install(litellm: ModuleType) -> None:
    """Wrap the two methods (idempotent). A LiteLLM without them is left as it is, and says so in the log."""
    try:
        from litellm._service_logger import ServiceLogging
        from litellm.litellm_core_utils.litellm_logging import Logging
        from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper
    except ImportError:
        logger.info("this LiteLLM has no per-call bookkeeping Director knows how to skip")
        return

    def stream_unpriced(self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        result = kwargs.get("result", args[0] if args else None)
        return isinstance(result, CustomStreamWrapper)

    def no_service_callback(self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        return not getattr(litellm, "service_callback", None) and not getattr(self, "mock_testing", False)

    _wrap(Logging, "response_cost_calculator", stream_unpriced)
    _wrap(ServiceLogging, "service_success_hook", no_service_callback)


def _wrap(cls: type, name: str, skip_when: Callable[[Any, tuple[Any, ...], dict[str, Any]], bool]) -> None:
    original = getattr(cls, name, None)
    if original is None:
        logger.info("LiteLLM's %s.%s is gone: nothing to skip there", cls.__name__, name)
        return
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _SKIP.get() and skip_when(self, args, kwargs):
            return None  # what both return when there is nothing to price or report
        return original(self, *args, **kwargs)

    setattr(wrapper, _MARK, True)
    setattr(cls, name, wrapper)
