"""The stream translators: chat chunks -> the Responses event sequence, and the passthrough's events.

:class:`ChatToResponses` writes what OpenAI's Responses API streams, in its order, every event
numbered by ``sequence_number`` from 0::

    response.created, response.in_progress
    per output item:  response.output_item.added
      reasoning:      response.reasoning_summary_part.added, response.reasoning_summary_text.delta...,
                      response.reasoning_summary_text.done, response.reasoning_summary_part.done
      message:        response.content_part.added, response.output_text.delta... (or
                      response.refusal.delta...), response.output_text.done, response.content_part.done
      function call:  response.function_call_arguments.delta..., response.function_call_arguments.done
                      response.output_item.done
    response.completed (or response.incomplete: finish_reason length / content_filter)

An item is closed when the next one starts (text, then tool calls) or when the stream ends. When
the provider fails after the stream started, the open items are left as they are and the stream
ends with an ``error`` event (the gateway's code, message and param) and ``response.failed`` (the
response as far as it got, with its ``error``): a clean end the SDK reports, never a hang.

:class:`NativeEvents` is the passthrough's: the upstream's own events, as bytes, with their names;
a failure ends it with one ``error`` event numbered after the upstream's last.
"""

from __future__ import annotations

from typing import Any

from lambdagate.errors import GatewayError
from lambdagate.frontdoors.base import DoorEvent
from lambdagate.frontdoors.responses import response as shapes
from lambdagate.frontdoors.responses.types import CreateResponse
from lambdagate.observability import usage_of
from lambdagate.wire import JSONBody, RawEvent, as_dict

TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def error_event(error: GatewayError, sequence_number: int) -> DoorEvent:
    """The Responses stream's ``error`` event for a gateway error."""
    return DoorEvent("error", {"type": "error", "code": error.code or error.type, "message": error.message,
                               "param": error.param, "sequence_number": sequence_number})


class _Item:
    """One output item being streamed: its place, its kind, and what it has accumulated."""

    __slots__ = ("arguments", "call_id", "content", "id", "index", "kind", "name", "part", "summary")

    def __init__(self, index: int, kind: str, item_id: str) -> None:
        self.index = index
        self.kind = kind  # "reasoning", "message" or "function_call"
        self.id = item_id
        self.content: list[dict[str, Any]] = []  # a message's finished parts
        self.part: dict[str, Any] | None = None  # the message part being written
        self.summary = ""
        self.call_id = ""
        self.name = ""
        self.arguments = ""

    def body(self, status: str) -> dict[str, Any]:
        if self.kind == "reasoning":
            return shapes.reasoning_item(self.id, self.summary)
        if self.kind == "function_call":
            return shapes.function_call_item(self.id, self.call_id, self.name, self.arguments, status)
        parts = [*self.content, self.part] if self.part is not None else self.content
        return shapes.message_item(self.id, list(parts), status)


class ChatToResponses:
    """The :class:`~lambdagate.frontdoors.base.DoorStream` of a translated request."""

    def __init__(self, request: CreateResponse) -> None:
        self.request = request
        self.shape: shapes.Shape | None = None
        self.sequence = 0
        self.items: list[_Item] = []
        self.open: list[_Item] = []  # items added and not yet done, in order
        self.message: _Item | None = None
        self.reasoning: _Item | None = None
        self.calls: dict[int, _Item] = {}  # chat tool-call index -> its item
        self.finish_reason: str | None = None
        self.chat_usage: dict[str, Any] | None = None

    # --- the DoorStream protocol ------------------------------------------------------------------

    def on_chunk(self, chunk: JSONBody) -> list[DoorEvent]:
        data = as_dict(chunk)
        events = self._start(str(data.get("model") or self.request.model))
        if isinstance(data.get("usage"), dict):
            self.chat_usage = data["usage"]
        for choice in data.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # the Responses API has one answer; a chat request from this door asks for one
            delta = choice.get("delta") or {}
            if text := delta.get("reasoning_content"):
                events += self._reasoning(text)
            if text := delta.get("content"):
                events += self._text("output_text", text, (choice.get("logprobs") or {}).get("content"))
            if text := delta.get("refusal"):
                events += self._text("refusal", text, None)
            for call in delta.get("tool_calls") or ():
                events += self._tool_call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def on_end(self) -> list[DoorEvent]:
        events = self._start(self.request.model)
        reason = shapes.INCOMPLETE_REASONS.get(self.finish_reason or "")
        status = "incomplete" if reason else "completed"
        for item in list(self.open):
            events += self._close(item, status)
        assert self.shape is not None
        body = self.shape.response(status, [item.body(self._status(item, status)) for item in self.items],
                                   usage=shapes.usage(self.chat_usage), incomplete_reason=reason)
        events.append(self._event("response.incomplete" if reason else "response.completed", response=body))
        return events

    def on_error(self, error: GatewayError) -> list[DoorEvent]:
        events = self._start(self.request.model)
        events.append(error_event(error, self._next()))
        assert self.shape is not None
        output = [item.body("incomplete" if item in self.open else self._status(item, "completed"))
                  for item in self.items]
        body = self.shape.response("failed", output, usage=shapes.usage(self.chat_usage),
                                   error=shapes.response_error(error))
        events.append(self._event("response.failed", response=body))
        return events

    def usage(self, chunk: JSONBody) -> dict[str, Any] | None:
        return usage_of(chunk)

    # --- events -----------------------------------------------------------------------------------

    def _next(self) -> int:
        number = self.sequence
        self.sequence += 1
        return number

    def _event(self, kind: str, /, **fields: Any) -> DoorEvent:
        return DoorEvent(kind, {"type": kind, "sequence_number": self._next(), **fields})

    def _start(self, model: str) -> list[DoorEvent]:
        if self.shape is not None:
            return []
        self.shape = shapes.Shape(self.request, model)
        body = self.shape.response("in_progress", [])
        return [self._event("response.created", response=body), self._event("response.in_progress", response=body)]

    def _status(self, item: _Item, status: str) -> str:
        # Only the message being cut short is incomplete; calls made and reasoning done are complete.
        return status if item.kind == "message" else "completed"

    def _add(self, kind: str, prefix: str) -> tuple[_Item, list[DoorEvent]]:
        item = _Item(len(self.items), kind, shapes.new_id(prefix))
        self.items.append(item)
        self.open.append(item)
        return item, [self._event("response.output_item.added", output_index=item.index,
                                  item=item.body("in_progress"))]

    def _close(self, item: _Item, status: str) -> list[DoorEvent]:
        events: list[DoorEvent] = []
        where = {"item_id": item.id, "output_index": item.index}
        if item.kind == "reasoning":
            part = {"type": "summary_text", "text": item.summary}
            events.append(self._event("response.reasoning_summary_text.done", **where, summary_index=0,
                                      text=item.summary))
            events.append(self._event("response.reasoning_summary_part.done", **where, summary_index=0, part=part))
            self.reasoning = None
        elif item.kind == "function_call":
            events.append(self._event("response.function_call_arguments.done", **where, name=item.name,
                                      arguments=item.arguments))
        else:
            events += self._close_part(item)
            self.message = None
        events.append(self._event("response.output_item.done", output_index=item.index,
                                  item=item.body(self._status(item, status))))
        self.open.remove(item)
        return events

    def _close_part(self, item: _Item) -> list[DoorEvent]:
        part = item.part
        if part is None:
            return []
        where = {"item_id": item.id, "output_index": item.index, "content_index": len(item.content)}
        if part["type"] == "refusal":
            done = self._event("response.refusal.done", **where, refusal=part["refusal"])
        else:
            done = self._event("response.output_text.done", **where, text=part["text"], logprobs=part["logprobs"])
        item.content.append(part)
        item.part = None
        return [done, self._event("response.content_part.done", **where, part=part)]

    def _close_others(self, keep: _Item | None) -> list[DoorEvent]:
        events: list[DoorEvent] = []
        for item in list(self.open):
            if item is not keep:
                events += self._close(item, "completed")
        return events

    # --- deltas -----------------------------------------------------------------------------------

    def _reasoning(self, text: str) -> list[DoorEvent]:
        events: list[DoorEvent] = []
        item = self.reasoning
        if item is None:
            events += self._close_others(None)
            item, added = self._add("reasoning", "rs")
            self.reasoning = item
            events += added
            events.append(self._event("response.reasoning_summary_part.added", item_id=item.id,
                                      output_index=item.index, summary_index=0,
                                      part={"type": "summary_text", "text": ""}))
        item.summary += text
        events.append(self._event("response.reasoning_summary_text.delta", item_id=item.id, output_index=item.index,
                                  summary_index=0, delta=text))
        return events

    def _text(self, kind: str, text: str, logprobs: list[dict[str, Any]] | None) -> list[DoorEvent]:
        events: list[DoorEvent] = []
        item = self.message
        if item is None:
            events += self._close_others(None)
            item, added = self._add("message", "msg")
            self.message = item
            events += added
        if item.part is not None and item.part["type"] != kind:
            events += self._close_part(item)
        where = {"item_id": item.id, "output_index": item.index, "content_index": len(item.content)}
        if item.part is None:
            item.part = shapes.output_text("") if kind == "output_text" else shapes.refusal("")
            events.append(self._event("response.content_part.added", **where, part=dict(item.part)))
        if kind == "refusal":
            item.part["refusal"] += text
            events.append(self._event("response.refusal.delta", **where, delta=text))
        else:
            item.part["text"] += text
            item.part["logprobs"] = [*item.part["logprobs"], *(logprobs or ())]
            events.append(self._event("response.output_text.delta", **where, delta=text, logprobs=list(logprobs or ())))
        return events

    def _tool_call(self, call: dict[str, Any]) -> list[DoorEvent]:
        events: list[DoorEvent] = []
        position = int(call.get("index") or 0)
        function = call.get("function") or {}
        item = self.calls.get(position)
        if item is None:
            # Text and reasoning come before the calls; calls already open stay open (parallel calls).
            for other in list(self.open):
                if other.kind != "function_call":
                    events += self._close(other, "completed")
            item = _Item(len(self.items), "function_call", shapes.new_id("fc"))
            item.call_id = call.get("id") or shapes.new_id("call")
            item.name = function.get("name") or ""
            self.items.append(item)
            self.open.append(item)
            self.calls[position] = item
            events.append(self._event("response.output_item.added", output_index=item.index,
                                      item=item.body("in_progress")))
        elif not item.name and function.get("name"):
            item.name = function["name"]
        if arguments := function.get("arguments"):
            item.arguments += arguments
            events.append(self._event("response.function_call_arguments.delta", item_id=item.id,
                                      output_index=item.index, delta=arguments))
        return events


class NativeEvents:
    """The :class:`~lambdagate.frontdoors.base.DoorStream` of a passthrough: the upstream's events as they came."""

    def __init__(self) -> None:
        self.sequence = -1

    def on_chunk(self, chunk: JSONBody) -> list[DoorEvent]:
        name = chunk.event if isinstance(chunk, RawEvent) else None
        value = chunk.value if isinstance(chunk, RawEvent) else chunk
        if isinstance(value, dict) and isinstance(value.get("sequence_number"), int):
            self.sequence = value["sequence_number"]
        return [DoorEvent(name, chunk)]

    def on_end(self) -> list[DoorEvent]:
        return []

    def on_error(self, error: GatewayError) -> list[DoorEvent]:
        return [error_event(error, self.sequence + 1)]

    def usage(self, chunk: JSONBody) -> dict[str, Any] | None:
        if isinstance(chunk, RawEvent) and chunk.event in TERMINAL_EVENTS and isinstance(chunk.value, dict):
            return shapes.chat_usage((chunk.value.get("response") or {}).get("usage"))
        return None
