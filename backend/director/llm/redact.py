"""Keeps API keys out of log lines: a logging filter that masks known secrets and key-like tokens.

Provider errors (and LiteLLM's own messages) sometimes echo the key that was sent; tracebacks we
log with ``logger.exception`` would carry it to the logs. Every LLM config registers its key here.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"

# Key-shaped tokens we mask even when they were never registered (e.g. a provider key LiteLLM read
# from the environment itself): OpenAI/Anthropic "sk-...", Google "AIza...", and bearer tokens.
_KEY_PATTERNS = re.compile(r"(sk-[A-Za-z0-9_\-]{6,}|AIza[0-9A-Za-z_\-]{20,}|(?<=Bearer )[A-Za-z0-9._\-]{8,})")

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    # Very short values would mask ordinary words; real keys are long.
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return _KEY_PATTERNS.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """Renders the message and traceback once, masks secrets, and stores the safe text on the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call must not break logging
            message = str(record.msg)
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


_FILTER = RedactingFilter()


def protect(logger: logging.Logger) -> None:
    """Attach the redacting filter to ``logger`` (idempotent)."""
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
