"""The stream translator of the bridge: Responses API events -> ``chat.completion.chunk`` objects.

Built against the OpenAI API reference (Responses, "Streaming events", read 2026-12) and the
vendored ``ResponseStreamEvent`` schemas. What each event becomes:

- ``response.created``: the role chunk (the stream's id, ``created`` and model are the response's);
- ``response.output_text.delta`` / ``response.refusal.delta``: ``content`` / ``refusal`` deltas,
  with the text's ``logprobs`` when asked for;
- ``response.reasoning_summary_text.delta`` (and ``response.reasoning_text.delta``, the raw
  reasoning of open-weight models): ``reasoning_content`` deltas, summary parts separated by a
  blank line;
- ``response.output_item.added`` of a ``function_call``: the tool call's first chunk (its
  ``index``, ``id`` = ``call_id``, name); ``response.function_call_arguments.delta``: argument
  deltas at that ``index``. A call the stream announced late, or whose arguments came only in
  ``response.function_call_arguments.done`` or ``response.output_item.done``, still gets every
  character of its arguments, once;
- ``response.output_item.done`` of a ``reasoning`` item: its ``reasoning_details`` (the
  encrypted reasoning to echo back, see :mod:`.response`); of a ``message`` nothing was
  streamed for: its text;
- ``response.completed`` / ``response.incomplete``: anything of the final ``output`` not seen
  yet, the ``finish_reason`` chunk and, when asked for, the usage chunk. That is the last event.
- ``response.failed`` (and ``error`` events, raised by the shared reader): the upstream's error.

A stream that ends before its terminal event is a retryable 502, as for every provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lambdagate.providers import http, shapes
from lambdagate.providers.base import SSEEvent, Target
from lambdagate.providers.openai.responses_api import response as shape
from lambdagate.wire import JSONBody

TERMINAL = frozenset({"response.completed", "response.incomplete"})


@dataclass(slots=True)
class _Call:
    index: int
    call_id: str | None = None
    name: str | None = None
    sent: str = ""
    """Argument characters the client has received."""
    pending: str = ""
    """Argument deltas received before the call could be announced (its id and name unknown yet)."""
    announced: bool = False


class StreamTranslator:
    """One streamed chat request answered by the Responses API."""

    def __init__(self, target: Target, *, include_usage: bool, fmt: str, parse_error: http.ErrorParser) -> None:
        self.target = target
        self.include_usage = include_usage
        self.fmt = fmt
        self.parse_error = parse_error
        self.finished = False
        self.chunks: shapes.ChatChunks | None = None
        self.calls: dict[str, _Call] = {}
        self.seen: set[str] = set()
        """Ids of the output items something was sent for."""
        self.details = 0
        self.summary_parts: set[tuple[str, int]] = set()

    # --- helpers ------------------------------------------------------------------------------------

    def _start(self, response: dict[str, Any] | None = None) -> list[JSONBody]:
        if self.chunks is not None:
            return []
        response = response or {}
        created = response.get("created_at")
        self.chunks = shapes.ChatChunks(str(response.get("model") or self.target.model),
                                        id=str(response.get("id") or "") or None,
                                        created=int(created) if isinstance(created, int | float) else None)
        return [self.chunks.role()]

    def _delta(self, delta: dict[str, Any], out: list[JSONBody], logprobs: list[Any] | None = None) -> None:
        out += self._start()
        assert self.chunks is not None
        chunk = self.chunks.delta(delta)
        if logprobs:
            chunk["choices"][0]["logprobs"] = {"content": shape.logprobs(logprobs), "refusal": None}
        out.append(chunk)

    def _call(self, item_id: str) -> _Call:
        call = self.calls.get(item_id)
        if call is None:
            call = self.calls[item_id] = _Call(index=len(self.calls))
        return call

    def _arguments(self, call: _Call, arguments: str, out: list[JSONBody]) -> None:
        """Send what the client lacks of ``arguments`` (the whole of them, or what follows what was sent)."""
        if not call.announced:
            call.pending = arguments if len(arguments) >= len(call.pending) else call.pending
            return
        if arguments.startswith(call.sent) and len(arguments) > len(call.sent):
            self._tool_delta(call, arguments[len(call.sent):], out)

    def _tool_delta(self, call: _Call, arguments: str, out: list[JSONBody], *, first: bool = False) -> None:
        out += self._start()
        assert self.chunks is not None
        if first:
            out.append(self.chunks.tool_call(call.index, id=call.call_id, name=call.name, arguments=arguments))
        else:
            out.append(self.chunks.tool_call(call.index, arguments=arguments))
        call.sent += arguments

    def _announce(self, item_id: str, item: dict[str, Any], out: list[JSONBody]) -> None:
        call = self._call(item_id)
        if call.announced:
            return
        call.call_id = str(item.get("call_id") or item_id)
        call.name = str(item.get("name") or "")
        call.announced = True
        self.seen.add(item_id)
        arguments = str(item.get("arguments") or "")
        self._tool_delta(call, call.pending if len(call.pending) > len(arguments) else arguments, out, first=True)

    # --- events ---------------------------------------------------------------------------------------

    def on_event(self, event: SSEEvent) -> Iterable[JSONBody]:
        data = event.data
        kind = data.get("type") or event.event
        out: list[JSONBody] = []
        if kind == "response.created":
            out += self._start(data.get("response"))
        elif kind == "response.output_text.delta":
            self.seen.add(str(data.get("item_id")))
            self._delta({"content": str(data.get("delta") or "")}, out, data.get("logprobs"))
        elif kind == "response.refusal.delta":
            self.seen.add(str(data.get("item_id")))
            self._delta({"refusal": str(data.get("delta") or "")}, out)
        elif kind == "response.reasoning_summary_part.added":
            part = (str(data.get("item_id")), int(data.get("summary_index") or 0))
            if part[1] > 0 and part not in self.summary_parts:
                self._delta({"reasoning_content": "\n\n"}, out)
            self.summary_parts.add(part)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            self.seen.add(str(data.get("item_id")))
            self._delta({"reasoning_content": str(data.get("delta") or "")}, out)
        elif kind == "response.output_item.added":
            item = data.get("item") or {}
            if item.get("type") == "function_call" and item.get("id"):
                self._announce(str(item["id"]), item, out)
        elif kind == "response.function_call_arguments.delta":
            call = self._call(str(data.get("item_id")))
            delta = str(data.get("delta") or "")
            if call.announced:
                self._tool_delta(call, delta, out)
            else:
                call.pending += delta
        elif kind == "response.function_call_arguments.done":
            self._arguments(self._call(str(data.get("item_id"))), str(data.get("arguments") or ""), out)
        elif kind == "response.output_item.done":
            self._item_done(data.get("item") or {}, out)
        elif kind in TERMINAL:
            self._finish(data.get("response") or {}, out)
        elif kind == "response.failed":
            raise shape.failure(data.get("response") or {}, self.target, self.parse_error)
        return out

    def _item_done(self, item: dict[str, Any], out: list[JSONBody]) -> None:
        kind = item.get("type")
        item_id = str(item.get("id") or "")
        if kind == "function_call":
            item_id = item_id or str(item.get("call_id") or "")
            self._announce(item_id, item, out)
            self._arguments(self.calls[item_id], str(item.get("arguments") or ""), out)
        elif kind == "reasoning":
            details = shape.reasoning_details(item, self.fmt, self.details)
            if details:
                self.details += len(details)
                self._delta({"reasoning_details": details}, out)
            if item_id not in self.seen and (text := shape.reasoning_text(item)):
                self._delta({"reasoning_content": text}, out)
        elif kind == "message" and item_id not in self.seen:
            for part in item.get("content") or []:
                if isinstance(part, dict) and part.get("type") == "output_text" and part.get("text"):
                    self._delta({"content": part["text"]}, out, part.get("logprobs"))
                elif isinstance(part, dict) and part.get("type") == "refusal" and part.get("refusal"):
                    self._delta({"refusal": part["refusal"]}, out)
        self.seen.add(item_id)

    def _finish(self, response: dict[str, Any], out: list[JSONBody]) -> None:
        out += self._start(response)
        for item in response.get("output") or []:
            if isinstance(item, dict) and str(item.get("id") or item.get("call_id") or "") not in self.seen:
                self._item_done(item, out)
        assert self.chunks is not None
        called = any(call.announced for call in self.calls.values())
        out.append(self.chunks.finish(shape.finish_reason(response, called)))
        usage = shape.usage(response.get("usage"))
        if self.include_usage and usage is not None:
            out.append(self.chunks.usage(usage))
        self.finished = True

    def on_end(self) -> Iterable[JSONBody]:
        if not self.finished:
            raise http.bad_answer(self.target, "a Responses stream that ended before its last event")
        return ()


__all__ = ["StreamTranslator"]
