"""Text every part of Director can store, encode and send on: no lone surrogates, no NUL.

Browsers can send lone UTF-16 surrogates (``JSON.stringify`` keeps them as ``\\udfff`` escapes) and
JSON decoding turns them into Python ``str`` code points that no UTF-8 encoder accepts: SQLite, the
OpenAI SDK and PostgreSQL all fail on them, long after the message was accepted. NUL is refused by
PostgreSQL text and means nothing in a chat. Both are fixed once, where text enters.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
# Any surrogate code point in a Python str is unpaired: JSON decoding joins valid pairs.
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD and NUL characters removed."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _SURROGATE.sub(REPLACEMENT, text)


def clean_strings(value: Any) -> Any:
    """``clean_text`` applied to every string (keys included) in a JSON-shaped value."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_strings(key): clean_strings(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean_strings(item) for item in value]
    return value
