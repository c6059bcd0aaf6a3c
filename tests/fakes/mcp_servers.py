"""MCP servers written for the tests with the SDK's MCPServer, run as their own processes.

``python -m tests.fakes.mcp_servers stdio`` speaks MCP over stdin/stdout;
``python -m tests.fakes.mcp_servers http PORT`` serves streamable HTTP on 127.0.0.1:PORT/mcp.
``MCP_FAKE_CRASH_FLAG`` names a file: ``crash`` exits the process only while that file is absent (and
creates it first), so a restarted server stays up, and a test sees exactly one crash.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image

# A 1x1 red PNG: small enough to inline, a real image for the UI to render.
RED_PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)

server = MCPServer("fake-tools")


@server.tool()
def add(a: int, b: int) -> str:
    """Add two integers."""
    return f"{a} + {b} = {a + b}"


@server.tool()
def fail(reason: str) -> str:
    """Always fails, with the given reason."""
    raise ToolError(f"refused: {reason}")


@server.tool()
async def slow(seconds: float) -> str:
    """Sleeps, then answers."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}s"


@server.tool()
def pixel() -> Image:
    """Returns a 1x1 red PNG."""
    return Image(data=RED_PIXEL_PNG, format="png")


@server.tool()
def crash() -> str:
    """Kills this server process (once per crash flag file)."""
    flag = os.environ.get("MCP_FAKE_CRASH_FLAG")
    if flag and not Path(flag).exists():
        Path(flag).write_text("crashed")
        os._exit(3)
    return "still alive"


@server.tool()
def env_secret_length() -> str:
    """Says how long FAKE_SECRET (from the config's env) is, never the value."""
    return str(len(os.environ.get("FAKE_SECRET", "")))


@server.tool()
def header_length(ctx: Context, name: str) -> str:
    """How long the HTTP request header `name` is (0 when absent): shows headers arrive, never their value."""
    headers = ctx.headers or {}
    return str(len(headers.get(name.lower(), "") or headers.get(name, "")))


@server.tool()
async def grow(ctx: Context) -> str:
    """Adds a tool named `late` and tells the client the tool list changed."""

    @server.tool(name="late")
    def late() -> str:
        """A tool that exists only after `grow` ran."""
        return "late tool"

    await ctx.session.send_tool_list_changed()
    return "grown"


@contextlib.contextmanager
def running_http_server(transport: str = "http") -> Iterator[str]:
    """``start_http_server`` as a context: yields the URL, stops the process after."""
    process, url = start_http_server(transport=transport)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


def start_http_server(
    timeout_s: float = 30.0, transport: str = "http"
) -> tuple[subprocess.Popen[bytes], str]:
    """This module as an HTTP server on a free 127.0.0.1 port: (process, its URL): streamable HTTP at
    /mcp, or with ``transport="sse"`` the SSE transport at /sse."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.mcp_servers", transport, str(port)],
        cwd=str(Path(__file__).resolve().parents[2]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"http://127.0.0.1:{port}/{'sse' if transport == 'sse' else 'mcp'}"
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the MCP HTTP test server did not start")


def main() -> None:
    transport = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if transport == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    elif transport == "sse":
        server.run("sse", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
