"""The stream translator: Cohere v2 stream events (by their ``type``) -> ``chat.completion.chunk``s.

Tool calls stream one after the other (start, argument deltas, end), so each start opens the
next OpenAI tool-call index and deltas belong to the open one. ``message-end`` is Cohere's last
event: it carries the finish reason and usage, and a stream that ends without it was cut off.
"""

from __future__ import annotations

from typing import Any

from lambdagate.providers import http, shapes
from lambdagate.providers.base import SSEEvent, Target
from lambdagate.providers.cohere.response import failed, finish_reason, usage


class StreamTranslator:
    def __init__(self, target: Target, *, include_usage: bool) -> None:
        self.target = target
        self.chunks = shapes.ChatChunks(target.model)
        self.include_usage = include_usage
        self.tool_index = -1
        self.finished = False

    def on_event(self, event: SSEEvent) -> list[dict[str, Any]]:
        data = event.data
        kind = data.get("type")
        message = (data.get("delta") or {}).get("message") or {}
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
            return self._end(data.get("delta") or {})
        return []  # content-start/end, tool-call-end, citations, debug: nothing to relay

    def on_end(self) -> list[dict[str, Any]]:
        if not self.finished:
            raise http.bad_answer(self.target, "a stream that ended before its message-end event")
        return []

    def _end(self, delta: dict[str, Any]) -> list[dict[str, Any]]:
        self.finished = True
        reason = delta.get("finish_reason")
        if (error := failed(reason, delta.get("error"), self.target)) is not None:
            raise error
        chunks = [self.chunks.finish(finish_reason(reason))]
        if self.include_usage and (total := usage(delta.get("usage"))) is not None:
            chunks.append(self.chunks.usage(total))
        return chunks
