"""Raw Engine.IO traffic of a client that is not a user: for the abuse tests and ``bench/abuse.py``.

Everything is plain sockets and ``http.client`` so a test controls each byte, the source address
(any 127.x.y.z: an attacker is not the user's address) and what is never sent (no token, no
namespace connect, no reply to pings).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
from urllib.parse import urlsplit

ENGINE_IO_PATH = "/socket.io/?EIO=4&transport="


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def request(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    source: str | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    host, port = _host_port(url)
    connection = http.client.HTTPConnection(
        host, port, timeout=timeout, source_address=(source, 0) if source else None
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def open_polling_session(url: str, source: str | None = None) -> str | None:
    """An Engine.IO polling handshake; returns its ``sid`` (None when the server refused it)."""
    status, body = request(url, "GET", ENGINE_IO_PATH + "polling", source=source)
    if status != 200 or not body.startswith(b"0"):
        return None
    return json.loads(body[1:])["sid"]


def post_packet(url: str, sid: str, packet: bytes, source: str | None = None, timeout: float = 10.0) -> int:
    """POST one raw Engine.IO payload to a polling session; returns the HTTP status."""
    status, _ = request(
        url,
        "POST",
        f"{ENGINE_IO_PATH}polling&sid={sid}",
        body=packet,
        headers={"Content-Type": "text/plain;charset=UTF-8"},
        source=source,
        timeout=timeout,
    )
    return status


def bare_websocket(url: str, source: str | None = None, timeout: float = 5.0) -> socket.socket | None:
    """Open an Engine.IO websocket and say nothing more: no namespace connect, no token, no pong.

    Returns the open socket (the caller closes it), or None when the server did not upgrade.
    """
    host, port = _host_port(url)
    sock = socket.create_connection(
        (host, port), timeout=timeout, source_address=(source, 0) if source else None
    )
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {ENGINE_IO_PATH}websocket HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    try:
        head = sock.recv(4096)
    except OSError:
        head = b""
    if not head.startswith(b"HTTP/1.1 101"):
        sock.close()
        return None
    return sock


def is_closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """Read (and drop) whatever the server sends until it closes the connection or ``timeout``."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except TimeoutError:
        return False
    except OSError:
        return True
