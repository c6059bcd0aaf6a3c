"""The provider examples are written once (providers.json) and .env.sample, the README, the presets
and the setup hint all show the same ones. The setup panel is checked in tests/e2e."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from director.constants import LLMType
from director.llm import SETUP_HINT
from director.llm.config import PRESET_CONFIGS
from director.llm.providers import (
    BEGIN,
    END,
    ENV_SAMPLE,
    env_sample_block,
    preset_model,
    provider_examples,
    quick_start,
    rewrite_env_sample,
)

README = Path(__file__).resolve().parents[2] / "README.md"
CHAT_MODEL_LINE = re.compile(r"\b[A-Z]+_CHAT_MODEL=([^\s<`]+)")


def test_env_sample_shows_the_examples() -> None:
    assert env_sample_block() in ENV_SAMPLE.read_text(encoding="utf-8"), (
        ".env.sample's provider examples are stale: run `.venv/bin/python -m director.llm.providers`"
    )


def test_rewrite_replaces_a_stale_block(tmp_path: Path) -> None:
    sample = tmp_path / ".env.sample"
    sample.write_text(f"# before\n{BEGIN}\n#   LITELLM_CHAT_MODEL=openai/stale\n{END}\nLITELLM_CHAT_MODEL=\n")
    assert rewrite_env_sample(sample) is True
    text = sample.read_text()
    assert "openai/stale" not in text and env_sample_block() in text
    assert text.startswith("# before\n") and text.endswith("\nLITELLM_CHAT_MODEL=\n")
    assert rewrite_env_sample(sample) is False  # idempotent


def test_readme_quick_start_shows_the_first_example() -> None:
    readme = README.read_text(encoding="utf-8")
    for line in quick_start().lines:
        assert line in readme, f"README's quick start should show {line}"


@pytest.mark.parametrize("path", [README, ENV_SAMPLE], ids=lambda p: p.name)
def test_every_model_shown_is_an_example(path: Path) -> None:
    known = {p.model for p in provider_examples()}
    shown = set(CHAT_MODEL_LINE.findall(path.read_text(encoding="utf-8")))
    assert shown and shown <= known, (
        f"{path.name} shows models that are not in providers.json: {shown - known}"
    )


@pytest.mark.parametrize("llm_type", [t for t in LLMType if t is not LLMType.LITELLM])
def test_each_preset_defaults_to_its_example(llm_type: LLMType) -> None:
    assert PRESET_CONFIGS[llm_type](_env_file=None).chat_model == preset_model(llm_type)


def test_setup_hint_names_the_first_example() -> None:
    assert f"LITELLM_CHAT_MODEL={quick_start().model}" in SETUP_HINT
    assert f"{quick_start().key_name}=" in SETUP_HINT


def test_examples_are_well_formed() -> None:
    examples = provider_examples()
    assert len({p.id for p in examples}) == len(examples)
    assert any(p.setup_panel for p in examples)
    for example in examples:
        assert list(example.env)[0] == "LITELLM_CHAT_MODEL" and "/" in example.model
