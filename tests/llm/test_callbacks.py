"""LITELLM_CALLBACKS: a CustomLogger named as module:ClassName receives every model call of a turn,
the agents' own included, with metadata {session_id, msg_id, agent, user}; one that raises never
breaks the turn. Real LiteLLM over real HTTP to the fake OpenAI server, the real TurnRunner."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from director.agents.summarize import SummarizeAgent
from director.core.budget import Budget, BudgetSettings
from director.core.metered_llm import UsageMeter
from director.core.reasoning import EngineLimits
from director.core.session import ChatRequest
from director.core.turn_runner import TurnRunner
from director.core.turns import LocalTurnRegistry
from director.db.sqlite import SQLiteDB
from director.errors import ConfigError
from director.llm import callbacks
from director.llm.callbacks import CallbackSettings, install_callbacks, load_callback_settings
from director.llm.litellm import ensure_litellm
from litellm.integrations.custom_logger import CustomLogger

from tests.fakes.providers import FakeOpenAI, Reply, make_litellm

pytestmark = pytest.mark.integration


class RecordingLogger(CustomLogger):
    instances: list[RecordingLogger] = []

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        RecordingLogger.instances.append(self)

    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
        with self.lock:
            self.events.append({key: metadata.get(key) for key in ("session_id", "msg_id", "agent", "user")})


class BrokenLogger(CustomLogger):
    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        raise RuntimeError("the tracing backend is down")

    def log_pre_api_call(self, model, messages, kwargs):
        raise RuntimeError("the tracing backend is down")


@pytest.fixture
def installed() -> Iterator[list[Any]]:
    """Callbacks a test installs, removed again afterwards (LiteLLM's list is process-wide)."""
    litellm = ensure_litellm()
    added: list[Any] = []
    # LiteLLM turns a callback name into logger objects in several of its lists: restore them all.
    lists = (
        "callbacks",
        "success_callback",
        "_async_success_callback",
        "failure_callback",
        "_async_failure_callback",
    )
    saved = {name: list(getattr(litellm, name)) for name in lists}
    streaming_logging = litellm.disable_streaming_logging
    yield added
    for name, value in saved.items():
        getattr(litellm, name)[:] = value
    callbacks._installed.clear()
    litellm.disable_streaming_logging = streaming_logging


def run_summarize_turn(fake: FakeOpenAI, tmp_path: Path, session_id: str) -> dict[str, Any]:
    fake.script(
        Reply(tool_calls=[("summarize", {"text": "A long text.", "length": "short"})]),
        Reply(text="A summary."),
        Reply(text="Here it is."),
    )
    db = SQLiteDB(str(tmp_path / "director.db"))
    try:
        llm = make_litellm(fake)
        meter = UsageMeter(db, Budget(BudgetSettings.model_construct(), db.get_spend, lambda _m: True))
        runner = TurnRunner(
            db,
            llm,
            [SummarizeAgent],
            EngineLimits(),
            LocalTurnRegistry(),
            spawn=lambda fn, *a: fn(*a),
            meter=meter,
        )
        runner.start(
            ChatRequest(session_id=session_id, text_parts=["summarise"]), session_id, lambda *_: None
        )
        return db.get_conversations(session_id)[-1]
    finally:
        db.close()


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "callbacks were not called in time"
        time.sleep(0.02)


def test_a_custom_logger_gets_every_call_with_its_metadata(
    fake_openai: FakeOpenAI, tmp_path: Path, installed: list[Any]
) -> None:
    RecordingLogger.instances.clear()
    settings = CallbackSettings(callbacks=f"{__name__}:RecordingLogger", _env_file=None)
    installed.extend(install_callbacks(settings))
    assert ensure_litellm().disable_streaming_logging is False  # streamed calls must reach it too

    output = run_summarize_turn(fake_openai, tmp_path, "traced-session")
    assert output["status"] == "success"
    (recorder,) = RecordingLogger.instances
    wait_for(lambda: len(recorder.events) >= 3)
    msg_id = output["msg_id"]
    expected = [
        {"session_id": "traced-session", "msg_id": msg_id, "agent": agent, "user": None}
        for agent in (None, "summarize", None)
    ]
    assert sorted(recorder.events, key=lambda e: e["agent"] or "") == sorted(
        expected, key=lambda e: e["agent"] or ""
    )
    # The metadata is LiteLLM's, not the provider's: nothing of it was sent.
    assert all("metadata" not in request.json for request in fake_openai.requests)


def test_a_failing_callback_never_breaks_a_turn(
    fake_openai: FakeOpenAI, tmp_path: Path, installed: list[Any]
) -> None:
    installed.extend(
        install_callbacks(CallbackSettings(callbacks=f"{__name__}:BrokenLogger", _env_file=None))
    )
    output = run_summarize_turn(fake_openai, tmp_path, "broken-tracing")
    assert output["status"] == "success"
    assert output["content"][-1]["text"] == "Here it is."
    assert len(output["calls"]) == 3


def test_a_callback_that_cannot_be_imported_stops_start_up_naming_the_setting(monkeypatch) -> None:
    monkeypatch.setenv("LITELLM_CALLBACKS", "langfuse,no_such_module:Logger")
    with pytest.raises(ConfigError) as caught:
        load_callback_settings()
    assert caught.value.variable == "LITELLM_CALLBACKS" and "no_such_module:Logger" in caught.value.message
    monkeypatch.setenv("LITELLM_CALLBACKS", "lang fuse")
    with pytest.raises(ConfigError, match="LITELLM_CALLBACKS"):
        load_callback_settings()


def test_opentelemetry_spans_carry_the_metadata(
    fake_openai: FakeOpenAI, tmp_path: Path, installed: list[Any], monkeypatch
) -> None:
    """LiteLLM's own OpenTelemetry integration, with its in-memory exporter (offline)."""
    from litellm.integrations.opentelemetry import OpenTelemetry

    monkeypatch.setenv("OTEL_EXPORTER", "in_memory")
    installed.extend(install_callbacks(CallbackSettings(callbacks="otel", _env_file=None)))
    output = run_summarize_turn(fake_openai, tmp_path, "otel-session")
    assert output["status"] == "success"

    litellm = ensure_litellm()
    loggers = [cb for cb in [*litellm.callbacks, *litellm.success_callback] if isinstance(cb, OpenTelemetry)]
    assert loggers, "LiteLLM did not set up its OpenTelemetry logger"
    exporter = loggers[0].config.exporter

    def tagged() -> set[str]:
        found = set()
        for span in exporter.get_finished_spans():
            caller = str(span.attributes.get("metadata.requester_metadata", ""))
            if "otel-session" in caller and output["msg_id"] in caller:
                found.add("summarize" if "'summarize'" in caller else "engine")
        return found

    wait_for(lambda: tagged() == {"engine", "summarize"})
