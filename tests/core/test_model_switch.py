"""One session switching models across four wire formats, with tool calls and results in its history.

Each turn runs on another provider (OpenAI -> Anthropic -> Gemini -> Bedrock Converse -> Ollama), each
a fake on its own port reached through that provider's own variables (``ANTHROPIC_API_BASE``,
``GEMINI_API_BASE``, ``AWS_BEDROCK_RUNTIME_ENDPOINT``, ``OLLAMA_API_BASE`` and their keys), with the
adapter built per turn by ``LiteLLM.for_model``. Every provider must receive the whole history in its
own format: each earlier question, tool call, tool result and answer, in order, every result paired
with its call.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from director.agents import build_agents
from director.core.reasoning import EngineLimits, ReasoningEngine
from director.core.session import MsgStatus, Session
from director.llm.litellm import LiteLLM

from tests.core.conftest import EmitRecorder
from tests.core.memory_db import MemoryDB
from tests.fakes.providers import FAKE_API_KEY, Reply, make_litellm
from tests.fakes.wire import PROVIDER_ENV, WIRE_FORMATS, WireFormat
from tests.fakes.wire.received import Received

pytestmark = pytest.mark.integration

# (format, the variable LiteLLM reads that provider's base URL from, its key variable)
ROUTE = [
    ("openai", None, None),
    ("anthropic", "ANTHROPIC_API_BASE", "ANTHROPIC_API_KEY"),
    ("gemini", "GEMINI_API_BASE", "GEMINI_API_KEY"),
    ("bedrock", "AWS_BEDROCK_RUNTIME_ENDPOINT", None),
    ("ollama", "OLLAMA_API_BASE", None),
]
MODELS_ASKED = ["gpt-4o", "claude-sonnet-4-5", "gemini-2.5-flash", "gpt-4o-mini", "o3"]


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    for name in PROVIDER_ENV + ("GEMINI_API_BASE", "OLLAMA_API_BASE", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    opened = {}
    for name, base_var, key_var in ROUTE:
        fmt = WIRE_FORMATS[name]
        fake = fmt.open()
        opened[name] = fake
        for var, value in fmt.env.items():
            monkeypatch.setenv(var, value)
        if base_var:
            monkeypatch.setenv(base_var, fake.api_base)
        if key_var:
            monkeypatch.setenv(key_var, FAKE_API_KEY)
    yield opened
    for fake in opened.values():
        fake.close()


def _check_replay(fmt: WireFormat, got: list[Received], turns_before: int, question: str) -> None:
    """The history as ``fmt`` received it: system, then per earlier turn question, call, result, answer."""
    assert got[0].role == "system"
    body = got[1:]
    assert len(body) == 4 * turns_before + 1, [r.role for r in body]
    for t in range(turns_before):
        asked, call, result, answer = body[4 * t : 4 * t + 4]
        assert (asked.role, asked.text) == ("user", f"question {t}")
        assert call.role == "assistant" and [(n, a) for _, n, a in call.tool_calls] == [
            ("pricing", {"models": [MODELS_ASKED[t]]})
        ]
        assert result.role == "tool" and MODELS_ASKED[t] in result.text and "input_per_1m" in result.text
        if fmt.call_ids:  # the result answers that very call
            assert result.tool_call_id == call.tool_calls[0][0] != ""
        assert (answer.role, answer.text) == ("assistant", f"answer {t}")
    assert (body[-1].role, body[-1].text) == ("user", question)


def test_one_session_through_five_wire_formats_replays_validly_each_time(
    fakes: dict[str, object], db: MemoryDB, emit: EmitRecorder
) -> None:
    session = Session(db, emit=emit)
    session.create("question 0")
    base = make_litellm(fakes["openai"], model=WIRE_FORMATS["openai"].model_name)
    for turn, (name, _, _) in enumerate(ROUTE):
        fmt = WIRE_FORMATS[name]
        fake = fakes[name]
        fake.script(
            Reply(tool_calls=[("pricing", {"models": [MODELS_ASKED[turn]]})]), Reply(text=f"answer {turn}")
        )
        llm: LiteLLM = base if turn == 0 else base.for_model(fmt.model_name)
        engine = ReasoningEngine(session, llm, build_agents(llm), emit, EngineLimits())
        out = engine.run(session.new_input_message(f"question {turn}"))
        assert out.status == MsgStatus.SUCCESS, (name, out.content)
        assert out.agents == ["pricing"] and out.content[-1].text == f"answer {turn}"
        first, second = fake.requests  # the turn's question, then its tool result
        _check_replay(fmt, fmt.read(first), turn, f"question {turn}")
        # The second call of the turn carries this turn's own call and result too, in this format.
        got = fmt.read(second)
        assert [r.role for r in got[-2:]] == ["assistant", "tool"]
        assert got[-2].tool_calls[0][1:] == ("pricing", {"models": [MODELS_ASKED[turn]]})
    # No provider was asked by the wrong adapter: each fake saw only its own turn.
    assert all(len(f.requests) == 2 for f in fakes.values())
