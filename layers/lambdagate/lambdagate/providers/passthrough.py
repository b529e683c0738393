"""A front door's own stream, forwarded: each upstream event as its own bytes, with its name.

Providers that speak a front door's API natively (OpenAI's Responses, Anthropic's Messages, on
their own hosts or on Bedrock) stream events the client reads as they are. What differs between
them is only which events end the stream and the API's name in the error of a stream cut short.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from lambdagate.providers import http
from lambdagate.providers.base import SSEEvent, Target
from lambdagate.wire import JSONBody, RawEvent


class NamedEventPassthrough:
    """A :class:`~lambdagate.providers.base.StreamTranslator` that forwards named events unchanged.

    A stream that ends before one of ``last_events`` is a retryable 502.
    """

    last_events: ClassVar[frozenset[str]]
    api: ClassVar[str]

    def __init__(self, target: Target) -> None:
        self.target = target
        self.finished = False

    def on_event(self, event: SSEEvent) -> Iterable[JSONBody]:
        kind = event.data.get("type")
        # SSE readers call an event without an ``event:`` line "message"; the data's type names it then.
        name = event.event if event.event and event.event != "message" else str(kind or "message")
        if name in self.last_events:
            self.finished = True
        return (RawEvent(http.passthrough_bytes(event), event=name, value=event.data),)

    def on_end(self) -> Iterable[JSONBody]:
        if not self.finished:
            raise http.bad_answer(self.target, f"a {self.api} stream that ended before its last event")
        return ()
