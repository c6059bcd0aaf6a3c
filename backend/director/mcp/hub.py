"""One connection per configured MCP server, kept alive on one asyncio loop in a background thread.

The SDK is async and the engine runs turns on threads: every session of this process shares these
connections, calling in through ``call_tool`` (thread-safe, blocking). Each server is supervised by its
own task: connect, initialize, list the tools, then watch the connection (a ping every
``PING_INTERVAL_S``; a call that finds it closed wakes the watcher at once). A server that crashes or
cannot be reached is retried with exponential backoff; its tools stay listed meanwhile and their calls
fail with a clear result. ``notifications/tools/list_changed`` re-lists the server's tools.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import anyio
import httpx2
from mcp import ClientSession, StdioServerParameters, stdio_client, types
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from director.llm.redact import protect, scrub
from director.mcp.config import MCPServerSpec, Transport

logger = logging.getLogger(__name__)
protect(logger)

PING_INTERVAL_S = 5.0
CONNECT_TIMEOUT_S = 20.0
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
CALL_GRACE_S = 2.0


class ServerStatus(StrEnum):
    STARTING = "starting"
    READY = "ready"
    DOWN = "down"  # lost or never reached: a restart is scheduled
    STOPPED = "stopped"


class MCPUnavailableError(Exception):
    """The server cannot take the call now (down, restarting, or the connection dropped)."""


@dataclass
class ServerLink:
    """One server's connection, tools and state. Touched only on the hub's loop, except the
    snapshot fields (``status``, ``tools``, ``last_error``, ``restarts``) that threads read."""

    spec: MCPServerSpec
    status: ServerStatus = ServerStatus.STARTING
    tools: dict[str, types.Tool] = field(default_factory=dict)
    last_error: str | None = None
    restarts: int = 0
    session: ClientSession | None = None
    wake: asyncio.Event | None = None
    lost: bool = False
    refresh: bool = False
    ready_once: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "transport": self.spec.transport.value,
            "state": self.status.value,
            "tools": len(self.tools),
            "restarts": self.restarts,
            # A transport's error text may quote a URL or an argument: masked like a log line.
            "error": scrub(self.last_error) if self.last_error else None,
        }


class MCPHub:
    def __init__(self, specs: list[MCPServerSpec], call_timeout_s: float = 60.0):
        self.links = {spec.name: ServerLink(spec) for spec in specs}
        self.call_timeout_s = call_timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-hub", daemon=True)
        # Bumped whenever any server's tool list changes, so agent classes are rebuilt only then.
        self.version = 0

    # ----- life cycle (any thread) -----------------------------------------------------------

    def start(self, wait_s: float = 10.0) -> None:
        """Start every server; wait up to ``wait_s`` for each to be ready (or to have failed once), so
        the first turn sees the tools of servers that start promptly."""
        self._thread.start()
        for link in self.links.values():
            asyncio.run_coroutine_threadsafe(self._supervise(link), self._loop)
        deadline = time.monotonic() + wait_s
        for link in self.links.values():
            link.ready_once.wait(max(0.0, deadline - time.monotonic()))

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the supervisors, which close each connection (stdio servers are terminated)."""
        if not self._thread.is_alive():
            return

        async def cancel_all() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=timeout_s)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(cancel_all(), self._loop).result(timeout_s + 1.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout_s)
        for link in self.links.values():
            link.status = ServerStatus.STOPPED

    def describe(self) -> list[dict[str, Any]]:
        return [link.describe() for link in self.links.values()]

    def call_tool(self, server: str, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
        """Call ``tool`` on ``server`` from any thread. Raises ``MCPUnavailableError`` when the server
        is not connected or the connection drops, ``TimeoutError`` after ``call_timeout_s``."""
        future = asyncio.run_coroutine_threadsafe(self._call(self.links[server], tool, arguments), self._loop)
        try:
            return future.result(self.call_timeout_s + CALL_GRACE_S + 1.0)
        except TimeoutError:
            future.cancel()
            raise

    # ----- on the loop -----------------------------------------------------------------------

    async def _call(self, link: ServerLink, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
        session = link.session
        if session is None or link.status != ServerStatus.READY:
            reason = f" ({link.last_error})" if link.last_error else ""
            raise MCPUnavailableError(f"MCP server '{link.spec.name}' is {link.status.value}{reason}")
        try:
            # A little past the agent timeout: the engine's own timeout (a clear failed step) comes first,
            # this one only ends the request so the server can let go of it.
            return await session.call_tool(
                tool, arguments, read_timeout_seconds=self.call_timeout_s + CALL_GRACE_S
            )
        except MCPError as exc:
            if exc.error.code == types.REQUEST_TIMEOUT:
                raise TimeoutError(str(exc)) from None
            if exc.error.code == types.CONNECTION_CLOSED:
                self._lose(link, "the connection closed")
                raise MCPUnavailableError(
                    f"MCP server '{link.spec.name}' went away during the call"
                ) from None
            raise

    def _lose(self, link: ServerLink, why: str) -> None:
        link.lost = True
        link.last_error = why
        if link.wake is not None:
            link.wake.set()

    async def _supervise(self, link: ServerLink) -> None:
        delay = BACKOFF_FIRST_S
        while True:
            link.status = ServerStatus.STARTING
            link.lost = link.refresh = False
            link.wake = asyncio.Event()
            connected_at: float | None = None
            try:
                async with self._connect(link) as session:
                    with _timeout(CONNECT_TIMEOUT_S):
                        await session.initialize()
                        await self._list_tools(link, session)
                    link.session, link.status, link.last_error = session, ServerStatus.READY, None
                    connected_at = time.monotonic()
                    logger.info("MCP server %s ready with %d tool(s)", link.spec.name, len(link.tools))
                    link.ready_once.set()
                    await self._watch(link, session)
            except asyncio.CancelledError:
                link.session = None
                raise
            except BaseException as exc:  # noqa: BLE001 - anyio groups, OSError, MCPError: all mean "down"
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    link.session = None
                    raise  # close(): a cancellation that arrived wrapped in an exception group
                link.last_error = link.last_error if link.lost else _describe(exc)
            link.session = None
            link.status = ServerStatus.DOWN
            link.ready_once.set()
            if connected_at is not None and time.monotonic() - connected_at > BACKOFF_MAX_S:
                delay = BACKOFF_FIRST_S  # it ran fine for a while: this is a fresh failure
            logger.warning(
                "MCP server %s is down (%s); restarting in %.1fs", link.spec.name, link.last_error, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)
            link.restarts += 1

    async def _watch(self, link: ServerLink, session: ClientSession) -> None:
        assert link.wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(link.wake.wait(), PING_INTERVAL_S)
            link.wake.clear()
            if link.lost:
                return
            if link.refresh:
                link.refresh = False
                await self._list_tools(link, session)
                continue
            try:
                with _timeout(PING_INTERVAL_S):
                    await session.send_ping()
            except Exception as exc:
                link.last_error = f"did not answer a ping ({_describe(exc)})"
                return

    async def _list_tools(self, link: ServerLink, session: ClientSession) -> None:
        tools: dict[str, types.Tool] = {}
        cursor: str | None = None
        while True:
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await session.list_tools(params=params)
            tools.update((tool.name, tool) for tool in page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        if _signature(tools) != _signature(link.tools):
            link.tools = tools
            self.version += 1

    @contextlib.asynccontextmanager
    async def _connect(self, link: ServerLink) -> AsyncIterator[ClientSession]:
        spec = link.spec

        async def on_message(message: Any) -> None:
            # Re-listing needs the session's I/O, which must not run inside the dispatcher: wake the watcher.
            if isinstance(message, types.ToolListChangedNotification):
                link.refresh = True
                if link.wake is not None:
                    link.wake.set()

        async with contextlib.AsyncExitStack() as stack:
            if spec.transport is Transport.STDIO:
                params = StdioServerParameters(
                    command=spec.command or "", args=spec.args, env=spec.env, cwd=spec.cwd
                )
                errlog = stack.enter_context(open(os.devnull, "w"))  # noqa: SIM115 - closed by the stack
                streams = await stack.enter_async_context(stdio_client(params, errlog=errlog))
            elif spec.transport is Transport.SSE:
                streams = await stack.enter_async_context(sse_client(spec.url or "", headers=spec.headers))
            else:
                client = await stack.enter_async_context(
                    httpx2.AsyncClient(headers=spec.headers, timeout=httpx2.Timeout(30.0, read=300.0))
                )
                streams = await stack.enter_async_context(
                    streamable_http_client(spec.url or "", http_client=client)
                )
            session = await stack.enter_async_context(
                ClientSession(streams[0], streams[1], message_handler=on_message)
            )
            yield session


def _timeout(seconds: float) -> Any:
    # anyio's cancel scope, as the SDK's own task groups use, rather than asyncio.timeout.
    return anyio.fail_after(seconds)


def _signature(tools: dict[str, types.Tool]) -> list[tuple[str, str, str]]:
    return sorted((t.name, t.description or "", repr(t.input_schema)) for t in tools.values())


def _describe(exc: BaseException) -> str:
    """A short, secret-free reason: exception groups (anyio) are unwrapped to their first cause."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
