"""The provider examples (``providers.json``), written once and shown in three places.

- ``.env.sample``: the block between the two marker lines is rendered from them
  (``python -m director.llm.providers`` rewrites it; a test fails when it is stale);
- the setup panel: the frontend imports ``providers.json`` at build time;
- the README: its quick start shows the setup panel's first example (a test checks it).

A provider with a ``preset`` also gives that preset's default model (``DEFAULT_LLM=openai`` and so on),
so the examples and the defaults cannot disagree.
"""

from __future__ import annotations

import json
import textwrap
from functools import cache
from pathlib import Path

from pydantic import BaseModel

from director.constants import REPO_ROOT, LLMType

PROVIDERS_FILE = Path(__file__).with_name("providers.json")
ENV_SAMPLE = REPO_ROOT / ".env.sample"
BEGIN = "# ---- provider examples: from backend/director/llm/providers.json (python -m director.llm.providers) ----"
END = "# ---- end of provider examples ----"
_WIDTH = 100


class ProviderExample(BaseModel):
    id: str
    label: str  # short: the setup panel's tab
    heading: str | None = None  # longer, for .env.sample; the label when absent
    preset: LLMType | None = None
    env: dict[str, str]
    note: str | None = None
    setup_panel: bool = False

    @property
    def model(self) -> str:
        return self.env["LITELLM_CHAT_MODEL"]

    @property
    def key_name(self) -> str | None:
        return next((name for name in self.env if name.endswith("_API_KEY")), None)

    @property
    def lines(self) -> list[str]:
        return [f"{name}={value}" for name, value in self.env.items()]


@cache
def provider_examples() -> tuple[ProviderExample, ...]:
    data = json.loads(PROVIDERS_FILE.read_text(encoding="utf-8"))
    return tuple(ProviderExample.model_validate(entry) for entry in data["providers"])


def example(provider_id: str) -> ProviderExample:
    return next(p for p in provider_examples() if p.id == provider_id)


def preset_model(llm_type: LLMType) -> str:
    """The default model of a preset: its provider example's model."""
    return next(p.model for p in provider_examples() if p.preset == llm_type)


def quick_start() -> ProviderExample:
    """The example the README's quick start and the setup panel show first."""
    return next(p for p in provider_examples() if p.setup_panel)


def env_sample_block() -> str:
    """The examples as ``.env.sample`` shows them, marker lines included."""
    lines = [BEGIN]
    for provider in provider_examples():
        lines.append(f"# {provider.heading or provider.label}")
        if provider.note:
            lines += textwrap.wrap(provider.note, _WIDTH, initial_indent="#   ", subsequent_indent="#   ")
        lines += [f"#   {line}" for line in provider.lines]
    lines.append(END)
    return "\n".join(lines)


def rewrite_env_sample(path: Path = ENV_SAMPLE) -> bool:
    """Put the current examples between the markers in ``path``; True if the file changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    updated = text[:start] + env_sample_block() + text[end:]
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text


if __name__ == "__main__":
    changed = rewrite_env_sample()
    print(f"{ENV_SAMPLE} {'rewritten' if changed else 'already up to date'}")  # noqa: T201 - CLI output
