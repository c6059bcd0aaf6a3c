"""Host, origin (CORS) and token checks shared by REST and Socket.IO, so the two can never disagree."""

from __future__ import annotations

import hmac
import logging
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import SecretStr

from director.entrypoint.api.wsgi_errors import json_error
from director.log_throttle import ThrottledLog

logger = logging.getLogger(__name__)
# Anyone can send a foreign Host at will: one line a minute, not one per request.
_throttled = ThrottledLog(logger)

# Names and addresses that always mean "this machine, over loopback". A DNS-rebinding page can only
# reach the server under its own host name, which is never one of these.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def default_allowed_hosts(server_host: str) -> list[str]:
    """Loopback plus ``SERVER_HOST``; bound to every interface, also this machine's own names."""
    hosts = list(LOOPBACK_HOSTS)
    if server_host in WILDCARD_BINDS:
        hosts.extend(_own_names())
    else:
        hosts.append(server_host)
    return list(dict.fromkeys(host.lower() for host in hosts))


def _own_names() -> list[str]:
    names = [socket.gethostname(), socket.getfqdn()]
    try:
        names.extend(info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None))
    except OSError:
        pass  # no resolvable host name: loopback only, DIRECTOR_ALLOWED_HOSTS adds the rest
    return [name for name in names if name]


def host_name(host_header: str) -> str:
    """The host part of a ``Host`` header, lower-cased, without port or IPv6 brackets."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


class HostPolicy:
    """``DIRECTOR_ALLOWED_HOSTS``: exact names, ``*.example.com`` for subdomains, or ``*`` for any."""

    def __init__(self, allowed: Iterable[str]):
        names = [entry.strip().lower() for entry in allowed if entry.strip()]
        self.any = "*" in names
        self.exact = frozenset(host_name(name) for name in names if not name.startswith("*."))
        self.suffixes = tuple(name[1:] for name in names if name.startswith("*."))

    def allowed(self, host_header: str | None) -> bool:
        if self.any or host_header is None:
            # No Host header at all (HTTP/1.0 probes) cannot come from a browser page, so it
            # cannot be DNS rebinding either.
            return True
        host = host_name(host_header)
        return host in self.exact or (bool(self.suffixes) and host.endswith(self.suffixes))


class HostGuard:
    """WSGI middleware answering 400 to a ``Host`` that is not this server's (REST, files, Socket.IO)."""

    def __init__(self, app: Callable[..., Any], policy: HostPolicy):
        self.app = app
        self.policy = policy

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        host = environ.get("HTTP_HOST")
        if self.policy.allowed(host):
            return self.app(environ, start_response)
        _throttled.info(
            "foreign-host",
            "refused a request for host %r (not in DIRECTOR_ALLOWED_HOSTS)",
            (host or "")[:100],
        )
        return json_error(
            start_response,
            "400 Bad Request",
            "host_not_allowed",
            "This server does not answer to that host name. Add it to DIRECTOR_ALLOWED_HOSTS if it is yours.",
        )


class OriginPolicy:
    """Allow the configured origins plus the server's own origin (whatever host the browser used).

    The own origin is derived per request from ``Host`` because the server may be reached as
    127.0.0.1, localhost or a LAN name; a fixed list would break one of them. This is safe only
    because ``HostGuard`` has already refused every ``Host`` that is not one of the server's own.
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
