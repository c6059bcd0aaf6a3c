"""The schema, once, for both dialects (what migrations build and every statement refers to).

Column types carry the per-dialect storage rules (``db/dialects.py``), so no statement has to:
``StoredText`` scrubs what the column cannot hold; ``JSONDocument`` takes JSON text made before the
transaction (so a value that is not JSON fails with nothing written) and gives back the parsed value.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Column, Double, ForeignKey, Index, Integer, MetaData, Table, Text, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.sqlite import REAL
from sqlalchemy.engine import Dialect

from director.db.dialects import POSTGRESQL, scrub_json_text, scrub_text


class StoredText(TypeDecorator[str]):
    """TEXT whose values are scrubbed of what the dialect cannot store (see ``scrub_text``)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return scrub_text(dialect.name, value) if value is not None else None


class JSONDocument(TypeDecorator[Any]):
    """JSONB on PostgreSQL, JSON text in TEXT on SQLite. Binds JSON text, returns the parsed value.

    On PostgreSQL the engine's JSON (de)serialisers are identities (``db/postgres.py``): psycopg
    sends and returns the text as is, and parsing happens here, the same for both dialects.
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == POSTGRESQL:
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return scrub_json_text(dialect.name, value) if value is not None else None

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return json.loads(value) if value is not None else None


# Epoch seconds: DOUBLE PRECISION on PostgreSQL, REAL (the same 8-byte float) on SQLite.
Timestamp = Double().with_variant(REAL(), "sqlite")


metadata = MetaData()

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", Text, primary_key=True),
    Column("title", StoredText),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("metadata", JSONDocument, nullable=False, server_default="{}"),
    # Per-chat model settings (migration 0002): NULL means "the server's default".
    Column("model", StoredText),
    Column("reasoning_effort", StoredText),
)
Index("sessions_updated_at", sessions.c.updated_at)

# PostgreSQL's copy also has ``seq BIGINT GENERATED ALWAYS AS IDENTITY`` (its insertion order, see
# ``dialects.insertion_order``); SQLite uses its rowid. The baseline migration adds it there only.
conversations = Table(
    "conversations",
    metadata,
    Column("session_id", Text, ForeignKey("sessions.session_id", ondelete="CASCADE"), primary_key=True),
    Column("msg_id", Text, primary_key=True),
    Column("conv_id", Text),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("message", JSONDocument, nullable=False),
    # Branches (migration 0005): the message this one follows (None for a conversation's first), and
    # the message's type, so a branch is found from these small columns without parsing messages.
    Column("parent_msg_id", Text),
    Column("msg_type", Text),
)

context_messages = Table(
    "context_messages",
    metadata,
    Column("session_id", Text, ForeignKey("sessions.session_id", ondelete="CASCADE"), primary_key=True),
    Column("updated_at", Timestamp, nullable=False),
    Column("messages", JSONDocument, nullable=False),
)


# -- Branches (migration 0005) -----------------------------------------------------------------------
# What one turn added to the model's context (its question, tool calls, results and answer), keyed by
# the turn's input message: a branch's context is rebuilt from the turns on its path.
turn_contexts = Table(
    "turn_contexts",
    metadata,
    Column("session_id", Text, ForeignKey("sessions.session_id", ondelete="CASCADE"), primary_key=True),
    Column("msg_id", Text, primary_key=True),
    Column("updated_at", Timestamp, nullable=False),
    Column("messages", JSONDocument, nullable=False),
)

# Per session: ``view_tip``, the message whose branch is shown (the branch continues from it to its
# newest descendant); ``context_tip``, the input message whose turn last wrote ``context_messages``
# (that row is the branch's whole context, trims included, only for turns following that one).
branch_state = Table(
    "branch_state",
    metadata,
    Column("session_id", Text, ForeignKey("sessions.session_id", ondelete="CASCADE"), primary_key=True),
    Column("view_tip", Text),
    Column("context_tip", Text),
    Column("updated_at", Timestamp, nullable=False),
)

# -- usage and budgets (issue 12) ------------------------------------------------------------------
# An 8-byte float (USD, milliseconds), as Timestamp.
Real = Double().with_variant(REAL(), "sqlite")

# One row per model call. No foreign key to sessions: money spent stays spent (the daily total and the
# Usage page keep counting it) when its chat is deleted.
llm_calls = Table(
    "llm_calls",
    metadata,
    Column("call_id", Text, primary_key=True),
    Column("session_id", Text, nullable=False),
    Column("msg_id", Text),
    Column("agent", Text),  # None: the reasoning engine's own call
    Column("model", Text),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cached_tokens", Integer, nullable=False),
    Column("cost_usd", Real),  # None: LiteLLM has no price
    Column("latency_ms", Real),
    Column("outcome", Text, nullable=False),  # "success" or the LLMErrorType
    Column("created_at", Timestamp, nullable=False),
    Column("day", Text, nullable=False),  # UTC date, YYYY-MM-DD: the daily budget's and chart's unit
)
# Covering: GET /usage's range scans read only this index, never the table (5x faster on SQLite).
USAGE_INDEX_COLUMNS = (
    "created_at",
    "day",
    "model",
    "session_id",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_usd",
)
Index("llm_calls_created_at", *(llm_calls.c[name] for name in USAGE_INDEX_COLUMNS))
Index("llm_calls_session", llm_calls.c.session_id)

# Running totals per scope ("session" -> session id, "day" -> UTC date, "day_model" / "day_session" ->
# "YYYY-MM-DD|model or session id"), maintained in the same transaction as each llm_calls row: a budget
# check is two primary-key reads, and GET /usage sums whole days from here, however many calls exist.
usage_totals = Table(
    "usage_totals",
    metadata,
    Column("scope", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cached_tokens", Integer, nullable=False),
    Column("cost_usd", Real, nullable=False),
    Column("llm_calls", Integer, nullable=False),
    Column("unpriced_calls", Integer, nullable=False),
)


# -- Compaction (issue 13, migration 0006) ---------------------------------------------------------
# A summary the model wrote of a chat's oldest turns, to keep its context under the model's window.
# Keyed by the input message whose turn is the last one it covers (never by position: on another branch
# the same position is other messages); ``covered`` and ``digest`` say exactly which context messages it
# replaces (core/compaction.py), so it is reused only where they are the same.
context_summaries = Table(
    "context_summaries",
    metadata,
    Column("session_id", Text, ForeignKey("sessions.session_id", ondelete="CASCADE"), primary_key=True),
    Column("through_msg_id", Text, primary_key=True),
    Column("covered", Integer, nullable=False),
    Column("digest", Text, nullable=False),
    Column("summary", StoredText, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)
