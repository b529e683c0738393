"""ConverseStream events -> ``chat.completion.chunk`` objects, one event at a time.

:mod:`.client` hands each event over as an :class:`SSEEvent` named by its type (``messageStart``,
``contentBlockStart``, ``contentBlockDelta``, ``contentBlockStop``, ``messageStop``, ``metadata``)
with boto3's parsed body as ``data``. ``metadata`` (usage) is the last event, after
``messageStop``; exception events never get here, the client raises them mapped.

Converse numbers content blocks (text and tool uses together); OpenAI numbers tool calls on their
own, so each toolUse block is given the next tool-call index when it starts.
"""

from __future__ import annotations

from typing import Any

from lambdagate.providers import http, shapes
from lambdagate.providers.base import SSEEvent, Target
from lambdagate.providers.bedrock import response

Chunk = dict[str, Any]


class StreamTranslator:
    def __init__(self, target: Target, *, include_usage: bool) -> None:
        self.target = target
        self.chunks = shapes.ChatChunks(target.model)
        self.include_usage = include_usage
        self.tool_index: dict[int, int] = {}
        self.stopped = False
        """``messageStop`` came: the answer is complete, only usage may follow."""
        self.finished = False

    def on_event(self, event: SSEEvent) -> list[Chunk]:
        body = event.data
        if event.event == "messageStart":
            return [self.chunks.role()]
        if event.event == "contentBlockStart":
            use = (body.get("start") or {}).get("toolUse")
            if use is None:
                return []
            index = self.tool_index[body.get("contentBlockIndex", 0)] = len(self.tool_index)
            return [self.chunks.tool_call(index, id=use["toolUseId"], name=use["name"])]
        if event.event == "contentBlockDelta":
            return self._delta(body)
        if event.event == "messageStop":
            self.stopped = True
            return [self.chunks.finish(response.finish_reason(body.get("stopReason")))]
        if event.event == "metadata":
            self.finished = True
            total = response.usage(body.get("usage")) if self.include_usage else None
            return [self.chunks.usage(total)] if total else []
        return []

    def on_end(self) -> list[Chunk]:
        """Nothing more to send; an error when the stream ended before ``messageStop``."""
        if not self.stopped:
            raise http.bad_answer(self.target, "a stream that ended before the message was complete")
        return []

    def _delta(self, body: dict[str, Any]) -> list[Chunk]:
        delta = body.get("delta") or {}
        if "text" in delta:
            return [self.chunks.content(delta["text"])] if delta["text"] else []
        if "toolUse" in delta:
            block = body.get("contentBlockIndex", 0)
            if block not in self.tool_index:  # a delta without its start: give it an index anyway
                self.tool_index[block] = len(self.tool_index)
            return [self.chunks.tool_call(self.tool_index[block], arguments=delta["toolUse"].get("input") or "")]
        if "reasoningContent" in delta:
            text = delta["reasoningContent"].get("text")
            return [self.chunks.reasoning(text)] if text else []
        return []
