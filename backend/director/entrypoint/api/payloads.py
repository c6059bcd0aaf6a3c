"""Validation of what clients send on the ``/chat`` namespace.

Anything a client sends is untrusted: it is checked here, before any state changes, and a problem
becomes a ``BadPayloadError`` with a stable ``code`` (sent back as the ``error`` event) and a message
that tells the user what to fix. Extra fields are ignored so newer clients keep working. Text is
normalised here (``director.text.clean_text``): lone surrogates become U+FFFD, NUL is removed.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from enum import StrEnum
from typing import Any

from director.core.images import INVALID_IMAGE, MAX_IMAGES, is_image_part, parse_image_part
from director.core.session import ChatRequest
from director.entrypoint.api.wire_json import UndecodablePayload
from director.errors import BadPayloadError
from director.llm.for_session import parse_settings
from director.text import clean_text

# Ids end up as DB keys and room names: keep them short and boring. Checked with fullmatch: with
# match, "$" also matches before a trailing newline, so "id\n" would pass.
_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


class ErrorCode(StrEnum):
    """The ``code`` of an ``error`` event (documented in the README)."""

    INVALID_PAYLOAD = "invalid_payload"  # not a JSON object
    INVALID_ID = "invalid_id"  # session_id / conv_id / msg_id of the wrong type or shape
    MISSING_SESSION_ID = "missing_session_id"  # stop/join without a session_id
    INVALID_CONTENT = "invalid_content"  # content missing, empty or of the wrong shape
    MESSAGE_TOO_LONG = "message_too_long"  # text over DIRECTOR_MAX_MESSAGE_CHARS
    INVALID_AGENTS = "invalid_agents"  # agents not a list of strings
    UNKNOWN_AGENT = "unknown_agent"  # an agent name that is not registered
    SESSION_BUSY = "session_busy"  # a turn is already running in this session
    UNAUTHORIZED = "unauthorized"
    INTERNAL = "internal_error"
    STORAGE_FULL = "storage_full"  # the DB's disk is full: nothing was saved; carries retry_after (s)
    SERVER_STOPPING = "server_stopping"  # SIGTERM arrived: no new turns while running ones are saved
    UNKNOWN_PARENT = "unknown_parent"  # parent_msg_id is not an answer in the session (branches)
    INVALID_MODEL = "invalid_model"  # a model the server does not allow (the message names the setting)
    INVALID_REASONING_EFFORT = "invalid_reasoning_effort"  # not off|minimal|low|medium|high
    INVALID_IMAGE = "invalid_image"  # not a PNG/JPEG/GIF/WebP data: URL, too big, or too many
    MODEL_WITHOUT_VISION = "model_without_vision"  # images sent to a model that cannot see them


def _as_object(payload: Any) -> dict[str, Any]:
    if isinstance(payload, UndecodablePayload):
        raise BadPayloadError(
            ErrorCode.INVALID_PAYLOAD.value,
            "The message could not be decoded (nested too deeply or numbers too long). Send a JSON object.",
        )
    if not isinstance(payload, dict):
        raise BadPayloadError(ErrorCode.INVALID_PAYLOAD.value, "The message must be a JSON object.")
    return payload


def _optional_id(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    # Director clients send "" (or null) for "no id yet"; both mean missing.
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value):
        raise BadPayloadError(
            ErrorCode.INVALID_ID.value,
            f"{key} must be a string of 1-128 letters, digits, '_', '-', '.' or ':'.",
        )
    return value


def _text_parts(content: Any, max_chars: int, images: list[dict[str, Any]] | None = None) -> list[str]:
    """The text parts; image parts (Director's ``image_url`` shape) are checked and added to ``images``."""
    if isinstance(content, str):
        parts = [content]
    elif isinstance(content, list) and content:
        parts = []
        for part in content:
            if images is not None and is_image_part(part):
                if len(images) >= MAX_IMAGES:
                    raise BadPayloadError(
                        INVALID_IMAGE, f"Attach at most {MAX_IMAGES} images to one message."
                    )
                images.append(parse_image_part(part))
                continue
            if not (
                isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
            ):
                raise BadPayloadError(
                    ErrorCode.INVALID_CONTENT.value,
                    'Each content part must be {"type": "text", "text": "..."}.',
                )
            parts.append(part["text"])
    else:
        raise BadPayloadError(
            ErrorCode.INVALID_CONTENT.value,
            'content must be a string or a list of {"type": "text", "text": "..."} parts.',
        )
    total = sum(len(part) for part in parts)
    if total > max_chars:
        raise BadPayloadError(
            ErrorCode.MESSAGE_TOO_LONG.value,
            f"The message is {total} characters long; the limit is {max_chars}. Shorten it and send again.",
        )
    # Normalised (after the cheap length check) before anything stores it: a lone surrogate would
    # break every later turn of the session (no encoder accepts it); PostgreSQL cannot store NUL.
    parts = [clean_text(part) for part in parts]
    if not any(part.strip() for part in parts) and not images:
        raise BadPayloadError(ErrorCode.INVALID_CONTENT.value, "The message is empty.")
    return parts


def _agents(value: Any, known_agents: Collection[str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise BadPayloadError(ErrorCode.INVALID_AGENTS.value, "agents must be a list of agent names.")
    unknown = sorted({name for name in value if name not in known_agents})
    if unknown:
        raise BadPayloadError(
            ErrorCode.UNKNOWN_AGENT.value,
            f"Unknown agent(s): {', '.join(unknown)[:200]}. Available: {', '.join(sorted(known_agents))}.",
        )
    return list(dict.fromkeys(value))  # de-duplicated, order kept


def parse_chat(payload: Any, known_agents: Collection[str], max_chars: int) -> ChatRequest:
    data = _as_object(payload)
    images: list[dict[str, Any]] = []
    return ChatRequest(
        session_id=_optional_id(data, "session_id"),
        conv_id=_optional_id(data, "conv_id"),
        client_msg_id=_optional_id(data, "msg_id"),
        text_parts=_text_parts(data.get("content"), max_chars, images),
        images=images,
        agents=_agents(data.get("agents"), known_agents),
        # Present (even null) means the client chose where the message goes; see core/branches.py.
        parent_msg_id=_optional_id(data, "parent_msg_id"),
        parent_given="parent_msg_id" in data,
        settings=parse_settings(data, null_resets=False),
    )


def parse_session_ref(payload: Any) -> str:
    """The ``{session_id}`` payload of ``stop`` and ``join``."""
    session_id = _optional_id(_as_object(payload), "session_id")
    if session_id is None:
        raise BadPayloadError(ErrorCode.MISSING_SESSION_ID.value, "session_id is required.")
    return session_id
