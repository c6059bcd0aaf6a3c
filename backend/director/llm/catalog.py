"""The model catalog behind ``GET /model``: LiteLLM's offline model map (chat models only) joined with
this server's policy (allowed, curated) and each provider's credentials.

Built once, on first use, then kept: the map has thousands of entries. Each entry is serialised once
too, so a query is a filter over prepared strings. Where the entries come from is a seam
(``CatalogSource``): LiteLLM's map, and first, when the default model is a ``litellm_proxy/`` one, the
proxy's own list (its aliases, priced by the proxy, never by a same-named public model).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from director.llm.config import LiteLLMConfig, provider_of
from director.llm.credentials import INTERACTIVE_LOGIN_PROVIDERS, CredentialStatus, ProviderEnv
from director.llm.for_session import SessionLLMs
from director.settings import env_file

logger = logging.getLogger(__name__)

PER_MTOK = 1_000_000
# LiteLLM's provider names that differ from the prefix a model string is routed by.
_ROUTE_PREFIX = {"bedrock_converse": "bedrock/converse"}


@dataclass(frozen=True)
class CatalogModel:
    """What a source knows about one model (None: unknown)."""

    id: str  # a LiteLLM model string a chat can use
    provider: str
    max_input_tokens: int | None = None
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    supports_tools: bool | None = None
    supports_vision: bool | None = None
    supports_reasoning: bool | None = None


CatalogSource = Callable[[], Iterable[CatalogModel]]


def _route_id(key: str, provider: str) -> str:
    prefix = _ROUTE_PREFIX.get(provider, provider.split("-", 1)[0])
    return key if key.startswith(f"{prefix}/") or "/" in key else f"{prefix}/{key}"


def from_model_info(model_id: str, info: dict[str, Any], provider: str | None = None) -> CatalogModel:
    """A catalog entry from LiteLLM's model-map fields (also what ``litellm.get_model_info`` returns)."""
    return CatalogModel(
        id=model_id,
        provider=provider or info.get("litellm_provider") or provider_of(model_id),
        max_input_tokens=info.get("max_input_tokens") or info.get("max_tokens"),
        input_cost_per_token=info.get("input_cost_per_token"),
        output_cost_per_token=info.get("output_cost_per_token"),
        supports_tools=bool(info.get("supports_function_calling")),
        supports_vision=bool(info.get("supports_vision")),
        supports_reasoning=bool(info.get("supports_reasoning")),
    )


def litellm_model_map() -> Iterable[CatalogModel]:
    """LiteLLM's bundled model map (offline), chat models only."""
    from director.llm.litellm import ensure_litellm

    for key, info in ensure_litellm().model_cost.items():
        if not isinstance(info, dict) or info.get("mode") != "chat" or key == "sample_spec":
            continue
        provider = str(info.get("litellm_provider") or provider_of(key))
        if provider in INTERACTIVE_LOGIN_PROVIDERS:
            continue  # a device login the server cannot complete (see credentials.py)
        yield from_model_info(_route_id(key, provider), info, provider.split("-", 1)[0])


def proxy_source(api_base: str, api_key: str | None) -> CatalogSource:
    """The models a LiteLLM proxy serves (its ``/model/info``, priced by the proxy), as a catalog source."""

    def models() -> Iterable[CatalogModel]:
        from director.errors import ProxyCatalogError
        from director.llm.proxy import list_proxy_models

        try:
            entries = list_proxy_models(api_base, api_key)
        except ProxyCatalogError as exc:  # the rest of the catalog is still worth showing
            logger.warning("the LiteLLM proxy's model list is not in the catalog: %s", exc.message)
            return []
        return [
            CatalogModel(
                id=entry["id"],
                provider=entry["provider"],
                max_input_tokens=entry["max_input_tokens"],
                input_cost_per_token=_per_token(entry["input_cost_per_mtok"]),
                output_cost_per_token=_per_token(entry["output_cost_per_mtok"]),
                supports_tools=entry["supports_tools"],
                supports_vision=entry["supports_vision"],
                supports_reasoning=entry["supports_reasoning"],
            )
            for entry in entries
        ]

    return models


def sources_for(llms: SessionLLMs) -> list[CatalogSource]:
    """The proxy's own list first when the default model is a ``litellm_proxy/`` one, then LiteLLM's map."""
    from director.llm.proxy import is_proxy_model

    config = llms.default.config
    sources: list[CatalogSource] = []
    if isinstance(config, LiteLLMConfig) and is_proxy_model(config.chat_model):
        api_key, api_base, _ = config.credentials_for(config.chat_model or "")
        if api_base:
            sources.append(proxy_source(api_base, api_key))
    return [*sources, litellm_model_map]


def _per_token(per_mtok: float | None) -> float | None:
    return per_mtok / PER_MTOK if per_mtok is not None else None


def _per_mtok(cost: float | None) -> float | None:
    return round(cost * PER_MTOK, 6) if cost is not None else None


@dataclass(frozen=True)
class _Row:
    search: str  # lower-case id, for ?q=
    allowed: bool
    json: str


class ModelCatalog:
    def __init__(self, llms: SessionLLMs, sources: Iterable[CatalogSource] | None = None):
        """``sources`` in order of precedence (an id's first entry wins); default ``sources_for(llms)``."""
        self.llms = llms
        self.sources = list(sources) if sources is not None else sources_for(llms)
        self._rows: list[_Row] | None = None
        self._lock = threading.Lock()
        self._credentials: dict[str, tuple[CredentialStatus, list[str]]] = {}
        self._env: ProviderEnv | None = None

    def query(self, q: str = "", allowed_only: bool = False) -> str:
        """The entries matching ``q`` (every word, case-insensitive, in the id) as a JSON array:
        curated (allowed) models first in the configured order, then the rest by provider and id."""
        words = q.lower().split()
        parts = [
            row.json
            for row in self._entries()
            if (not allowed_only or row.allowed) and all(word in row.search for word in words)
        ]
        return "[" + ",".join(parts) + "]"

    def _entries(self) -> list[_Row]:
        if self._rows is None:
            with self._lock:
                if self._rows is None:
                    self._rows = self._build()
        return self._rows

    def _build(self) -> list[_Row]:
        by_id: dict[str, CatalogModel] = {}
        for source in self.sources:
            for model in source():
                by_id.setdefault(model.id, model)
        policy = self.llms.policy
        curated = [by_id.pop(m, None) or CatalogModel(id=m, provider=provider_of(m)) for m in policy.allowed]
        rest = sorted(by_id.values(), key=lambda m: (m.provider, m.id))
        rows = [self._row(model, curated=True) for model in curated]
        rows += [self._row(model, curated=False) for model in rest]
        logger.info("model catalog built: %d models, %d curated", len(rows), len(curated))
        return rows

    def _row(self, model: CatalogModel, curated: bool) -> _Row:
        status, missing = self._credential_status(model)
        allowed = curated or self.llms.policy.allow_any
        entry = {
            "id": model.id,
            "provider": model.provider,
            "max_input_tokens": model.max_input_tokens,
            "input_cost_per_mtok": _per_mtok(model.input_cost_per_token),
            "output_cost_per_mtok": _per_mtok(model.output_cost_per_token),
            "supports_tools": model.supports_tools,
            "supports_vision": model.supports_vision,
            "supports_reasoning": model.supports_reasoning,
            "credentials": status.value,
            "missing_env": missing,
            "allowed": allowed,
            "curated": curated,
        }
        return _Row(model.id.lower(), allowed, json.dumps(entry))

    def _credential_status(self, model: CatalogModel) -> tuple[CredentialStatus, list[str]]:
        """Per provider (every model of one provider needs the same variables), computed once."""
        provider = provider_of(model.id)
        cached = self._credentials.get(provider)
        if cached is None:
            config = self.llms.default.config
            if isinstance(config, LiteLLMConfig) and config.chat_model:
                cached = config.credential_status(model.id)
            else:
                self._env = self._env or ProviderEnv(env_file())
                cached = self._env.check(model.id, provider, False, False)
            self._credentials[provider] = cached
        return cached
