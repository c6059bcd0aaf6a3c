"""How many input tokens a request holds, counted offline with LiteLLM's ``token_counter``.

LiteLLM picks a tokenizer per model; for some families (Llama, Cohere) it would download one from
Hugging Face on first use. A count must never touch the network (it runs before every model call, on
servers that may have no internet), so those families are counted with the bundled tiktoken encoding
instead: the count is an estimate either way, and compaction keeps a margin below the window.
LiteLLM is imported on the first count, never at import time.
"""

from __future__ import annotations

from typing import Any

from director.llm.conversion import to_openai_messages, to_openai_tools


def _offline_tokenizer(litellm: Any, model: str) -> dict[str, Any] | None:
    """None: LiteLLM's own choice is bundled (tiktoken, Anthropic's). Else the bundled tiktoken one."""
    from litellm.utils import huggingface_tokenizer_kind

    if huggingface_tokenizer_kind(model) in (None, "anthropic"):
        return None
    from litellm.utils import _return_openai_tokenizer

    return dict(_return_openai_tokenizer(model))


def count_input_tokens(model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int:
    """Tokens of ``messages`` (Director's shape) and ``tools`` as ``model`` would be sent them."""
    from director.llm.litellm import ensure_litellm

    litellm = ensure_litellm()
    return int(
        litellm.token_counter(
            model=model,
            custom_tokenizer=_offline_tokenizer(litellm, model),
            messages=to_openai_messages(messages),
            tools=to_openai_tools(tools),
            # An image is counted at LiteLLM's default size: never fetched, never decoded.
            use_default_image_token_count=True,
        )
    )
