"""Fake LLM provider servers for integration tests: real HTTP on 127.0.0.1, scripted replies.

Each fake speaks one provider's wire format (JSON and streaming) well enough for LiteLLM's real
client code to parse it, records every request it receives, and answers from a FIFO script of
``Reply`` objects (then from ``responder``). Requests are handled on their own threads, so
``latency`` delays them in parallel rather than one after another.

    fake = FakeOpenAI()
    fake.script(Reply(text="hi"), Reply(tool_calls=[("pricing", {"models": ["x"]})]))
    llm = make_litellm(fake)          # a LiteLLM adapter pointed at this fake
    ...
    fake.requests[0].json["messages"]
    fake.close()
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from director.llm.litellm import LiteLLM

logger = logging.getLogger(__name__)

# Token counts reported when a reply does not set its own, fixed so tests can assert exact sums.
DEFAULT_PROMPT_TOKENS = 10
DEFAULT_COMPLETION_TOKENS = 5
FAKE_API_KEY = "sk-fake-test-key-0123456789"


@dataclass
class Reply:
    """What a fake answers to one request."""

    text: str = ""
    # (name, arguments): a dict is JSON-encoded; a str is sent verbatim ("" and malformed JSON cases).
    tool_calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    usage: bool = True
    # For errors: replaces the whole error body. For 200: replaces the whole JSON body (non-streaming).
    body: dict[str, Any] | str | None = None
    # Streaming: the text split exactly into these chunks (default: word by word).
    chunks: list[str] | None = None
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS
    completion_tokens: int = DEFAULT_COMPLETION_TOKENS
    finish_reason: str | None = None  # default: "tool_calls"/"stop" (provider-specific names)
    # Streaming (OpenAI fake): seconds between text chunks, a slow ("drip") stream.
    chunk_delay: float = 0.0
    # Anthropic fake: prompt caching as Anthropic reports it (input_tokens excludes these).
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0

    def text_chunks(self) -> list[str]:
        if self.chunks is not None:
            assert "".join(self.chunks) == self.text, "Reply.chunks must join to Reply.text"
            return list(self.chunks)
        return re.findall(r"\s*\S+", self.text) or ([self.text] if self.text else [])

    def encoded_tool_calls(self) -> list[tuple[str, str]]:
        return [(name, args if isinstance(args, str) else json.dumps(args)) for name, args in self.tool_calls]


class CutOffReply(Reply):
    """A streamed reply whose connection drops after ``chunks``: a provider failing mid-answer.

    The fake's handler raises after the last chunk, so the HTTP stream ends without its terminating
    chunk and LiteLLM's real client sees a broken response (what a crashed upstream looks like).
    """

    def __init__(self, chunks: list[str], **kwargs):
        super().__init__(text="".join(chunks), chunks=chunks, **kwargs)

    def text_chunks(self) -> Iterator[str]:  # type: ignore[override] - a lazy iterator on purpose
        yield from super().text_chunks()
        raise ConnectionAbortedError("the fake provider drops the stream mid-answer")


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case keys
    json: Any  # the parsed body (None when empty or not JSON)
    raw_body: bytes = b""
    query: str = ""  # the URL's query string (Azure's api-version, Gemini's alt=sse)


def context_window_reply(provider: str = "openai") -> Reply:
    """A reply the provider would send when the prompt is too long for the model."""
    msg = (
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."
    )
    if provider == "anthropic":
        body: dict[str, Any] = {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "prompt is too long: 9000 tokens > 8192 maximum",
            },
        }
    elif provider == "ollama":
        body = {"error": msg}
    else:
        body = {
            "error": {
                "message": msg,
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        }
    return Reply(status=400, body=body)


def split_fragments(s: str, parts: int = 3) -> list[str]:
    """Split a string into up to ``parts`` non-empty fragments (for streamed tool-call arguments)."""
    if not s:
        return []
    size = max(1, -(-len(s) // parts))
    return [s[i : i + size] for i in range(0, len(s), size)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real providers do; streams use chunked encoding
    # Headers and body go out in separate writes: without this, Nagle + delayed ACK add ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("fake %s: " + format, self.server.fake.name, *args)

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    def do_POST(self) -> None:
        self.server.fake._handle(self)

    # -- helpers used by the fakes --
    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_stream(
        self, content_type: str, pieces: Iterator[str | bytes], headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        for piece in pieces:
            data = piece if isinstance(piece, bytes) else piece.encode()  # bytes: AWS event stream
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # many concurrent clients connect at once in load tests
    fake: FakeProvider

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients dropping keep-alive connections is normal; anything else is worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("fake %s: client %s disconnected", self.fake.name, client_address)
        else:
            logger.exception("fake %s: error handling a request from %s", self.fake.name, client_address)


class FakeProvider:
    """Common machinery: the server thread, the reply script and the request log."""

    name = "fake"
    default_model = "openai/fake-model"

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[RecordedRequest] = []
        # Every request of any path (``requests`` holds completions only): proves nothing was sent.
        self.all_requests: list[RecordedRequest] = []
        self.responder: Callable[[RecordedRequest], Reply] | None = None
        self.latency: float = 0.0
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=f"{self.name}-server", daemon=True
        )
        self._thread.start()

    @property
    def api_base(self) -> str:
        return self.url

    def script(self, *replies: Reply) -> FakeProvider:
        with self._lock:
            self._queue.extend(replies)
        return self

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.all_requests.clear()
        self.responder = None
        self.latency = 0.0

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def next_id(self) -> int:
        return next(self._ids)

    # -- request handling --
    def _handle(self, h: _Handler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        req = RecordedRequest(
            method=h.command,
            path=h.path.split("?", 1)[0],
            query=h.path.split("?", 1)[1] if "?" in h.path else "",
            headers={k.lower(): v for k, v in h.headers.items()},
            json=body,
            raw_body=raw,
        )
        with self._lock:
            self.all_requests.append(req)
        if (refusal := self._refuse(req)) is not None:
            h.send_json(refusal.status, self._error_body(refusal), refusal.headers)
            return
        if not self._is_completion(req):
            self._other(h, req)
            return
        with self._lock:
            self.requests.append(req)
            reply = self._queue.popleft() if self._queue else None
        if reply is None:
            reply = self.responder(req) if self.responder else Reply(text="ok")
        wait = self.latency + reply.delay
        if wait > 0:
            time.sleep(wait)  # this request's own thread: other requests are not held up
        try:
            if reply.status != 200:
                h.send_json(reply.status, self._error_body(reply), reply.headers)
            elif self._wants_stream(req):
                h.send_stream(self.stream_content_type, self._stream(req, reply), reply.headers)
            elif reply.body is not None:
                h.send_json(200, reply.body, reply.headers)
            else:
                h.send_json(200, self._json(req, reply), reply.headers)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("fake %s: client went away", self.name)

    def _model(self, req: RecordedRequest) -> str:
        return (req.json or {}).get("model") or "fake-model"

    # -- provider-specific parts --
    stream_content_type = "text/event-stream"

    def _is_completion(self, req: RecordedRequest) -> bool:
        raise NotImplementedError

    def _other(self, h: _Handler, req: RecordedRequest) -> None:
        h.send_json(404, {"error": f"no route {req.method} {req.path}"})

    def _refuse(self, req: RecordedRequest) -> Reply | None:
        """A reply that refuses ``req`` before anything else (a server's own key check), or None."""
        return None

    def _wants_stream(self, req: RecordedRequest) -> bool:
        return bool((req.json or {}).get("stream"))

    def _error_body(self, reply: Reply) -> Any:
        raise NotImplementedError

    def _json(self, req: RecordedRequest, reply: Reply) -> dict[str, Any]:
        raise NotImplementedError

    def _stream(self, req: RecordedRequest, reply: Reply) -> Iterator[str | bytes]:
        raise NotImplementedError


_OPENAI_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_denied", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
_ERROR_MESSAGES = {
    400: "Invalid request.",
    401: "Incorrect API key provided.",
    403: "You are not allowed to use this model.",
    404: "The model does not exist.",
    429: "Rate limit reached. Please try again later.",
    500: "The server had an error while processing your request.",
    503: "The engine is currently overloaded.",
}


class FakeOpenAI(FakeProvider):
    """OpenAI chat completions at /v1/chat/completions and /chat/completions (litellm_proxy)."""

    name = "openai"
    default_model = "openai/fake-model"
    # Some OpenAI-shaped servers (Mistral) send usage at the end of every stream, asked or not.
    stream_usage_always = False

    @property
    def api_base(self) -> str:
        return self.url + "/v1"

    def _is_completion(self, req: RecordedRequest) -> bool:
        return req.method == "POST" and req.path in ("/v1/chat/completions", "/chat/completions")

    def _error_body(self, reply: Reply) -> Any:
        if reply.body is not None:
            return reply.body
        etype, code = _OPENAI_ERROR_TYPES.get(reply.status, ("server_error", None))
        message = _ERROR_MESSAGES.get(reply.status, f"Error {reply.status}.")
        return {"error": {"message": message, "type": etype, "param": None, "code": code}}

    def _usage(self, reply: Reply) -> dict[str, int]:
        return {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        }

    def _finish(self, reply: Reply) -> str:
        return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")

    def _json(self, req: RecordedRequest, reply: Reply) -> dict[str, Any]:
        n = self.next_id()
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{n}_{i}", "type": "function", "function": {"name": name, "arguments": args}}
                for i, (name, args) in enumerate(reply.encoded_tool_calls())
            ]
        body: dict[str, Any] = {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self._model(req),
            "choices": [{"index": 0, "message": message, "finish_reason": self._finish(reply)}],
        }
        if reply.usage:
            body["usage"] = self._usage(reply)
        return body

    def _stream(self, req: RecordedRequest, reply: Reply) -> Iterator[str]:
        n = self.next_id()
        base = {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self._model(req),
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            payload = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(payload)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        for i, piece in enumerate(reply.text_chunks()):
            if i and reply.chunk_delay:
                time.sleep(reply.chunk_delay)
            yield chunk({"content": piece})
        for i, (name, args) in enumerate(reply.encoded_tool_calls()):
            start = {
                "index": i,
                "id": f"call_{n}_{i}",
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            yield chunk({"tool_calls": [start]})
            for frag in split_fragments(args):
                yield chunk({"tool_calls": [{"index": i, "function": {"arguments": frag}}]})
        yield chunk({}, self._finish(reply))
        include_usage = self.stream_usage_always or ((req.json or {}).get("stream_options") or {}).get(
            "include_usage"
        )
        if reply.usage and include_usage:
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': self._usage(reply)})}\n\n"
        yield "data: [DONE]\n\n"


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class FakeAnthropic(FakeProvider):
    """Anthropic Messages API at /v1/messages (LiteLLM api_base is the bare url)."""

    name = "anthropic"
    default_model = "anthropic/fake-model"

    def _is_completion(self, req: RecordedRequest) -> bool:
        return req.method == "POST" and req.path == "/v1/messages"

    def _error_body(self, reply: Reply) -> Any:
        if reply.body is not None:
            return reply.body
        etype = _ANTHROPIC_ERROR_TYPES.get(reply.status, "api_error")
        return {
            "type": "error",
            "error": {"type": etype, "message": _ERROR_MESSAGES.get(reply.status, "Error.")},
        }

    def _finish(self, reply: Reply) -> str:
        return reply.finish_reason or ("tool_use" if reply.tool_calls else "end_turn")

    @staticmethod
    def _input(args: dict[str, Any] | str) -> Any:
        if isinstance(args, dict):
            return args
        try:
            return json.loads(args) if args else {}
        except ValueError:
            return args  # not an object: sent as-is so the client's handling of it is exercised

    def _json(self, req: RecordedRequest, reply: Reply) -> dict[str, Any]:
        n = self.next_id()
        content: list[dict[str, Any]] = []
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        for i, (name, args) in enumerate(reply.tool_calls):
            content.append(
                {"type": "tool_use", "id": f"toolu_{n}_{i}", "name": name, "input": self._input(args)}
            )
        body: dict[str, Any] = {
            "id": f"msg_{n}",
            "type": "message",
            "role": "assistant",
            "model": self._model(req),
            "content": content,
            "stop_reason": self._finish(reply),
            "stop_sequence": None,
        }
        if reply.usage:
            body["usage"] = {
                "input_tokens": reply.prompt_tokens,
                "output_tokens": reply.completion_tokens,
                **self._cache_usage(reply),
            }
        return body

    @staticmethod
    def _cache_usage(reply: Reply) -> dict[str, int]:
        return {
            "cache_read_input_tokens": reply.cache_read_tokens,
            "cache_creation_input_tokens": reply.cache_creation_tokens,
        }

    def _stream(self, req: RecordedRequest, reply: Reply) -> Iterator[str]:
        n = self.next_id()

        def event(kind: str, data: dict[str, Any]) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

        message = {
            "id": f"msg_{n}",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self._model(req),
            "stop_reason": None,
            "stop_sequence": None,
        }
        if reply.usage:
            message["usage"] = {
                "input_tokens": reply.prompt_tokens,
                "output_tokens": 1,
                **self._cache_usage(reply),
            }
        yield event("message_start", {"message": message})
        index = 0
        if reply.text:
            yield event(
                "content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}
            )
            yield event("ping", {})
            for piece in reply.text_chunks():
                yield event(
                    "content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": piece}}
                )
            yield event("content_block_stop", {"index": index})
            index += 1
        for i, (name, args) in enumerate(reply.encoded_tool_calls()):
            block = {"type": "tool_use", "id": f"toolu_{n}_{i}", "name": name, "input": {}}
            yield event("content_block_start", {"index": index, "content_block": block})
            for frag in split_fragments(args):
                delta = {"type": "input_json_delta", "partial_json": frag}
                yield event("content_block_delta", {"index": index, "delta": delta})
            yield event("content_block_stop", {"index": index})
            index += 1
        delta_data: dict[str, Any] = {"delta": {"stop_reason": self._finish(reply), "stop_sequence": None}}
        if reply.usage:
            delta_data["usage"] = {"output_tokens": reply.completion_tokens}
        yield event("message_delta", delta_data)
        yield event("message_stop", {})


class FakeOllama(FakeProvider):
    """Ollama's /api/chat (JSON and NDJSON streaming); also answers /api/show and /api/tags."""

    name = "ollama"
    default_model = "ollama_chat/fake-model"
    stream_content_type = "application/x-ndjson"

    def _is_completion(self, req: RecordedRequest) -> bool:
        return req.method == "POST" and req.path == "/api/chat"

    def _other(self, h: _Handler, req: RecordedRequest) -> None:
        # Metadata look-ups clients may make; not recorded in ``requests`` and never consume the script.
        if req.path == "/api/show":
            h.send_json(
                200,
                {
                    "modelfile": "",
                    "parameters": "",
                    "template": "",
                    "model_info": {},
                    "capabilities": ["completion", "tools"],
                },
            )
        elif req.path == "/api/tags":
            h.send_json(200, {"models": [{"name": "fake-model", "model": "fake-model"}]})
        else:
            super()._other(h, req)

    def _wants_stream(self, req: RecordedRequest) -> bool:
        return bool((req.json or {}).get("stream", True))  # Ollama streams unless told not to

    def _error_body(self, reply: Reply) -> Any:
        if reply.body is not None:
            return reply.body
        return {"error": _ERROR_MESSAGES.get(reply.status, f"Error {reply.status}.")}

    @staticmethod
    def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
        # Ollama sends arguments as an object; a str is passed through verbatim for the edge cases.
        return [{"function": {"name": name, "arguments": args}} for name, args in reply.tool_calls]

    def _final(self, req: RecordedRequest, reply: Reply, message: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model(req),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "message": message,
            "done": True,
            "done_reason": reply.finish_reason or "stop",
            "total_duration": 1000,
        }
        if reply.usage:
            body["prompt_eval_count"] = reply.prompt_tokens
            body["eval_count"] = reply.completion_tokens
        return body

    def _json(self, req: RecordedRequest, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.tool_calls:
            message["tool_calls"] = self._tool_calls(reply)
        return self._final(req, reply, message)

    def _stream(self, req: RecordedRequest, reply: Reply) -> Iterator[str]:
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for piece in reply.text_chunks():
            line = {
                "model": self._model(req),
                "created_at": created,
                "message": {"role": "assistant", "content": piece},
                "done": False,
            }
            yield json.dumps(line) + "\n"
        if reply.tool_calls:
            message = {"role": "assistant", "content": "", "tool_calls": self._tool_calls(reply)}
            line = {"model": self._model(req), "created_at": created, "message": message, "done": False}
            yield json.dumps(line) + "\n"
        yield json.dumps(self._final(req, reply, {"role": "assistant", "content": ""})) + "\n"


def make_litellm(fake: FakeProvider, model: str | None = None, **overrides: Any) -> LiteLLM:
    """A LiteLLM adapter pointed at ``fake``, with tiny retry backoffs and no .env lookup.

    ``model`` defaults to the fake's own (``openai/fake-model``, ``anthropic/fake-model``,
    ``ollama_chat/fake-model``); a ``litellm_proxy/`` model gets the bare url as api_base.
    """
    from director.llm.config import LiteLLMConfig
    from director.llm.litellm import LiteLLM

    model = model or fake.default_model
    api_base = fake.url if model.startswith("litellm_proxy/") else fake.api_base
    values: dict[str, Any] = {
        "chat_model": model,
        "api_base": api_base,
        "api_key": FAKE_API_KEY,
        "timeout": 10.0,
        "num_retries": 2,
        "retry_backoff": 0.01,
        "retry_max_wait": 0.05,
    }
    values.update(overrides)
    return LiteLLM(LiteLLMConfig(_env_file=None, **values))
