"""What compaction's check costs before each model call: ``Compactor.plan`` (an offline token count of
the whole request, message by message) on contexts of growing length, for a model in LiteLLM's map
(openai/gpt-4o, 128k window) and a Llama model whose tokenizer LiteLLM would download (counted with the
bundled one instead). Prints the p50 of a first count (no message seen before) and of the next call's
(every message's count remembered, as between a turn's steps and a chat's turns); no network, no model call.

    .venv/bin/python bench/compaction.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_OFFLINE_MODE"] = "true"

from director.core import compaction  # noqa: E402
from director.core.compaction import Compactor  # noqa: E402
from director.core.session import Session  # noqa: E402
from director.llm.config import LiteLLMConfig  # noqa: E402
from director.llm.litellm import LiteLLM, ensure_litellm  # noqa: E402

SENTENCE = "The quarterly report lists revenue, costs and the plan for the next release in detail. "


def context_of(turns: int) -> list[dict]:
    """``turns`` turns of ~100-token questions, a tool call with a ~300-token result, a ~150-token answer."""
    messages: list[dict] = []
    for n in range(turns):
        call = {"id": f"c{n}", "type": "function", "tool": {"name": "web_reader", "arguments": {"url": "x"}}}
        messages += [
            {"role": "user", "content": f"Question {n}: " + SENTENCE * 6},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{n}", "content": SENTENCE * 18},
            {"role": "assistant", "content": SENTENCE * 9},
        ]
    return messages + [{"role": "user", "content": "And now?"}]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    ensure_litellm()
    system = {"role": "system", "content": SENTENCE * 20}
    print(f"{'model':<28} {'turns':>6} {'messages':>9} {'tokens':>8} {'first ms':>9} {'again ms':>9}")
    for model, limit in (("openai/gpt-4o", None), ("ollama_chat/llama-3-8b", 131072)):
        llm = LiteLLM(
            LiteLLMConfig(_env_file=None, chat_model=model, api_key="sk-bench", max_input_tokens=limit)
        )
        compactor = Compactor(llm, Session(None, "bench"))  # type: ignore[arg-type] - plan() reads no database
        for turns in (10, 50, 200):
            context = context_of(turns)
            compactor.plan(system, context, None)  # tokenizer loaded
            first, again = [], []
            for _ in range(repeat):
                compaction._SIZES.clear()  # a context never counted (a new turn's new messages)
                started = time.perf_counter()
                plan = compactor.plan(system, context, None)
                first.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                compactor.plan(system, context, None)  # the next call: every message counted already
                again.append((time.perf_counter() - started) * 1000)
            assert plan is not None
            print(
                f"{model:<28} {turns:>6} {len(context):>9} {plan.tokens:>8} "
                f"{statistics.median(first):>9.1f} {statistics.median(again):>9.1f}"
            )


if __name__ == "__main__":
    main()
