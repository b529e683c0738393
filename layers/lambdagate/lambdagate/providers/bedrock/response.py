"""Converse responses and ConverseStream events -> OpenAI chat completions and chunks."""

from __future__ import annotations

import json
from typing import Any

from lambdagate.providers import shapes

# Converse stopReason -> OpenAI finish_reason. The malformed_* reasons have no OpenAI
# counterpart; the model stopped on its own, so they read as "stop".
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "", "stop")


def usage(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """OpenAI usage; Bedrock counts cache reads and writes apart from ``inputTokens``."""
    if not raw:
        return None
    read = raw.get("cacheReadInputTokens")
    write = raw.get("cacheWriteInputTokens")
    prompt = int(raw.get("inputTokens") or 0) + int(read or 0) + int(write or 0)
    return shapes.usage(prompt, int(raw.get("outputTokens") or 0), cached_tokens=read, cache_creation_tokens=write)


def chat_completion(response: dict[str, Any], model: str) -> dict[str, Any]:
    message = (response.get("output") or {}).get("message") or {}
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or []:
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append(shapes.tool_call(use["toolUseId"], use["name"], json.dumps(use.get("input") or {})))
        elif "reasoningContent" in block:
            reasoning.append(((block["reasoningContent"].get("reasoningText") or {}).get("text")) or "")
    content = "".join(texts) if texts or not calls else None
    choice = shapes.chat_choice(
        0,
        shapes.chat_message(content, tool_calls=calls or None, reasoning_content="".join(reasoning) or None),
        finish_reason(response.get("stopReason")),
    )
    return shapes.chat_completion(model, [choice], usage(response.get("usage")))


class StreamTranslator:
    """Turns ConverseStream events (``{"contentBlockDelta": {...}}``...) into chat chunks.

    Converse numbers content blocks (text and tool uses together); OpenAI numbers tool calls on
    their own, so each toolUse block is given the next tool-call index when it starts.
    """

    def __init__(self, model: str, *, include_usage: bool) -> None:
        self.chunks = shapes.ChatChunks(model)
        self.include_usage = include_usage
        self.tool_index: dict[int, int] = {}

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if "messageStart" in event:
            return [self.chunks.role()]
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = (start.get("start") or {}).get("toolUse")
            if use is None:
                return []
            index = self.tool_index[start.get("contentBlockIndex", 0)] = len(self.tool_index)
            return [self.chunks.tool_call(index, id=use["toolUseId"], name=use["name"])]
        if "contentBlockDelta" in event:
            return self._delta(event["contentBlockDelta"])
        if "messageStop" in event:
            return [self.chunks.finish(finish_reason(event["messageStop"].get("stopReason")))]
        if "metadata" in event and self.include_usage:
            total = usage(event["metadata"].get("usage"))
            return [self.chunks.usage(total)] if total else []
        return []

    def _delta(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        delta = event.get("delta") or {}
        if "text" in delta:
            return [self.chunks.content(delta["text"])] if delta["text"] else []
        if "toolUse" in delta:
            block = event.get("contentBlockIndex", 0)
            if block not in self.tool_index:  # a delta without its start: give it an index anyway
                self.tool_index[block] = len(self.tool_index)
            return [self.chunks.tool_call(self.tool_index[block], arguments=delta["toolUse"].get("input") or "")]
        if "reasoningContent" in delta:
            text = delta["reasoningContent"].get("text")
            return [self.chunks.reasoning(text)] if text else []
        return []
