"""The stream translator: each streamed ``GenerateContentResponse`` -> ``chat.completion.chunk``s.

Gemini streams text in pieces but each function call whole, so a call becomes one tool-call
delta with its id, name and complete arguments. With several candidates (``candidateCount``)
each chunk's candidates carry their ``index``, which becomes the choice index. Usage metadata is
cumulative; the last one is the total. Gemini sends no end marker: the stream is complete when
every candidate it started has a finish reason, and one that ends before that was cut off.
"""

from __future__ import annotations

from typing import Any

from lambdagate.providers import http, shapes
from lambdagate.providers.base import SSEEvent, Target
from lambdagate.providers.gemini.response import blocked, finish_reason, tool_call, usage, well_formed


class StreamTranslator:
    def __init__(self, target: Target, *, include_usage: bool) -> None:
        self.target = target
        self.chunks = shapes.ChatChunks(target.model)
        self.include_usage = include_usage
        self.started: set[int] = set()
        self.done: set[int] = set()
        self.calls: dict[int, int] = {}
        self.usage: dict[str, Any] | None = None
        self.finished = False  # the body's end is Gemini's only end: read it all

    def on_event(self, event: SSEEvent) -> list[dict[str, Any]]:
        data = event.data
        if not well_formed(data):
            raise http.bad_answer(self.target, "a stream event that is not a Gemini answer")
        out: list[dict[str, Any]] = []
        if data.get("usageMetadata"):
            self.usage = usage(data["usageMetadata"])
        if blocked(data):
            self._start(0, out)
            out.append(self._finish("content_filter", 0))
        for position, candidate in enumerate(data.get("candidates") or []):
            index = candidate.get("index", position)
            self._start(index, out)
            for part in (candidate.get("content") or {}).get("parts") or []:
                out.extend(self._part(part, index))
            if candidate.get("finishReason"):
                called = self.calls.get(index, 0) > 0
                out.append(self._finish(finish_reason(candidate["finishReason"], called=called), index))
        return out

    def on_end(self) -> list[dict[str, Any]]:
        if not self.started or not self.started <= self.done:
            raise http.bad_answer(self.target, "a stream that ended before every candidate had finished")
        if self.include_usage and self.usage is not None:
            return [self.chunks.usage(self.usage)]
        return []

    def _start(self, index: int, out: list[dict[str, Any]]) -> None:
        if index not in self.started:
            self.started.add(index)
            out.append(self.chunks.role(index))

    def _finish(self, reason: str, index: int) -> dict[str, Any]:
        self.done.add(index)
        return self.chunks.finish(reason, index)

    def _part(self, part: dict[str, Any], index: int) -> list[dict[str, Any]]:
        if "functionCall" in part:
            call = tool_call(part)
            position = self.calls.get(index, 0)
            self.calls[index] = position + 1
            chunk = self.chunks.tool_call(position, id=call["id"], name=call["function"]["name"],
                                          arguments=call["function"]["arguments"], index=index)
            if "extra_content" in call:
                chunk["choices"][0]["delta"]["tool_calls"][0]["extra_content"] = call["extra_content"]
            return [chunk]
        text = part.get("text")
        if not text:
            return []
        return [self.chunks.reasoning(text, index) if part.get("thought") else self.chunks.content(text, index)]
