"""The front door's own answers: JSON ``{code, message}`` written straight to WSGI.

The middlewares in front of Flask (capacity, host and payload guards) refuse requests before any
Flask error handler could run; they answer in the same shape the REST errors use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any


def json_error(
    start_response: Callable[..., Any],
    status: str,
    code: str,
    message: str,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    body = json.dumps({"code": code, "message": message}).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers],
    )
    return [body]


def content_length(environ: dict[str, Any]) -> int | None:
    """The request's declared body size; ``None`` when it is not a number (the WSGI server and
    engine.io refuse such a request on their own)."""
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
