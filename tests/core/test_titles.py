"""The model titles a new chat after its first answer, apart from the turn, never over a user's title."""

from __future__ import annotations

from director.core.titles import clean_title, write_title
from director.db.sqlite import SQLiteDB
from director.llm.base import LLMErrorType, LLMResponse, LLMResponseStatus

from tests.core.conftest import EmitRecorder
from tests.fakes.scripted_llm import ScriptedLLM, text_response


def test_clean_title() -> None:
    assert clean_title('"Pelican diets."\n\nExtra') == "Pelican diets"
    assert clean_title("Title: **Kyōto trip**") == "Kyōto trip"
    assert clean_title("  \n ") is None
    assert len(clean_title("word " * 100) or "") <= 81


def test_writes_the_title_and_tells_the_chat(tmp_path, emit: EmitRecorder) -> None:
    db = SQLiteDB(tmp_path / "t.db")
    try:
        db.create_session("s", title="what do pelicans eat and where do they")
        llm = ScriptedLLM(text_response("Pelican diets"))
        assert (
            write_title(db, llm, "s", "what do pelicans eat and where do they live?", emit) == "Pelican diets"
        )
        assert db.get_session("s")["title"] == "Pelican diets"
        assert emit.of("session_title") == [{"session_id": "s", "title": "Pelican diets"}]
        sent = llm.calls[0].messages
        assert sent[0]["role"] == "system" and sent[1]["content"].startswith("what do pelicans eat")
    finally:
        db.close()


def test_a_failure_or_a_users_title_keeps_the_title(tmp_path, emit: EmitRecorder) -> None:
    db = SQLiteDB(tmp_path / "t.db")
    try:
        db.create_session("s", title="first words")
        failed = LLMResponse(
            status=LLMResponseStatus.ERROR, error_type=LLMErrorType.TIMEOUT, content="timed out"
        )
        assert write_title(db, ScriptedLLM(failed), "s", "first words", emit) is None
        assert write_title(db, ScriptedLLM(), "s", "first words", emit) is None  # the LLM raised: logged
        db.update_chat_settings("s", title="Mine")
        assert write_title(db, ScriptedLLM(text_response("Model's")), "s", "first words", emit) is None
        assert db.get_session("s")["title"] == "Mine"
        assert emit.of("session_title") == []
    finally:
        db.close()
