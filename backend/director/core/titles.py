"""A chat's title, written by the model after the first answer, off the turn's path.

A new chat is titled at once from the start of the user's first message (``session.make_title``).
Once the first answer is out, the model is asked for a short title in a separate background task:
the turn has already ended, so this never delays or fails it. A failed or empty answer keeps the
first title; a title the user set (rename) is never replaced. The model's title reaches the chat's
tabs as a ``session_title`` event. No Flask here.
"""

from __future__ import annotations

import logging

from director.core.session import Emit, ServerEvent, make_title
from director.db.base import BaseDB
from director.llm.base import BaseLLM
from director.llm.redact import protect

logger = logging.getLogger(__name__)
protect(logger)

TITLE_PROMPT = (
    "Write a title of at most six words for a chat that begins with the user's message below. "
    "Use the message's language. Reply with the title only: no quotes, no final punctuation."
)
# The model needs the gist, not a whole pasted document.
MAX_PROMPT_CHARS = 2000
_TRIM = " \t\r\n\"'`*#_.:;「」“”‘’"


def clean_title(text: str | None) -> str | None:
    """The model's reply as a title: its first non-empty line, unquoted, cut to the title length."""
    for line in (text or "").splitlines():
        title = line.strip().removeprefix("Title:").strip(_TRIM)
        if title:
            return make_title(title)
    return None


def write_title(db: BaseDB, llm: BaseLLM, session_id: str, first_message: str, emit: Emit) -> str | None:
    """Ask the model for a title and store it, unless the user named the chat meanwhile. Never raises."""
    try:
        response = llm.chat_completions(
            [
                {"role": "system", "content": TITLE_PROMPT},
                {"role": "user", "content": first_message[:MAX_PROMPT_CHARS]},
            ]
        )
        title = clean_title(response.content) if response.ok else None
        if title is None:
            logger.info("no title written for session %s (%s)", session_id, response.error_type or "empty")
            return None
        session = db.update_chat_settings(session_id, title=title, by_user=False)
        if session is None or session.get("title") != title:
            return None  # deleted, or renamed by the user meanwhile
        emit(ServerEvent.SESSION_TITLE, {"session_id": session_id, "title": title})
        return title
    except Exception:
        logger.exception("writing a title failed for session %s", session_id)
        return None
