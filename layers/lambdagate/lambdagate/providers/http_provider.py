"""The shared shape of every provider that speaks HTTP: prepare, send or relay, translate.

A subclass declares where and how to call (:meth:`HTTPProvider.prepare` returns the URL, body,
headers and how to read errors) and which transforms turn the answer into the chat contract
(:meth:`respond`, :meth:`translator`). Sending, reading the stream, stopping at the provider's
last event and closing the connection are written here once, on top of
:mod:`lambdagate.providers.http`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from lambdagate.providers import http
from lambdagate.providers.base import CallContext, Provider, StreamTranslator, Target, translate_stream
from lambdagate.types import BaseRequest, ChatCompletionRequest, CompletionRequest
from lambdagate.wire import JSONBody


@dataclass(slots=True)
class UpstreamCall:
    """One prepared upstream request, and what its response transforms need to know of it."""

    url: str
    body: Any
    headers: dict[str, str]
    parse_error: http.ErrorParser = http.openai_error
    error_event: http.ErrorEvent = http.is_error_event
    error_in_body: Any = None
    """A predicate for error objects a provider returns under a 200 (OpenAI-compatible servers)."""
    state: dict[str, Any] = field(default_factory=dict)
    """Adapter-specific facts for the transforms (the forced JSON tool's name, say)."""


class HTTPProvider(Provider):
    """A provider reached with one HTTP request per attempt, answered as JSON or as SSE."""

    @abstractmethod
    def prepare(self, request: BaseRequest, target: Target, ctx: CallContext, *, stream: bool) -> UpstreamCall:
        """The upstream request for a chat (or, where native, text completion) request."""

    @abstractmethod
    def respond(self, reply: http.Reply, call: UpstreamCall, target: Target) -> JSONBody:
        """The provider's successful JSON answer as a ``chat.completion`` (or ``text_completion``)."""

    @abstractmethod
    def translator(self, request: BaseRequest, call: UpstreamCall, target: Target) -> StreamTranslator:
        """A fresh stream translator for one streamed request."""

    async def send(self, call: UpstreamCall, target: Target) -> JSONBody:
        reply = await http.request_json(target, call.url, call.body, call.headers, parse_error=call.parse_error,
                                        error_in_body=call.error_in_body)
        return self.respond(reply, call, target)

    def relay(self, request: BaseRequest, target: Target, ctx: CallContext) -> AsyncIterator[JSONBody]:
        call = self.prepare(request, target, ctx, stream=True)
        events = http.read_sse(target, call.url, call.body, call.headers, parse_error=call.parse_error,
                               error_event=call.error_event)
        return translate_stream(events, self.translator(request, call, target))

    async def chat(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        return await self.send(self.prepare(request, target, ctx, stream=False), target)

    def chat_stream(
        self, request: ChatCompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        return self.relay(request, target, ctx)

    async def completion(self, request: CompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        return await self.send(self.prepare(request, target, ctx, stream=False), target)

    def completion_stream(
        self, request: CompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        return self.relay(request, target, ctx)
