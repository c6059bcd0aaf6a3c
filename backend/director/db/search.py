"""Full-text search over every chat's messages: SQLite FTS5 and PostgreSQL text search.

The index (table ``message_search``, made by migration 0004) holds one row per message: the user's
text for an input, the answer's text for a finished output (a running answer is indexed once it
ends, not at each periodic save). It is written in the same transaction as the message.

A user's query is never passed to the engines' query languages as typed: it is cut into words
(letters and digits, any script) and each becomes a quoted prefix term, all required. So punctuation,
quotes or operators in a query cannot make a syntax error or change the query's meaning.

Snippets come back as parts, ``[{"text": ..., "hit": bool}, ...]``: the engines mark hits with two
private-use characters (removed from indexed text first, so a message cannot forge a mark), which
are turned into parts here; clients render them as text, never as HTML.
"""

from __future__ import annotations

import re
from typing import Any

from director.db.dialects import POSTGRESQL, scrub_text

HIT_START, HIT_END = "\ue000", "\ue001"
# Longest query accepted; a search box needs a few words, not a document.
MAX_QUERY_CHARS = 200
MAX_TERMS = 12
MAX_RESULTS = 50
_WORD = re.compile(r"\w+", re.UNICODE)
_MARKS = re.compile(f"[{HIT_START}{HIT_END}]")


def check_search(query: str, limit: int) -> None:
    """``ValueError`` for a query or limit no search should run with (checked before any SQL)."""
    if not isinstance(query, str) or len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"a search query is a string of at most {MAX_QUERY_CHARS} characters")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
        raise ValueError(f"a search limit is 1 to {MAX_RESULTS}")


def query_terms(query: str) -> list[str]:
    """The words of ``query`` (letters, digits, underscore; any script), lower-cased, at most ``MAX_TERMS``."""
    return [word.lower() for word in _WORD.findall(query)][:MAX_TERMS]


def searchable_text(message: dict[str, Any]) -> str | None:
    """What to index for a stored message: None while an answer is still being written."""
    blocks = message.get("content") or []
    if message.get("msg_type") == "input":
        parts = [block.get("text") or "" for block in blocks if isinstance(block, dict)]
    elif message.get("status") == "progress":
        return None
    else:
        parts = [
            block.get("text") or ""
            for block in blocks
            if isinstance(block, dict) and block.get("agent_name") == "assistant"
        ]
    text = "\n\n".join(part for part in parts if part)
    return _MARKS.sub("", text)


def snippet_parts(marked: str) -> list[dict[str, Any]]:
    """``before \\ue000hit\\ue001 after`` -> ``[{text: "before ", hit: False}, {text: "hit", hit: True}, ...]``."""
    parts: list[dict[str, Any]] = []
    hit = False
    for piece in re.split(f"([{HIT_START}{HIT_END}])", marked):
        if piece == HIT_START:
            hit = True
        elif piece == HIT_END:
            hit = False
        elif piece:
            parts.append({"text": piece, "hit": hit})
    return parts


class SearchStatements:
    """The index's statements for one dialect (SQLite's named ``:x`` or psycopg's ``%(x)s`` placeholders)."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        if dialect == POSTGRESQL:
            self.delete = "DELETE FROM message_search WHERE session_id = %(sid)s AND msg_id = %(mid)s"
            self.insert = (
                "INSERT INTO message_search (session_id, msg_id, body) VALUES (%(sid)s, %(mid)s, %(body)s) "
                "ON CONFLICT (session_id, msg_id) DO UPDATE SET body = excluded.body"
            )
            self.search = (
                "SELECT m.session_id, m.msg_id, s.title, s.updated_at, "
                f"ts_headline('simple', m.body, q, 'StartSel={HIT_START}, StopSel={HIT_END}, "
                "MaxWords=24, MinWords=8, MaxFragments=1') "
                "FROM message_search m JOIN sessions s ON s.session_id = m.session_id, "
                "to_tsquery('simple', %(q)s) q WHERE m.tsv @@ q "
                "ORDER BY ts_rank(m.tsv, q) DESC, s.updated_at DESC LIMIT %(n)s"
            )
        else:
            self.delete = "DELETE FROM message_search WHERE session_id = :sid AND msg_id = :mid"
            self.insert = "INSERT INTO message_search (body, session_id, msg_id) VALUES (:body, :sid, :mid)"
            self.search = (
                "SELECT m.session_id, m.msg_id, s.title, s.updated_at, "
                f"snippet(message_search, 0, '{HIT_START}', '{HIT_END}', '…', 16) "
                "FROM message_search m JOIN sessions s ON s.session_id = m.session_id "
                "WHERE message_search MATCH :q ORDER BY m.rank, s.updated_at DESC LIMIT :n"
            )

    def engine_query(self, terms: list[str]) -> str:
        """Each word a quoted prefix term, all required, in the engine's own syntax."""
        if self.dialect == POSTGRESQL:
            return " & ".join(f"'{term}':*" for term in terms)
        return " ".join(f'"{term}"*' for term in terms)

    def index(self, cursor: Any, message: dict[str, Any]) -> None:
        """Index ``message`` (in the caller's transaction); a running answer is left as it was."""
        body = searchable_text(message)
        if body is None:
            return
        key = {"sid": message["session_id"], "mid": message["msg_id"]}
        if self.dialect != POSTGRESQL:
            cursor.execute(self.delete, key)  # FTS5 tables have no unique key to upsert on
        cursor.execute(self.insert, {**key, "body": scrub_text(self.dialect, body)})

    def run_search(self, cursor: Any, query: str, limit: int) -> list[dict[str, Any]]:
        """Chats matching every word of ``query``, best match first, one result (its best message) per chat."""
        terms = query_terms(query)
        if not terms:
            return []
        # Several messages of one chat may match: fetch extra rows and keep each chat's best.
        cursor.execute(self.search, {"q": self.engine_query(terms), "n": limit * 5})
        results: dict[str, dict[str, Any]] = {}
        for session_id, msg_id, title, updated_at, marked in cursor.fetchall():
            if session_id in results:
                continue
            results[session_id] = {
                "session_id": session_id,
                "title": title,
                "updated_at": updated_at,
                "msg_id": msg_id,
                "snippet": snippet_parts(marked or ""),
            }
            if len(results) == limit:
                break
        return list(results.values())
