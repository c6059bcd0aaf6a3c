"""One rooted error hierarchy. Each error carries fields; ``message`` is always safe to show a user.

Model mistakes (``ToolCallError``) are turned into tool results for the model to correct itself.
Client mistakes (``BadPayloadError``) become an ``error`` event. Anything not a ``DirectorError``
is our own bug: it propagates and is logged with its traceback.
"""

from __future__ import annotations

from typing import Any


class DirectorError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConfigError(DirectorError):
    """A setting is missing or out of range; raised at start-up."""

    def __init__(self, variable: str, accepted: str, message: str | None = None):
        super().__init__(message or f"{variable} is invalid: expected {accepted}")
        self.variable = variable
        self.accepted = accepted


class ToolCallError(DirectorError):
    """The model called a tool wrongly. Reported back to the model, not to the user."""

    def __init__(self, message: str, tool_name: str, tool_call_id: str | None = None):
        super().__init__(message)
        self.tool_name = tool_name
        self.tool_call_id = tool_call_id


class UnknownAgentError(ToolCallError):
    pass


class InvalidToolArgumentsError(ToolCallError):
    def __init__(
        self,
        message: str,
        tool_name: str,
        tool_call_id: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        raw_arguments: str | None = None,
    ):
        super().__init__(message, tool_name, tool_call_id)
        self.errors = errors or []
        self.raw_arguments = raw_arguments


class AgentTimeoutError(DirectorError):
    def __init__(self, agent_name: str, timeout_s: float):
        super().__init__(f"The {agent_name} agent did not finish within {timeout_s:g} s.")
        self.agent_name = agent_name
        self.timeout_s = timeout_s


class BadPayloadError(DirectorError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class SessionBusyError(DirectorError):
    def __init__(self, session_id: str):
        super().__init__(
            "This session is still answering the previous message. Wait for it to finish or press Stop."
        )
        self.session_id = session_id


class NotFoundError(DirectorError):
    pass
