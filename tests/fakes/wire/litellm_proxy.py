"""A fake LiteLLM Proxy (``litellm --config``): its chat routes, ``/model/info`` and ``/v1/models``,
its key check (a master key; without a database, any other ``sk-`` key is 400 ``no_db_connection``)
and its error shapes (``{"error": {"message", "type", "param", "code"}}``, code as a string)."""

from __future__ import annotations

from typing import Any

from tests.fakes.providers import FAKE_API_KEY, FakeOpenAI, RecordedRequest, Reply


def proxy_error(status: int, message: str, kind: str | None) -> Reply:
    """An error as the proxy's ProxyException handler writes it (as litellm 1.106.2's proxy answered)."""
    return Reply(
        status=status, body={"error": {"message": message, "type": kind, "param": None, "code": str(status)}}
    )


def upstream_auth_error(model_group: str, style: str = "1.106") -> Reply:
    """The proxy passing on its upstream provider's 401 (the key in the proxy's config was refused),
    worded as litellm 1.106.2's proxy does (checked by tests/integration/test_real_litellm_proxy.py),
    or, with ``style="received"``, as other versions name the group."""
    if style == "1.106":
        message = (
            "litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect API key provided.\n\n"
            f"LiteLLM: model group '{model_group}' failed with the error above. No fallback was attempted."
        )
        kind: str | None = "authentication_error"
    else:
        message = (
            "litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect API key provided: "
            f"sk-upstr****7890. Received Model Group={model_group}\nAvailable Model Group Fallbacks=None"
        )
        kind = None
    return Reply(status=401, body={"error": {"message": message, "type": kind, "param": None, "code": "401"}})


def alias(
    name: str, upstream: str, input_per_token: float | None, output_per_token: float | None, **info: Any
) -> dict[str, Any]:
    """One ``/model/info`` entry: an alias, the model it calls, its price and capabilities."""
    model_info = {
        "id": f"id-{name}",
        "mode": "chat",
        "input_cost_per_token": input_per_token,
        "output_cost_per_token": output_per_token,
        **info,
    }
    return {"model_name": name, "litellm_params": {"model": upstream}, "model_info": model_info}


class FakeLiteLLMProxy(FakeOpenAI):
    name = "litellm_proxy"
    default_model = "litellm_proxy/team-gpt"

    def __init__(
        self,
        master_key: str = FAKE_API_KEY,
        database: bool = False,
        model_info: bool = True,
        aliases: list[dict[str, Any]] | None = None,
    ) -> None:
        self.master_key = master_key
        self.database = database  # with one, virtual keys exist and a wrong one is a 401 auth_error
        self.model_info = model_info  # False: /model/info is not served (404), only /v1/models
        self.aliases = (
            aliases
            if aliases is not None
            else [
                alias(
                    "team-gpt",
                    "openai/gpt-4o",
                    1e-6,
                    2e-6,
                    max_input_tokens=128000,
                    supports_function_calling=True,
                    supports_vision=True,
                )
            ]
        )
        super().__init__()

    @property
    def api_base(self) -> str:
        return self.url

    def _refuse(self, req: RecordedRequest) -> Reply | None:
        key = req.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not key:
            return proxy_error(401, "Authentication Error, No api key passed in.", "auth_error")
        if key == self.master_key:
            return None
        if not self.database:  # checked before the key's shape: any other key meets it first
            return proxy_error(400, "No connected db.", "no_db_connection")
        if not key.startswith("sk-"):
            message = (
                "Authentication Error, Invalid virtual key. Received=****, expected to start with 'sk-'."
            )
            return proxy_error(401, message, "auth_error")
        return proxy_error(401, "Authentication Error, Invalid proxy server token passed.", "auth_error")

    def _other(self, h: Any, req: RecordedRequest) -> None:
        if req.method == "GET" and req.path == "/model/info" and self.model_info:
            h.send_json(200, {"data": self.aliases})
        elif req.method == "GET" and req.path in ("/v1/models", "/models"):
            data = [
                {"id": a["model_name"], "object": "model", "created": 1677610602, "owned_by": "openai"}
                for a in self.aliases
            ]
            h.send_json(200, {"data": data, "object": "list"})
        else:
            h.send_json(404, {"detail": "Not Found"})
