"""The stream translators: chat chunks -> the Messages event sequence, and the passthrough's events.

:class:`ChatToMessages` writes what Anthropic streams, in its order, each event named by its type::

    message_start (the message with empty content), ping
    per content block, numbered from 0:
      content_block_start, content_block_delta... (text_delta, thinking_delta then one
      signature_delta, input_json_delta), content_block_stop
    message_delta (stop_reason, stop_sequence, the usage), message_stop

One block is open at a time, as Anthropic streams them: a block is closed when one of another
kind (or another tool call) starts, and at the end. A chat provider that interleaves the
argument fragments of parallel tool calls (none known does) gets its late fragments sent on
that call's block index after the block was stopped, which the SDKs' accumulators (indexed by
block) still assemble. The usage arrives in the last chat chunk, so ``message_start`` carries
zeros and ``message_delta`` the whole usage (input and cache tokens included, which the SDKs
read over ``message_start``'s).

When the provider fails after the stream started, the stream ends with one ``error`` event
(``{"type": "error", "error": {"type", "message"}}``), as Anthropic ends a failed stream: the
SDKs raise it.

:class:`NativeEvents` is the passthrough's (Anthropic, Bedrock): the upstream's own events, as
bytes, with their names; its usage is read from ``message_start`` (input) and ``message_delta``
(output, cumulative; input too where the API reports it there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdagate.errors import GatewayError
from lambdagate.frontdoors.base import DoorEvent
from lambdagate.frontdoors.messages import response as shapes
from lambdagate.observability import usage_of
from lambdagate.wire import JSONBody, RawEvent, as_dict

if TYPE_CHECKING:
    from lambdagate.frontdoors.messages.types import MessageCreateParams


def event(kind: str, /, **fields: Any) -> DoorEvent:
    return DoorEvent(kind, {"type": kind, **fields})


def error_event(error: GatewayError) -> DoorEvent:
    """The Messages stream's ``error`` event for a gateway error."""
    body = shapes.error_body(error)
    body.pop("request_id")
    return DoorEvent("error", body)


class _Block:
    __slots__ = ("call", "index", "kind")

    def __init__(self, index: int, kind: str, call: int | None = None) -> None:
        self.index = index
        self.kind = kind  # "text", "thinking" or "tool_use"
        self.call = call  # the chat tool call's index, for tool_use blocks


class ChatToMessages:
    """The :class:`~lambdagate.frontdoors.base.DoorStream` of a translated request."""

    def __init__(self, request: MessageCreateParams) -> None:
        self.request = request
        self.started = False
        self.count = 0  # blocks started
        self.open: _Block | None = None
        self.calls: dict[int, _Block] = {}
        self.finish_reason: str | None = None
        self.matched: Any = None
        self.chat_usage: dict[str, Any] | None = None

    # --- the DoorStream protocol ------------------------------------------------------------------

    def on_chunk(self, chunk: JSONBody) -> list[DoorEvent]:
        data = as_dict(chunk)
        events = self._start(str(data.get("model") or self.request.model))
        if isinstance(data.get("usage"), dict):
            self.chat_usage = data["usage"]
        for choice in data.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # a Messages request asks for one answer
            delta = choice.get("delta") or {}
            if text := delta.get("reasoning_content"):
                events += self._delta("thinking", {"type": "thinking_delta", "thinking": text})
            if text := delta.get("content") or delta.get("refusal"):
                events += self._delta("text", {"type": "text_delta", "text": text})
            for call in delta.get("tool_calls") or ():
                events += self._tool_call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
                self.matched = choice.get("stop_reason")
        return events

    def on_end(self) -> list[DoorEvent]:
        events = self._start(self.request.model)
        events += self._close()
        stop, sequence = shapes.stop_reason(self.finish_reason, self.matched, self.request, called=bool(self.calls))
        events.append(event("message_delta", delta={"stop_reason": stop, "stop_sequence": sequence},
                            usage=shapes.usage(self.chat_usage)))
        events.append(event("message_stop"))
        return events

    def on_error(self, error: GatewayError) -> list[DoorEvent]:
        return [error_event(error)]

    def usage(self, chunk: JSONBody) -> dict[str, Any] | None:
        return usage_of(chunk)

    # --- events -----------------------------------------------------------------------------------

    def _start(self, model: str) -> list[DoorEvent]:
        if self.started:
            return []
        self.started = True
        message = shapes.message(shapes.new_id(), model, [], None, None, shapes.usage(None))
        return [event("message_start", message=message), event("ping")]

    def _close(self) -> list[DoorEvent]:
        block, self.open = self.open, None
        if block is None:
            return []
        events: list[DoorEvent] = []
        if block.kind == "thinking":  # Anthropic ends every thinking block with its signature
            events.append(event("content_block_delta", index=block.index,
                                delta={"type": "signature_delta", "signature": ""}))
        events.append(event("content_block_stop", index=block.index))
        return events

    def _open(self, kind: str, content_block: dict[str, Any], call: int | None = None) -> list[DoorEvent]:
        events = self._close()
        self.open = _Block(self.count, kind, call)
        self.count += 1
        events.append(event("content_block_start", index=self.open.index, content_block=content_block))
        return events

    def _delta(self, kind: str, delta: dict[str, Any]) -> list[DoorEvent]:
        events: list[DoorEvent] = []
        if self.open is None or self.open.kind != kind:
            empty = shapes.thinking_block("") if kind == "thinking" else shapes.text_block("")
            events += self._open(kind, empty)
        assert self.open is not None
        events.append(event("content_block_delta", index=self.open.index, delta=delta))
        return events

    def _tool_call(self, call: dict[str, Any]) -> list[DoorEvent]:
        events: list[DoorEvent] = []
        position = int(call.get("index") or 0)
        function = call.get("function") or {}
        block = self.calls.get(position)
        if block is None:
            content_block = shapes.tool_use_block(call.get("id") or shapes.new_id("toolu"), function.get("name") or "",
                                                  {})
            events += self._open("tool_use", content_block, position)
            assert self.open is not None
            block = self.calls[position] = self.open
        if arguments := function.get("arguments"):
            events.append(event("content_block_delta", index=block.index,
                                delta={"type": "input_json_delta", "partial_json": arguments}))
        return events


class NativeEvents:
    """The :class:`~lambdagate.frontdoors.base.DoorStream` of a passthrough: the upstream's events as they came."""

    def __init__(self) -> None:
        self.prompt_tokens = 0  # counted so far: message_delta's counts are cumulative

    def on_chunk(self, chunk: JSONBody) -> list[DoorEvent]:
        name = chunk.event if isinstance(chunk, RawEvent) else None
        if name is None:
            name = str(as_dict(chunk).get("type") or "message")
        return [DoorEvent(name, chunk)]

    def on_end(self) -> list[DoorEvent]:
        return []

    def on_error(self, error: GatewayError) -> list[DoorEvent]:
        return [error_event(error)]

    def usage(self, chunk: JSONBody) -> dict[str, Any] | None:
        value = chunk.value if isinstance(chunk, RawEvent) else None
        if not isinstance(value, dict):
            return None
        kind = value.get("type")
        if kind == "message_start":
            counted = shapes.chat_usage((value.get("message") or {}).get("usage"), completion=False)
        elif kind == "message_delta":
            counted = shapes.chat_usage(value.get("usage"))
        else:
            return None
        if counted is None:
            return None
        # Input counted at message_start is not counted again when message_delta repeats it.
        prompt = counted["prompt_tokens"]
        if kind == "message_delta" and not prompt:
            prompt = self.prompt_tokens
        fresh = max(0, prompt - self.prompt_tokens)
        self.prompt_tokens = max(self.prompt_tokens, prompt)
        counted["prompt_tokens"] = fresh
        counted["total_tokens"] = fresh + counted["completion_tokens"]
        if kind == "message_delta" and "prompt_tokens_details" in counted and not fresh:
            del counted["prompt_tokens_details"]
        return counted
