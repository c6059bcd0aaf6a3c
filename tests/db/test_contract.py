"""The BaseDB contract, run unchanged against SQLite and a real PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from director.db.base import BaseDB, DatabaseClosedError


def input_message(session_id: str, msg_id: str, text: str, created_at: float | None = None) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "conv_id": "conv-1",
        "msg_id": msg_id,
        "msg_type": "input",
        "status": None,
        "actions": [],
        "agents": ["pricing"],
        "content": [
            {"type": "text", "status": "success", "status_message": None, "agent_name": None, "text": text}
        ],
        "stopped": False,
        "client_msg_id": f"client-{msg_id}",
        "created_at": created_at if created_at is not None else time.time(),
        "updated_at": None,
        "metadata": {},
    }


def output_message(session_id: str, msg_id: str, status: str = "progress", **extra: Any) -> dict[str, Any]:
    message = {
        "session_id": session_id,
        "conv_id": "conv-1",
        "msg_id": msg_id,
        "msg_type": "output",
        "status": status,
        "actions": ["Asked the model"],
        "agents": ["pricing"],
        "content": [
            {
                "type": "text",
                "status": "progress",
                "status_message": "Looking up prices",
                "agent_name": "pricing",
                "text": "",
                "data": {"models": [{"name": "gpt-4o", "input_cost": 2.5e-06, "vision": True}]},
            }
        ],
        "stopped": False,
        "client_msg_id": "client-1",
        "created_at": time.time(),
        "updated_at": time.time(),
        "metadata": {"tokens": 12},
    }
    message.update(extra)
    return message


# -- sessions --------------------------------------------------------------------------------------


def test_create_and_get_session_round_trip(db: BaseDB) -> None:
    before = time.time()
    created = db.create_session("s1", title="Prices", metadata={"origin": "ui", "tags": ["a", "b"]})
    assert created["session_id"] == "s1"
    assert created["title"] == "Prices"
    assert created["metadata"] == {"origin": "ui", "tags": ["a", "b"]}
    assert isinstance(created["created_at"], float) and before <= created["created_at"] <= time.time()
    assert created["updated_at"] == created["created_at"]
    assert db.get_session("s1") == created


def test_create_session_is_idempotent_and_keeps_the_original(db: BaseDB) -> None:
    first = db.create_session("s1", title="First", metadata={"v": 1})
    again = db.create_session("s1", title="Second", metadata={"v": 2})
    assert again == first
    assert db.get_session("s1") == first
    assert len(db.get_sessions()) == 1


def test_session_defaults_and_unknown_lookups(db: BaseDB) -> None:
    created = db.create_session("s1")
    assert created["title"] is None
    assert created["metadata"] == {}
    assert db.get_session("nope") is None
    assert db.get_conversations("nope") == []
    assert db.get_context_messages("nope") == []
    assert db.delete_session("nope") is False


def test_get_sessions_is_newest_first_by_updated_at(db: BaseDB) -> None:
    assert db.get_sessions() == []
    for session_id in ("a", "b", "c"):
        db.create_session(session_id)
        time.sleep(0.002)  # distinct timestamps, so the expected order is unambiguous
    assert [s["session_id"] for s in db.get_sessions()] == ["c", "b", "a"]

    db.update_session("a")
    assert [s["session_id"] for s in db.get_sessions()] == ["a", "c", "b"]

    time.sleep(0.002)
    db.add_or_update_msg_to_conv(input_message("b", "m1", "hello"))
    assert [s["session_id"] for s in db.get_sessions()] == ["b", "a", "c"]


def test_update_session_sets_title_and_bumps_updated_at(db: BaseDB) -> None:
    created = db.create_session("s1", title="Old")
    time.sleep(0.002)
    db.update_session("s1", title="New")
    renamed = db.get_session("s1")
    assert renamed["title"] == "New"
    assert renamed["updated_at"] > created["updated_at"]
    assert renamed["created_at"] == created["created_at"]

    time.sleep(0.002)
    db.update_session("s1")
    touched = db.get_session("s1")
    assert touched["title"] == "New"  # no title given: kept
    assert touched["updated_at"] > renamed["updated_at"]


def test_update_unknown_session_creates_nothing(db: BaseDB) -> None:
    db.update_session("ghost", title="Boo")
    assert db.get_session("ghost") is None
    assert db.get_sessions() == []


def test_delete_session_cascades_to_conversation_and_context(db: BaseDB) -> None:
    db.create_session("s1", title="Doomed")
    db.create_session("s2", title="Kept")
    for session_id in ("s1", "s2"):
        db.add_or_update_msg_to_conv(input_message(session_id, "m1", "hi"))
        db.add_or_update_msg_to_conv(output_message(session_id, "m2"))
        db.add_or_update_context_msg(session_id, [{"role": "user", "content": "hi"}])

    assert db.delete_session("s1") is True
    assert db.get_session("s1") is None
    assert db.get_conversations("s1") == []
    assert db.get_context_messages("s1") == []
    assert db.delete_session("s1") is False

    # A session re-created under the same id must not inherit orphaned rows.
    db.create_session("s1")
    assert db.get_conversations("s1") == []
    assert db.get_context_messages("s1") == []

    assert [m["msg_id"] for m in db.get_conversations("s2")] == ["m1", "m2"]
    assert db.get_context_messages("s2") == [{"role": "user", "content": "hi"}]


# -- conversation ----------------------------------------------------------------------------------


def test_messages_round_trip_equal_and_in_creation_order(db: BaseDB) -> None:
    db.create_session("s1")
    messages = [
        input_message("s1", "m1", "What does gpt-4o cost?"),
        output_message("s1", "m2", status="success"),
        input_message("s1", "m3", "And claude?"),
        output_message("s1", "m4", status="error", stopped=True),
    ]
    for message in messages:
        db.add_or_update_msg_to_conv(message)
    assert db.get_conversations("s1") == messages


def _mark_cut(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "status": "error", "content": [{**message["content"][0], "text": "cut"}]}


def test_finish_unfinished_messages_rewrites_only_progress_outputs_written_before(db: BaseDB) -> None:
    """Start-up repair of answers a killed server left "in progress": rewritten in storage, once."""
    db.create_session("s1")
    db.create_session("s2")
    kept = [
        input_message("s1", "in-1", "q"),
        output_message("s1", "done", status="success"),
        output_message("s1", "stopped", status="stopped", stopped=True),
    ]
    for message in [*kept, output_message("s1", "cut-1"), output_message("s2", "cut-2")]:
        db.add_or_update_msg_to_conv(message)
    sessions_before = db.get_sessions()
    cutoff = time.time()
    time.sleep(0.01)
    db.add_or_update_msg_to_conv(output_message("s2", "live"))  # a turn this process is running

    seen: list[str] = []

    def finish(message: dict[str, Any]) -> dict[str, Any]:
        seen.append(message["msg_id"])
        return _mark_cut(message)

    assert db.finish_unfinished_messages(cutoff, finish) == 2
    assert sorted(seen) == ["cut-1", "cut-2"]
    s1 = {m["msg_id"]: m for m in db.get_conversations("s1")}
    assert s1["cut-1"]["status"] == "error" and s1["cut-1"]["content"][0]["text"] == "cut"
    assert [s1[m["msg_id"]] for m in kept] == kept  # everything else untouched
    assert [m["msg_id"] for m in db.get_conversations("s1")] == ["in-1", "done", "stopped", "cut-1"]
    s2 = {m["msg_id"]: m for m in db.get_conversations("s2")}
    assert s2["cut-2"]["status"] == "error" and s2["live"]["status"] == "progress"
    # Recovery is not activity: the sessions keep their place in the list (s2 moved only for "live").
    assert db.get_session("s1") == next(s for s in sessions_before if s["session_id"] == "s1")
    # Once done, there is nothing left to do.
    assert db.finish_unfinished_messages(cutoff, finish) == 0


def test_finish_unfinished_messages_is_all_or_nothing(db: BaseDB) -> None:
    for msg_id in ("a", "b"):
        db.add_or_update_msg_to_conv(output_message("s1", msg_id))
    calls: list[str] = []

    def fail_on_second(message: dict[str, Any]) -> dict[str, Any]:
        calls.append(message["msg_id"])
        if len(calls) == 2:
            raise ValueError("boom")
        return _mark_cut(message)

    with pytest.raises(ValueError):
        db.finish_unfinished_messages(time.time() + 1, fail_on_second)
    assert [m["status"] for m in db.get_conversations("s1")] == ["progress", "progress"]


def test_order_follows_created_at_then_insertion(db: BaseDB) -> None:
    # The output is saved first (as a turn may do) but was created after its input.
    db.add_or_update_msg_to_conv(output_message("s1", "out", created_at=200.0))
    db.add_or_update_msg_to_conv(input_message("s1", "in", "q", created_at=100.0))
    # Equal timestamps (and messages without one) keep insertion order.
    db.add_or_update_msg_to_conv(input_message("s1", "tie-1", "a", created_at=300.0))
    db.add_or_update_msg_to_conv(input_message("s1", "tie-2", "b", created_at=300.0))
    assert [m["msg_id"] for m in db.get_conversations("s1")] == ["in", "out", "tie-1", "tie-2"]


def test_upsert_replaces_the_message_in_place(db: BaseDB) -> None:
    db.add_or_update_msg_to_conv(input_message("s1", "m1", "q"))
    progress = output_message("s1", "m2", status="progress")
    db.add_or_update_msg_to_conv(progress)
    db.add_or_update_msg_to_conv(input_message("s1", "m3", "later"))

    final = output_message("s1", "m2", status="success", created_at=progress["created_at"])
    final["content"][0]["status"] = "success"
    final["content"].append(
        {
            "type": "text",
            "status": "success",
            "status_message": None,
            "agent_name": "assistant",
            "text": "$2.50",
        }
    )
    db.add_or_update_msg_to_conv(final)

    conversation = db.get_conversations("s1")
    assert [m["msg_id"] for m in conversation] == ["m1", "m2", "m3"]  # one row, same position
    assert conversation[1] == final
    assert conversation[1] != progress


def test_message_keys_are_scoped_by_session(db: BaseDB) -> None:
    # The same msg_id in another session is another row: nobody overwrites someone else's message.
    db.add_or_update_msg_to_conv(input_message("alice", "m1", "alice's secret"))
    db.add_or_update_msg_to_conv(input_message("mallory", "m1", "overwritten?"))
    assert db.get_conversations("alice")[0]["content"][0]["text"] == "alice's secret"
    assert db.get_conversations("mallory")[0]["content"][0]["text"] == "overwritten?"


def test_message_for_a_missing_session_creates_it(db: BaseDB) -> None:
    message = input_message("fresh", "m1", "first words")
    db.add_or_update_msg_to_conv(message)
    session = db.get_session("fresh")
    assert session is not None and session["title"] is None
    assert db.get_conversations("fresh") == [message]


def test_adding_a_message_bumps_session_updated_at(db: BaseDB) -> None:
    created = db.create_session("s1")
    time.sleep(0.002)
    db.add_or_update_msg_to_conv(output_message("s1", "m1"))
    assert db.get_session("s1")["updated_at"] > created["updated_at"]


# -- context ---------------------------------------------------------------------------------------


def test_context_round_trip_and_replace(db: BaseDB) -> None:
    db.create_session("s1")
    assert db.get_context_messages("s1") == []
    step1 = [
        {"role": "system", "content": "You are Director."},
        {"role": "user", "content": "Price of gpt-4o?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "tool": {"name": "pricing", "arguments": {"models": ["x"]}},
                }
            ],
        },
    ]
    db.add_or_update_context_msg("s1", step1)
    assert db.get_context_messages("s1") == step1

    step2 = [*step1, {"role": "tool", "tool_call_id": "call_1", "content": '{"price": 2.5}'}]
    db.add_or_update_context_msg("s1", step2)
    assert db.get_context_messages("s1") == step2

    db.add_or_update_context_msg("s1", [])
    assert db.get_context_messages("s1") == []


def test_context_for_a_missing_session_creates_it(db: BaseDB) -> None:
    db.add_or_update_context_msg("new", [{"role": "user", "content": "hi"}])
    assert db.get_session("new") is not None
    assert db.get_context_messages("new") == [{"role": "user", "content": "hi"}]


# -- JSON fidelity ---------------------------------------------------------------------------------

AWKWARD_TEXT = "naïve café — 日本語 · العربية · emoji 😀👩‍👩‍👧 · e\u0301 · quotes \" ' \\ · tab\t nl\n"


def test_json_fidelity_unicode_nesting_and_types(db: BaseDB) -> None:
    message = output_message("s1", "m1")
    message["content"][0]["text"] = AWKWARD_TEXT
    message["content"][0]["data"] = {
        "nested": {"deeper": [{"list": [1, 2.5, -3, 0, True, False, None, "", [], {}]}]},
        AWKWARD_TEXT: "unicode key",
        "big": 2**53,
        "small": 1.5e-12,
        "precise": 1795459000.123456,
        "long": "x" * 200_000,
    }
    db.add_or_update_msg_to_conv(message)
    db.add_or_update_context_msg("s1", [{"role": "user", "content": AWKWARD_TEXT}])
    db.update_session("s1", title=AWKWARD_TEXT)

    assert db.get_conversations("s1") == [message]
    assert db.get_context_messages("s1") == [{"role": "user", "content": AWKWARD_TEXT}]
    assert db.get_session("s1")["title"] == AWKWARD_TEXT
    db.create_session("meta", metadata={"k": AWKWARD_TEXT, "n": [{"a": None}]})
    assert db.get_session("meta")["metadata"] == {"k": AWKWARD_TEXT, "n": [{"a": None}]}


def test_strings_postgres_cannot_hold_are_stored_not_refused(backend: str, db: BaseDB) -> None:
    # NUL and lone surrogates can come from a client's JSON; the turn must still be saved.
    message = input_message("s1", "m1", "nul\x00here and lone \ud800 surrogate")
    db.add_or_update_msg_to_conv(message)
    stored = db.get_conversations("s1")[0]["content"][0]["text"]
    if backend == "sqlite":
        assert stored == "nul\x00here and lone \ud800 surrogate"
    else:  # PostgreSQL text cannot represent them: replaced with U+FFFD, everything else kept
        assert stored == "nul\ufffdhere and lone \ufffd surrogate"


def test_non_finite_numbers_are_stored_as_null(db: BaseDB) -> None:
    # pydantic's JSON dump lets NaN through; the message must still be saved, not lost over a number.
    message = output_message("s1", "m1", cost=float("nan"))
    message["content"][0]["data"] = {"latency": [1.5, float("inf"), -float("inf")]}
    db.add_or_update_msg_to_conv(message)
    stored = db.get_conversations("s1")[0]
    assert stored["cost"] is None
    assert stored["content"][0]["data"] == {"latency": [1.5, None, None]}
    assert stored["content"][0]["text"] == message["content"][0]["text"]


# -- bad input and failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "not a dict",
        {"msg_id": "m9"},  # no session_id
        {"session_id": "s1"},  # no msg_id
        {"session_id": "s1", "msg_id": ""},
        {"session_id": "s1", "msg_id": 7},
        {"session_id": "s1", "msg_id": "m\x00"},  # PostgreSQL text cannot hold NUL
        {"session_id": "s\ud800", "msg_id": "m9"},  # nor a lone surrogate
        {"session_id": "s1", "msg_id": "m9", "conv_id": {"x": 1}},
        {"session_id": "s1", "msg_id": "m9", "content": [object()]},  # not JSON
        {"session_id": "s1", "msg_id": "m9", "content": [{"circular"}]},  # a set: not JSON either
    ],
)
def test_bad_messages_raise_clearly_and_change_nothing(db: BaseDB, bad: Any) -> None:
    good = input_message("s1", "m1", "kept")
    db.add_or_update_msg_to_conv(good)
    session_before = db.get_session("s1")
    with pytest.raises(ValueError, match="msg_id|session_id|conv_id|dict|JSON"):
        db.add_or_update_msg_to_conv(bad)
    assert db.get_conversations("s1") == [good]
    assert db.get_session("s1") == session_before
    assert [s["session_id"] for s in db.get_sessions()] == ["s1"]


def test_bad_context_and_metadata_raise_and_change_nothing(db: BaseDB) -> None:
    db.add_or_update_context_msg("s1", [{"role": "user", "content": "kept"}])
    with pytest.raises(ValueError, match="list of message dicts"):
        db.add_or_update_context_msg("s1", [{"role": "user"}, "oops"])
    with pytest.raises(ValueError, match="JSON"):
        db.add_or_update_context_msg("s1", [{"role": "user", "content": {1, 2}}])
    with pytest.raises(ValueError, match="session_id"):
        db.add_or_update_context_msg("", [])
    with pytest.raises(ValueError, match="metadata"):
        db.create_session("s2", metadata=["not", "a", "dict"])
    assert db.get_context_messages("s1") == [{"role": "user", "content": "kept"}]
    assert db.get_session("s2") is None


PLANTED_FAILURE = {
    "sqlite": """
        CREATE TRIGGER planted_insert BEFORE INSERT ON conversations
        WHEN json_extract(NEW.message, '$.boom') IS NOT NULL BEGIN SELECT RAISE(ABORT, 'planted failure'); END;
        CREATE TRIGGER planted_update BEFORE UPDATE ON conversations
        WHEN json_extract(NEW.message, '$.boom') IS NOT NULL BEGIN SELECT RAISE(ABORT, 'planted failure'); END;
    """,
    "postgres": """
        CREATE FUNCTION planted_failure() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.message ? 'boom' THEN RAISE EXCEPTION 'planted failure'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER planted BEFORE INSERT OR UPDATE ON conversations
        FOR EACH ROW EXECUTE FUNCTION planted_failure();
    """,
}


def test_a_write_failing_inside_the_db_rolls_back_whole(
    backend: str, db: BaseDB, raw_sql: Callable[[str], None]
) -> None:
    """The session bump runs before the message insert: a failure in the insert must undo both."""
    first = output_message("s1", "m1", status="success")
    db.add_or_update_msg_to_conv(first)
    session_before = db.get_session("s1")
    raw_sql(PLANTED_FAILURE[backend])

    with pytest.raises(Exception, match="planted failure"):
        db.add_or_update_msg_to_conv(output_message("s1", "m1", status="error", boom=True))  # update
    with pytest.raises(Exception, match="planted failure"):
        db.add_or_update_msg_to_conv(output_message("s1", "m2", boom=True))  # insert
    with pytest.raises(Exception, match="planted failure"):
        db.add_or_update_msg_to_conv(output_message("brand-new", "m1", boom=True))  # insert + new session

    assert db.get_conversations("s1") == [first]
    assert db.get_session("s1") == session_before  # updated_at bump rolled back too
    assert db.get_session("brand-new") is None
    # The handle keeps working after the failures.
    db.add_or_update_msg_to_conv(output_message("s1", "m3"))
    assert [m["msg_id"] for m in db.get_conversations("s1")] == ["m1", "m3"]


@pytest.mark.parametrize("weird_id", ["a\x00b", "\udcff", "", None, 42])
def test_ids_no_backend_can_store_are_refused_on_write_and_unknown_on_read(db: BaseDB, weird_id: Any) -> None:
    db.create_session("s1", title="kept")
    with pytest.raises(ValueError, match="session_id"):
        db.create_session(weird_id)
    with pytest.raises(ValueError, match="session_id"):
        db.add_or_update_context_msg(weird_id, [])
    # Reads (e.g. a REST path a client typed) just find nothing, on every backend.
    assert db.get_session(weird_id) is None
    assert db.get_conversations(weird_id) == []
    assert db.get_context_messages(weird_id) == []
    assert db.delete_session(weird_id) is False
    db.update_session(weird_id, title="x")
    assert [(s["session_id"], s["title"]) for s in db.get_sessions()] == [("s1", "kept")]


def test_titles_must_be_text(db: BaseDB) -> None:
    with pytest.raises(ValueError, match="title"):
        db.create_session("s1", title=123)  # type: ignore[arg-type]
    db.create_session("s1", title="ok")
    with pytest.raises(ValueError, match="title"):
        db.update_session("s1", title=["no"])  # type: ignore[arg-type]
    assert db.get_session("s1")["title"] == "ok"


# -- concurrency -----------------------------------------------------------------------------------


def test_concurrent_writes_from_20_threads(db: BaseDB) -> None:
    threads_n, msgs_n = 20, 8
    db.create_session("shared")
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            barrier.wait()
            own = f"own-{t}"
            db.create_session(own, title=f"thread {t}")
            for i in range(msgs_n):
                db.add_or_update_msg_to_conv(input_message(own, f"m{i}", f"t{t} i{i}", created_at=float(i)))
                db.add_or_update_msg_to_conv(input_message("shared", f"t{t}-m{i}", f"t{t} i{i}"))
                db.add_or_update_context_msg(
                    own, [{"role": "user", "content": f"t{t} i{j}"} for j in range(i + 1)]
                )
                # Everybody rewrites the same row too: last writer wins, nobody errors.
                db.add_or_update_msg_to_conv(output_message("shared", "hot", status="progress", writer=t))
                db.get_conversations("shared")
                db.get_sessions()
        except BaseException as exc:  # collected and asserted below, in the main thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
    assert all(not worker.is_alive() for worker in workers)

    shared = db.get_conversations("shared")
    assert len(shared) == threads_n * msgs_n + 1
    assert {m["msg_id"] for m in shared} == {
        f"t{t}-m{i}" for t in range(threads_n) for i in range(msgs_n)
    } | {"hot"}
    assert len(db.get_sessions()) == threads_n + 1
    for t in range(threads_n):
        own = db.get_conversations(f"own-{t}")
        assert [m["content"][0]["text"] for m in own] == [f"t{t} i{i}" for i in range(msgs_n)]
        assert len(db.get_context_messages(f"own-{t}")) == msgs_n
        assert db.get_session(f"own-{t}")["title"] == f"thread {t}"


# -- lifecycle -------------------------------------------------------------------------------------


def test_data_survives_close_and_reopen(make_db: Callable[[], BaseDB]) -> None:
    first = make_db()
    session = first.create_session("s1", title="Persistent", metadata={"k": "v"})
    messages = [input_message("s1", "m1", "hello"), output_message("s1", "m2", status="success")]
    for message in messages:
        first.add_or_update_msg_to_conv(message)
    context = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}]
    first.add_or_update_context_msg("s1", context)
    session = first.get_session("s1")
    first.close()

    second = make_db()
    assert second.get_session("s1") == session
    assert second.get_conversations("s1") == messages
    assert second.get_context_messages("s1") == context


def test_health_check_and_close(db: BaseDB) -> None:
    assert db.health_check() is True
    db.close()
    db.close()  # idempotent
    assert db.health_check() is False
    with pytest.raises(DatabaseClosedError):
        db.get_sessions()
    with pytest.raises(DatabaseClosedError):
        db.add_or_update_msg_to_conv(input_message("s1", "m1", "too late"))


# -- odd unicode in every text column ----------------------------------------------------------------

RTL_AND_EMOJI = "RTL \u202eעברית العربية\u202c · emoji 😀👩‍👩‍👧 · e\u0301"

# (text, stored on SQLite, stored on PostgreSQL). Neither driver can encode a lone surrogate, and
# PostgreSQL text cannot hold NUL: those become U+FFFD. Everything else is kept exactly.
ODD_TITLES = [
    ("\ud800", "\ufffd", "\ufffd"),
    (
        "lone low \udfff and high \ud83d here",
        "lone low \ufffd and high \ufffd here",
        "lone low \ufffd and high \ufffd here",
    ),
    ("nul\x00inside", "nul\x00inside", "nul\ufffdinside"),
    (RTL_AND_EMOJI, RTL_AND_EMOJI, RTL_AND_EMOJI),
]


@pytest.mark.parametrize(("title", "on_sqlite", "on_postgres"), ODD_TITLES)
def test_odd_unicode_titles_are_stored_on_create_and_update(
    backend: str, db: BaseDB, title: str, on_sqlite: str, on_postgres: str
) -> None:
    # A chat's first message becomes its title: it must never make the session fail to save.
    expected = on_sqlite if backend == "sqlite" else on_postgres
    assert db.create_session("s1", title=title)["title"] == expected
    assert db.get_session("s1")["title"] == expected
    db.create_session("s2")
    db.update_session("s2", title=title)
    assert [s["title"] for s in db.get_sessions()] == [expected, expected]


@pytest.mark.parametrize(("text", "on_sqlite", "on_postgres"), ODD_TITLES)
def test_odd_unicode_in_metadata_messages_and_context(
    backend: str, db: BaseDB, text: str, on_sqlite: str, on_postgres: str
) -> None:
    # JSON columns: SQLite keeps every string as written (escaped JSON text); PostgreSQL's JSONB
    # gets the same replacements as its text columns, in values and keys alike.
    expected = text if backend == "sqlite" else on_postgres
    db.create_session("s1", metadata={"note": text, text: "as a key"})
    assert db.get_session("s1")["metadata"] == {"note": expected, expected: "as a key"}

    message = input_message("s1", "m1", text)
    db.add_or_update_msg_to_conv(message)
    stored = db.get_conversations("s1")
    assert stored[0]["content"][0]["text"] == expected
    assert stored == [{**message, "content": [{**message["content"][0], "text": expected}]}]

    db.add_or_update_context_msg("s1", [{"role": "user", "content": text}])
    assert db.get_context_messages("s1") == [{"role": "user", "content": expected}]


def test_ids_with_rtl_and_emoji_are_keys_like_any_other(db: BaseDB) -> None:
    session_id, msg_id, conv_id = f"s-{RTL_AND_EMOJI}", f"m-{RTL_AND_EMOJI}", f"c-{RTL_AND_EMOJI}"
    db.create_session(session_id, title=RTL_AND_EMOJI)
    message = {**input_message(session_id, msg_id, "hi"), "conv_id": conv_id}
    db.add_or_update_msg_to_conv(message)
    db.add_or_update_context_msg(session_id, [{"role": "user", "content": "hi"}])
    assert db.get_session(session_id)["title"] == RTL_AND_EMOJI
    assert db.get_conversations(session_id) == [message]
    assert db.get_context_messages(session_id) == [{"role": "user", "content": "hi"}]
    assert db.delete_session(session_id) is True
    assert db.get_sessions() == []


# -- cluster turn leases: one session's repair, and where to look ---------------------------------


def test_unfinished_sessions_lists_sessions_with_an_answer_in_progress(db: BaseDB) -> None:
    db.add_or_update_msg_to_conv(output_message("s1", "cut"))
    db.add_or_update_msg_to_conv(output_message("s1", "cut-too"))
    db.add_or_update_msg_to_conv(output_message("s2", "done", status="success"))
    db.add_or_update_msg_to_conv(input_message("s3", "in", "q"))
    assert db.unfinished_sessions() == ["s1"]


def test_finish_unfinished_messages_of_rewrites_that_session_only(db: BaseDB) -> None:
    done = output_message("s1", "done", status="success")
    for message in (done, output_message("s1", "cut"), output_message("s2", "other")):
        db.add_or_update_msg_to_conv(message)
    before = db.get_session("s1")
    assert db.finish_unfinished_messages_of("s1", _mark_cut) == 1
    s1 = {m["msg_id"]: m for m in db.get_conversations("s1")}
    assert s1["cut"]["status"] == "error" and s1["done"] == done
    assert [m["status"] for m in db.get_conversations("s2")] == ["progress"]  # another session's: untouched
    assert db.get_session("s1") == before  # a repair is not activity
    assert db.finish_unfinished_messages_of("s1", _mark_cut) == 0
    assert db.finish_unfinished_messages_of("\x00not an id", _mark_cut) == 0


def test_a_session_without_a_cut_answer_is_checked_by_a_read_alone(db: BaseDB, monkeypatch: Any) -> None:
    """Every cluster turn asks when it claims its session: the usual answer, none, takes no write."""
    db.add_or_update_msg_to_conv(output_message("s1", "done", status="success"))
    writes: list[bool] = []
    run = db._run  # type: ignore[attr-defined]

    def recording(work: Any, *, write: bool = False) -> Any:
        writes.append(write)
        return run(work, write=write)

    monkeypatch.setattr(db, "_run", recording)
    assert db.finish_unfinished_messages_of("s1", _mark_cut) == 0
    assert writes == [False]
    monkeypatch.setattr(db, "_run", run)
    db.add_or_update_msg_to_conv(output_message("s1", "cut"))
    monkeypatch.setattr(db, "_run", recording)
    writes.clear()
    assert db.finish_unfinished_messages_of("s1", _mark_cut) == 1
    assert writes == [False, True]
