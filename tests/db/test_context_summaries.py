"""Compaction's summaries (``context_summaries``, migration 0006) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from director.db.base import BaseDB


def summary(through: str, covered: int, text: str = "They compared prices.") -> dict:
    return {"through_msg_id": through, "covered": covered, "digest": f"d{covered}", "summary": text}


def test_summaries_are_kept_by_message_id_most_covering_first_and_outlive_a_reopen(
    make_db: Callable[[], BaseDB],
) -> None:
    db = make_db()
    db.create_session("s")
    db.save_context_summary("s", summary("in2", 4, "Kyōto trip 🗾, budget 900 €"))
    db.save_context_summary("s", summary("in5", 10))
    # The same last message again (a summary redone): replaced, not added.
    db.save_context_summary("s", summary("in2", 4, "Kyōto trip, budget 950 €"))
    rows = make_db().get_context_summaries("s")
    assert [(r["through_msg_id"], r["covered"], r["digest"]) for r in rows] == [
        ("in5", 10, "d10"),
        ("in2", 4, "d4"),
    ]
    assert rows[1]["summary"] == "Kyōto trip, budget 950 €"
    assert db.get_context_summaries("other") == [] and db.get_context_summaries("../bad id") == []


def test_deleting_a_chat_deletes_its_summaries(db: BaseDB) -> None:
    db.create_session("s")
    db.create_session("t")
    db.save_context_summary("s", summary("in1", 2))
    db.save_context_summary("t", summary("in1", 2))
    assert db.delete_session("s")
    assert db.get_context_summaries("s") == []
    assert len(db.get_context_summaries("t")) == 1


def test_bad_summaries_are_refused_before_any_write(db: BaseDB) -> None:
    db.create_session("s")
    bad = [
        summary("", 2),
        summary("in1", 0),
        summary("in1", True),
        {**summary("in1", 2), "digest": ""},
        summary("in1", 2, "   "),
        "not a dict",
    ]
    for value in bad:
        with pytest.raises(ValueError):
            db.save_context_summary("s", value)
    assert db.get_context_summaries("s") == []
