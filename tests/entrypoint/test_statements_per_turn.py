"""What a turn costs the database, counted on SQLite: write transactions and statements per turn stay
bounded (issues 12 and 13 added per-call and per-turn writes; they are batched, and must not grow back
unnoticed). The counts come from SQLite itself (its trace callback), so every statement is seen, however
it was sent."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event

from tests.entrypoint.conftest import ChatClient, Server
from tests.fakes.scripted_llm import text_response

# A one-call turn, as measured when these bounds were set: 5 write transactions (7 from issues 12-13 until
# the answer's first and final states each took the context along). They are: the input (with its session
# row, title and branch tip); the answer's first state with the context before the call; the answer's block
# made for its first streamed words; the call's usage (its row and four totals); the answer's final state
# with the context after the call (the turn's own share and the branch's context tip).
WRITES_PER_TURN = 5
# Our statements (SQLite's own full-text bookkeeping inside them not counted). A later turn also reads
# the branch state and the saved context.
STATEMENTS_NEW_CHAT = 26
STATEMENTS_LATER_TURN = 29


class StatementLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.statements: Counter[str] = Counter()

    def trace(self, sql: str) -> None:
        if sql.lstrip().startswith("--") or "'main'." in sql:
            return  # a statement SQLite runs inside one of ours (the full-text index's own tables)
        verb = " ".join(sql.split()[:3]).upper()
        with self._lock:
            self.statements[verb] += 1

    def clear(self) -> None:
        with self._lock:
            self.statements.clear()

    @property
    def writes(self) -> int:
        return self.statements["BEGIN IMMEDIATE"]

    @property
    def total(self) -> int:
        return sum(n for verb, n in self.statements.items() if verb not in ("BEGIN IMMEDIATE", "COMMIT"))


@pytest.fixture
def counted(make_server: Callable[..., Server]) -> Iterator[tuple[Server, StatementLog]]:
    server = make_server()
    log = StatementLog()
    engine = server.db._engine

    @event.listens_for(engine, "connect")
    def _trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(log.trace)

    engine.dispose()  # the pooled connections were opened before the listener: open new ones
    yield server, log


def one_turn(server: Server, client: ChatClient, payload: dict[str, Any]) -> dict[str, Any]:
    server.llm.queue(text_response("A short streamed answer for the benchmark turn."))
    before = len(client.of("chat"))
    client.emit("chat", payload)
    final = client.wait_for(
        lambda c: next(
            (m for m in c.of("chat")[before:] if m["msg_type"] == "output" and m["status"] != "progress"),
            None,
        )
    )
    server.wait_idle()
    assert final["status"] == "success"
    return final


def test_a_turn_costs_a_bounded_number_of_transactions_and_statements(
    counted: tuple[Server, StatementLog],
) -> None:
    server, log = counted
    client = server.client()
    log.clear()
    first = one_turn(server, client, {"content": "what do pelicans eat?"})
    assert log.writes <= WRITES_PER_TURN, log.statements
    assert log.total <= STATEMENTS_NEW_CHAT, log.statements

    log.clear()
    one_turn(server, client, {"content": "and owls?", "session_id": first["session_id"]})
    assert log.writes <= WRITES_PER_TURN, log.statements
    assert log.total <= STATEMENTS_LATER_TURN, log.statements
    # Nothing was dropped to get there: the chat, its title, usage and both turns are stored.
    session = server.db.get_session(first["session_id"])
    assert session is not None and session["title"] == "what do pelicans eat?"
    assert server.db.get_usage_totals(first["session_id"])["llm_calls"] == 2
    assert len(server.db.get_conversations(first["session_id"])) == 4
