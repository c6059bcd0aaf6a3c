"""A fake Google Gemini API (``gemini/``): ``models/<m>:generateContent`` and
``:streamGenerateContent?alt=sse``, ``functionCall`` / ``functionResponse`` parts, Google's error shape."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from tests.fakes.providers import FakeProvider, RecordedRequest, Reply
from tests.fakes.wire.received import Received, loads_args

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def gemini_error(status: int, message: str, reason: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}
    if reason:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        ]
    return {"error": error}


class FakeGemini(FakeProvider):
    """Google AI Studio's v1beta API; LiteLLM's api_base is ``<url>/v1beta``."""

    name = "gemini"
    default_model = "gemini/fake-model"

    @property
    def api_base(self) -> str:
        return self.url + "/v1beta"

    def _is_completion(self, req: RecordedRequest) -> bool:
        return (
            req.method == "POST"
            and req.path.startswith("/v1beta/models/")
            and (req.path.endswith(":generateContent") or req.path.endswith(":streamGenerateContent"))
        )

    def _model(self, req: RecordedRequest) -> str:
        return req.path.removeprefix("/v1beta/models/").split(":", 1)[0]

    def _wants_stream(self, req: RecordedRequest) -> bool:
        return req.path.endswith(":streamGenerateContent")

    def _error_body(self, reply: Reply) -> Any:
        return reply.body if reply.body is not None else gemini_error(reply.status, f"Error {reply.status}.")

    def _finish(self, reply: Reply) -> str:
        return reply.finish_reason or "STOP"  # Gemini says STOP after function calls too

    def _usage(self, reply: Reply) -> dict[str, int]:
        return {
            "promptTokenCount": reply.prompt_tokens,
            "candidatesTokenCount": reply.completion_tokens,
            "totalTokenCount": reply.prompt_tokens + reply.completion_tokens,
        }

    @staticmethod
    def _call_parts(reply: Reply) -> list[dict[str, Any]]:
        return [
            {"functionCall": {"name": name, "args": args if isinstance(args, dict) else loads_args(args)}}
            for name, args in reply.tool_calls
        ]

    def _chunk(
        self, req: RecordedRequest, reply: Reply, parts: list[dict[str, Any]], last: bool
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if last:
            candidate["finishReason"] = self._finish(reply)
        body: dict[str, Any] = {"candidates": [candidate], "modelVersion": self._model(req)}
        if reply.usage and last:
            body["usageMetadata"] = self._usage(reply)
        return body

    def _json(self, req: RecordedRequest, reply: Reply) -> dict[str, Any]:
        parts = ([{"text": reply.text}] if reply.text else []) + self._call_parts(reply)
        return self._chunk(req, reply, parts, last=True)

    def _stream(self, req: RecordedRequest, reply: Reply) -> Iterator[str]:
        # Gemini streams text in pieces but each function call whole, all calls in one chunk.
        pieces: list[list[dict[str, Any]]] = [[{"text": t}] for t in reply.text_chunks()]
        if reply.tool_calls:
            pieces.append(self._call_parts(reply))
        if not pieces:
            pieces = [[{"text": ""}]]
        for i, parts in enumerate(pieces):
            if i and reply.chunk_delay:
                time.sleep(reply.chunk_delay)
            yield f"data: {json.dumps(self._chunk(req, reply, parts, last=i == len(pieces) - 1))}\r\n\r\n"

    # -- what the conformance set needs --
    @staticmethod
    def sent_key(req: RecordedRequest) -> str | None:
        return req.headers.get("x-goog-api-key")

    @staticmethod
    def auth_error() -> Reply:
        # What Google really answers for a bad key: 400, not 401, told apart by its reason.
        return Reply(
            status=400,
            body=gemini_error(400, "API key not valid. Please pass a valid API key.", "API_KEY_INVALID"),
        )

    @staticmethod
    def rate_limit(retry_after: str) -> Reply:
        body = gemini_error(429, "Resource has been exhausted (e.g. check quota).")
        return Reply(status=429, body=body, headers={"Retry-After": retry_after})

    @staticmethod
    def context_window() -> Reply:
        message = "The input token count (1048577) exceeds the maximum number of tokens allowed (1048576)."
        return Reply(status=400, body=gemini_error(400, message))

    @staticmethod
    def read(req: RecordedRequest) -> list[Received]:
        body = req.json
        out = []
        system = body.get("system_instruction") or body.get("systemInstruction")
        if system:
            out.append(Received("system", "".join(p.get("text", "") for p in system["parts"])))
        for c in body["contents"]:
            parts = c["parts"]
            for p in parts:
                response = p.get("functionResponse") or p.get("function_response")
                if response:
                    content = response.get("response", {})
                    text = (
                        content.get("content")
                        if isinstance(content.get("content"), str)
                        else json.dumps(content)
                    )
                    out.append(Received("tool", text, tool_call_id=response["name"]))
            rest = [p for p in parts if not (p.get("functionResponse") or p.get("function_response"))]
            if rest:
                # LiteLLM writes the REST API's snake_case spelling; Google's docs use camelCase.
                found = [p.get("functionCall") or p.get("function_call") for p in rest]
                calls = [("", f["name"], f.get("args") or {}) for f in found if f]
                out.append(
                    Received(
                        "assistant" if c["role"] == "model" else c["role"],
                        "".join(p.get("text", "") for p in rest),
                        calls,
                        images=sum(1 for p in rest if "inline_data" in p or "inlineData" in p),
                    )
                )
        return out
