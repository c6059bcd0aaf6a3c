"""summarize: condense given text, or a web page's main text, with the LLM."""

from __future__ import annotations

from typing import Literal

from director.agents.base import AgentResponse, AgentStatus, BaseAgent
from director.agents.web_reader import WebReadError, read_url

# Keeps one summarize call well inside small context windows; longer sources are cut (and say so).
MAX_SOURCE_CHARS = 24_000

LENGTHS = {
    "short": "2-3 sentences (or at most 3 bullets)",
    "medium": "about one paragraph of 5-8 sentences (or 5-8 bullets)",
    "long": "several paragraphs covering every main point (or up to 15 bullets)",
}
STYLES = {
    "paragraph": "Write flowing prose paragraphs.",
    "bullets": "Write a Markdown bullet list, one point per bullet.",
    "tldr": "Start with 'TL;DR:' and give the single most important takeaway first.",
}


def summary_prompt(length: str, style: str) -> str:
    return (
        "You summarise documents faithfully. Use only facts from the document; do not add opinions. "
        f"Length: {LENGTHS[length]}. {STYLES[style]} Answer with the summary only."
    )


class SummarizeAgent(BaseAgent):
    name = "summarize"
    description = "Summarises given text or the content of a web page (URL), in a chosen length and style."

    def run(
        self,
        text: str | None = None,
        url: str | None = None,
        length: Literal["short", "medium", "long"] = "medium",
        style: Literal["paragraph", "bullets", "tldr"] = "paragraph",
    ) -> AgentResponse:
        """Summarise text or a web page.

        Args:
            text: The text to summarise (give this or url).
            url: An http(s) URL whose main text should be summarised (give this or text).
            length: How long the summary should be.
            style: paragraph, bullets or tldr.
        """
        if bool(text and text.strip()) == bool(url and url.strip()):
            return AgentResponse(
                status=AgentStatus.ERROR, message="Give exactly one of `text` or `url` to summarise."
            )
        if self.llm is None:
            return AgentResponse(status=AgentStatus.ERROR, message="No language model is configured.")
        source: dict[str, str | None] = {"url": None, "title": None}
        if url:
            self.report(f"Reading {url}")
            try:
                page = read_url(url.strip())
            except WebReadError as exc:
                return AgentResponse(status=AgentStatus.ERROR, message=exc.message, data={"url": url})
            text = page.text
            source = {"url": page.final_url, "title": page.title}
        assert text is not None
        truncated = len(text) > MAX_SOURCE_CHARS
        document = text[:MAX_SOURCE_CHARS]
        self.report("Summarising")
        heading = f"Title: {source['title']}\n\n" if source["title"] else ""
        response = self.llm.chat_completions(
            [
                {"role": "system", "content": summary_prompt(length, style)},
                {"role": "user", "content": f"{heading}Document:\n\n{document}"},
            ]
        )
        self.record_usage(response)
        if not response.ok:
            return AgentResponse(
                status=AgentStatus.ERROR,
                message=response.content or "The model could not summarise this.",
                data={"error_type": response.error_type.value if response.error_type else None},
            )
        summary = response.content.strip()
        note = " (source was cut to its first 24,000 characters)" if truncated else ""
        return AgentResponse(
            message=summary + note,
            data={
                "summary": summary,
                "length": length,
                "style": style,
                "source_url": source["url"],
                "source_title": source["title"],
                "source_chars": len(text),
                "truncated": truncated,
            },
        )
