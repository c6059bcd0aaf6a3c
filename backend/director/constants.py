"""Names shared across the package."""

import os
from enum import StrEnum
from pathlib import Path

# backend/director/constants.py -> repo root is three levels up.
REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = REPO_ROOT / ".env"
DATA_DIR = REPO_ROOT / "data"


def env_file() -> Path:
    """The ``.env`` file settings read, resolved when settings are built (not at import) so tests
    and deployments can point it elsewhere with ``DIRECTOR_ENV_FILE``."""
    override = os.environ.get("DIRECTOR_ENV_FILE")
    return Path(override) if override else ENV_FILE


class LLMType(StrEnum):
    """The LLM families ``DEFAULT_LLM`` accepts. All of them are served by the LiteLLM adapter."""

    LITELLM = "litellm"
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GOOGLEAI = "googleai"


class EnvPrefix(StrEnum):
    """Environment-variable prefix of each LLM family's settings."""

    LITELLM = "LITELLM_"
    OPENAI = "OPENAI_"
    ANTHROPIC = "ANTHROPIC_"
    GOOGLEAI = "GOOGLEAI_"
