"""``DIRECTOR_LOG_FORMAT=json``: one JSON object per log line, for log shippers.

Fields: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message`` (already masked by the handler's
``RedactingFilter``, which runs before any formatter), ``exception`` when there is one, and the fields
of a model call's record (``llm/call_log.py``) at the top level.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        call = getattr(record, "call", None)
        if isinstance(call, dict):
            line.update(call)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)
