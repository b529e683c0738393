"""Anthropic's streaming events -> ``chat.completion.chunk`` objects, one event at a time.

Events (Messages streaming reference): ``message_start`` (id, model, input usage),
``content_block_start`` / ``content_block_delta`` (``text_delta``, ``input_json_delta``,
``thinking_delta``, ``signature_delta``...) / ``content_block_stop`` per block, ``message_delta``
(stop reason, cumulative usage), ``message_stop``, ``ping``, and ``error``. New event and delta
types may appear within a version, so unknown ones are skipped, never fatal. ``error`` events
never get here: the shared reader raises them, mapped by :func:`.response.parse_error`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdagate.providers import http, shapes
from lambdagate.providers.anthropic import response
from lambdagate.providers.base import SSEEvent, Target

Chunk = dict[str, Any]


class StreamTranslator:
    """Keeps what one stream needs across events: block kinds, tool indexes, usage, stop reason."""

    def __init__(self, target: Target, response_tool: str | None, include_usage: bool) -> None:
        self.target = target
        self.response_tool = response_tool
        self.include_usage = include_usage
        self.chunks = shapes.ChatChunks(target.model)
        self.blocks: dict[int, tuple[str, int | None]] = {}
        """Anthropic block index -> (kind, OpenAI tool index for tool calls)."""
        self.tool_count = 0
        self.answered_by_tool = False
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self.finished = False
        self._handlers: dict[str, Callable[[dict[str, Any]], list[Chunk]]] = {
            "message_start": self._message_start,
            "content_block_start": self._content_block_start,
            "content_block_delta": self._content_block_delta,
            "message_delta": self._message_delta,
            "message_stop": self._message_stop,
        }

    def on_event(self, event: SSEEvent) -> list[Chunk]:
        payload = event.data
        handler = self._handlers.get(payload.get("type") or event.event)
        return handler(payload) if handler is not None else []

    def on_end(self) -> list[Chunk]:
        """The closing chunks when ``message_stop`` was missed; an error when no stop reason came."""
        if self.finished:
            return []
        if self.stop_reason is None:
            raise http.bad_answer(self.target, "a stream that ended before the message was complete")
        return self._finish()

    def _message_start(self, payload: dict[str, Any]) -> list[Chunk]:
        message = payload.get("message") or {}
        if message_id := response.response_id(message.get("id")):
            self.chunks.id = message_id
        self.chunks.model = message.get("model") or self.chunks.model
        self.usage.update({k: v for k, v in (message.get("usage") or {}).items() if v is not None})
        return [self.chunks.role()]

    def _content_block_start(self, payload: dict[str, Any]) -> list[Chunk]:
        index, block = payload.get("index", 0), payload.get("content_block") or {}
        kind = block.get("type", "")
        if kind == "tool_use" and self.response_tool is not None and block.get("name") == self.response_tool:
            self.blocks[index] = ("json", None)
            self.answered_by_tool = True
            return []
        if kind == "tool_use":
            self.blocks[index] = ("tool_use", self.tool_count)
            self.tool_count += 1
            return [self.chunks.tool_call(self.tool_count - 1, id=block.get("id"), name=block.get("name"))]
        self.blocks[index] = (kind, None)
        if kind == "text" and block.get("text"):
            return [self.chunks.content(block["text"])]
        if kind == "thinking" and block.get("thinking"):
            return [self.chunks.reasoning(block["thinking"])]
        return []

    def _content_block_delta(self, payload: dict[str, Any]) -> list[Chunk]:
        delta = payload.get("delta") or {}
        kind, tool_index = self.blocks.get(payload.get("index", 0), ("", None))
        delta_type = delta.get("type")
        if delta_type == "text_delta" and delta.get("text"):
            return [self.chunks.content(delta["text"])]
        if delta_type == "thinking_delta" and delta.get("thinking"):
            return [self.chunks.reasoning(delta["thinking"])]
        if delta_type == "input_json_delta" and delta.get("partial_json"):
            if kind == "json":
                return [self.chunks.content(delta["partial_json"])]
            if tool_index is not None:
                return [self.chunks.tool_call(tool_index, arguments=delta["partial_json"])]
        return []

    def _message_delta(self, payload: dict[str, Any]) -> list[Chunk]:
        self.stop_reason = (payload.get("delta") or {}).get("stop_reason") or self.stop_reason
        self.usage.update({k: v for k, v in (payload.get("usage") or {}).items() if v is not None})
        return []

    def _message_stop(self, payload: dict[str, Any]) -> list[Chunk]:
        return self._finish()

    def _finish(self) -> list[Chunk]:
        """The finish chunk, then the usage chunk when the client asked for it (once)."""
        self.finished = True
        reason = response.finish_reason(
            self.stop_reason, answered_by_response_tool=self.answered_by_tool and not self.tool_count
        )
        chunks = [self.chunks.finish(reason)]
        if self.include_usage and (total := response.usage(self.usage)) is not None:
            chunks.append(self.chunks.usage(total))
        return chunks
