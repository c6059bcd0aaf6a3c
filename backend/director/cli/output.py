"""How a turn's events reach the terminal: the answer streams to stdout, agent steps go to stderr
(so ``director chat ... > answer.md`` keeps only the answer); ``--json`` prints one JSON object a line."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from director.client.events import Delta, Event, Final, Step, TurnTracker

STEP_MARKS = {"progress": "…", "success": "✓", "error": "✗"}


class TextOutput:
    def __init__(self, out: TextIO | None = None, err: TextIO | None = None):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._column = 0  # characters on the answer's current line, to end it cleanly

    def event(self, event: Event, tracker: TurnTracker | None = None) -> None:
        if isinstance(event, Delta):
            self._write(event.text)
        elif isinstance(event, Step):
            self._end_line()
            mark = STEP_MARKS.get(event.status, "·")
            detail = event.text if event.status == "success" and event.text else event.status_message
            first_line = (detail or "").splitlines()[0] if detail else ""
            print(f"{mark} {event.agent}: {first_line}".rstrip(), file=self.err, flush=True)
        elif isinstance(event, Final):
            if tracker is not None:
                self._write(tracker.missing_text())
            self._end_line()
            if event.status != "success":
                block = next((b for b in event.message["content"] if b.get("agent_name") == "assistant"), {})
                print(
                    f"[{event.status}] {block.get('status_message') or ''}".rstrip(),
                    file=self.err,
                    flush=True,
                )

    def _write(self, text: str) -> None:
        if text:
            self.out.write(text)
            self.out.flush()
            self._column = len(text.rsplit("\n", 1)[-1]) if "\n" in text else self._column + len(text)

    def _end_line(self) -> None:
        if self._column:
            self.out.write("\n")
            self.out.flush()
            self._column = 0


class JSONOutput:
    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stdout

    def event(self, event: Event, tracker: TurnTracker | None = None) -> None:
        if isinstance(event, Delta):
            record = {"type": "delta", "session_id": event.session_id, "text": event.text}
        elif isinstance(event, Step):
            record = {
                "type": "step",
                "session_id": event.session_id,
                "agent": event.agent,
                "status": event.status,
                "status_message": event.status_message,
                "text": event.text,
                "data": event.data,
            }
        else:
            record = {"type": "final", "message": event.message}
        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.out.flush()
