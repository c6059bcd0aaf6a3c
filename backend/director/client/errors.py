"""What can go wrong for a client, under the project's one root (``DirectorError``)."""

from __future__ import annotations

from director.errors import DirectorError


class ClientError(DirectorError):
    """Base of the client's errors."""


class ServerUnreachableError(ClientError):
    """No Director answers at ``url`` (refused, timed out, not a Director)."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"Cannot reach a Director server at {url}: {reason}")
        self.url = url
        self.reason = reason


class AuthError(ClientError):
    """The server wants a token (``DIRECTOR_AUTH_TOKEN``) and none, or a wrong one, was given."""


class RequestError(ClientError):
    """The server refused a request: ``code`` is its error code (``session_busy``, ``not_found``, ...)."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class ConnectionLostError(ClientError):
    """The connection dropped during a turn and reconnecting once did not bring the answer back."""
