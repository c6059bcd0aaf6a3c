"""``SQLDB``: every statement and the row mapping, written once (SQLAlchemy Core) for both backends.

``SQLiteDB`` and ``PostgresDB`` only build the engine (connections, pooling, pragmas). What still
differs between the two dialects is named in ``db/dialects.py``. Statements run on pooled DBAPI
connections (see ``db/prepared.py`` for why); errors raised to callers are the driver's own
(``sqlite3`` / ``psycopg``), as before this layer existed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, and_, bindparam, delete, or_, select, update
from sqlalchemy.exc import DBAPIError

from director.db import dialects
from director.db.base import (
    SESSION_SETTINGS,
    BaseDB,
    DatabaseClosedError,
    check_context,
    check_context_summary,
    check_message,
    check_metadata,
    check_session_id,
    check_session_settings,
    check_title,
    is_storable_id,
    message_created_at,
    now,
    storage_alarm,
    to_json,
)
from director.db.chat_settings import ChatSettingsStatements, apply_chat_settings, check_chat_settings
from director.db.migrate import migrate
from director.db.prepared import Prepared
from director.db.schema import branch_state, context_messages, conversations, sessions, turn_contexts
from director.db.search import SearchStatements, check_search
from director.db.summary_statements import SummaryStatements
from director.db.turn_statements import TurnStatements
from director.db.usage_statements import (
    GROUP_SCOPE,
    TOTALS_SLOTS,
    UsageGroup,
    UsageScope,
    UsageStatements,
    as_totals,
    call_row,
    group_key,
    merge,
    ordered,
    slot_values,
    totals_increments,
    utc_day,
    whole_days,
    zero_totals,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _Statements:
    """Built once per engine: the dialect compiles each, picks the upsert construct and tie-break."""

    def __init__(self, engine: Engine):
        dialect = engine.dialect
        name = dialect.name
        sid = sessions.c.session_id
        insert_session = dialects.insert(name, sessions)
        self.create_session = Prepared(insert_session.on_conflict_do_nothing(index_elements=[sid]), dialect)
        # Creating the session row in the same statement as the bump means a message is never
        # dropped (or refused by the foreign key) because its session row was not written first.
        self.touch_session = Prepared(dialects.upsert(name, sessions, [sid], ["updated_at"]), dialect)
        self.get_session = Prepared(select(sessions).where(sid == bindparam("sid")), dialect)
        self.get_sessions = Prepared(
            select(sessions).order_by(sessions.c.updated_at.desc(), sessions.c.created_at.desc(), sid),
            dialect,
        )
        bump = update(sessions).where(sid == bindparam("sid"))
        self.bump_session = Prepared(bump.values(updated_at=bindparam("ts")), dialect)
        self.rename_session = Prepared(
            bump.values(
                updated_at=bindparam("ts"), title=bindparam("new_title", type_=sessions.c.title.type)
            ),
            dialect,
        )
        # Conversations and context go with the session through ON DELETE CASCADE.
        self.delete_session = Prepared(delete(sessions).where(sid == bindparam("sid")), dialect)

        conv = conversations.c
        self.upsert_message = Prepared(
            dialects.upsert(
                name, conversations, [conv.session_id, conv.msg_id], ["conv_id", "updated_at", "message"]
            ),
            dialect,
        )
        # Equal creation times keep insertion order; an upsert keeps the row's original position.
        self.get_conversations = Prepared(
            select(conv.message)
            .where(conv.session_id == bindparam("sid"))
            .order_by(conv.created_at, dialects.insertion_order(name, conversations)),
            dialect,
        )

        ctx = context_messages.c
        self.upsert_context = Prepared(
            dialects.upsert(name, context_messages, [ctx.session_id], ["updated_at", "messages"]), dialect
        )
        # Output messages a dead process left "in progress" (the start-up repair); FOR UPDATE on
        # PostgreSQL (SQLite's write transaction already holds the only write lock).
        self.unfinished = Prepared(
            select(conv.session_id, conv.msg_id, conv.message)
            .where(
                conv.updated_at < bindparam("before"),
                dialects.json_text_field(name, conv.message, "msg_type") == "output",
                dialects.json_text_field(name, conv.message, "status") == "progress",
            )
            .with_for_update(),
            dialect,
        )
        self.rewrite_message = Prepared(
            update(conversations)
            .where(conv.session_id == bindparam("sid"), conv.msg_id == bindparam("mid"))
            .values(message=bindparam("new_message", type_=conv.message.type), updated_at=bindparam("ts")),
            dialect,
        )
        self.get_context = Prepared(select(ctx.messages).where(ctx.session_id == bindparam("sid")), dialect)
        self.health = Prepared(select(sid).limit(1), dialect)
        # -- cluster turn leases: the repair of one session's cut answers, and where to look for them
        unfinished_output = (
            dialects.json_text_field(name, conv.message, "msg_type") == "output",
            dialects.json_text_field(name, conv.message, "status") == "progress",
        )
        self.unfinished_of_session = Prepared(
            select(conv.session_id, conv.msg_id, conv.message)
            .where(conv.session_id == bindparam("sid"), *unfinished_output)
            .with_for_update(),
            dialect,
        )
        # The same question without the row locks: asked first, since the answer is almost always none.
        self.any_unfinished_of_session = Prepared(
            select(conv.msg_id).where(conv.session_id == bindparam("sid"), *unfinished_output).limit(1),
            dialect,
        )
        self.unfinished_sessions = Prepared(
            select(conv.session_id).where(*unfinished_output).distinct(), dialect
        )
        # -- per-chat model settings (issue 11) --
        self.set_session_settings = Prepared(
            bump.values(
                model=bindparam("model", type_=sessions.c.model.type),
                reasoning_effort=bindparam("reasoning_effort", type_=sessions.c.reasoning_effort.type),
            ),
            dialect,
        )
        self.branches = _BranchStatements(engine)


class _BranchStatements:
    """Branches (issue 13): the message tree, each turn's context, the shown branch."""

    def __init__(self, engine: Engine):
        dialect = engine.dialect
        name = dialect.name
        conv = conversations.c
        in_session = conv.session_id == bindparam("sid")
        self.tree = Prepared(
            select(conv.msg_id, conv.parent_msg_id, conv.msg_type)
            .where(in_session)
            .order_by(conv.created_at, dialects.insertion_order(name, conversations)),
            dialect,
        )
        self.message = Prepared(
            select(conv.message, conv.parent_msg_id).where(in_session, conv.msg_id == bindparam("mid")),
            dialect,
        )
        state = branch_state.c
        self.state = Prepared(
            select(state.view_tip, state.context_tip).where(state.session_id == bindparam("sid")), dialect
        )

        def upsert_state(column: str) -> Prepared:
            """Set one of the two tips, leaving the other as it is."""
            return Prepared(
                dialects.upsert(name, branch_state, [state.session_id], [column, "updated_at"]), dialect
            )

        self.upsert_view_tip = upsert_state("view_tip")
        self.upsert_context_tip = upsert_state("context_tip")
        s = sessions.c
        newest_first = (s.updated_at.desc(), s.created_at.desc(), s.session_id)
        self.first_sessions = Prepared(
            select(sessions).order_by(*newest_first).limit(bindparam("n")), dialect
        )
        u, c, sid = (
            bindparam("u", type_=s.updated_at.type),
            bindparam("c", type_=s.created_at.type),
            bindparam("s"),
        )
        self.sessions_after = Prepared(
            select(sessions)
            .where(
                or_(
                    s.updated_at < u,
                    and_(s.updated_at == u, s.created_at < c),
                    and_(s.updated_at == u, s.created_at == c, s.session_id > sid),
                )
            )
            .order_by(*newest_first)
            .limit(bindparam("n")),
            dialect,
        )
        turn = turn_contexts.c
        self.turn_context = Prepared(
            select(turn.messages).where(turn.session_id == bindparam("sid"), turn.msg_id == bindparam("mid")),
            dialect,
        )
        self.upsert_turn_context = Prepared(
            dialects.upsert(name, turn_contexts, [turn.session_id, turn.msg_id], ["updated_at", "messages"]),
            dialect,
        )


def _new_session(session_id: str, ts: float, title: str | None = None, metadata_json: str = "{}") -> dict:
    return {
        "session_id": session_id,
        "title": title,
        "created_at": ts,
        "updated_at": ts,
        "metadata": metadata_json,
        "model": None,
        "reasoning_effort": None,
    }


def _message_row(message: dict[str, Any], ts: float) -> dict[str, Any]:
    return {
        "session_id": message["session_id"],
        "msg_id": message["msg_id"],
        "conv_id": message.get("conv_id"),
        "created_at": message_created_at(message, ts),
        "updated_at": ts,
        "message": to_json(message),
        "parent_msg_id": message.get("parent_msg_id"),
        "msg_type": message.get("msg_type"),
    }


def _end_autocommit(conn: Any) -> None:
    """Back to transactions (what every write expects) before the connection returns to the pool."""
    dbapi_connection = conn.dbapi_connection
    if dbapi_connection is None:  # invalidated already (the connection was lost)
        return
    try:
        dbapi_connection.autocommit = False
    except Exception:
        # A broken connection refuses the change: invalidated, the pool never hands it out again.
        logger.debug("could not leave autocommit; dropping the connection", exc_info=True)
        conn.invalidate()


class SQLDB(BaseDB):
    """The BaseDB contract over a SQLAlchemy engine. Subclasses build the engine and name ``where``."""

    def __init__(self, engine: Engine, where: str):
        self._engine = engine
        self._dialect = engine.dialect
        self._begin_write = dialects.begin_write(engine.dialect.name)
        self._reads_in_autocommit = dialects.reads_in_autocommit(engine.dialect.name)
        self._where = where
        self._sql = _Statements(engine)
        self._usage = UsageStatements(engine)
        self._schema_ready = False
        self._closed = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._where!r})"

    # -- connections -----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Bring the schema up to date (once per handle; migrations run once per database).

        Raises ``ConfigError`` when the database was made by a newer Director.
        """
        with self._lock:
            if self._closed:
                raise DatabaseClosedError(f"{self!r} is closed")
            if not self._schema_ready:
                with self._migration_transaction() as conn:
                    migrate(conn, self._where)
                self._schema_ready = True

    @contextmanager
    def _migration_transaction(self) -> Iterator[Connection]:
        """A SQLAlchemy connection (what Alembic runs on) in one write transaction."""
        with self._engine.connect() as conn:
            if self._begin_write:
                conn.exec_driver_sql(self._begin_write)
            yield conn
            conn.commit()

    def _run(self, work: Callable[[Any], T], *, write: bool = False) -> T:
        """Run ``work(cursor)`` in one transaction: committed when it returns, rolled back if it raises.

        A full disk becomes ``StorageFullError`` (nothing of the transaction was written), reported to
        the operator by ``storage_alarm``; a write that succeeds tells the alarm the disk has room again.

        A PostgreSQL restart leaves every pooled connection dead. On the first one found dead, the whole
        pool is replaced at once (no per-connection back-off) and the work is retried once: only when
        the connection broke, so nothing was committed, and every write here is an idempotent upsert,
        update or delete anyway.
        """
        if self._closed:
            raise DatabaseClosedError(f"{self!r} is closed")
        for attempt in (1, 2):
            if not self._schema_ready:
                try:
                    self.prepare()
                except DBAPIError as exc:
                    if exc.orig is None:
                        raise
                    raise exc.orig from exc  # the driver's own error, as from the statements below
            conn = self._engine.raw_connection()  # pooled; close() gives it back
            autocommit = self._reads_in_autocommit and not write
            try:
                if autocommit:
                    conn.dbapi_connection.autocommit = True  # type: ignore[union-attr]
                cursor = conn.cursor()
                if write and self._begin_write:
                    cursor.execute(self._begin_write)
                result = work(cursor)
                # Reads too: psycopg opened a transaction for them, and ending it here is cheaper
                # than the pool's reset on check-in (SQLite's reads took none: a no-op there).
                conn.commit()
                if write:
                    storage_alarm.wrote(self._where)
                return result
            except BaseException as exc:
                if isinstance(exc, self._dialect.loaded_dbapi.Error) and self._dialect.is_disconnect(
                    exc, conn.dbapi_connection, None
                ):
                    conn.invalidate(exc)
                    self._engine.dispose()  # the other pooled connections died with it
                    if attempt == 1:
                        logger.warning("connection to %s was lost (%s); retrying once", self._where, exc)
                        continue
                else:
                    try:
                        conn.rollback()  # SQLite may have rolled back already (it does on SQLITE_FULL)
                    except Exception:
                        # The original error is the one worth raising; the pool resets or drops it.
                        logger.warning("rollback on %s failed", self._where, exc_info=True)
                    if write and dialects.is_disk_full(self._dialect.name, exc):
                        raise storage_alarm.full(self._where, exc) from exc
                raise
            finally:
                if autocommit:
                    _end_autocommit(conn)
                conn.close()
        raise AssertionError("unreachable")

    # -- sessions --------------------------------------------------------------------------------

    def create_session(
        self, session_id: str, title: str | None = None, metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        check_session_id(session_id)
        check_title(title)
        row = _new_session(session_id, now(), title, to_json(check_metadata(metadata)))

        def work(cursor: Any) -> dict[str, Any] | None:
            self._sql.create_session.run(cursor, row)
            return self._sql.get_session.first(cursor, {"sid": session_id})

        session = self._run(work, write=True)
        assert session is not None  # just written, in the same transaction
        return session

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        if not is_storable_id(session_id):
            return None  # could never have been stored; PostgreSQL would reject it in a query
        return self._run(lambda cursor: self._sql.get_session.first(cursor, {"sid": session_id}))

    def get_sessions(self) -> list[dict[str, Any]]:
        return self._run(lambda cursor: self._sql.get_sessions.all(cursor))

    def update_session(self, session_id: str, title: str | None = None) -> None:
        check_title(title)
        if not is_storable_id(session_id):
            return
        values = {"sid": session_id, "ts": now(), "new_title": title}
        statement = self._sql.bump_session if title is None else self._sql.rename_session
        self._run(lambda cursor: statement.run(cursor, values), write=True)

    def delete_session(self, session_id: str) -> bool:
        if not is_storable_id(session_id):
            return False
        cursor = self._run(
            lambda cursor: self._sql.delete_session.run(cursor, {"sid": session_id}), write=True
        )
        return cursor.rowcount > 0

    # -- conversation ----------------------------------------------------------------------------

    def add_or_update_msg_to_conv(self, message: dict[str, Any]) -> None:
        check_message(message)
        self._run(self._message_write(message, now()), write=True)

    def _message_write(self, message: dict[str, Any], ts: float) -> Callable[[Any], None]:
        """The statements of ``add_or_update_msg_to_conv`` (``message`` checked), its row built now."""
        session_id = message["session_id"]
        row = _message_row(message, ts)

        def write(cursor: Any) -> None:
            self._sql.touch_session.run(cursor, _new_session(session_id, ts))
            self._sql.upsert_message.run(cursor, row)
            self._search.index(cursor, message)  # search: in the same transaction

        return write

    def get_conversations(self, session_id: str) -> list[dict[str, Any]]:
        if not is_storable_id(session_id):
            return []
        rows = self._run(lambda cursor: self._sql.get_conversations.all(cursor, {"sid": session_id}))
        return [row["message"] for row in rows]

    # -- context ---------------------------------------------------------------------------------

    def get_context_messages(self, session_id: str) -> list[dict[str, Any]]:
        if not is_storable_id(session_id):
            return []
        row = self._run(lambda cursor: self._sql.get_context.first(cursor, {"sid": session_id}))
        return row["messages"] if row else []

    def add_or_update_context_msg(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        check_session_id(session_id)
        row = {"session_id": session_id, "updated_at": now(), "messages": to_json(check_context(messages))}

        def work(cursor: Any) -> None:
            self._sql.create_session.run(cursor, _new_session(session_id, row["updated_at"]))
            self._sql.upsert_context.run(cursor, row)

        self._run(work, write=True)

    def finish_unfinished_messages(
        self, updated_before: float, finish: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> int:
        return self._run(
            lambda cursor: self._rewrite(
                cursor, self._sql.unfinished.all(cursor, {"before": updated_before}), finish
            ),
            write=True,
        )

    def _rewrite(
        self, cursor: Any, rows: list[dict[str, Any]], finish: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> int:
        ts = now()
        for row in rows:
            values = {"sid": row["session_id"], "mid": row["msg_id"], "ts": ts}
            self._sql.rewrite_message.run(cursor, {**values, "new_message": to_json(finish(row["message"]))})
        return len(rows)

    # -- lifecycle -------------------------------------------------------------------------------

    def health_check(self) -> bool:
        try:
            self._run(lambda cursor: self._sql.health.all(cursor))
            return True
        except Exception as exc:
            # Driver messages name host, port and user but never the password.
            logger.warning("%s health check failed: %s", self, exc)
            return False

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._engine.dispose()

    # -- usage and budgets (issue 12) ------------------------------------------------------------

    def record_llm_call(self, call: dict[str, Any]) -> None:
        check_session_id(call.get("session_id"))
        row = call_row(call, now())
        increments = totals_increments(row)

        def work(cursor: Any) -> None:
            self._usage.insert_call.run(cursor, row)
            self._usage.add_to_totals.run_many(cursor, increments)

        self._run(work, write=True)

    def get_usage_totals(self, session_id: str) -> dict[str, Any]:
        if not is_storable_id(session_id):
            return zero_totals()
        values = {"scope": UsageScope.SESSION.value, "key": session_id}
        return as_totals(self._run(lambda cursor: self._usage.totals_of.first(cursor, values)))

    def get_all_session_totals(self) -> dict[str, dict[str, Any]]:
        rows = self._run(lambda cursor: self._usage.session_totals.all(cursor))
        return {row["key"]: as_totals(row) for row in rows}

    def get_session_totals(self, session_ids: list[str]) -> dict[str, dict[str, Any]]:
        keys = list(dict.fromkeys(sid for sid in session_ids if is_storable_id(sid)))
        pieces = [keys[i : i + TOTALS_SLOTS] for i in range(0, len(keys), TOTALS_SLOTS)]

        def work(cursor: Any) -> list[dict[str, Any]]:
            statement = self._usage.totals_of_sessions
            return [row for piece in pieces for row in statement.all(cursor, slot_values(piece))]

        rows = self._run(work) if pieces else []
        return {row["key"]: as_totals(row) for row in rows}

    def get_spend(self, session_id: str, day: str) -> tuple[float, float]:
        rows = self._run(lambda cursor: self._usage.spend.all(cursor, {"sid": session_id, "day": day}))
        spent = {row["scope"]: float(row["cost_usd"] or 0.0) for row in rows}
        return spent.get(UsageScope.SESSION.value, 0.0), spent.get(UsageScope.DAY.value, 0.0)

    def usage_report(
        self, since: float, until: float, group_by: str, limit: int = 20
    ) -> list[dict[str, Any]]:
        group = UsageGroup(group_by)
        scope = GROUP_SCOPE[group]
        days = whole_days(since, until)
        # Calls themselves are scanned only in the partial days at the range's ends.
        scans = [(since, until)] if days is None else [(since, days[0]), (days[1], until)]

        def work(cursor: Any) -> dict[str, dict[str, Any]]:
            merged: dict[str, dict[str, Any]] = {}
            for start, end in scans:
                if start < end:
                    merge(self._usage.report[group].all(cursor, {"since": start, "until": end}), merged)
            if days is not None:
                bounds = {"scope": scope.value, "first": utc_day(days[0]), "end": utc_day(days[1])}
                rows = self._usage.whole_days.all(cursor, bounds)
                merge([{**row, "key": group_key(scope, row["key"])} for row in rows], merged)
            return merged

        rows = ordered(group, self._run(work), limit)
        if group is UsageGroup.SESSION:
            for row in rows:
                found = self._run(
                    lambda cursor, sid=row["key"]: self._usage.title.first(cursor, {"sid": sid})
                )
                row["title"] = found["title"] if found else None
        return rows

    # -- cluster turn leases ---------------------------------------------------------------------

    def unfinished_sessions(self) -> list[str]:
        return [
            row["session_id"] for row in self._run(lambda cursor: self._sql.unfinished_sessions.all(cursor))
        ]

    def finish_unfinished_messages_of(
        self, session_id: str, finish: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> int:
        if not is_storable_id(session_id):
            return 0
        values = {"sid": session_id}
        # Every turn on a cluster asks this when it claims its session, and the answer is almost always
        # none: a read first, without a write transaction's locks. The caller holds the lease, so nothing
        # else can leave an answer in progress there meanwhile.
        if self._run(lambda cursor: self._sql.any_unfinished_of_session.first(cursor, values)) is None:
            return 0
        return self._run(
            lambda cursor: self._rewrite(cursor, self._sql.unfinished_of_session.all(cursor, values), finish),
            write=True,
        )

    # -- search (issue 13: find chats by text) ---------------------------------------------------

    @cached_property
    def _search(self) -> SearchStatements:
        return SearchStatements(self._dialect.name)

    def search_messages(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        check_search(query, limit)
        return self._run(lambda cursor: self._search.run_search(cursor, query, limit))

    # -- rename and pin (issue 13) -----------------------------------------------------------------

    @cached_property
    def _chat_settings(self) -> ChatSettingsStatements:
        return ChatSettingsStatements(self._engine)

    def update_chat_settings(
        self, session_id: str, title: str | None = None, pinned: bool | None = None, by_user: bool = True
    ) -> dict[str, Any] | None:
        cleaned = check_chat_settings(title, pinned)
        if not is_storable_id(session_id):
            return None
        statements = self._chat_settings

        def work(cursor: Any) -> dict[str, Any] | None:
            row = statements.lock_row.first(cursor, {"sid": session_id})
            if row is None:
                return None
            if cleaned is not None and not by_user and (row["metadata"] or {}).get("title_by_user"):
                return row  # the user named this chat: a written title does not replace theirs
            metadata = apply_chat_settings(row["metadata"], cleaned, pinned, by_user)
            new_title = cleaned if cleaned is not None else row["title"]
            values = {"sid": session_id, "new_title": new_title, "new_metadata": to_json(metadata)}
            statements.write.run(cursor, values)
            return {**row, "title": new_title, "metadata": metadata}

        return self._run(work, write=True)

    # -- per-chat model settings (issue 11) --------------------------------------------------------

    def set_session_settings(self, session_id: str, changes: dict[str, str | None]) -> dict[str, Any] | None:
        changes = check_session_settings(changes)
        if not is_storable_id(session_id):
            return None

        def work(cursor: Any) -> dict[str, Any] | None:
            row = self._sql.get_session.first(cursor, {"sid": session_id})
            if row is None:
                return None
            merged = {name: row.get(name) for name in SESSION_SETTINGS} | changes
            self._sql.set_session_settings.run(cursor, {"sid": session_id, **merged})
            return {**row, **merged}

        return self._run(work, write=True)

    # -- Branches (issue 13) ---------------------------------------------------------------------

    def get_message_tree(self, session_id: str) -> list[dict[str, Any]]:
        if not is_storable_id(session_id):
            return []
        # Plain text columns: the driver's tuples need no result processing (a chat's whole tree is
        # read for every page, see bench/long_chat.py).
        rows = self._run(lambda cursor: self._sql.branches.tree.run(cursor, {"sid": session_id}).fetchall())
        return [{"msg_id": m, "parent_msg_id": p, "msg_type": t} for m, p, t in rows]

    def get_messages(self, session_id: str, msg_ids: list[str]) -> list[dict[str, Any]]:
        if not is_storable_id(session_id):
            return []
        ids = [msg_id for msg_id in msg_ids if is_storable_id(msg_id)]

        # One keyed lookup per message (a page is tens of them): a statement compiled once, where an
        # IN list would be compiled per page size.
        def work(cursor: Any) -> list[dict[str, Any]]:
            found = []
            for msg_id in ids:
                row = self._sql.branches.message.first(cursor, {"sid": session_id, "mid": msg_id})
                if row is not None:
                    found.append({**row["message"], "parent_msg_id": row["parent_msg_id"]})
            return found

        return self._run(work)

    def get_branch_state(self, session_id: str) -> dict[str, Any]:
        row = None
        if is_storable_id(session_id):
            row = self._run(lambda cursor: self._sql.branches.state.first(cursor, {"sid": session_id}))
        return row or {"view_tip": None, "context_tip": None}

    def set_view_tip(self, session_id: str, msg_id: str) -> None:
        check_session_id(session_id)
        if not is_storable_id(msg_id):
            raise ValueError("msg_id must be a non-empty string without NUL characters")
        row = {"session_id": session_id, "view_tip": msg_id, "context_tip": None, "updated_at": now()}
        self._run(lambda cursor: self._sql.branches.upsert_view_tip.run(cursor, row), write=True)

    def get_turn_contexts(self, session_id: str, msg_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        if not is_storable_id(session_id):
            return {}

        def work(cursor: Any) -> dict[str, list[dict[str, Any]]]:
            found = {}
            for msg_id in msg_ids:
                row = self._sql.branches.turn_context.first(cursor, {"sid": session_id, "mid": msg_id})
                if row is not None:
                    found[msg_id] = row["messages"]
            return found

        return self._run(work)

    def save_turn_context(
        self, session_id: str, msg_id: str, turn_messages: list[dict[str, Any]], context: list[dict[str, Any]]
    ) -> None:
        ts = now()
        write = self._turn_context_write(session_id, msg_id, turn_messages, context, ts)

        def work(cursor: Any) -> None:
            self._sql.create_session.run(cursor, _new_session(session_id, ts))
            write(cursor)

        self._run(work, write=True)

    def save_message_and_turn_context(
        self,
        message: dict[str, Any],
        msg_id: str,
        turn_messages: list[dict[str, Any]],
        context: list[dict[str, Any]],
    ) -> None:
        check_message(message)
        ts = now()  # one time for the rows of one write
        write_context = self._turn_context_write(message["session_id"], msg_id, turn_messages, context, ts)
        write_message = self._message_write(message, ts)

        def work(cursor: Any) -> None:
            write_message(cursor)  # creates the session row the context rows refer to
            write_context(cursor)

        self._run(work, write=True)

    def _turn_context_write(
        self,
        session_id: str,
        msg_id: str,
        turn_messages: list[dict[str, Any]],
        context: list[dict[str, Any]],
        ts: float,
    ) -> Callable[[Any], None]:
        """The statements of ``save_turn_context`` but the session row's, rows checked and built now."""
        check_session_id(session_id)
        if not is_storable_id(msg_id):
            raise ValueError("msg_id must be a non-empty string without NUL characters")
        turn_row = {"session_id": session_id, "msg_id": msg_id, "updated_at": ts}
        turn_row["messages"] = to_json(check_context(turn_messages))
        context_row = {
            "session_id": session_id,
            "updated_at": ts,
            "messages": to_json(check_context(context)),
        }
        state_row = {"session_id": session_id, "view_tip": None, "context_tip": msg_id, "updated_at": ts}

        def write(cursor: Any) -> None:
            self._sql.branches.upsert_turn_context.run(cursor, turn_row)
            self._sql.upsert_context.run(cursor, context_row)
            self._sql.branches.upsert_context_tip.run(cursor, state_row)

        return write

    def get_sessions_page(
        self, limit: int, after: tuple[float, float, str] | None = None
    ) -> list[dict[str, Any]]:
        statements = self._sql.branches
        if after is None:
            return self._run(lambda cursor: statements.first_sessions.all(cursor, {"n": limit}))
        values = {"n": limit, "u": after[0], "c": after[1], "s": after[2]}
        return self._run(lambda cursor: statements.sessions_after.all(cursor, values))

    # -- compaction (issue 13): summaries of a chat's oldest turns ---------------------------------

    @cached_property
    def _summaries(self) -> SummaryStatements:
        return SummaryStatements(self._engine)

    def save_context_summary(self, session_id: str, summary: dict[str, Any]) -> None:
        check_session_id(session_id)
        row = {"session_id": session_id, **check_context_summary(summary), "created_at": now()}
        self._run(lambda cursor: self._summaries.upsert.run(cursor, row), write=True)

    def get_context_summaries(self, session_id: str) -> list[dict[str, Any]]:
        if not is_storable_id(session_id):
            return []
        return self._run(lambda cursor: self._summaries.of_session.all(cursor, {"sid": session_id}))

    # -- a turn's start in one transaction (perf-single) -------------------------------------------

    @cached_property
    def _turn(self) -> TurnStatements:
        return TurnStatements(self._engine)

    def save_input_message(self, message: dict[str, Any], title: str | None = None) -> None:
        check_message(message)
        check_title(title)
        ts = now()
        session_id = message["session_id"]
        row = _message_row(message, ts)
        tip = {"session_id": session_id, "view_tip": message["msg_id"], "context_tip": None, "updated_at": ts}
        touch = self._sql.touch_session if title is None else self._turn.touch_titled

        def work(cursor: Any) -> None:
            touch.run(cursor, _new_session(session_id, ts, title))
            self._sql.upsert_message.run(cursor, row)
            self._search.index(cursor, message)
            self._sql.branches.upsert_view_tip.run(cursor, tip)

        self._run(work, write=True)
