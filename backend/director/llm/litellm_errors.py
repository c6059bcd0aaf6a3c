"""LiteLLM exceptions -> ``LLMErrorType``, Retry-After, and the safe sentence a user sees.

LiteLLM maps every provider's errors onto OpenAI-style exception classes; we map those onto
Director's error types. Only class names and status codes are used, never the upstream body.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from director.llm.base import LLMErrorType

# Retried with backoff on the same model (transient by nature).
RETRYABLE = frozenset(
    {LLMErrorType.RATE_LIMIT, LLMErrorType.TIMEOUT, LLMErrorType.CONNECTION, LLMErrorType.SERVER}
)
# Worth trying the next fallback model for: transient errors, and a prompt too long for this model.
FALLBACK_ON = RETRYABLE | {LLMErrorType.CONTEXT_WINDOW}

# Most specific first: ContextWindowExceededError and ContentPolicyViolationError are BadRequestErrors.
_BY_CLASS: list[tuple[str, LLMErrorType]] = [
    ("ContextWindowExceededError", LLMErrorType.CONTEXT_WINDOW),
    ("ContentPolicyViolationError", LLMErrorType.CONTENT_POLICY),
    ("AuthenticationError", LLMErrorType.AUTH),
    ("PermissionDeniedError", LLMErrorType.AUTH),
    ("NotFoundError", LLMErrorType.NOT_FOUND),
    ("RateLimitError", LLMErrorType.RATE_LIMIT),
    ("Timeout", LLMErrorType.TIMEOUT),
    ("APITimeoutError", LLMErrorType.TIMEOUT),
    ("APIConnectionError", LLMErrorType.CONNECTION),
    ("BadRequestError", LLMErrorType.BAD_REQUEST),
    ("UnprocessableEntityError", LLMErrorType.BAD_REQUEST),
    ("InternalServerError", LLMErrorType.SERVER),
    ("ServiceUnavailableError", LLMErrorType.SERVER),
    ("BadGatewayError", LLMErrorType.SERVER),
]

_BY_STATUS = {
    400: LLMErrorType.BAD_REQUEST,
    401: LLMErrorType.AUTH,
    403: LLMErrorType.AUTH,
    404: LLMErrorType.NOT_FOUND,
    408: LLMErrorType.TIMEOUT,
    413: LLMErrorType.CONTEXT_WINDOW,
    422: LLMErrorType.BAD_REQUEST,
    429: LLMErrorType.RATE_LIMIT,
}

# Substrings of low-level causes that mean "could not reach the server" (LiteLLM reports a refused
# connection as InternalServerError for some providers).
_CONNECTION_HINTS = (
    "connection refused",
    "connecterror",
    "connection error",
    "name or service not known",
    "nodename",
)
_CONTEXT_HINTS = (
    "context length",
    "context window",
    "maximum context",
    "prompt is too long",
    "too many tokens",
)


class ProxyProblem(StrEnum):
    """What a LiteLLM proxy's error body says went wrong (see ``proxy_errors``)."""

    PROXY_KEY = "proxy_key"  # the proxy refused Director's key
    NO_DATABASE = "no_database"  # a key that is not the master key, on a proxy without a database
    UPSTREAM_KEY = "upstream_key"  # the proxy's own key for the upstream provider was refused
    MODEL_ACCESS = "model_access"  # the key may not use this model
    BUDGET = "budget"  # the key's (or its team's) budget is spent


class LocalProblem(StrEnum):
    """What failed locally (see ``_local_problem``)."""

    ENCODING = "the conversation contains text that cannot be encoded"
    NO_KEY = "no API key is set for this provider"
    CLIENT_SETTINGS = "the provider's client refused the settings"


@dataclass
class Failure:
    """One failed call, classified."""

    error_type: LLMErrorType
    status_code: int | None
    retry_after: float | None  # seconds the provider asked us to wait, if it said
    local: LocalProblem | None = None  # for LOCAL: what went wrong before anything was sent
    proxy: ProxyProblem | None = None  # behind a LiteLLM proxy: what its error body says
    model_group: str | None = None  # the proxy's model group that failed, when it said


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _causes(exc: BaseException) -> list[BaseException]:
    chain, seen = [], set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    return chain


def classify(exc: BaseException) -> Failure:
    names = _class_names(exc)
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    text = " ".join(f"{type(e).__name__} {e}" for e in _causes(exc)).lower()
    original = getattr(exc, "original_exception", None)
    if (
        "MidStreamFallbackError" in names
        and getattr(exc, "is_pre_first_chunk", False)
        and original is not None
    ):
        # Providers whose request LiteLLM only sends when the stream is first read (Gemini) report
        # every HTTP error that way, a 429 or a bad key included: nothing had streamed, so the
        # provider's own error is the one to judge (its Retry-After too).
        return classify(original)
    if "MidStreamFallbackError" in names:
        # LiteLLM's wrapper for a stream that broke after it started: its 500 is LiteLLM's own, not
        # the provider's (which had answered 200), so judge by what broke underneath instead.
        broken_link = _network_cause(exc, text) or "peer closed connection" in text
        error_type = LLMErrorType.CONNECTION if broken_link else LLMErrorType.SERVER
        return Failure(error_type=error_type, status_code=None, retry_after=None)
    error_type = next((t for name, t in _BY_CLASS if name in names), None)
    if error_type in (LLMErrorType.SERVER, LLMErrorType.CONNECTION, None) and (
        problem := _local_problem(exc)
    ):
        return Failure(error_type=LLMErrorType.LOCAL, status_code=None, retry_after=None, local=problem)
    if error_type is None:
        if status is not None and status >= 500:
            error_type = LLMErrorType.SERVER
        else:
            error_type = _BY_STATUS.get(status or 0, LLMErrorType.UNKNOWN)
        if isinstance(exc, TimeoutError):
            error_type = LLMErrorType.TIMEOUT
        elif isinstance(exc, ConnectionError):
            error_type = LLMErrorType.CONNECTION
    if error_type == LLMErrorType.CONNECTION and not _network_cause(exc, text):
        # LiteLLM also wraps its own parsing failures (e.g. KeyError on a malformed body) in
        # APIConnectionError; those are neither a reachability problem nor worth retrying.
        error_type = LLMErrorType.UNKNOWN
    elif error_type in (LLMErrorType.SERVER, LLMErrorType.UNKNOWN) and any(
        h in text for h in _CONNECTION_HINTS
    ):
        error_type = LLMErrorType.CONNECTION
    if error_type in (LLMErrorType.BAD_REQUEST, LLMErrorType.UNKNOWN) and any(
        h in text for h in _CONTEXT_HINTS
    ):
        error_type = LLMErrorType.CONTEXT_WINDOW
    return Failure(error_type=error_type, status_code=status, retry_after=retry_after(exc))


_NETWORK_CAUSES = {
    "ConnectError",
    "ConnectionError",
    "TransportError",
    "NetworkError",
    "RemoteProtocolError",
    "OSError",
}


# The OpenAI SDK's base error, raised on its own (no HTTP response) for client-side problems such
# as missing credentials; its subclasses (APIError...) are the ones that carry a provider answer.
_SDK_CLIENT_ERRORS = {"OpenAIError"}


def _local_problem(exc: BaseException) -> LocalProblem | None:
    """Why the request never reached a provider, if a local failure is at the bottom of ``exc``'s chain.

    LiteLLM wraps whatever its client code raised (a ``UnicodeEncodeError`` while encoding the body,
    the SDK's "missing credentials") in ``InternalServerError`` with a synthetic status 500. A real
    provider answer has an HTTP error (httpx's ``HTTPStatusError``) or a network error at the bottom
    instead, so only the root cause is judged. The reason is ours, never the exception's text
    (which may quote the conversation).
    """
    root = _causes(exc)[-1]
    if root is exc:
        return None  # LiteLLM raised it itself, from a status it read: a provider answer
    if isinstance(root, UnicodeEncodeError):  # encoding our request, not decoding an answer
        return LocalProblem.ENCODING
    if type(root).__name__ in _SDK_CLIENT_ERRORS and type(root).__module__.split(".")[0] == "openai":
        if "credential" in str(root).lower() or "api_key" in str(root).lower():
            return LocalProblem.NO_KEY
        return LocalProblem.CLIENT_SETTINGS
    return None


def _network_cause(exc: BaseException, text: str) -> bool:
    """Whether a connection error really came from the network (a socket/HTTP transport failure)."""
    if isinstance(exc, OSError) or any(_class_names(c) & _NETWORK_CAUSES for c in _causes(exc)[1:]):
        return True
    return any(h in text for h in _CONNECTION_HINTS)


def _headers(exc: BaseException) -> dict[str, str]:
    headers: dict[str, str] = {}
    for source in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
    ):
        try:
            if source:
                headers.update({str(k).lower(): str(v) for k, v in dict(source).items()})
        except Exception:  # headers objects vary by provider; a missing hint is fine
            continue
    return headers


def retry_after(exc: BaseException) -> float | None:
    """Seconds from ``retry-after-ms`` / ``retry-after`` (seconds or an HTTP date), if present."""
    headers = _headers(exc)
    if ms := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def safe_url(api_base: str | None) -> str:
    """``scheme://host[:port]`` of a base URL, "" if it has no host: never its credentials or path."""
    parts = urlsplit(api_base or "")
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}" if host else ""


def _where(api_base: str | None) -> str:
    url = safe_url(api_base)
    return f" at {url}" if url else ""


def user_message(
    failure: Failure,
    model: str,
    *,
    prefix: str,
    key_variables: list[str],
    api_base: str | None,
    timeout: float,
    attempts: int,
    mid_stream: bool = False,
) -> str:
    """What happened and what to check, in a sentence safe to show anyone.

    ``mid_stream``: part of the answer had already reached the user when the call failed.
    """
    keys = " or ".join(key_variables) or f"{prefix}API_KEY"
    status = f" (HTTP {failure.status_code})" if failure.status_code else ""
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    if mid_stream and failure.error_type in _BROKE_OFF:
        # Not "could not connect": it did connect and answered, then the stream stopped.
        return (
            f"The answer from {model} broke off before it was complete (the provider's stream "
            f"{_BROKE_OFF[failure.error_type]}): try again by sending your message once more."
        )
    match failure.error_type:
        case LLMErrorType.AUTH:
            return f"The provider rejected the API key for {model}{status}: check {keys}."
        case LLMErrorType.RATE_LIMIT:
            return (
                f"{model} is rate-limiting requests{status}{tried}: wait a moment and try again, "
                f"or check your plan's limits with the provider."
            )
        case LLMErrorType.CONTEXT_WINDOW:
            return (
                f"The conversation is too long for {model}'s context window: start a new session, "
                f"or set {prefix}FALLBACK_MODELS to a model with a larger window."
            )
        case LLMErrorType.TIMEOUT:
            return f"{model} did not answer within {timeout:g} s{tried}: try again, or raise {prefix}TIMEOUT."
        case LLMErrorType.CONNECTION:
            return (
                f"Could not connect to the provider for {model}{_where(api_base)}{tried}: check {prefix}API_BASE "
                f"and that the server is reachable."
            )
        case LLMErrorType.NOT_FOUND:
            return f"The provider does not know the model {model}{status}: check {prefix}CHAT_MODEL."
        case LLMErrorType.BAD_REQUEST:
            return (
                f"The provider refused the request to {model} as invalid{status}: check {prefix}CHAT_MODEL and "
                f"the other {prefix}* settings (details are in the server log)."
            )
        case LLMErrorType.SERVER:
            return f"The provider failed while answering with {model}{status}{tried}: try again later."
        case LLMErrorType.LOCAL:
            # Not the provider's fault and not worth retrying: nothing was sent.
            hint = f"set {keys}" if failure.local == LocalProblem.NO_KEY else "details are in the server log"
            return (
                f"Director could not send the request to {model} ({failure.local or 'a local failure'}); "
                f"nothing reached the provider: {hint}."
            )
        case LLMErrorType.CONTENT_POLICY:
            return f"The provider declined the request to {model} under its content policy: rephrase and try again."
        case _:
            return f"The call to {model} failed unexpectedly (details are in the server log): try again."


_BROKE_OFF = {
    LLMErrorType.CONNECTION: "was cut",
    LLMErrorType.SERVER: "failed",
    LLMErrorType.TIMEOUT: "stalled",
    LLMErrorType.UNKNOWN: "failed",
}


def describe_exception(exc: Any) -> str:
    """A one-line summary for log lines about retries (the full traceback is logged on failure)."""
    return f"{type(exc).__name__}: {str(exc)[:300]}"
