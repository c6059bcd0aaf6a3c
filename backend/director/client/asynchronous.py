"""``AsyncDirectorClient``: the same client for asyncio code.

It drives a ``DirectorClient`` on worker threads (``asyncio.to_thread``), so both forms share one
implementation of the protocol, the reconnect and the REST calls:

    async with AsyncDirectorClient(url) as client:
        async for event in client.chat("hello"):
            ...
        final = await client.ask("and again?")
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from director.client.events import Event, Final
from director.client.sync import DirectorClient

_END = object()


class AsyncDirectorClient:
    def __init__(self, url: str | None = None, token: str | None = None):
        self.sync = DirectorClient(url, token)

    @property
    def session_id(self) -> str | None:
        return self.sync.session_id

    async def connect(self) -> None:
        await asyncio.to_thread(self.sync.connect)

    async def close(self) -> None:
        await asyncio.to_thread(self.sync.close)

    async def __aenter__(self) -> AsyncDirectorClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def chat(self, text: str, **kwargs: Any) -> AsyncIterator[Event]:
        """Yields the turn's events; the last one is its ``Final``."""
        events = iter(self.sync.chat(text, **kwargs))
        while (event := await asyncio.to_thread(next, events, _END)) is not _END:
            yield event  # type: ignore[misc]

    async def ask(self, text: str, **kwargs: Any) -> Final:
        return await asyncio.to_thread(self.sync.ask, text, **kwargs)

    async def stop(self, session_id: str | None = None) -> None:
        await asyncio.to_thread(self.sync.stop, session_id)

    async def sessions(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.sync.sessions)

    async def session(self, session_id: str) -> dict[str, Any]:
        return await asyncio.to_thread(self.sync.session, session_id)

    async def export(self, session_id: str, fmt: str = "md") -> str:
        return await asyncio.to_thread(self.sync.export, session_id, fmt)
