"""Names shared across the package."""

from enum import StrEnum
from pathlib import Path

# backend/director/constants.py -> repo root is three levels up.
REPO_ROOT = Path(__file__).resolve().parents[2]
# The default .env; director.settings.env_file() resolves the one to read (DIRECTOR_ENV_FILE).
ENV_FILE = REPO_ROOT / ".env"
DATA_DIR = REPO_ROOT / "data"


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
