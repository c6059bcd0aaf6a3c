"""What choosing the LLM from a chat's settings adds to a turn (target: <= 1 ms).

Prints the median time of ``SessionLLMs.build`` (the one per-turn call) for the default model, for a
chat on another provider's model once it was built (every turn after a chat's first), and for the
first build of a model (once per model and effort per process); plus the per-call work that the
per-chat adapter adds before LiteLLM is called (credentials and missing-key look-up, request kwargs).

    .venv/bin/python bench/session_llm.py [--rounds 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_OFFLINE_MODE"] = "true"
os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-bench")

from director.llm.config import LiteLLMConfig  # noqa: E402
from director.llm.for_session import SessionLLMs  # noqa: E402
from director.llm.litellm import LiteLLM, ensure_litellm  # noqa: E402
from director.llm.model_policy import ModelPolicy  # noqa: E402


def median_us(fn: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20000)
    rounds = parser.parse_args().rounds
    ensure_litellm()  # imported once per process at start-up (warm-up), never per turn
    default = LiteLLM(
        LiteLLMConfig(
            _env_file=None,
            chat_model="openai/gpt-4o",
            api_key="sk-bench",
            fallback_models=["openai/gpt-4o-mini"],
            extra_params={"seed": 7},
        )
    )
    models = [f"anthropic/claude-bench-{i}" for i in range(rounds)]
    llms = SessionLLMs(default, ModelPolicy(default.models, models, allow_any=False))
    claude = llms.build("anthropic/claude-bench-0", "high")
    claude.missing_credentials("anthropic/claude-bench-0")  # cached after the first check

    cold = iter(models[1:])
    print(
        f"SessionLLMs.build, default model:          {median_us(lambda: llms.build(None, None), rounds):8.2f} us"
    )
    print(
        f"SessionLLMs.build, a chat's model (kept):  {median_us(lambda: llms.build(claude.config.chat_model, 'high'), rounds):8.2f} us"
    )
    print(
        f"SessionLLMs.build, a model's first build:  {median_us(lambda: llms.build(next(cold), None), min(rounds, 2000)):8.2f} us"
    )
    print(
        "per call: missing-key check + kwargs:      "
        f"{median_us(lambda: (claude.missing_credentials('anthropic/claude-bench-0'), claude._request_kwargs('anthropic/claude-bench-0', True)), rounds):8.2f} us"
    )
    print("target: <= 1000 us added per turn")


if __name__ == "__main__":
    main()
