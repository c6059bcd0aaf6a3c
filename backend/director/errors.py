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


class InvalidModelError(BadPayloadError):
    """A chat asked for a model the policy does not allow (``setting`` is the variable that would)."""

    def __init__(self, model: str, setting: str, message: str):
        super().__init__("invalid_model", message)
        self.model = model
        self.setting = setting


class SessionBusyError(DirectorError):
    def __init__(self, session_id: str):
        super().__init__(
            "This session is still answering the previous message. Wait for it to finish or press Stop."
        )
        self.session_id = session_id


class NotFoundError(DirectorError):
    pass


# How long a client should wait before trying again after ``StorageFullError``. Long enough that a
# crowd of retrying clients does not spin on a disk an operator has to free by hand.
STORAGE_RETRY_AFTER_S = 30


class StorageFullError(DirectorError):
    """The database cannot write: its disk (or quota) is full. Nothing was saved by the failed call.

    ``code`` is the ``error`` event / REST code; ``retry_after_s`` is sent as ``retry_after`` (and as
    the ``Retry-After`` header on REST) so clients back off instead of retrying in a hot loop.
    """

    code = "storage_full"

    def __init__(self, where: str, retry_after_s: int = STORAGE_RETRY_AFTER_S):
        super().__init__(
            "The server's storage is full, so it cannot save new messages right now. "
            f"Try again in {retry_after_s} s."
        )
        self.where = where  # the DB's location for the operator's log line (never shown to users)
        self.retry_after_s = retry_after_s


class ServerStoppingError(DirectorError):
    """A turn was asked for while the server is shutting down (after SIGTERM)."""

    code = "server_stopping"

    def __init__(self) -> None:
        super().__init__("The server is restarting and cannot start this turn. Send it again in a moment.")


class BudgetExceededError(DirectorError):
    """A model call was refused before it started: a spending budget is used up (core/budget.py)."""

    code = "budget_exceeded"

    def __init__(self, budget: str, spent_usd: float, limit_usd: float, setting: str):
        what = "this chat's" if budget == "session" else "today's (UTC)"
        super().__init__(
            f"Stopped before the next model call: {what} budget of {_usd(limit_usd)} is used up "
            f"({_usd(spent_usd)} spent). Raise {setting} to continue."
        )
        self.budget = budget
        self.spent_usd = spent_usd
        self.limit_usd = limit_usd
        self.setting = setting


def _usd(amount: float) -> str:
    # Cents for real budgets; fractions of a cent (tiny test budgets, cheap models) stay visible.
    return f"${amount:,.2f}" if amount >= 0.01 else f"${amount:.6f}"


class UnpricedModelError(DirectorError):
    """A model with no known price was refused while a budget is set (core/budget.py)."""

    code = "unpriced_model"
    setting = "DIRECTOR_ALLOW_UNPRICED_MODELS"

    def __init__(self, models: list[str]):
        names = ", ".join(models)
        super().__init__(
            f"Refused to call {names}: LiteLLM has no price for it, so a budget cannot be enforced. "
            f"Set {self.setting}=true to allow it anyway."
        )
        self.models = models


# --- LiteLLM proxy ---
class ProxyCatalogError(DirectorError):
    """The LiteLLM proxy could not say which models it serves (unreachable, or refused the key)."""

    def __init__(self, message: str, api_base: str, status_code: int | None = None):
        super().__init__(message)
        self.api_base = api_base
        self.status_code = status_code


class UnknownParentError(BadPayloadError):
    """A ``chat`` named a ``parent_msg_id`` that is not an answer in its session (branches)."""

    CODE = "unknown_parent"

    def __init__(self, parent_msg_id: str):
        super().__init__(
            self.CODE,
            "parent_msg_id must be the id of an answer in this session (or null for the start of the "
            "conversation). Reload the chat and try again.",
        )
        self.parent_msg_id = parent_msg_id
