"""The live state of a turn this process runs, for readers that arrive mid-answer (``join``, REST).

Storage holds a running answer as of its last periodic save (at most ``stream_save_interval_s`` old);
the engine holds it as of the last delta. A tab that joins or reloads mid-answer is given the live
copy when the turn runs here, so it continues from the very latest text. On another process (a
cluster) there is no live copy: storage's is served, and the turn's next periodic ``chat`` (sent to
the room through the message queue) fills what it lacks, as the deltas' offsets let the client tell.
"""

from __future__ import annotations

from typing import Any

from director.core.turns import TurnRegistry


def live_output(registry: TurnRegistry, session_id: str) -> dict[str, Any] | None:
    """The running answer of ``session_id`` if this process runs its turn, else None."""
    engine = registry.engines().get(session_id)
    snapshot = getattr(engine, "live_message", None)
    return snapshot() if callable(snapshot) else None


def with_live_output(conversation: list[dict[str, Any]], live: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``conversation`` with its stored copy of the running answer replaced by the live one."""
    if live is None:
        return conversation
    return [live if message.get("msg_id") == live.get("msg_id") else message for message in conversation]
