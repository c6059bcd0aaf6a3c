"""Record a session's model exchanges (``DIRECTOR_RECORD_DIR``): ``RecordingLLM`` wraps the turn's LLM.

One JSON Lines file per session, ``<DIRECTOR_RECORD_DIR>/<session_id>.jsonl``, one line per model call:
``{"v": 1, "session_id", "call", "request": {"messages", "tools"}, "events": [...], "response": {...}}``,
where ``events`` are the streamed deltas in order and ``response`` the final ``LLMResponse``. Each line
passes through the log redaction first (API keys, the auth token, MCP secrets: every registered secret
and key-shaped string), so a recording can be shared. A wrapper (a decorator of ``BaseLLM``), so it
composes with others, such as metering.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from director.llm.base import BaseLLM, LLMResponse, StreamEvent
from director.llm.redact import scrub
from director.llm.wrapping import WrappingLLM
from director.settings import DirectorSettings

FORMAT_VERSION = 1


class RecordSettings(DirectorSettings):
    model_config = SettingsConfigDict(env_prefix="DIRECTOR_")

    record_dir: Path | None = Field(
        None, description="a directory; one recording file per session is written there"
    )
    replay_file: Path | None = Field(
        None, description="a recording (.jsonl) that DEFAULT_LLM=replay answers from"
    )


_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def recording_path(record_dir: Path, session_id: str) -> Path:
    # Session ids are [A-Za-z0-9_.:-]; ':' is not welcome in every file system.
    return Path(record_dir) / (
        "".join(c if c.isalnum() or c in "-_." else "_" for c in session_id) + ".jsonl"
    )


class RecordingLLM(WrappingLLM):
    """Passes every call to ``inner`` and appends the exchange to ``path``."""

    def __init__(self, inner: BaseLLM, path: Path, session_id: str):
        super().__init__(inner)
        self.path = Path(path)
        self.session_id = session_id

    def rewrap(self, inner: BaseLLM) -> RecordingLLM:
        return RecordingLLM(inner, self.path, self.session_id)

    def __getattr__(self, name: str) -> Any:
        # Anything else is the inner LLM's.
        return getattr(self.inner, name)

    def _events(
        self,
        stream: bool,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        *rest: Any,
    ) -> Iterator[StreamEvent]:
        # WrappingLLM's one hook serves chat_completions and chat_completions_stream alike.
        events: list[dict[str, Any]] = []
        inner = self._inner_events(stream, messages, tools, *rest)
        try:
            for event in inner:
                if isinstance(event, LLMResponse):
                    self._write(messages, tools, events, event)
                else:
                    events.append(event.model_dump(mode="json"))
                yield event
        finally:
            inner.close()  # a caller that stops reading ends the provider's stream too

    def _write(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        events: list[dict[str, Any]],
        response: LLMResponse,
    ) -> None:
        lock = _lock_for(self.path)
        with lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            call = _count_lines(self.path)
            record = {
                "v": FORMAT_VERSION,
                "session_id": self.session_id,
                "call": call,
                "request": {"messages": messages, "tools": tools},
                "events": events,
                "response": response.model_dump(mode="json"),
            }
            line = scrub(json.dumps(record, ensure_ascii=False, default=str))
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def read_recording(path: Path) -> list[dict[str, Any]]:
    """The exchanges of a recording, in order. Raises ``ValueError`` naming the line that is not valid."""
    records = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or record.get("v") != FORMAT_VERSION or "response" not in record:
            raise ValueError(f"{path}: line {number} is not a Director recording (version {FORMAT_VERSION})")
        records.append(record)
    return records
