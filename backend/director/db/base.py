"""The storage contract every backend implements, plus the input checks they share.

Messages are stored as given (the JSON dump of an ``InputMessage``/``OutputMessage``) and returned
equal, so the DB never needs to know the core's models. Timestamps are epoch seconds (float).
Every method is safe to call from many threads at once; every write is one transaction.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from director.errors import StorageFullError
from director.log_throttle import ThrottledLog

logger = logging.getLogger("director.db")

# A full disk refuses every write; one line a minute tells the operator without flooding the log.
STORAGE_FULL_LOG_INTERVAL_S = 60.0


class DBType(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


class DatabaseClosedError(RuntimeError):
    """A call was made after ``close()``: a lifecycle bug in the caller, not a user error."""


def now() -> float:
    return time.time()


class StorageAlarm:
    """Tells the operator about a full disk: one log line a minute while writes are refused, and one
    line once they succeed again. Shared by every backend in the process.

    A nearly full disk still takes small writes between refused big ones: a write succeeding within
    ``quiet_s`` of a refusal is not a recovery, or the two lines would alternate with every request.
    """

    KEY = "storage-full"
    RECOVERED_KEY = "storage-writable"

    def __init__(self, interval_s: float = STORAGE_FULL_LOG_INTERVAL_S, quiet_s: float = 1.0):
        self.quiet_s = quiet_s
        self._log = ThrottledLog(logger, every_s=interval_s)
        self._lock = threading.Lock()
        self._full = False
        self._last_refused = float("-inf")

    def full(self, where: str, cause: BaseException) -> StorageFullError:
        """Record a refused write; returns the error to raise (the caller raises it from ``cause``)."""
        with self._lock:
            self._full = True
            self._last_refused = time.monotonic()
        reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        self._log.log(
            logging.ERROR,
            self.KEY,
            "STORAGE FULL: the database at %s cannot write (%s). Clients are told to retry later. "
            "Free disk space; no restart is needed.",
            where,
            reason,
        )
        return StorageFullError(where)

    def wrote(self, where: str) -> None:
        """A write succeeded: if the disk was full (and has not refused one lately), say it is not."""
        if not self._full:  # the common case: no lock
            return
        with self._lock:
            recovered = self._full and time.monotonic() - self._last_refused >= self.quiet_s
            if recovered:
                self._full = False
        if recovered:
            # Both lines stay once a minute: a nearly full disk takes small writes (usage rows, a saved
            # stream) and refuses big ones, so full and writable can alternate every second.
            self._log.log(
                logging.WARNING,
                self.RECOVERED_KEY,
                "storage writable again: the database at %s accepts writes",
                where,
            )


storage_alarm = StorageAlarm()


def is_storable_id(value: Any) -> bool:
    """Ids are keys in every backend: non-empty text PostgreSQL can hold (no NUL, valid UTF-8)."""
    if not isinstance(value, str) or not value or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_session_id(session_id: Any) -> str:
    if not is_storable_id(session_id):
        raise ValueError("session_id must be a non-empty string without NUL characters")
    return session_id


def check_title(title: Any) -> str | None:
    if title is not None and not isinstance(title, str):
        raise ValueError(f"title must be a string or None, got {type(title).__name__}")
    return title


def check_message(message: Any) -> dict[str, Any]:
    """Reject messages that cannot be keyed before touching the DB, so nothing half-written remains."""
    if not isinstance(message, dict):
        raise ValueError(f"message must be a dict, got {type(message).__name__}")
    check_session_id(message.get("session_id"))
    if not is_storable_id(message.get("msg_id")):
        raise ValueError("message must have a non-empty string msg_id without NUL characters")
    conv_id = message.get("conv_id")
    if conv_id is not None and not is_storable_id(conv_id):
        raise ValueError("message conv_id must be None or a non-empty string without NUL characters")
    return message


def check_context(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ValueError("context must be a list of message dicts")
    return messages


def check_metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}")
    return metadata


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """Serialise before any transaction starts, so a value that is not JSON fails with nothing written.

    ``ensure_ascii`` keeps lone surrogates and NULs as escapes, which any TEXT column can hold.
    NaN and infinities (which pydantic lets through) are not JSON and PostgreSQL refuses them: they
    are stored as null rather than losing the whole message over one number.
    """
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise ValueError(f"value is not JSON-serialisable: {exc}") from exc
        return to_json(_finite(value))
    except TypeError as exc:
        raise ValueError(f"value is not JSON-serialisable: {exc}") from exc


def message_created_at(message: dict[str, Any], default: float) -> float:
    """The creation time used to order a conversation: the message's own, when it has one."""
    created_at = message.get("created_at")
    if isinstance(created_at, int | float) and not isinstance(created_at, bool):
        return float(created_at)
    return default


class BaseDB(ABC):
    """Sessions, their conversation (input/output messages) and their saved LLM context."""

    db_type: DBType

    def prepare(self) -> None:  # noqa: B027 (optional hook: a backend without a schema has nothing to do)
        """Bring the schema up to date now (otherwise done on first use). ``ConfigError`` when the
        database was made by a newer version. Called once by the server at start-up."""

    @abstractmethod
    def create_session(
        self, session_id: str, title: str | None = None, metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Create the session, or return the existing one unchanged (idempotent)."""

    @abstractmethod
    def get_session(self, session_id: str) -> dict[str, Any] | None:
        """``{session_id, title, created_at, updated_at, metadata}`` or None when unknown."""

    @abstractmethod
    def get_sessions(self) -> list[dict[str, Any]]:
        """All sessions, most recently updated first."""

    @abstractmethod
    def update_session(self, session_id: str, title: str | None = None) -> None:
        """Set the title when given; always bump ``updated_at``. Unknown sessions are left alone."""

    @abstractmethod
    def delete_session(self, session_id: str) -> bool:
        """Remove the session with its conversation and context; False when it did not exist."""

    @abstractmethod
    def add_or_update_msg_to_conv(self, message: dict[str, Any]) -> None:
        """Upsert a message keyed by ``(session_id, msg_id)`` and bump the session's ``updated_at``.

        The session row is created if missing, so a message is never dropped for want of one.
        """

    @abstractmethod
    def get_conversations(self, session_id: str) -> list[dict[str, Any]]:
        """The session's messages in creation order (``[]`` when unknown)."""

    @abstractmethod
    def get_context_messages(self, session_id: str) -> list[dict[str, Any]]:
        """The saved model-facing context, ``[]`` when none was saved."""

    @abstractmethod
    def add_or_update_context_msg(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        """Replace the session's saved context with ``messages`` (created the session if missing)."""

    @abstractmethod
    def finish_unfinished_messages(
        self, updated_before: float, finish: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> int:
        """Replace every output message still ``status: "progress"`` whose row was last written before
        ``updated_before`` (epoch s) with ``finish(message)``, in one transaction. Returns how many.

        For rows a dead process left behind (run once at start-up). Sessions' ``updated_at`` is left
        alone: recovering a crashed answer is not activity in that session.
        """

    @abstractmethod
    def health_check(self) -> bool:
        """True when the DB answers a query; never raises."""

    @abstractmethod
    def close(self) -> None:
        """Release connections. Idempotent; later calls raise ``DatabaseClosedError``."""

    # -- usage and budgets (issue 12) ------------------------------------------------------------

    @abstractmethod
    def record_llm_call(self, call: dict[str, Any]) -> None:
        """Store one model call and add it to its session's and its UTC day's totals, in one transaction.

        ``call``: ``session_id``, ``msg_id``, ``agent`` (None for the engine's own call), ``model``,
        ``input_tokens``, ``output_tokens``, ``cached_tokens``, ``cost_usd`` (None: unpriced),
        ``latency_ms``, ``outcome``, optional ``created_at`` (epoch s, default now).
        """

    @abstractmethod
    def get_usage_totals(self, session_id: str) -> dict[str, Any]:
        """``{input_tokens, output_tokens, cached_tokens, cost_usd, llm_calls}`` of a session (zeros if none)."""

    @abstractmethod
    def get_all_session_totals(self) -> dict[str, dict[str, Any]]:
        """Every session's totals, by session id (sessions without a model call are absent)."""

    @abstractmethod
    def get_session_totals(self, session_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Those sessions' totals, by session id (a page of the chat list: it reads only these)."""

    @abstractmethod
    def get_spend(self, session_id: str, day: str) -> tuple[float, float]:
        """``(session's cost, UTC day's cost)`` in USD: what budgets are checked against."""

    @abstractmethod
    def usage_report(
        self, since: float, until: float, group_by: str, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Calls with ``since <= created_at < until`` summed per ``group_by`` (``day|model|session``):
        ``[{key, input_tokens, output_tokens, cached_tokens, cost_usd, llm_calls, unpriced_calls}]``
        (``title`` too per session). Days ascending; models and sessions by cost, highest first,
        sessions at most ``limit``."""

    # -- cluster turn leases (entrypoint/api/turn_leases.py) --------------------------------------

    @abstractmethod
    def unfinished_sessions(self) -> list[str]:
        """Sessions holding an output message still ``status: "progress"`` (a running turn's, or one
        a dead process cut). Where the cluster's repair looks after a restart of every process."""

    @abstractmethod
    def finish_unfinished_messages_of(
        self, session_id: str, finish: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> int:
        """Replace the session's output messages still ``status: "progress"`` with ``finish(message)``,
        in one transaction; returns how many. Only for a caller that knows no turn runs there (it
        holds the session's lease); sessions' ``updated_at`` is left alone. With none to replace, no write
        transaction is needed (on SQL, a read answers)."""

    # -- search (issue 13: find chats by text) ---------------------------------------------------

    @abstractmethod
    def search_messages(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Chats with a message matching every word of ``query`` (prefixes; case, and on SQLite accents,
        ignored), best first, one per chat: ``{session_id, title, updated_at, msg_id, snippet}`` where
        ``snippet`` is ``[{text, hit}]`` parts around the hits. ``ValueError`` for a query over
        ``search.MAX_QUERY_CHARS`` or a limit outside 1..``search.MAX_RESULTS``."""

    # -- rename and pin (issue 13) -----------------------------------------------------------------

    @abstractmethod
    def update_chat_settings(
        self, session_id: str, title: str | None = None, pinned: bool | None = None, by_user: bool = True
    ) -> dict[str, Any] | None:
        """Rename (``title``, spaces collapsed, 1-200 characters) and/or pin (``pinned``) a session; None
        leaves that part as it is, and ``updated_at`` is not touched. Returns the session, None when
        unknown. ``by_user=False`` (a title the model wrote) never replaces a title the user chose.
        ``ValueError`` for a bad title or a non-bool ``pinned``, before any write."""

    # -- Branches (issue 13): messages form a tree; each turn's context is kept -------------------

    @abstractmethod
    def get_message_tree(self, session_id: str) -> list[dict[str, Any]]:
        """Every message's ``{msg_id, parent_msg_id, msg_type}``, in creation order
        (``[]`` when unknown). Small rows: enough to find a branch without loading its messages."""

    @abstractmethod
    def get_messages(self, session_id: str, msg_ids: list[str]) -> list[dict[str, Any]]:
        """The messages with these ids, in that order (unknown ids left out), ``parent_msg_id`` set."""

    @abstractmethod
    def get_branch_state(self, session_id: str) -> dict[str, Any]:
        """``{view_tip, context_tip}`` (None each when never set): see ``schema.branch_state``."""

    @abstractmethod
    def set_view_tip(self, session_id: str, msg_id: str) -> None:
        """Show the branch through ``msg_id`` from now on (the session row must exist)."""

    @abstractmethod
    def get_turn_contexts(self, session_id: str, msg_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """What each of these turns (by input ``msg_id``) added to the model's context, when saved."""

    @abstractmethod
    def save_turn_context(
        self, session_id: str, msg_id: str, turn_messages: list[dict[str, Any]], context: list[dict[str, Any]]
    ) -> None:
        """One transaction: the turn's own messages, and ``context`` as the session's saved context,
        marked as the one following that turn (``context_tip``)."""

    def save_message_and_turn_context(
        self,
        message: dict[str, Any],
        msg_id: str,
        turn_messages: list[dict[str, Any]],
        context: list[dict[str, Any]],
    ) -> None:
        """``save_turn_context`` and ``add_or_update_msg_to_conv`` for ``message``'s session, together.

        For a turn's answer at the two moments it goes with the context: its first state with the context
        holding the question, and its final state with the context holding the answer. A backend with
        transactions writes both in one (a turn's writes are most of a server's database work); this
        default writes them one after the other, the context first.
        """
        self.save_turn_context(message["session_id"], msg_id, turn_messages, context)
        self.add_or_update_msg_to_conv(message)

    @abstractmethod
    def get_sessions_page(
        self, limit: int, after: tuple[float, float, str] | None = None
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` sessions in ``get_sessions`` order, starting after the session whose
        ``(updated_at, created_at, session_id)`` is ``after`` (keyset paging: no offsets to shift)."""

    # -- per-chat model settings (issue 11) --------------------------------------------------------

    @abstractmethod
    def set_session_settings(self, session_id: str, changes: dict[str, str | None]) -> dict[str, Any] | None:
        """Set some of the session's ``SESSION_SETTINGS`` (``model``, ``reasoning_effort``; None puts one
        back to the server's default), leaving the others and ``updated_at`` alone. Returns the
        session as ``get_session`` would, or None when unknown (nothing is created)."""

    # -- compaction (issue 13): summaries of a chat's oldest turns ---------------------------------

    @abstractmethod
    def save_context_summary(self, session_id: str, summary: dict[str, Any]) -> None:
        """Store (or replace) ``{through_msg_id, covered, digest, summary}``: the model's summary of the
        context messages up to the turn of input ``through_msg_id`` (see core/compaction.py). The session
        row must exist. ``ValueError`` for a bad field, before any write."""

    @abstractmethod
    def get_context_summaries(self, session_id: str) -> list[dict[str, Any]]:
        """The session's summaries, those covering most first (``[]`` when none or unknown)."""

    # -- a turn's start in one transaction (perf-single) -------------------------------------------

    @abstractmethod
    def save_input_message(self, message: dict[str, Any], title: str | None = None) -> None:
        """What a turn's start writes, in one transaction: the user's ``message`` as
        ``add_or_update_msg_to_conv`` stores it (the session row made when missing), the message as the
        tip of the branch shown (``set_view_tip``), and ``title`` as the chat's title when it has none."""


# -- per-chat model settings (issue 11) ------------------------------------------------------------

SESSION_SETTINGS = ("model", "reasoning_effort")


def check_session_settings(changes: Any) -> dict[str, str | None]:
    if not isinstance(changes, dict) or not set(changes) <= set(SESSION_SETTINGS):
        raise ValueError(f"session settings must be a dict with keys among {SESSION_SETTINGS}")
    if not all(value is None or isinstance(value, str) for value in changes.values()):
        raise ValueError("session settings must be strings or None")
    return dict(changes)


# -- compaction (issue 13) ------------------------------------------------------------------------


def check_context_summary(summary: Any) -> dict[str, Any]:
    """A summary row's fields, checked before any transaction."""
    if not isinstance(summary, dict):
        raise ValueError("a context summary must be a dict")
    through, covered, digest, text = (
        summary.get(k) for k in ("through_msg_id", "covered", "digest", "summary")
    )
    if not isinstance(through, str) or not is_storable_id(through):
        raise ValueError("through_msg_id must be a message id")
    if not isinstance(covered, int) or isinstance(covered, bool) or covered < 1:
        raise ValueError("covered must be a positive number of messages")
    if not isinstance(digest, str) or not digest:
        raise ValueError("digest must be a non-empty string")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("summary must be non-empty text")
    return {"through_msg_id": through, "covered": covered, "digest": digest, "summary": text}
