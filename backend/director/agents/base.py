"""What an agent is: a named tool whose ``run`` signature *is* its JSON schema.

Write ``run`` with typed parameters and a Google-style docstring ``Args:`` section; the schema the
model sees, and the validation applied to its arguments before ``run`` is called, both come from
that one signature (pydantic), so they can never drift apart.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from director.errors import InvalidToolArgumentsError
from director.llm.base import LLMResponse
from director.llm.redact import protect

if TYPE_CHECKING:
    from director.llm.base import BaseLLM

logger = logging.getLogger(__name__)
# Agent tracebacks and provider errors can carry keys: mask them in every line we log.
protect(logger)


class AgentStatus(StrEnum):
    SUCCESS = "success"
    ERROR = "error"


class AgentResponse(BaseModel):
    """What an agent returns. The engine sends ``to_tool_result()`` (JSON) back to the model."""

    status: AgentStatus = AgentStatus.SUCCESS
    message: str
    data: dict[str, Any] = Field(default_factory=dict)

    def to_tool_result(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, default=str)


# The progress callback of the agent call running in *this* thread. A context variable rather than
# an attribute because one agent instance may serve several parallel tool calls in one step.
Reporter = Callable[[str], None]
_reporter: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar("agent_reporter", default=None)
# Where an agent's own model calls are counted (the turn's usage), likewise per call.
UsageSink = Callable[[LLMResponse], None]
_usage_sink: contextvars.ContextVar[UsageSink | None] = contextvars.ContextVar("agent_usage", default=None)

# The agent whose ``run`` this thread is executing: usage metering records which agent made a model call.
_agent_name: contextvars.ContextVar[str | None] = contextvars.ContextVar("agent_name", default=None)


def current_agent_name() -> str | None:
    """The agent running in this thread (or context copied from it), None in the engine's own calls."""
    return _agent_name.get()


@contextmanager
def calls_made_by(name: str) -> Iterator[None]:
    """Model calls made in this block are recorded as ``name``'s, as an agent's own are (e.g. the summary
    compaction asks for: core/compaction.py)."""
    token = _agent_name.set(name)
    try:
        yield
    finally:
        _agent_name.reset(token)


_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:\s*$")
_SECTION_HEADER = re.compile(r"^\s*[A-Z][A-Za-z ]*:\s*$")
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (summary, {arg: description})."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    args: dict[str, str] = {}
    in_args = False
    current: str | None = None
    arg_indent: int | None = None
    for line in lines:
        if _ARGS_HEADER.match(line):
            in_args, current = True, None
            continue
        if in_args:
            if not line.strip():
                current = None
                continue
            indent = len(line) - len(line.lstrip())
            if indent == 0 and _SECTION_HEADER.match(line):
                in_args = False
                continue
            match = _ARG_LINE.match(line)
            if match and (arg_indent is None or indent <= arg_indent):
                arg_indent = indent
                current = match.group(1).lstrip("*")
                args[current] = match.group(3).strip()
            elif current:
                args[current] = f"{args[current]} {line.strip()}".strip()
            continue
        if not in_args and not args and not _SECTION_HEADER.match(line):
            summary.append(line)
    return " ".join(" ".join(summary).split()), args


def _strip_titles(schema: Any) -> Any:
    """Drop pydantic's auto ``title`` keys: noise for the model, and tokens on every call.

    Only schema-object titles go; a *property* that happens to be named ``title`` stays.
    """
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "title" and isinstance(value, str):
                continue
            if key in ("properties", "$defs") and isinstance(value, dict):
                out[key] = {name: _strip_titles(sub) for name, sub in value.items()}
            else:
                out[key] = _strip_titles(value)
        return out
    if isinstance(schema, list):
        return [_strip_titles(item) for item in schema]
    return schema


def build_arguments_model(cls_name: str, run: Callable[..., Any]) -> type[BaseModel]:
    """A pydantic model mirroring ``run``'s parameters (minus ``self``), with docstring descriptions."""
    signature = inspect.signature(run)
    hints = get_type_hints(run)
    _, arg_docs = parse_docstring(inspect.getdoc(run))
    fields: dict[str, Any] = {}
    for name, param in signature.parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[name] = (annotation, Field(default, description=arg_docs.get(name)))
    return create_model(
        f"{cls_name}Arguments",
        # Unknown keys are an error the model should hear about, not something to silently drop.
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )


class BaseAgent:
    """Subclass, set ``name`` and ``description``, and implement ``run(...)`` returning ``AgentResponse``.

    Instances are made per turn with the turn's LLM: ``Agent(llm)`` (an agent that calls a model uses it).
    Inside ``run``, call ``self.report("what I'm doing")`` to update this call's block in the UI; the
    reasoning engine routes it to the turn through a context variable (``reporting``).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    arguments_model: ClassVar[type[BaseModel]]

    def __init__(self, llm: BaseLLM | None = None):
        self.llm = llm

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "run" in cls.__dict__:
            # Built at class definition so a bad signature fails at import, not mid-turn.
            cls.arguments_model = build_arguments_model(cls.__name__, cls.run)
            if not getattr(cls, "description", None):
                cls.description = parse_docstring(inspect.getdoc(cls.run))[0]

    def run(self, *args: Any, **kwargs: Any) -> AgentResponse:
        raise NotImplementedError

    @classmethod
    def parameters_schema(cls) -> dict[str, Any]:
        # Built once per class (``run``'s signature never changes): pydantic's schema generation
        # costs ~0.5 ms per agent per LLM step. A fresh copy each call, so callers may mutate it.
        cached = cls.__dict__.get("_parameters_schema_json")
        if cached is None:
            schema = _strip_titles(cls.arguments_model.model_json_schema())
            schema.setdefault("properties", {})
            cached = json.dumps(schema)
            cls._parameters_schema_json = cached
        return json.loads(cached)

    @classmethod
    def to_llm_tool(cls) -> dict[str, Any]:
        return {"name": cls.name, "description": cls.description, "parameters": cls.parameters_schema()}

    def validate_arguments(
        self, arguments: dict[str, Any], tool_call_id: str | None = None, raw_arguments: str | None = None
    ) -> dict[str, Any]:
        """Check the model's arguments against ``run``'s signature; raise InvalidToolArgumentsError."""
        if raw_arguments is not None:
            raise InvalidToolArgumentsError(
                "The arguments were not a JSON object. Send them as a JSON object matching the schema.",
                self.name,
                tool_call_id,
                raw_arguments=raw_arguments,
            )
        try:
            parsed = self.arguments_model.model_validate(arguments)
        except ValidationError as exc:
            errors = json.loads(exc.json(include_url=False, include_context=False))
            raise InvalidToolArgumentsError(
                f"The arguments for {self.name} did not match its schema.",
                self.name,
                tool_call_id,
                errors=errors,
            ) from exc
        # Field-by-field rather than model_dump so nested pydantic values keep their types.
        return {name: getattr(parsed, name) for name in type(parsed).model_fields}

    def call(
        self, arguments: dict[str, Any], reporter: Reporter | None = None, usage_sink: UsageSink | None = None
    ) -> AgentResponse:
        """Validate ``arguments`` and run. Raises InvalidToolArgumentsError; other errors propagate."""
        validated = self.validate_arguments(arguments)
        name_token = _agent_name.set(self.name)
        try:
            with reporting(reporter, usage_sink):
                response = self.run(**validated)
        finally:
            _agent_name.reset(name_token)
        if not isinstance(response, AgentResponse):
            raise TypeError(
                f"{type(self).__name__}.run returned {type(response).__name__}, not AgentResponse"
            )
        return response

    def record_usage(self, response: LLMResponse) -> None:
        """Count a model call this agent made (tokens, cost) in the turn's usage. Call it from ``run``'s
        own thread: like ``report``, it finds the turn through a context variable."""
        self._notify(_usage_sink.get(), response, "usage report")

    def report(self, status_message: str) -> None:
        """Tell the user what this agent call is doing now (updates its block's status_message)."""
        self._notify(_reporter.get(), status_message, "progress report")

    def _notify(self, callback: Callable[[Any], None] | None, value: Any, what: str) -> None:
        # The turn's bookkeeping failing must not fail the agent's own work.
        if callback is not None:
            try:
                callback(value)
            except Exception:
                logger.exception("%s from %s failed", what, self.name)


@contextmanager
def reporting(reporter: Reporter | None, usage_sink: UsageSink | None = None) -> Iterator[None]:
    """Route this thread's ``report`` and ``record_usage`` calls to the running turn."""
    tokens = (_reporter.set(reporter), _usage_sink.set(usage_sink))
    try:
        yield
    finally:
        _usage_sink.reset(tokens[1])
        _reporter.reset(tokens[0])
