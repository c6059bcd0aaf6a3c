"""`.env.sample` is the settings reference users copy: it must name every variable the code reads,
and every Director variable it names must be one the code reads (a typo there would be silently ignored)."""

from __future__ import annotations

import re
from pathlib import Path

from director.agents.settings import AgentSettings
from director.core.budget import BudgetSettings
from director.entrypoint.api.settings import ServerSettings
from director.entrypoint.cluster.settings import ClusterSettings
from director.llm.callbacks import CallbackSettings
from director.llm.config import LiteLLMConfig
from director.llm.model_policy import ModelPolicySettings
from director.llm.proxy import BASE_VARIABLE, KEY_VARIABLE
from director.llm.recording import RecordSettings
from director.mcp.config import MCPSettings
from director.settings import DirectorSettings

ROOT = Path(__file__).resolve().parent.parent
# Assignments, commented out or not: "LITELLM_TIMEOUT=60" and "# LITELLM_TIMEOUT=60" both document it.
ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
# Names that are Director's own (provider keys such as OPENAI_API_KEY are LiteLLM's business).
OURS = re.compile(r"^(LITELLM_|DIRECTOR_|SERVER_|CLUSTER_|DB_TYPE$|SQLITE_|POSTGRES_|DEFAULT_LLM$)")
# Read by something other than the settings classes below.
# LITELLM_PROXY_API_BASE/KEY are LiteLLM's own names for the proxy, read by llm/proxy.py rather than a settings class.
READ_ELSEWHERE = {"DEFAULT_LLM", "DIRECTOR_ENV_FILE", BASE_VARIABLE, KEY_VARIABLE}
INTERNAL_FIELDS = {"llm_type"}  # set by the presets, not by users


def documented() -> set[str]:
    return set(ASSIGNMENT.findall((ROOT / ".env.sample").read_text(encoding="utf-8")))


SETTINGS: tuple[type[DirectorSettings], ...] = (
    LiteLLMConfig,
    ServerSettings,
    AgentSettings,
    ClusterSettings,
    MCPSettings,
    RecordSettings,
    ModelPolicySettings,
    BudgetSettings,
    CallbackSettings,
)


def read_by_code() -> set[str]:
    names = {
        cls.env_name(field) for cls in SETTINGS for field in cls.model_fields if field not in INTERNAL_FIELDS
    }
    return names | READ_ELSEWHERE


def test_every_setting_is_documented_in_env_sample() -> None:
    missing = read_by_code() - documented()
    assert not missing, f".env.sample does not document {sorted(missing)}"


def test_env_sample_names_no_setting_the_code_ignores() -> None:
    ours = {name for name in documented() if OURS.match(name)}
    unknown = ours - read_by_code()
    assert not unknown, f".env.sample names variables nothing reads: {sorted(unknown)}"


def test_the_sample_itself_configures_nothing() -> None:
    # Copied to .env as-is, the sample must not pick a model or a key for the user: every assignment
    # is commented out except blank placeholders.
    live = re.findall(
        r"^([A-Z][A-Z0-9_]*)=(.*)$", (ROOT / ".env.sample").read_text(encoding="utf-8"), re.MULTILINE
    )
    assert all(value.strip() == "" for _, value in live), live
