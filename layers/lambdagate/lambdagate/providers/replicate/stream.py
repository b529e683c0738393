"""Replicate's prediction stream (``urls.stream``) -> ``chat.completion.chunk`` objects.

Events (streaming reference, read on 2026-11-23): ``output`` (plain text: a piece of the
answer), ``logs`` (plain text, not part of the answer), ``error`` (JSON ``{"detail"}``: the
prediction failed), ``done`` (JSON, ``{}`` or ``{"reason": "canceled" | "error"}``). The shared
reader passes ``output`` and ``logs`` through as text (``text_events``) and parses the others.

Token counts are not in the stream but on the finished prediction: the adapter reads it after
``done`` when the client asked for usage or set a token limit, and hands it over in ``usage``
before :meth:`StreamTranslator.on_end`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from lambdagate.providers import http, shapes
from lambdagate.providers.base import SSEEvent, Target
from lambdagate.providers.replicate import response
from lambdagate.types import ChatCompletionRequest
from lambdagate.wire import JSONBody

TEXT_EVENTS = frozenset({"output", "logs"})


def _field(data: Any, key: str) -> str | None:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


class StreamTranslator:
    def __init__(self, request: ChatCompletionRequest, target: Target) -> None:
        self.request = request
        self.target = target
        self.chunks = shapes.ChatChunks(target.model)
        self.started = False
        self.finished = False
        self.usage: dict[str, Any] | None = None
        """The finished prediction's usage, set by the adapter when it read it."""

    def _role(self) -> Iterator[JSONBody]:
        if not self.started:
            self.started = True
            yield self.chunks.role()

    def on_event(self, event: SSEEvent) -> Iterable[JSONBody]:
        if event.event == "output":
            return [*self._role(), self.chunks.content(event.data)]
        if event.event == "error":
            raise response.prediction_error(self.target, "failed", _field(event.data, "detail"))
        if event.event == "done":
            reason = _field(event.data, "reason")
            if reason in ("canceled", "error"):
                raise response.prediction_error(self.target, "canceled" if reason == "canceled" else "failed", None)
            self.finished = True
        return ()  # logs and event kinds added later are not part of the answer

    def on_end(self) -> Iterable[JSONBody]:
        if not self.finished:
            raise http.bad_answer(self.target, "a prediction stream that ended before the prediction was done")
        yield from self._role()
        yield self.chunks.finish(response.finish_reason(self.request, self.usage))
        if self.request.wants_usage_chunk and self.usage is not None:
            yield self.chunks.usage(self.usage)
