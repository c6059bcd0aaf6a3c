"""Fakes of servers that speak OpenAI's chat-completions shape with their own URL, auth or errors:
Azure OpenAI (deployment URLs, ``api-version``, ``api-key``), vLLM (``hosted_vllm/``) and Mistral."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.providers import FakeOpenAI, RecordedRequest, Reply

_AZURE_PATH = re.compile(r"/openai/deployments/[^/]+/chat/completions")


class FakeAzure(FakeOpenAI):
    """Azure OpenAI: ``/openai/deployments/<deployment>/chat/completions?api-version=...``.

    Like Azure, a request without ``api-version`` is a 404 (recorded, so a test can see it).
    """

    name = "azure"
    default_model = "azure/fake-deployment"

    @property
    def api_base(self) -> str:
        return self.url

    def _is_completion(self, req: RecordedRequest) -> bool:
        return req.method == "POST" and bool(_AZURE_PATH.fullmatch(req.path)) and "api-version=" in req.query

    def _model(self, req: RecordedRequest) -> str:
        return req.path.split("/")[3]

    @staticmethod
    def sent_key(req: RecordedRequest) -> str | None:
        return req.headers.get("api-key")


class FakeVLLM(FakeOpenAI):
    """vLLM's OpenAI-compatible server (also what LM Studio and llama.cpp's server look like)."""

    name = "vllm"
    default_model = "hosted_vllm/fake-model"

    def _error_body(self, reply: Reply) -> Any:
        if reply.body is not None:
            return reply.body
        return {
            "object": "error",
            "message": f"Error {reply.status}.",
            "type": "BadRequestError",
            "param": None,
            "code": reply.status,
        }

    @staticmethod
    def context_window() -> Reply:
        message = (
            "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens "
            "(9000 in the messages, 0 in the completion). Please reduce the length of the messages or completion."
        )
        body = {"object": "error", "message": message, "type": "BadRequestError", "param": None, "code": 400}
        return Reply(status=400, body=body)


class FakeMistral(FakeOpenAI):
    """Mistral's La Plateforme (``mistral/``): OpenAI's shape, Mistral's error bodies."""

    name = "mistral"
    default_model = "mistral/fake-model"
    stream_usage_always = True

    def _error_body(self, reply: Reply) -> Any:
        if reply.body is not None:
            return reply.body
        if reply.status == 401:
            return {"message": "Unauthorized", "request_id": "fake-request"}
        if reply.status == 429:
            return {"message": "Requests rate limit exceeded"}
        return {
            "object": "error",
            "message": f"Error {reply.status}.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }

    @staticmethod
    def context_window() -> Reply:
        message = "Prompt contains 9000 tokens and 0 draft tokens, too large for model with 8192 maximum context length"
        body = {
            "object": "error",
            "message": message,
            "type": "invalid_request_message_error",
            "param": None,
            "code": "3051",
        }
        return Reply(status=400, body=body)
