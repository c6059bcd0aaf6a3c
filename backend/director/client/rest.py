"""The REST half of the client (sessions, export, the token check), shared by the sync and async forms."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import httpx

from director.client.errors import AuthError, RequestError, ServerUnreachableError

DEFAULT_URL = "http://127.0.0.1:8000"
REST_TIMEOUT_S = 30.0


def resolve(url: str | None, token: str | None) -> tuple[str, str | None]:
    """``url``/``token`` or, when not given, ``DIRECTOR_URL`` / ``DIRECTOR_AUTH_TOKEN`` (or the default URL)."""
    url = (url or os.environ.get("DIRECTOR_URL") or DEFAULT_URL).rstrip("/")
    token = token if token is not None else (os.environ.get("DIRECTOR_AUTH_TOKEN") or None)
    return url, token


class RestAPI:
    def __init__(self, url: str, token: str | None, timeout_s: float = REST_TIMEOUT_S):
        self.url = url
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url, headers=headers, timeout=timeout_s, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **params: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, params=params or None)
        except httpx.HTTPError as exc:
            raise ServerUnreachableError(self.url, str(exc) or type(exc).__name__) from None
        if response.status_code == 401:
            raise AuthError(
                "The server needs a valid token: set DIRECTOR_AUTH_TOKEN to the server's DIRECTOR_AUTH_TOKEN."
            )
        if response.status_code >= 400:
            try:
                body = response.json()
                code, message = body.get("code", "error"), body.get("message", response.text)
            except ValueError:
                reason = f"HTTP {response.status_code} from something that is not Director"
                raise ServerUnreachableError(self.url, reason) from None
            raise RequestError(code, message, response.status_code)
        return response

    def check(self) -> None:
        """Fail early, and clearly, on an unreachable server or a wrong token (before any socket)."""
        try:
            health = self.request("GET", "/health").json()
        except ValueError:
            raise ServerUnreachableError(self.url, "it answered, but not as a Director server") from None
        if health.get("auth_required") and not self.token:
            raise AuthError("The server needs a token: set DIRECTOR_AUTH_TOKEN.")
        self.request("GET", "/config/check")  # 401 here: the token is wrong

    def sessions(self) -> list[dict[str, Any]]:
        return self.request("GET", "/session").json()

    def session(self, session_id: str) -> dict[str, Any]:
        return self.request("GET", f"/session/{quote(session_id, safe='')}").json()

    def export(self, session_id: str, fmt: str = "md") -> str:
        return self.request("GET", f"/session/{quote(session_id, safe='')}/export", format=fmt).text
