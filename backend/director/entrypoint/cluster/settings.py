"""`make cluster`'s own settings (the servers it starts read the usual ServerSettings)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field

from director.constants import REPO_ROOT
from director.settings import DirectorSettings

DEFAULT_CLUSTER_DIR = REPO_ROOT / ".cluster"


class ClusterSettings(DirectorSettings):
    # One process per core: each one is bounded by LiteLLM's CPU per call on one core.
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 2,
        validation_alias=AliasChoices("CLUSTER_WORKERS", "cluster_workers"),
        ge=1,
        le=256,
    )
    # Where the local Redis, PostgreSQL (its data is kept across runs) and nginx keep their files.
    directory: Path = Field(
        DEFAULT_CLUSTER_DIR,
        validation_alias=AliasChoices("CLUSTER_DIR", "cluster_dir"),
        description="a directory path",
    )


def load_cluster_settings(**overrides: Any) -> ClusterSettings:
    """Read the settings; a bad value raises a ``ConfigError`` naming the variable."""
    return ClusterSettings(**overrides)
