"""Compaction: before a model call would come near the model's context window, the oldest turns of the
model's context are replaced by a summary the model writes, so a long chat keeps its gist.

- The count is LiteLLM's offline ``token_counter`` (``BaseLLM.count_input_tokens``) against the turn's
  model's ``max_input_tokens`` (LiteLLM's map, or LITELLM_MAX_INPUT_TOKENS); unknown limit: nothing done.
- Only whole turns go, cut where a user message starts one: the system prompt (never in the context),
  the current turn and every tool call with its result stay as they are.
- The summary is a user message at the head of the context (``SUMMARY_KEY`` marks it; the provider
  conversion drops the key). It is stored in ``context_summaries`` keyed by the input message whose turn
  it ends with, with the number of context messages it replaces and a running digest of them, so a
  context rebuilt from the conversation (another branch, a reload) reuses it only where those are the
  same messages. When more must go, the summary is extended (the old summary plus the next turns).
- A summary call that fails leaves the context as it was: the provider's context-window error (and the
  engine's dropping of old turns) stays the fallback, and the turn never fails because of compaction.

No Flask, no LiteLLM import here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from director.agents.base import calls_made_by
from director.core.branches import INPUT, MessageTree
from director.core.session import BlockStatus, OutputMessage, Session, TextContent
from director.llm.base import BaseLLM, LLMErrorType, LLMResponse, LLMResponseStatus
from director.llm.redact import protect

if TYPE_CHECKING:
    from director.db.base import BaseDB

logger = logging.getLogger(__name__)
protect(logger)

DEFAULT_COMPACT_AT = 0.85
# After compacting, the context aims at this share of the threshold, so the next turns do not each
# need a summary call.
TARGET_SHARE = 0.5
SUMMARY_KEY = "director_summary"
COMPACTION = "compaction"  # agent_name of the step that says the oldest messages were summarized
SUMMARY_HEADER = (
    "Summary of the earlier conversation (older messages were replaced by it to fit the model's context):"
)
SUMMARY_PROMPT = (
    "You compress a conversation between a user and an assistant so it can continue in less space. "
    "Write a concise summary that keeps every fact, decision, number, name, open question and what the "
    "user wants, and what tools were used with what result. Write in the conversation's language. "
    "Reply with the summary only."
)
# One message's text in the transcript the model summarizes (a fetched page can be huge).
MAX_MESSAGE_CHARS = 4000
CHARS_PER_TOKEN = 3  # a cautious ratio, to cut one huge message to a token budget without counting again
# Tokens left for the summary call's answer and the counting's error.
SUMMARY_ROOM = 100


@dataclass
class Plan:
    """What ``Compactor.fit`` decided: how many messages (after any summary) go, and the counts."""

    tokens: int
    limit: int
    cut: int = 0  # the context index the kept messages start at (0: nothing to compact)


# Message token counts by (LLM class, model, sha256 of the message): a bounded LRU (~10 MB) shared by every
# turn of the process.
SIZES_KEPT = 50_000
_SIZES: OrderedDict[tuple[str, str, str], int] = OrderedDict()
_SIZES_LOCK = threading.Lock()


def _canonical(message: dict[str, Any]) -> str:
    return json.dumps(message, sort_keys=True, default=str, ensure_ascii=False)


def digest_of(messages: list[dict[str, Any]], start: str = "") -> str:
    """A running digest: ``digest_of(a + b) == digest_of(b, digest_of(a))``, so an extended summary's
    digest is checked against a full context without knowing how it was built."""
    digest = start
    for message in messages:
        digest = hashlib.sha256((digest + "\n" + _canonical(message)).encode("utf-8", "replace")).hexdigest()
    return digest


def summary_message(text: str, through_msg_id: str, covered: int, digest: str) -> dict[str, Any]:
    marker = {"through_msg_id": through_msg_id, "covered": covered, "digest": digest}
    return {"role": "user", "content": f"{SUMMARY_HEADER}\n\n{text}", SUMMARY_KEY: marker}


def summary_text(message: dict[str, Any]) -> str:
    return str(message.get("content") or "").removeprefix(SUMMARY_HEADER).strip()


def turn_starts(context: list[dict[str, Any]]) -> list[int]:
    """Indexes where a turn starts (a user message), the head summary excluded."""
    return [i for i, m in enumerate(context) if m.get("role") == "user" and SUMMARY_KEY not in m]


def text_of(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of parts (images left out)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return "" if content is None else json.dumps(content, default=str)


def render(messages: list[dict[str, Any]]) -> list[str]:
    """The messages as transcript lines for the summarizing model: who said what, which tool returned what."""
    lines: list[str] = []
    for message in messages:
        role = message.get("role")
        text = text_of(message.get("content"))[:MAX_MESSAGE_CHARS]
        if role == "user":
            images = isinstance(message.get("content"), list) and any(
                isinstance(p, dict) and p.get("type") == "image_url" for p in message["content"]
            )
            lines.append(f"User: {text}" + (" [with an image]" if images else ""))
        elif role == "assistant":
            if text:
                lines.append(f"Assistant: {text}")
            for call in message.get("tool_calls") or []:
                tool = call.get("tool") or call.get("function") or {}
                arguments = json.dumps(tool.get("arguments"), default=str)[:MAX_MESSAGE_CHARS]
                lines.append(f"Assistant called the tool {tool.get('name')} with {arguments}")
        elif role == "tool":
            lines.append(f"Tool result: {text}")
    return lines


def input_id_of_turn(
    context: list[dict[str, Any]], turn_index: int, inputs: list[tuple[str, str]]
) -> str | None:
    """The id of the input message whose question starts the turn at ``context[turn_index]``.

    ``inputs`` are the conversation's input messages ``(msg_id, text)``, oldest first. The context's
    questions are matched to them from the newest back, each to the newest free input with its text: an
    input missing from the context (a question asked again after a failed turn is in the context once)
    is skipped, never shifting the others.
    """
    starts = turn_starts(context)
    position = len(inputs)  # inputs[:position] are still free to match
    for index in reversed(starts):
        text = text_of(context[index].get("content"))
        found = next((p for p in range(position - 1, -1, -1) if inputs[p][1] == text), None)
        if found is not None:
            position = found
        # A question with no input (not stored, or another text) matches nothing and shifts nothing.
        if index == turn_index:
            return inputs[found][0] if found is not None else None
    return None


class Compactor:
    """One turn's compaction: ``fit`` before each model call. ``compact_at``: the share of the window
    (0-1] a request may fill before the oldest turns are summarized. ``save`` stores a compacted context
    (the engine's own save)."""

    def __init__(
        self,
        llm: BaseLLM,
        session: Session,
        compact_at: float = DEFAULT_COMPACT_AT,
        save: Callable[[list[dict[str, Any]]], None] | None = None,
    ):
        self.llm = llm
        self.session = session
        self.db: BaseDB = session.db
        self.session_id = session.session_id
        self.compact_at = compact_at
        self.save = save or (lambda context: None)
        # A summary call failed in this turn: the next steps do not ask again (the provider decides).
        self.gave_up = False

    def fit(
        self,
        output: OutputMessage,
        system: dict[str, Any],
        context: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
    ) -> LLMResponse | None:
        """Before a model call: compact ``context`` in place when it comes near the window (the answer's
        steps say so, the compacted context is saved). An error response when the call must not be sent
        (over a declared window, see ``too_long``); None to send it. Never raises."""
        try:
            plan = self.plan(system, context, tools)
            if plan is None or plan.tokens <= self.compact_at * plan.limit:
                return None
            reused = self.reuse(context)
            if reused:
                output.add_action(f"Used the stored summary of the {reused} oldest messages of this chat")
                plan = self.plan(system, context, tools)
            summarized = 0
            if plan is not None and plan.cut and not self.gave_up:
                summarized = self.compact(context, plan.cut, self._inputs(), output)
                self.gave_up = not summarized
                if summarized:
                    said = f"Summarized the {summarized} oldest messages so the chat fits the model's context"
                    output.add_action(said)
                    # A step the user sees, holding what the model now has in place of those messages.
                    output.add_block(
                        TextContent(
                            agent_name=COMPACTION,
                            status=BlockStatus.SUCCESS,
                            status_message="Summarized",
                            text=said,
                            data={"messages": summarized, "summary": summary_text(context[0])},
                        )
                    )
                    plan = self.plan(system, context, tools)
            if reused or summarized:
                output.push_update()
                self.save(context)
            if plan is not None and plan.tokens > plan.limit and self.llm.max_input_tokens_declared:
                return too_long(plan)
        except Exception:
            # Compaction is a saving, never a reason for a turn to fail: the provider decides.
            logger.exception("compaction failed in session %s", self.session_id)
        return None

    def _inputs(self) -> list[tuple[str, str]]:
        """The input messages ``(msg_id, text)`` of the branch this turn runs on (every input of the chat
        when it has no branch), oldest first."""
        branch = self.session.branch
        if branch is None:
            messages = self.db.get_conversations(self.session_id)
        else:
            tree = MessageTree.load(self.db, self.session_id)
            path = [*tree.path_to(branch.parent_msg_id), branch.input_msg_id]
            messages = self.db.get_messages(self.session_id, [m for m in path if tree.types.get(m) == INPUT])
        # InputMessage.text: the text blocks, joined as the engine joined them for the model.
        return [
            (m["msg_id"], "\n\n".join(b.get("text") or "" for b in m.get("content") or [] if b.get("text")))
            for m in messages
            if m.get("msg_type") == INPUT
        ]

    # -- the decision --------------------------------------------------------------------------------

    def plan(
        self, system: dict[str, Any], context: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> Plan | None:
        """None when the limit is unknown; else the count and, when over the threshold, the cut."""
        limit = self.llm.max_input_tokens
        if not limit:
            return None
        sizes = [self._size(m) for m in [system, *context]]
        fixed = self._size({"tools": tools}) if tools else 0
        tokens = sum(sizes) + fixed
        threshold = self.compact_at * limit
        plan = Plan(tokens=tokens, limit=limit)
        if tokens <= threshold:
            return plan
        head = 1 if context and SUMMARY_KEY in context[0] else 0
        # Cut only where a turn starts, after at least one message to summarize; at the latest where the
        # current turn starts (it always stays whole).
        candidates = [i for i in turn_starts(context) if i > head]
        if not candidates:
            return plan
        target = threshold * TARGET_SHARE
        kept = sizes[0] + fixed + (sizes[1] if head else 0)  # system (+ the summary it will grow from)
        suffix = [0] * (len(context) + 1)
        for i in range(len(context) - 1, -1, -1):
            suffix[i] = suffix[i + 1] + sizes[i + 1]
        # The fewest turns whose summary brings the request under the target; else all older turns.
        plan.cut = next((i for i in candidates if kept + suffix[i] <= target), candidates[-1])
        return plan

    def _size(self, message: dict[str, Any]) -> int:
        """One message's tokens (``{"tools": [...]}``: the tools'), remembered: a chat's messages are counted
        again before every call, and tokenizing costs ten times what serializing does (bench/compaction.py)."""
        fingerprint = hashlib.sha256(_canonical(message).encode("utf-8", "replace")).hexdigest()
        key = (type(self.llm).__name__, self.llm.config.chat_model or "", fingerprint)
        with _SIZES_LOCK:
            size = _SIZES.get(key)
            if size is not None:
                _SIZES.move_to_end(key)
                return size
        if set(message) == {"tools"}:
            size = self.llm.count_input_tokens([], message["tools"])
        else:
            size = self.llm.count_input_tokens([message], None)
        with _SIZES_LOCK:
            _SIZES[key] = size
            while len(_SIZES) > SIZES_KEPT:
                _SIZES.popitem(last=False)
        return size

    # -- the work ------------------------------------------------------------------------------------

    def reuse(self, context: list[dict[str, Any]]) -> int:
        """Put a stored summary in place of the messages it covers, when the context starts with exactly
        those (a context rebuilt from the conversation). How many messages it replaced (0: none)."""
        if not context or SUMMARY_KEY in context[0]:
            return 0
        try:
            stored = self.db.get_context_summaries(self.session_id)
        except Exception:
            logger.exception("could not read the summaries of session %s", self.session_id)
            return 0
        starts = set(turn_starts(context))
        for row in stored:  # those covering most first
            covered = row["covered"]
            # Only whole turns: the message after the covered ones starts a turn.
            if covered >= len(context) or covered not in starts:
                continue
            if digest_of(context[:covered]) == row["digest"]:
                context[:covered] = [
                    summary_message(row["summary"], row["through_msg_id"], covered, row["digest"])
                ]
                return covered
        return 0

    def compact(
        self,
        context: list[dict[str, Any]],
        cut: int,
        inputs: list[tuple[str, str]],
        output: OutputMessage | None = None,
    ) -> int:
        """Summarize ``context[:cut]`` (extending a head summary) into one message, in place. How many
        messages went (0: the summary call failed or nothing could be summarized; context untouched)."""
        head = context[0] if context and SUMMARY_KEY in context[0] else None
        start = 1 if head is not None else 0
        covered_now = context[start:cut]
        if not covered_now:
            return 0
        previous = summary_text(head) if head is not None else ""
        marker = head[SUMMARY_KEY] if head is not None else {"covered": 0, "digest": ""}
        text = self._summarize(previous, covered_now, output)
        if text is None:
            return 0
        through = input_id_of_turn(context, _last_turn_start(context, start, cut), inputs)
        covered = marker["covered"] + len(covered_now)
        digest = digest_of(covered_now, marker["digest"])
        context[:cut] = [summary_message(text, through or "", covered, digest)]
        if through:
            try:
                self.db.save_context_summary(
                    self.session_id,
                    {"through_msg_id": through, "covered": covered, "digest": digest, "summary": text},
                )
            except Exception:  # the compacted context is saved with the turn anyway
                logger.exception("could not store a summary of session %s", self.session_id)
        return len(covered_now)

    def _summarize(
        self, previous: str, messages: list[dict[str, Any]], output: OutputMessage | None
    ) -> str | None:
        """The model's summary of ``previous`` + ``messages``, in as many calls as the window needs
        (each extends the last); None when a call fails."""
        summary = previous
        lines = render(messages)
        while lines:
            chunk, lines = self._next_chunk(summary, lines)
            parts = [f"Summary so far:\n{summary}\n"] if summary else []
            parts.append("Conversation to add to it:\n" + "\n".join(chunk))
            with calls_made_by(COMPACTION):  # metered and listed as compaction's call, not the answer's
                response = self.llm.chat_completions(
                    [
                        {"role": "system", "content": SUMMARY_PROMPT},
                        {"role": "user", "content": "\n".join(parts)},
                    ]
                )
            if output is not None and response.sent:
                # Part of what the turn used, as an agent's own call is.
                output.add_usage(None, response.send_tokens, response.recv_tokens, response.cost)
            if not response.ok or not (response.content or "").strip():
                logger.warning(
                    "summarizing old turns failed in session %s (%s): context left as it was",
                    self.session_id,
                    response.error_type or "empty answer",
                )
                return None
            summary = response.content.strip()
        return summary

    def _next_chunk(self, summary: str, lines: list[str]) -> tuple[list[str], list[str]]:
        """The transcript lines that fit one summary call under the threshold (at least one, cut to fit
        when alone too long), and the rest."""
        limit = self.llm.max_input_tokens or 0
        fixed = self.llm.count_input_tokens(
            [{"role": "system", "content": SUMMARY_PROMPT}, {"role": "user", "content": summary}], None
        )
        room = min(SUMMARY_ROOM, limit // 10)
        budget = max(room, int(limit * self.compact_at) - fixed - room)
        # Lines go into one message: each line's count without a message's own overhead.
        overhead = self.llm.count_input_tokens([{"role": "user", "content": ""}], None)
        chunk: list[str] = []
        used = 0
        for index, line in enumerate(lines):
            size = self.llm.count_input_tokens([{"role": "user", "content": line}], None) - overhead + 1
            if chunk and used + size > budget:
                return chunk, lines[index:]
            if not chunk and size > budget:
                line = line[: budget * CHARS_PER_TOKEN]  # one huge message: its start stands for it
            chunk.append(line)
            used += size
        return chunk, []


def too_long(plan: Plan) -> LLMResponse:
    """The call not sent: over the window the operator declared (Ollama would cut it silently)."""
    return LLMResponse(
        status=LLMResponseStatus.ERROR,
        error_type=LLMErrorType.CONTEXT_WINDOW,
        content=(
            f"This conversation no longer fits the model's context window: about {plan.tokens} tokens "
            f"for a limit of {plan.limit} (LITELLM_MAX_INPUT_TOKENS). Start a new chat, shorten the "
            "message, or raise the limit together with the model server's (e.g. Ollama's num_ctx)."
        ),
        error_detail={"tokens": plan.tokens, "limit": plan.limit, "setting": "LITELLM_MAX_INPUT_TOKENS"},
    )


def _last_turn_start(context: list[dict[str, Any]], start: int, cut: int) -> int:
    return max(i for i in turn_starts(context) if start <= i < cut)
