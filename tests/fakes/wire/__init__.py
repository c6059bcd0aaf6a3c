"""Every wire format the conformance set runs against: its fake server, its model string, and how to
read back what the fake received (``received.Received``).

    fmt = WIRE_FORMATS["gemini"]
    with fmt.open() as fake:
        llm = fmt.llm(fake)
        ...
        fmt.read(fake.requests[0])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakes.providers import (
    FAKE_API_KEY,
    FakeAnthropic,
    FakeOllama,
    FakeOpenAI,
    FakeProvider,
    RecordedRequest,
    Reply,
    context_window_reply,
    make_litellm,
)
from tests.fakes.wire.bedrock import (
    FAKE_AWS_ACCESS_KEY_ID,
    FAKE_AWS_REGION,
    FAKE_AWS_SECRET_ACCESS_KEY,
    FakeBedrock,
)
from tests.fakes.wire.gemini import FakeGemini
from tests.fakes.wire.openai_compatible import FakeAzure, FakeMistral, FakeVLLM
from tests.fakes.wire.received import Received, read_anthropic, read_ollama, read_openai

if TYPE_CHECKING:
    from director.llm.litellm import LiteLLM

AZURE_API_VERSION = "2024-10-21"


def bearer(req: RecordedRequest) -> str | None:
    return req.headers.get("authorization", "").removeprefix("Bearer ") or None


@dataclass
class WireFormat:
    name: str
    fake_class: type[FakeProvider]
    read: Callable[[RecordedRequest], list[Received]]
    sent_key: Callable[[RecordedRequest], str | None] = bearer
    model: str = ""  # default: the fake's own
    # The replies a provider of this format sends for a bad key, a rate limit and too long a prompt.
    auth_error: Callable[[], Reply] = lambda: Reply(status=401)
    rate_limit: Callable[[str], Reply] = lambda after: Reply(status=429, headers={"Retry-After": after})
    context_window: Callable[[], Reply] = context_window_reply
    call_ids: bool = True  # tool calls and results carry ids on the wire (Gemini and Ollama: no)
    key: str | None = FAKE_API_KEY  # what the adapter is given as api_key (Bedrock signs with AWS_*)
    env: dict[str, str] = field(default_factory=dict)  # provider variables LiteLLM reads itself

    @classmethod
    def of(cls, fake_class: type[Any], **values: Any) -> WireFormat:
        """A format whose fake says it all: ``read``, ``sent_key`` and its error replies are its own."""
        hooks = ("sent_key", "auth_error", "rate_limit", "context_window")
        own = {name: getattr(fake_class, name) for name in hooks if hasattr(fake_class, name)}
        return cls(fake_class.name, fake_class, fake_class.read, **own, **values)

    def open(self) -> FakeProvider:
        return self.fake_class()

    @property
    def model_name(self) -> str:
        return self.model or self.fake_class.default_model

    def llm(self, fake: FakeProvider, **overrides: Any) -> LiteLLM:
        overrides.setdefault("api_key", self.key or "")
        return make_litellm(fake, model=overrides.pop("model", self.model_name), **overrides)


WIRE_FORMATS: dict[str, WireFormat] = {
    f.name: f
    for f in [
        WireFormat("openai", FakeOpenAI, read_openai),
        WireFormat(
            "anthropic",
            FakeAnthropic,
            read_anthropic,
            sent_key=lambda req: req.headers.get("x-api-key"),
            context_window=lambda: context_window_reply("anthropic"),
        ),
        WireFormat(
            "ollama",
            FakeOllama,
            read_ollama,
            call_ids=False,
            context_window=lambda: context_window_reply("ollama"),
        ),
        WireFormat("proxy", FakeOpenAI, read_openai, model="litellm_proxy/fake-model"),
        WireFormat(
            "azure",
            FakeAzure,
            read_openai,
            sent_key=FakeAzure.sent_key,
            env={"AZURE_API_VERSION": AZURE_API_VERSION},
        ),
        # A model LiteLLM knows: for unknown ones it folds the system prompt into the user's turn.
        WireFormat.of(FakeGemini, model="gemini/gemini-2.5-flash", call_ids=False),
        WireFormat.of(
            FakeBedrock,
            # A model LiteLLM knows: for unknown ones it sends no tools and flattens tool calls to text.
            model="bedrock/converse/anthropic.claude-3-5-sonnet-20240620-v1:0",
            key=None,
            env={
                "AWS_ACCESS_KEY_ID": FAKE_AWS_ACCESS_KEY_ID,
                "AWS_SECRET_ACCESS_KEY": FAKE_AWS_SECRET_ACCESS_KEY,
                "AWS_REGION_NAME": FAKE_AWS_REGION,
            },
        ),
        WireFormat("vllm", FakeVLLM, read_openai, context_window=FakeVLLM.context_window),
        WireFormat("mistral", FakeMistral, read_openai, context_window=FakeMistral.context_window),
    ]
}

# Environment variables that would let a developer's real credentials or settings leak into a test.
PROVIDER_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_REGION_NAME",
    "AWS_DEFAULT_REGION",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_BEDROCK_RUNTIME_ENDPOINT",
    "AZURE_API_VERSION",
    "AZURE_API_BASE",
    "AZURE_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "MISTRAL_API_KEY",
    "HOSTED_VLLM_API_BASE",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
)
