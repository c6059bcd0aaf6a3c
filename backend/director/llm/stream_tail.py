"""Reading what follows the finish chunk of an OpenAI-format stream without LiteLLM's end-of-stream work.

With ``stream_options.include_usage`` an OpenAI-format stream sends, after the chunk carrying the
finish reason, one more chunk with data: the usage, whole. LiteLLM's stream wrapper reads that chunk
and keeps the usage back; only when the provider's stream has ended does it rebuild the whole answer
from every chunk (``stream_chunk_builder``), price it, deep-copy it twice and queue it for its success
logging and cache, and only then yield a usage chunk to the caller. That end costs about a quarter of
a streamed call's CPU (bench/llm_overhead.py), and only LiteLLM's callbacks and cache read what it
builds. So when none is registered (``streaming_logging.success_handler_needed``, which the adapter asks
once per call), it reads
the rest of the provider's stream here: each raw chunk still goes through the wrapper's own
``chunk_creator``, LiteLLM's per-provider conversion, so the usage is LiteLLM's reading of what the
provider sent.

Anything unusual goes back to the wrapper, which then ends the stream exactly as it always does:
- a stream in another format (other providers spread usage over several events, which the rebuild
  merges) is never read here;
- a tail without usage (a server that ignores ``include_usage``, or sends the usage on the finish chunk)
  leaves the wrapper to end the stream, counting tokens as LiteLLM does;
- a failure while reading, before the usage has come, is handed back for the wrapper to raise as it
  would have raised it. Once the usage is in, the adapter stops reading, as it always has after the usage
  chunk: a connection that breaks after that (before ``[DONE]``) no longer fails an answer that is whole.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)


def can_read_tail(stream: Any) -> bool:
    """Whether this stream's format lets its tail be read without LiteLLM's end-of-stream rebuild.

    Only once nothing reads that rebuild (no callback, no cache): the caller asks that first.
    """
    if not isinstance(getattr(stream, "chunks", None), list) or not callable(
        getattr(stream, "chunk_creator", None)
    ):
        return False
    return type(getattr(stream, "completion_stream", None)) in _openai_format_streams()


_FORMATS: tuple[type, ...] | None = None


def _openai_format_streams() -> tuple[type, ...]:
    """The stream types whose chunks are OpenAI's, usage whole in one chunk after the finish.

    The OpenAI SDK's own stream (openai/, litellm_proxy/, and OpenAI-compatible servers given as an
    api_base), and LiteLLM's plain OpenAI-format handler (deepseek/, hosted_vllm/, together_ai/ and other
    OpenAI-like providers). Exact types only: a provider's own subclass may keep quirks of its own
    (OpenRouter's cost in the usage, for one), so it is left to LiteLLM's end of stream.
    """
    global _FORMATS
    if _FORMATS is None:
        import openai  # both already imported by LiteLLM: no cost

        formats: list[type] = [openai.Stream]
        try:
            from litellm.llms.openai.chat.gpt_transformation import OpenAIChatCompletionStreamingHandler

            formats.append(OpenAIChatCompletionStreamingHandler)
        except ImportError:  # moved in another LiteLLM release: those streams end the LiteLLM way
            logger.info("LiteLLM's OpenAI-format stream handler not found; its streams end the LiteLLM way")
        _FORMATS = tuple(formats)
    return _FORMATS


def read_tail(stream: Any) -> Iterator[Any]:
    """The stream's remaining chunks, each converted by LiteLLM's ``chunk_creator``.

    Each converted chunk is also appended to the wrapper's own list, so that if the wrapper has to end
    the stream after all (no usage came), its token count covers them. The caller stops reading once
    the usage is in (nothing it needs can follow) and closes the stream. A failure before that is not
    raised here: the wrapper gets it back and raises it on its next step, mapped as any stream failure.
    """
    raw = stream.completion_stream
    try:
        for item in raw:
            try:
                chunk = stream.chunk_creator(chunk=item)
            except StopIteration:
                # LiteLLM's own "the stream is over" (its OpenAI-format handler turns [DONE] and other
                # non-data lines after the finish into chunks that end it): the wrapper, stepped on,
                # ends the stream exactly as it would have.
                stream.completion_stream = iter(())
                _close(raw)
                return
            if chunk is not None:
                stream.chunks.append(chunk)
                yield chunk
    except Exception as exc:
        logger.debug("reading a stream's tail failed; the stream wrapper reports it", exc_info=True)
        stream.completion_stream = _raising(exc)
        _close(raw)


def _raising(exc: Exception) -> Iterator[Any]:
    raise exc
    yield  # a generator: the wrapper's next() raises ``exc``


def _close(raw: Any) -> None:
    try:
        raw.close()
    except Exception:  # best effort: the stream broke already
        logger.debug("closing a broken stream failed", exc_info=True)
