"""A LiteLLM proxy's error answers, read for what they mean (never shown raw).

The proxy answers every failure in OpenAI's error shape, ``{"error": {"message", "type", "param",
"code"}}``, whether the proxy itself refused the request or an upstream provider did. The HTTP
status alone cannot tell a user which key to fix: a wrong proxy key on a proxy without a database
comes back as 400 ``no_db_connection``, while a 401 may be the upstream provider refusing the key
in the proxy's own config (its message names the "Model Group"). Only the error ``type`` and the
model group name are taken from the body; the message text itself is never shown.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from director.llm.base import LLMErrorType
from director.llm.litellm_errors import Failure, ProxyProblem, safe_url

# The proxy's own error types (litellm.proxy._types.ProxyErrorTypes) that mean "your key".
_KEY_TYPES = frozenset({"auth_error", "expired_key", "token_not_found_in_db"})
# How proxies name the model group that failed: "model group 'x' failed" (litellm 1.106) or
# "Received Model Group=x" (other versions). Only a name of these characters is ever repeated.
_MODEL_GROUP = re.compile(
    r"model group '([\w.:/@-]{1,128})'|Received Model Group=([\w.:/@-]{1,128})", re.IGNORECASE
)


def _body(exc: BaseException) -> dict[str, Any] | None:
    """The parsed ``error`` object of the proxy's answer, from the OpenAI SDK's exception in the chain."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        body = getattr(cur, "body", None)
        if isinstance(body, dict):
            body = body.get("error", body)
            if isinstance(body, dict) and ("type" in body or "message" in body):
                return body
        cur = cur.__cause__ or cur.__context__
    return None


def refine(failure: Failure, exc: BaseException) -> Failure:
    """``failure`` of a ``litellm_proxy/`` call, with what the proxy's error body says."""
    body = _body(exc)
    if body is None or failure.error_type == LLMErrorType.LOCAL:
        return failure
    kind = str(body.get("type") or "")
    message = str(body.get("message") or "")
    group = next((g for g in match.groups() if g), None) if (match := _MODEL_GROUP.search(message)) else None
    if kind == "no_db_connection":
        return replace(failure, error_type=LLMErrorType.AUTH, proxy=ProxyProblem.NO_DATABASE)
    if kind in _KEY_TYPES or message.startswith("Authentication Error"):
        return replace(failure, error_type=LLMErrorType.AUTH, proxy=ProxyProblem.PROXY_KEY)
    if kind.endswith("_model_access_denied"):
        return replace(failure, error_type=LLMErrorType.AUTH, proxy=ProxyProblem.MODEL_ACCESS)
    if kind == "budget_exceeded":
        return replace(failure, error_type=LLMErrorType.AUTH, proxy=ProxyProblem.BUDGET)
    if failure.error_type == LLMErrorType.AUTH:
        # Not the proxy's own refusal: the provider behind it refused the key in the proxy's config.
        return replace(failure, proxy=ProxyProblem.UPSTREAM_KEY, model_group=group)
    return failure


def proxy_message(failure: Failure, model: str, *, key_variables: list[str], api_base: str | None) -> str:
    """What a user should do about a proxy failure ``refine`` recognised."""
    keys = " or ".join(key_variables)
    where = f" at {url}" if (url := safe_url(api_base)) else ""
    status = f" (HTTP {failure.status_code})" if failure.status_code else ""
    match failure.proxy:
        case ProxyProblem.NO_DATABASE:
            return (
                f"The LiteLLM proxy{where} refused the key for {model}{status}: it has no database, so it "
                f"accepts only its master key, not virtual keys. Check {keys}."
            )
        case ProxyProblem.PROXY_KEY:
            return f"The LiteLLM proxy{where} refused the key for {model}{status}: check {keys} (the proxy's master or virtual key)."
        case ProxyProblem.UPSTREAM_KEY:
            group = f" (model group {failure.model_group})" if failure.model_group else ""
            return (
                f"The LiteLLM proxy{where} accepted your key, but the provider behind it rejected the proxy's own "
                f"API key for {model}{group}{status}: that key is in the proxy's config, so ask its admin to "
                f"check it ({keys} is fine)."
            )
        case ProxyProblem.MODEL_ACCESS:
            return f"The LiteLLM proxy{where} does not let this key use {model}{status}: ask the proxy's admin for access, or pick another model."
        case _:
            return f"The LiteLLM proxy{where} says the budget of this key is spent ({model}{status}): ask the proxy's admin."
