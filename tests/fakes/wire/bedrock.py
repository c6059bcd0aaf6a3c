"""A fake AWS Bedrock runtime speaking the Converse API (``bedrock/converse/``): ``/model/<id>/converse``
and ``/converse-stream`` (AWS's binary event-stream encoding), ``toolUse`` / ``toolResult`` blocks,
AWS's error shape, and a SigV4 check of every request against the fake credentials."""

from __future__ import annotations

import binascii
import json
import struct
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from tests.fakes.providers import FakeProvider, RecordedRequest, Reply, split_fragments
from tests.fakes.wire.received import Received, loads_args

# Fake credentials: LiteLLM signs with them as with real ones; the fake checks the signature.
FAKE_AWS_ACCESS_KEY_ID = "AKIAFAKEFAKEFAKE0001"
FAKE_AWS_SECRET_ACCESS_KEY = "fake-secret-access-key-0123456789abcdef"
FAKE_AWS_REGION = "us-east-1"

_ERROR_TYPES = {
    400: "ValidationException",
    403: "UnrecognizedClientException",
    404: "ResourceNotFoundException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def event_message(event_type: str, payload: dict[str, Any]) -> bytes:
    """One message of AWS's event-stream encoding (the framing botocore's EventStreamBuffer decodes).

    prelude (total length, headers length, CRC32 of both), string headers, the JSON payload, CRC32
    of everything before it.
    """
    headers = b""
    for name, value in (
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ):
        raw_name, raw_value = name.encode(), value.encode()
        headers += (
            struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">BH", 7, len(raw_value)) + raw_value
        )
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + headers + body
    return message + struct.pack(">I", binascii.crc32(message))


def signature_is_valid(req: RecordedRequest, host: str) -> bool:
    """Recompute the request's SigV4 signature with the fake credentials (botocore's signer)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth = req.headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 ") or "x-amz-date" not in req.headers:
        return False
    fields = dict(part.strip().split("=", 1) for part in auth.removeprefix("AWS4-HMAC-SHA256 ").split(","))
    signed = fields["SignedHeaders"].split(";")
    headers = {name: req.headers[name] for name in signed if name in req.headers}
    url = f"http://{host}{req.path}" + (f"?{req.query}" if req.query else "")
    request = AWSRequest(method=req.method, url=url, data=req.raw_body, headers=headers)
    request.context["timestamp"] = req.headers["x-amz-date"]
    signer = SigV4Auth(
        Credentials(FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY), "bedrock", FAKE_AWS_REGION
    )
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return fields["Credential"].startswith(FAKE_AWS_ACCESS_KEY_ID + "/") and fields["Signature"] == expected


class FakeBedrock(FakeProvider):
    name = "bedrock"
    default_model = "bedrock/converse/fake.model-v1:0"
    stream_content_type = "application/vnd.amazon.eventstream"

    def __init__(self) -> None:
        super().__init__()
        self.signatures: list[bool] = []  # per completion request: did its SigV4 signature check out

    def _is_completion(self, req: RecordedRequest) -> bool:
        ok = (
            req.method == "POST"
            and req.path.startswith("/model/")
            and req.path.rsplit("/", 1)[-1]
            in (
                "converse",
                "converse-stream",
            )
        )
        if ok:
            self.signatures.append(signature_is_valid(req, f"127.0.0.1:{self.port}"))
        return ok

    def _model(self, req: RecordedRequest) -> str:
        return unquote(req.path.split("/")[2])

    def _wants_stream(self, req: RecordedRequest) -> bool:
        return req.path.endswith("/converse-stream")

    def _error_body(self, reply: Reply) -> Any:
        if "x-amzn-ErrorType" not in reply.headers:
            reply.headers["x-amzn-ErrorType"] = _ERROR_TYPES.get(reply.status, "InternalServerException")
        return reply.body if reply.body is not None else {"message": f"Error {reply.status}."}

    def _finish(self, reply: Reply) -> str:
        return reply.finish_reason or ("tool_use" if reply.tool_calls else "end_turn")

    def _usage(self, reply: Reply) -> dict[str, int]:
        return {
            "inputTokens": reply.prompt_tokens,
            "outputTokens": reply.completion_tokens,
            "totalTokens": reply.prompt_tokens + reply.completion_tokens,
        }

    def _json(self, req: RecordedRequest, reply: Reply) -> dict[str, Any]:
        n = self.next_id()
        content: list[dict[str, Any]] = [{"text": reply.text}] if reply.text else []
        for i, (name, args) in enumerate(reply.encoded_tool_calls()):
            content.append(
                {"toolUse": {"toolUseId": f"tooluse_{n}_{i}", "name": name, "input": loads_args(args)}}
            )
        body: dict[str, Any] = {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": self._finish(reply),
            "metrics": {"latencyMs": 12},
        }
        if reply.usage:
            body["usage"] = self._usage(reply)
        return body

    def _stream(self, req: RecordedRequest, reply: Reply) -> Iterator[bytes]:
        n = self.next_id()
        yield event_message("messageStart", {"role": "assistant"})
        index = 0
        if reply.text:
            for piece in reply.text_chunks():
                yield event_message(
                    "contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}}
                )
            yield event_message("contentBlockStop", {"contentBlockIndex": index})
            index += 1
        for i, (name, args) in enumerate(reply.encoded_tool_calls()):
            start = {"toolUse": {"toolUseId": f"tooluse_{n}_{i}", "name": name}}
            yield event_message("contentBlockStart", {"contentBlockIndex": index, "start": start})
            for frag in split_fragments(args):
                delta = {"toolUse": {"input": frag}}
                yield event_message("contentBlockDelta", {"contentBlockIndex": index, "delta": delta})
            yield event_message("contentBlockStop", {"contentBlockIndex": index})
            index += 1
        yield event_message("messageStop", {"stopReason": self._finish(reply)})
        if reply.usage:
            yield event_message("metadata", {"usage": self._usage(reply), "metrics": {"latencyMs": 12}})

    # -- what the conformance set needs --
    @staticmethod
    def sent_key(req: RecordedRequest) -> str | None:
        auth = req.headers.get("authorization", "")
        return auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth else None

    @staticmethod
    def auth_error() -> Reply:
        return Reply(status=403, body={"message": "The security token included in the request is invalid."})

    @staticmethod
    def rate_limit(retry_after: str) -> Reply:
        body = {"message": "Too many requests, please wait before trying again."}
        return Reply(status=429, body=body, headers={"Retry-After": retry_after})

    @staticmethod
    def context_window() -> Reply:
        return Reply(status=400, body={"message": "Input is too long for requested model."})

    @staticmethod
    def read(req: RecordedRequest) -> list[Received]:
        body = req.json
        out = []
        if body.get("system"):
            out.append(Received("system", "".join(b.get("text", "") for b in body["system"])))
        for m in body["messages"]:
            blocks = m["content"]
            for b in blocks:
                if "toolResult" in b:
                    result = b["toolResult"]
                    text = "".join(
                        c["text"] if "text" in c else json.dumps(c.get("json"))
                        for c in result.get("content", [])
                    )
                    out.append(Received("tool", text, tool_call_id=result["toolUseId"]))
            rest = [b for b in blocks if "toolResult" not in b]
            if rest:
                out.append(
                    Received(
                        m["role"],
                        "".join(b.get("text", "") for b in rest),
                        [
                            (b["toolUse"]["toolUseId"], b["toolUse"]["name"], b["toolUse"]["input"])
                            for b in rest
                            if "toolUse" in b
                        ],
                        images=sum(1 for b in rest if "image" in b),
                    )
                )
        return out
