"""Searching every chat by text: SQLite FTS5 and PostgreSQL full-text, the same contract on both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from director.db.base import BaseDB
from director.db.search import MAX_QUERY_CHARS, snippet_parts

from tests.db.fixtures.before_migrations import write_old_database
from tests.db.test_migrations import open_db


def said(session_id: str, msg_id: str, text: str, created_at: float = 1.0) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "msg_id": msg_id,
        "msg_type": "input",
        "content": [{"type": "text", "text": text}],
        "created_at": created_at,
    }


def answered(session_id: str, msg_id: str, text: str, status: str = "success") -> dict[str, Any]:
    return {
        "session_id": session_id,
        "msg_id": msg_id,
        "msg_type": "output",
        "status": status,
        "content": [
            {"type": "text", "agent_name": "pricing", "text": "pricing step summary zebra"},
            {"type": "text", "agent_name": "assistant", "text": text},
        ],
    }


def hits(result: dict[str, Any]) -> list[str]:
    return [part["text"] for part in result["snippet"] if part["hit"]]


def whole(result: dict[str, Any]) -> str:
    return "".join(part["text"] for part in result["snippet"])


@pytest.fixture
def chats(db: BaseDB) -> BaseDB:
    db.create_session("prices", title="Prices")
    db.add_or_update_msg_to_conv(said("prices", "p1", "What does GPT-4o cost? Café prices, naïve question."))
    db.add_or_update_msg_to_conv(answered("prices", "p2", "It costs $2.50 per million input tokens."))
    db.create_session("travel", title="Travel")
    db.add_or_update_msg_to_conv(said("travel", "t1", "東京の天気 and the weather in Tokyo"))
    db.add_or_update_msg_to_conv(answered("travel", "t2", "Tokyo is sunny; pack a café-au-lait jacket."))
    return db


def test_finds_chats_by_words_and_prefixes_with_the_message_and_its_highlight(chats: BaseDB) -> None:
    (result,) = chats.search_messages("million tok")
    assert result["session_id"] == "prices" and result["msg_id"] == "p2" and result["title"] == "Prices"
    assert [h.lower() for h in hits(result)] == ["million", "tokens"]
    assert "per million input tokens" in whole(result)

    both = chats.search_messages("café")
    assert {r["session_id"] for r in both} == {"prices", "travel"}, "one result per chat"


def test_unicode_and_punctuation(chats: BaseDB, backend: str) -> None:
    assert [r["msg_id"] for r in chats.search_messages("東京の天気")] == ["t1"]
    assert [r["msg_id"] for r in chats.search_messages("GPT-4o")] == ["p1"]
    assert [r["msg_id"] for r in chats.search_messages("tokyo!!")] in (["t1"], ["t2"])
    if backend == "sqlite":  # FTS5's unicode61 folds accents; PostgreSQL's 'simple' keeps them
        assert [r["session_id"] for r in chats.search_messages("naive")] == ["prices"]
    # Quotes, operators and SQL in a query are words or nothing, never syntax.
    for hostile in ['"', "'", "NEAR(", "a OR b", "x'); DROP TABLE sessions; --", "*", "-", "!:*&|"]:
        assert isinstance(chats.search_messages(hostile), list)
    assert chats.get_session("prices") is not None
    assert chats.search_messages("   ") == []


def test_only_what_people_read_is_indexed(chats: BaseDB) -> None:
    assert chats.search_messages("zebra") == [], "agent step summaries are not the answer"
    chats.add_or_update_msg_to_conv(answered("prices", "p3", "still writing quagga", status="progress"))
    assert chats.search_messages("quagga") == [], "an answer is indexed once it is finished"
    chats.add_or_update_msg_to_conv(answered("prices", "p3", "finished quagga answer"))
    assert [r["msg_id"] for r in chats.search_messages("quagga")] == ["p3"]
    chats.add_or_update_msg_to_conv(answered("prices", "p3", "rewritten"))
    assert chats.search_messages("quagga") == [], "an update replaces the indexed text"


def test_a_message_cannot_forge_a_highlight_and_html_stays_text(db: BaseDB, backend: str) -> None:
    db.create_session("s", title="S")
    db.add_or_update_msg_to_conv(said("s", "m", "<b>bold</b> \ue000forged\ue001 marker <script>x</script>"))
    (result,) = db.search_messages("marker")
    assert hits(result) == ["marker"]
    assert "\ue000" not in whole(result) and "forged marker" in whole(result)
    if backend == "sqlite":  # PostgreSQL's headline drops tags; either way the parts are plain text
        assert "<b>bold</b>" in whole(result)


def test_deleting_a_chat_removes_it_from_search(chats: BaseDB) -> None:
    assert chats.delete_session("travel") is True
    assert [r["session_id"] for r in chats.search_messages("café")] == ["prices"]


def test_bad_queries_are_refused_before_any_sql(chats: BaseDB) -> None:
    with pytest.raises(ValueError):
        chats.search_messages("x" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(ValueError):
        chats.search_messages("x", limit=0)


def test_snippet_parts() -> None:
    assert snippet_parts("a \ue000b\ue001 c") == [
        {"text": "a ", "hit": False},
        {"text": "b", "hit": True},
        {"text": " c", "hit": False},
    ]


def test_an_upgraded_database_finds_its_old_messages(
    backend: str, storage: str, make_db: Callable[[], BaseDB]
) -> None:
    old = {
        "sessions": [
            {"session_id": "old", "title": "Old", "created_at": 1.0, "updated_at": 2.0, "metadata": {}}
        ],
        "conversations": {
            "old": [
                said("old", "o1", "Ancient question about pelicans"),
                {**answered("old", "o2", "Pelicans eat fish."), "created_at": 2.0},
            ]
        },
        "context": {"old": [{"role": "user", "content": "Ancient question about pelicans"}]},
    }
    write_old_database(backend, storage, old)
    db = open_db(backend, storage)
    try:
        assert db.get_conversations("old") == old["conversations"]["old"], "nothing lost"
        assert {r["msg_id"] for r in db.search_messages("pelicans")} <= {"o1", "o2"}
        assert [r["session_id"] for r in db.search_messages("fish")] == ["old"]
    finally:
        db.close()
