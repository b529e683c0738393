"""Anthropic's streaming events -> ``chat.completion.chunk`` objects, one event at a time.

Events (Messages streaming reference): ``message_start`` (id, model, input usage),
``content_block_start`` / ``content_block_delta`` (``text_delta``, ``input_json_delta``,
``thinking_delta``, ``signature_delta``...) / ``content_block_stop`` per block, ``message_delta``
(stop reason, cumulative usage), ``message_stop``, ``ping``, and ``error``. New event and delta
types may appear within a version, so unknown ones are skipped, never fatal.
"""

from __future__ import annotations

import json
from typing import Any

from lambdagate.errors import UpstreamError, upstream_error
from lambdagate.providers import shapes
from lambdagate.providers.anthropic import response
from lambdagate.providers.base import Target


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
        self.started = False
        self.finished = False

    def feed(self, event: str, data: str) -> list[dict[str, Any]]:
        """The chunks one event becomes; raises the mapped error for an ``error`` event."""
        if event == "error":
            raise response.stream_error(data, self.target)
        if event == "ping" or not data:
            return []
        try:
            payload = json.loads(data)
        except ValueError:
            raise upstream_error(self.target.provider_name, 502, "The stream sent an event that is not JSON.",
                                 secrets=self.target.secrets) from None
        kind = payload.get("type", event)
        handler = getattr(self, f"_on_{kind}", None)
        return handler(payload) if handler is not None else []

    def _on_error(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        raise response.stream_error(json.dumps(payload), self.target)

    def _on_message_start(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        message = payload.get("message") or {}
        if message_id := response.response_id(message.get("id")):
            self.chunks.id = message_id
        self.chunks.model = message.get("model") or self.chunks.model
        self.usage.update({k: v for k, v in (message.get("usage") or {}).items() if v is not None})
        self.started = True
        return [self.chunks.role()]

    def _on_content_block_start(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
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

    def _on_content_block_delta(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
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

    def _on_message_delta(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        self.stop_reason = (payload.get("delta") or {}).get("stop_reason") or self.stop_reason
        self.usage.update({k: v for k, v in (payload.get("usage") or {}).items() if v is not None})
        return []

    def _on_message_stop(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        return self.finish()

    def finish(self) -> list[dict[str, Any]]:
        """The finish chunk, then the usage chunk when the client asked for it (once)."""
        if self.finished:
            return []
        self.finished = True
        reason = response.finish_reason(
            self.stop_reason, answered_by_response_tool=self.answered_by_tool and not self.tool_count
        )
        chunks = [self.chunks.finish(reason)]
        if self.include_usage and (usage := response.usage(self.usage)) is not None:
            chunks.append(self.chunks.usage(usage))
        return chunks

    def ended_early(self) -> UpstreamError:
        return upstream_error(self.target.provider_name, 502, "The stream ended before the message was complete.",
                              secrets=self.target.secrets)
