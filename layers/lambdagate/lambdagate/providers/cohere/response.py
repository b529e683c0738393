"""Cohere v2 chat responses and stream events -> OpenAI chat completions and chunks."""

from __future__ import annotations

from typing import Any

from lambdagate.errors import GatewayError, UpstreamTimeout, upstream_error
from lambdagate.providers import shapes
from lambdagate.providers.base import Target

FINISH_REASONS = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
}


def failed(finish_reason: str | None, error: str | None, target: Target) -> GatewayError | None:
    """The error for a generation Cohere ended with ERROR or TIMEOUT, else None."""
    if finish_reason == "TIMEOUT":
        return UpstreamTimeout(f"{target.provider_name} timed out while generating.")
    if finish_reason == "ERROR":
        return upstream_error(target.provider_name, 500, error or "The generation failed.", secrets=target.secrets)
    return None


def usage(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """Tokens the model saw and produced; billed units when those are all Cohere reports."""
    if not raw:
        return None
    counts = raw.get("tokens") or raw.get("billed_units") or {}
    return shapes.usage(int(counts.get("input_tokens") or 0), int(counts.get("output_tokens") or 0))


def chat_completion(body: dict[str, Any], target: Target) -> dict[str, Any]:
    finish = body.get("finish_reason")
    error_text = body.get("error") if isinstance(body.get("error"), str) else None
    if (error := failed(finish, error_text, target)) is not None:
        raise error
    message = body.get("message") or {}
    texts, thoughts = [], []
    for part in message.get("content") or []:
        if part.get("type") == "text":
            texts.append(part.get("text") or "")
        elif part.get("type") == "thinking":
            thoughts.append(part.get("thinking") or "")
    if message.get("tool_plan"):
        thoughts.append(message["tool_plan"])
    calls = [
        shapes.tool_call(call.get("id") or "", (call.get("function") or {}).get("name") or "",
                         (call.get("function") or {}).get("arguments") or "{}")
        for call in message.get("tool_calls") or []
    ]
    content = "".join(texts) if texts or not calls else None
    choice = shapes.chat_choice(
        0, shapes.chat_message(content, tool_calls=calls or None, reasoning_content="".join(thoughts) or None),
        FINISH_REASONS.get(finish or "", "stop"),
    )
    return shapes.chat_completion(target.model, [choice], usage(body.get("usage")))


class StreamTranslator:
    """Cohere stream events (by their ``type``) -> chat chunks.

    Tool calls stream one after the other (start, argument deltas, end), so each start opens the
    next OpenAI tool-call index and deltas belong to the open one.
    """

    def __init__(self, target: Target, *, include_usage: bool) -> None:
        self.target = target
        self.chunks = shapes.ChatChunks(target.model)
        self.include_usage = include_usage
        self.tool_index = -1

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        message = (event.get("delta") or {}).get("message") or {}
        if kind == "message-start":
            return [self.chunks.role()]
        if kind == "content-delta":
            content = message.get("content") or {}
            if content.get("thinking"):
                return [self.chunks.reasoning(content["thinking"])]
            return [self.chunks.content(content["text"])] if content.get("text") else []
        if kind == "tool-plan-delta":
            return [self.chunks.reasoning(message["tool_plan"])] if message.get("tool_plan") else []
        if kind == "tool-call-start":
            call = message.get("tool_calls") or {}
            function = call.get("function") or {}
            self.tool_index += 1
            return [self.chunks.tool_call(self.tool_index, id=call.get("id") or "", name=function.get("name") or "",
                                          arguments=function.get("arguments") or "")]
        if kind == "tool-call-delta":
            arguments = ((message.get("tool_calls") or {}).get("function") or {}).get("arguments")
            return [self.chunks.tool_call(max(self.tool_index, 0), arguments=arguments)] if arguments else []
        if kind == "message-end":
            return self._end(event.get("delta") or {})
        return []  # content-start/end, tool-call-end, citations, debug: nothing to relay

    def _end(self, delta: dict[str, Any]) -> list[dict[str, Any]]:
        finish = delta.get("finish_reason")
        if (error := failed(finish, delta.get("error"), self.target)) is not None:
            raise error
        chunks = [self.chunks.finish(FINISH_REASONS.get(finish or "", "stop"))]
        if self.include_usage and (total := usage(delta.get("usage"))) is not None:
            chunks.append(self.chunks.usage(total))
        return chunks
