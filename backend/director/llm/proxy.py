"""The LiteLLM Proxy (``litellm_proxy/`` models): where it is, what it serves, what it charges.

A proxy maps its own model names ("aliases") onto upstream models and knows each alias's price,
so Director asks it (``GET /model/info``, else ``/v1/models``) instead of pricing an alias by a
public model that merely has the same name. Answers are cached per proxy and key. The proxy also
retries upstream calls itself, so Director's own retries default to fewer for it (``retry_limit``).
Only the configured base URL is ever contacted.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from director.errors import ProxyCatalogError
from director.llm.base import LLMErrorType
from director.llm.litellm_errors import safe_url
from director.llm.redact import protect

logger = logging.getLogger(__name__)
protect(logger)

PROXY_PROVIDER = "litellm_proxy"
BASE_VARIABLE = "LITELLM_PROXY_API_BASE"
KEY_VARIABLE = "LITELLM_PROXY_API_KEY"
# Set by the proxy on answers it priced (its own spend tracking); LiteLLM keeps response headers
# in ``_hidden_params["additional_headers"]`` with this prefix.
COST_HEADER = "x-litellm-response-cost"
_HIDDEN_HEADER = f"llm_provider-{COST_HEADER}"

CACHE_TTL_S = 300.0  # a proxy's model list changes when its admin edits the config: rarely
FAILED_TTL_S = 30.0  # an unreachable proxy is asked again this soon, not on every call
FETCH_TIMEOUT_S = 3.0


def is_proxy_model(model: str | None) -> bool:
    return bool(model) and model.split("/", 1)[0] == PROXY_PROVIDER


def alias_of(model: str) -> str:
    """``litellm_proxy/team-gpt`` -> ``team-gpt`` (the name the proxy knows)."""
    return model.split("/", 1)[1] if "/" in model else model


def retry_limit(configured: int, explicit: bool, error_type: LLMErrorType) -> int:
    """Retries for one failure of a proxy model.

    Behind a proxy that retries (its ``num_retries``, 2 or more by default in its router), each of our
    attempts became three upstream calls: 3 attempts were 9 calls and 15 s before the user saw the
    error. Unless ``LITELLM_NUM_RETRIES`` is set explicitly, anything the proxy answered is not
    retried here; only reaching the proxy itself (a refused connection, a restart) is tried once more.
    """
    if explicit:
        return configured
    return 1 if error_type == LLMErrorType.CONNECTION else 0


def header_cost(hidden_params: Any) -> float | None:
    """The proxy's ``x-litellm-response-cost`` for one answer, when it set a usable one."""
    headers = (hidden_params or {}).get("additional_headers") or {} if isinstance(hidden_params, dict) else {}
    value = headers.get(_HIDDEN_HEADER)
    if value is None:
        return None
    try:
        cost = float(value)
    except (TypeError, ValueError):
        return None
    return cost if cost >= 0 and cost == cost and cost != float("inf") else None


@dataclass(frozen=True)
class ProxyModel:
    """One alias a proxy serves, in the catalog's shape (prices per million tokens, ``None`` = unknown)."""

    id: str  # what goes in LITELLM_CHAT_MODEL: litellm_proxy/<alias>
    provider: str
    max_input_tokens: int | None
    input_cost_per_mtok: float | None
    output_cost_per_mtok: float | None
    supports_tools: bool | None
    supports_vision: bool | None
    supports_reasoning: bool | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _per_mtok(per_token: Any) -> float | None:
    value = _number(per_token)
    return None if value is None else round(value * 1_000_000, 6)


def _from_model_info(entry: dict[str, Any]) -> ProxyModel | None:
    alias = entry.get("model_name")
    if not isinstance(alias, str) or not alias:
        return None
    info = entry.get("model_info") if isinstance(entry.get("model_info"), dict) else {}
    if info.get("mode") not in (None, "chat"):
        return None  # embeddings, images...: not a chat model
    max_input = _number(info.get("max_input_tokens"))
    return ProxyModel(
        id=f"{PROXY_PROVIDER}/{alias}",
        provider=PROXY_PROVIDER,
        max_input_tokens=int(max_input) if max_input else None,
        input_cost_per_mtok=_per_mtok(info.get("input_cost_per_token")),
        output_cost_per_mtok=_per_mtok(info.get("output_cost_per_token")),
        supports_tools=_flag(info.get("supports_function_calling")),
        supports_vision=_flag(info.get("supports_vision")),
        supports_reasoning=_flag(info.get("supports_reasoning")),
    )


def _from_models_list(entry: dict[str, Any]) -> ProxyModel | None:
    alias = entry.get("id")
    if not isinstance(alias, str) or not alias:
        return None
    return ProxyModel(f"{PROXY_PROVIDER}/{alias}", PROXY_PROVIDER, None, None, None, None, None, None)


def _merge(models: list[ProxyModel]) -> list[ProxyModel]:
    """One entry per alias: a proxy lists each deployment of a load-balanced alias; the first priced wins."""
    by_id: dict[str, ProxyModel] = {}
    for model in models:
        known = by_id.get(model.id)
        if known is None or (known.input_cost_per_mtok is None and model.input_cost_per_mtok is not None):
            by_id[model.id] = model
    return sorted(by_id.values(), key=lambda m: m.id)


class ProxyCatalog:
    """What each configured proxy serves, fetched on first need and cached (``CACHE_TTL_S``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, list[ProxyModel] | ProxyCatalogError]] = {}

    @staticmethod
    def _cache_key(api_base: str, api_key: str | None) -> tuple[str, str]:
        # Keys see different models (a virtual key's access list): cache per key, by a digest.
        digest = hashlib.sha256((api_key or "").encode()).hexdigest()
        return api_base.rstrip("/"), digest

    def models(self, api_base: str, api_key: str | None) -> list[ProxyModel]:
        """The proxy's chat models; ``ProxyCatalogError`` if it cannot say (cached for a short while)."""
        key = self._cache_key(api_base, api_key)
        now = time.monotonic()
        with self._lock:
            cached = self._entries.get(key)
        if cached is None or cached[0] <= now:
            try:
                result: list[ProxyModel] | ProxyCatalogError = _fetch(api_base, api_key)
                expires = now + CACHE_TTL_S
            except ProxyCatalogError as exc:
                logger.warning("%s", exc.message)
                result, expires = exc, now + FAILED_TTL_S
            with self._lock:
                self._entries[key] = (expires, result)
            cached = (expires, result)
        if isinstance(cached[1], ProxyCatalogError):
            raise cached[1]
        return cached[1]

    def price(self, api_base: str, api_key: str | None, model: str) -> tuple[float, float] | None:
        """``(input, output)`` USD per token for a proxy alias, when the proxy states both."""
        try:
            models = self.models(api_base, api_key)
        except ProxyCatalogError:
            return None
        wanted = f"{PROXY_PROVIDER}/{alias_of(model)}"
        for m in models:
            if m.id == wanted and m.input_cost_per_mtok is not None and m.output_cost_per_mtok is not None:
                return m.input_cost_per_mtok / 1_000_000, m.output_cost_per_mtok / 1_000_000
        return None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _fetch(api_base: str, api_key: str | None) -> list[ProxyModel]:
    import httpx  # already loaded with LiteLLM; kept out of module import for the cheap paths

    base = api_base.rstrip("/")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    where = safe_url(base) or "?"
    try:
        with httpx.Client(timeout=FETCH_TIMEOUT_S, follow_redirects=False) as client:
            info = client.get(f"{base}/model/info", headers=headers)
            if info.status_code == 200:
                data = info.json().get("data")
                return _merge([m for e in data or [] if isinstance(e, dict) and (m := _from_model_info(e))])
            listed = client.get(f"{base}/v1/models", headers=headers)
            if listed.status_code == 200:
                data = listed.json().get("data")
                return _merge([m for e in data or [] if isinstance(e, dict) and (m := _from_models_list(e))])
            status = listed.status_code
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        raise ProxyCatalogError(
            f"The LiteLLM proxy at {where} did not list its models ({type(exc).__name__}): "
            f"check LITELLM_API_BASE and that the proxy is running.",
            where,
        ) from exc
    hint = (
        "check LITELLM_API_KEY (the proxy's master or virtual key)"
        if status in (400, 401, 403)
        else "see the proxy's log"
    )
    raise ProxyCatalogError(
        f"The LiteLLM proxy at {where} refused to list its models (HTTP {status}): {hint}.", where, status
    )


# One per process: the adapter's cost and the model picker share it.
CATALOG = ProxyCatalog()


def list_proxy_models(api_base: str, api_key: str | None) -> list[dict[str, Any]]:
    """The proxy's chat models as catalog entries ``{id, provider, max_input_tokens, input_cost_per_mtok,
    output_cost_per_mtok, supports_tools, supports_vision, supports_reasoning}`` (cached).

    Raises ``ProxyCatalogError`` (a safe message) when the proxy cannot be asked.
    """
    return [m.as_dict() for m in CATALOG.models(api_base, api_key)]
