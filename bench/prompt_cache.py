"""Prompt caching benchmark (prints figures; not a test). Run: .venv/bin/python bench/prompt_cache.py

A 20-turn chat with anthropic/claude-sonnet-4-5 through the real LiteLLM adapter to the fake Anthropic server,
priced by LiteLLM, with and without prompt caching. The fake reports usage the way Anthropic does: with a
cache_control marker on the last message, the prefix up to the previous call's marker is read from the cache
(input_tokens excludes it) and the rest is written to it; without markers every input token is fresh. The
prompt's size is LiteLLM's own token count of what was sent (system prompt, tools, history).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODEL = "anthropic/claude-sonnet-4-5"
TURNS = 20
SYSTEM = "You are Director, an agent orchestrator. " + "Follow the house rules carefully. " * 300
QUESTION = "Tell me more about the pricing of model number {n}, in two short paragraphs."
ANSWER = "Model {n} costs a little more than the last one. " * 20


def run(caching: bool) -> tuple[float, int, int, bool]:
    from director.agents import build_agents
    from litellm import token_counter

    from tests.fakes.providers import FakeAnthropic, Reply, make_litellm

    fake = FakeAnthropic()
    try:
        llm = make_litellm(fake, model=MODEL, prompt_caching=caching)
        tools = [agent.to_llm_tool() for agent in build_agents(llm)]
        messages = [{"role": "system", "content": SYSTEM}]
        cost, cached, prompt_total, cached_prefix = 0.0, 0, 0, 0
        for n in range(1, TURNS + 1):
            messages.append({"role": "user", "content": QUESTION.format(n=n)})
            answer = ANSWER.format(n=n)
            prompt = token_counter(model=MODEL, messages=messages) + token_counter(
                model=MODEL, text=str(tools)
            )
            completion = token_counter(model=MODEL, text=answer)
            if caching:
                reply = Reply(
                    text=answer,
                    prompt_tokens=0,
                    cache_read_tokens=cached_prefix,
                    cache_creation_tokens=prompt - cached_prefix,
                    completion_tokens=completion,
                )
            else:
                reply = Reply(text=answer, prompt_tokens=prompt, completion_tokens=completion)
            fake.script(reply)
            response = llm.chat_completions(messages, tools=tools)
            assert response.ok, response.content
            cost += response.cost or 0.0
            cached += response.cached_tokens
            prompt_total += response.send_tokens
            cached_prefix = prompt  # the marker on this call's last message: the next call reads up to here
            messages.append({"role": "assistant", "content": answer})
        marked = all("cache_control" in str(request.json) for request in fake.requests)
        return cost, prompt_total, cached, marked
    finally:
        fake.close()


def main() -> int:
    os.environ.setdefault("DIRECTOR_LOG_LEVEL", "warning")
    os.environ["DIRECTOR_ENV_FILE"] = os.devnull
    plain = run(caching=False)
    cached = run(caching=True)
    print(f"{TURNS}-turn chat on {MODEL}, priced by LiteLLM:")
    print(f"  without caching: ${plain[0]:.4f}  ({plain[1]:,} input tokens, {plain[2]:,} cached)")
    print(
        f"  with caching:    ${cached[0]:.4f}  ({cached[1]:,} input tokens, {cached[2]:,} cached; "
        f"markers sent: {cached[3]})"
    )
    print(f"  saved: {(1 - cached[0] / plain[0]) * 100:.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
