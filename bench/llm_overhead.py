"""Per-call overhead of Director's LiteLLM adapter over a bare ``litellm.completion``.

Both hit the same in-process FakeOpenAI server in one run, interleaved call by call so machine
noise affects both alike. Prints the median latency of each, the difference and the ratio, for
JSON and for streaming responses. Streams are compared against bare LiteLLM read two ways: to the
end (``stream``) and stopping after the usage chunk as the adapter does (``stream*``), which skips
LiteLLM's second end-of-stream rebuild, its copies and another logging job.

    .venv/bin/python bench/llm_overhead.py [--calls 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # for tests.fakes

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_OFFLINE_MODE"] = "true"

from director.llm.litellm import ensure_litellm  # noqa: E402

from tests.fakes.providers import FAKE_API_KEY, FakeOpenAI, Reply, make_litellm  # noqa: E402

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "What is 2+2?"}]
TOOLS = [
    {
        "name": "pricing",
        "description": "Look up model prices",
        "parameters": {
            "type": "object",
            "properties": {"models": {"type": "array", "items": {"type": "string"}}},
        },
    }
]
OPENAI_TOOLS = [{"type": "function", "function": TOOLS[0]}]
REPLY = Reply(
    text="The answer is four, as you may well know already.", tool_calls=[("pricing", {"models": ["a"]})]
)


def cpu_per_call(fn: Callable[[], object], calls: int) -> float:
    """CPU ms per call of this whole process, LiteLLM's worker threads (its end-of-stream logging)
    and the in-process fake provider included; waits for the worker threads' backlog to drain."""
    start = time.process_time()
    for _ in range(calls):
        fn()
    time.sleep(0.3)
    return (time.process_time() - start) * 1000 / calls


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()

    litellm = ensure_litellm()
    fake = FakeOpenAI()
    fake.responder = lambda req: REPLY
    llm = make_litellm(fake, num_retries=0)
    bare_kwargs = {
        "model": "openai/fake-model",
        "api_base": fake.api_base,
        "api_key": FAKE_API_KEY,
        "messages": MESSAGES,
        "tools": OPENAI_TOOLS,
        "num_retries": 0,
        "max_retries": 0,
    }

    def bare_json() -> None:
        litellm.completion(**bare_kwargs)

    def bare_stream() -> None:
        for _ in litellm.completion(**bare_kwargs, stream=True, stream_options={"include_usage": True}):
            pass

    def bare_stream_to_usage() -> None:
        stream = litellm.completion(**bare_kwargs, stream=True, stream_options={"include_usage": True})
        finished = False
        for chunk in stream:
            finished = finished or any(choice.finish_reason for choice in chunk.choices)
            if finished and getattr(chunk, "usage", None) is not None:
                break
        stream.completion_stream.close()

    def ours_json() -> None:
        assert llm.chat_completions(MESSAGES, tools=TOOLS).ok

    def ours_stream() -> None:
        for _ in llm.chat_completions_stream(MESSAGES, tools=TOOLS):
            pass

    for fn in (
        bare_json,
        bare_stream,
        bare_stream_to_usage,
        ours_json,
        ours_stream,
    ):  # warm connection pools and caches
        for _ in range(5):
            fn()

    print(f"LiteLLM adapter overhead, median of {args.calls} calls each against FakeOpenAI on 127.0.0.1")
    print(f"{'mode':<8}{'bare ms':>10}{'adapter ms':>12}{'overhead ms':>13}{'ratio':>8}")
    modes = (
        ("json", bare_json, ours_json),
        ("stream", bare_stream, ours_stream),
        ("stream*", bare_stream_to_usage, ours_stream),
    )
    for mode, bare, ours in modes:
        bare_ms, ours_ms = [], []
        for _ in range(args.calls):
            bare_ms.append(timed(bare))
            ours_ms.append(timed(ours))
        b, o = statistics.median(bare_ms), statistics.median(ours_ms)
        print(f"{mode:<8}{b:>10.2f}{o:>12.2f}{o - b:>13.2f}{o / b:>8.2f}x")
    print("stream: bare read to the end; stream*: bare read up to the usage chunk, as the adapter does")
    print(
        f"CPU per streamed call (ms, whole process incl. the fake provider; medians of 3 alternating blocks of {args.calls}):"
    )
    cpu: dict[str, list[float]] = {"bare stream*": [], "bare stream* logging skipped": [], "adapter": []}
    for _ in range(3):
        litellm.disable_streaming_logging = False  # LiteLLM's default
        cpu["bare stream*"].append(cpu_per_call(bare_stream_to_usage, args.calls))
        litellm.disable_streaming_logging = True
        cpu["bare stream* logging skipped"].append(cpu_per_call(bare_stream_to_usage, args.calls))
        cpu["adapter"].append(cpu_per_call(ours_stream, args.calls))
    for name, values in cpu.items():
        print(f"  {name:<30}{statistics.median(values):>8.2f}")
    fake.close()


if __name__ == "__main__":
    main()
