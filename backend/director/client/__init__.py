"""A Python client for a Director server: ``DirectorClient`` (sync) and ``AsyncDirectorClient``.

``client.chat(text, session_id=None, agents=None, model=None)`` yields typed events (``Delta``,
``Step``, then one ``Final``) and ends with the final message; ``client.ask(...)`` just returns it.
The connection is re-established once if it drops during a turn. The ``director`` CLI is built on it.
"""

from director.client.asynchronous import AsyncDirectorClient
from director.client.errors import (
    AuthError,
    ClientError,
    ConnectionLostError,
    RequestError,
    ServerUnreachableError,
)
from director.client.events import Delta, Event, Final, Step
from director.client.sync import ChatTurn, DirectorClient

__all__ = [
    "AsyncDirectorClient",
    "AuthError",
    "ChatTurn",
    "ClientError",
    "ConnectionLostError",
    "Delta",
    "DirectorClient",
    "Event",
    "Final",
    "RequestError",
    "ServerUnreachableError",
    "Step",
]
