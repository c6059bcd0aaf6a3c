"""The JSON module Socket.IO decodes packets with, hardened against hostile input.

The stdlib decoder raises ``RecursionError`` on deeply nested arrays (``[[[[...``) and engine.io's
``ValueError`` on integers over 100 digits. Socket.IO would drop such a packet after logging a long
traceback, and the client would never hear why. Here the event name is recovered from the packet's
start and the payload replaced by ``UNDECODABLE``, so the event handler answers with a normal
``error`` event and the log gets one line (at most one a minute).

Other text that is not JSON is normal: engine.io also tries its packets' data as JSON (the
websocket upgrade's ``probe``, for one), so that raises quietly and the caller keeps the text.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from engineio import json as engineio_json

from director.log_throttle import ThrottledLog

logger = logging.getLogger(__name__)
_throttled = ThrottledLog(logger)

# A Socket.IO event packet's data is ``["<event>", payload...]``.
_EVENT_NAME = re.compile(r'\s*\[\s*"([A-Za-z0-9_\-]{1,64})"')


class UndecodablePayload:
    """Stands in for a payload the server refused to decode."""

    def __repr__(self) -> str:
        return "<undecodable payload>"


UNDECODABLE = UndecodablePayload()

dumps = json.dumps


def loads(text: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return engineio_json.loads(text, *args, **kwargs)
    except (RecursionError, ValueError) as exc:
        match = _EVENT_NAME.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError("undecodable Socket.IO packet") from None
        _throttled.info(
            "undecodable", "undecodable socket packet (%s, %d chars)", type(exc).__name__, len(text or "")
        )
        return [match.group(1), UNDECODABLE]
