"""Origin (CORS) and token checks shared by REST and Socket.IO, so the two can never disagree."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import SecretStr


class OriginPolicy:
    """Allow the configured origins plus the server's own origin (whatever host the browser used).

    The own origin is derived per request from ``Host`` because the server may be reached as
    127.0.0.1, localhost or a LAN name; a fixed list would break one of them.
    """

    def __init__(self, extra_origins: Iterable[str]):
        self.extra_origins = frozenset(origin.rstrip("/") for origin in extra_origins)

    def allowed(self, origin: str | None, environ: Mapping[str, Any]) -> bool:
        if not origin:
            # Non-browser clients (python-socketio, curl) send no Origin; CORS does not apply to them.
            return True
        origin = origin.rstrip("/")
        if origin in self.extra_origins:
            return True
        host = environ.get("HTTP_HOST")
        scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
        return bool(host) and origin == f"{scheme}://{host}"

    # engine.io calls cors_allowed_origins(origin, environ) when it is a callable.
    def __call__(self, origin: str | None, environ: Mapping[str, Any]) -> bool:
        return self.allowed(origin, environ)


def token_matches(expected: SecretStr | None, presented: Any) -> bool:
    """Constant-time comparison; no token configured means everything is allowed."""
    if expected is None:
        return True
    if not isinstance(presented, str) or not presented:
        return False
    return hmac.compare_digest(expected.get_secret_value().encode(), presented.encode())


def bearer_token(authorization_header: str | None) -> str | None:
    if not authorization_header:
        return None
    scheme, _, token = authorization_header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
