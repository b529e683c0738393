"""The Messages front doors: ``POST /v1/messages`` and ``POST /v1/messages/count_tokens`` for every provider.

Anthropic and Bedrock deployments (``native_doors`` has ``messages`` and ``count_tokens``) get
the request forwarded as the client's bytes with its ``anthropic-version`` and
``anthropic-beta`` headers (:mod:`.passthrough`): thinking and its signatures, ``cache_control``,
documents, citations, server tools and betas keep working, and the answer and each stream event
come back as the upstream's bytes. Every other provider gets it translated through the chat
contract (:mod:`.request`) and answered as a ``Message`` (:mod:`.response`) or as the Messages
event stream (:mod:`.stream`). Errors are Anthropic's error object, with its statuses.

``count_tokens`` is Anthropic's own count where the deployment has one (Anthropic's endpoint,
Bedrock's CountTokens for the models that have it); everywhere else the gateway estimates
(:mod:`.count`) and says so in the ``x-lambdagate-token-estimate: true`` header.

Both doors need the client's headers (the passthrough forwards two of them) and answer with
Anthropic's ``request-id`` header as well as ``x-request-id``, so they make their own
:class:`~lambdagate.api.doors.DoorExchange` (:meth:`MessagesDoor.exchange`); ``count_tokens``'s
also answers itself where it estimates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic_core import to_json
from starlette.requests import Request
from starlette.responses import Response

from lambdagate.api.doors import DoorExchange
from lambdagate.api.gateway import REQUEST_ID_HEADER
from lambdagate.api.requests import parse_request
from lambdagate.errors import GatewayError, ProviderNotConfigured
from lambdagate.frontdoors.base import ChatTranslation, DoorStream
from lambdagate.frontdoors.messages import count
from lambdagate.frontdoors.messages import response as shapes
from lambdagate.frontdoors.messages.passthrough import NativeMessages, client_headers, native
from lambdagate.frontdoors.messages.stream import ChatToMessages, NativeEvents
from lambdagate.observability import usage_of
from lambdagate.providers.base import CallContext, Provider, Target
from lambdagate.types import ChatCompletionRequest
from lambdagate.wire import JSONBody

if TYPE_CHECKING:
    # The typed requests (and the transform that reads them) are imported on first use: an app that serves
    # every endpoint (the streaming function) mounts this door without paying for its models at cold start.
    from lambdagate.frontdoors.messages.types import BaseMessagesRequest, MessageCountTokensParams, MessageCreateParams

ANTHROPIC_REQUEST_ID = "request-id"
"""The header the Anthropic SDKs read a request's id from (``message._request_id``)."""

THINKING_OPTION = "messages_thinking"
"""Deployment option: ``false`` for a model without reasoning, whose provider would refuse ``reasoning_effort``
(an OpenAI-compatible server's non-reasoning model): a Messages request's ``thinking`` is not sent to it."""


@runtime_checkable
class SpeaksMessages(Protocol):
    """What a provider that declares ``native_doors={"messages", "count_tokens"}`` implements."""

    async def messages(self, request: NativeMessages, target: Target, ctx: CallContext) -> JSONBody: ...

    def messages_stream(self, request: NativeMessages, target: Target, ctx: CallContext) -> AsyncIterator[JSONBody]:
        ...

    async def count_tokens(self, request: NativeMessages, target: Target, ctx: CallContext) -> JSONBody | None:
        """``{"input_tokens": N}``, or None when this deployment's model has no count (the gateway estimates)."""
        ...


def _native(provider: Provider) -> SpeaksMessages:
    if not isinstance(provider, SpeaksMessages):
        raise ProviderNotConfigured(f"The '{provider.type_name}' provider declares the Messages API but cannot "
                                    "forward it.")
    return provider


def warm() -> None:
    """Import and build at init what a first request would: the typed requests and the chat translation."""
    from lambdagate.frontdoors.messages import request as _translation  # noqa: F401
    from lambdagate.frontdoors.messages.types import build

    build()


def native_request(request: BaseMessagesRequest) -> NativeMessages:
    from lambdagate.frontdoors.messages.types import GATEWAY_FIELDS

    dropped = frozenset(name for name in GATEWAY_FIELDS if name in request.model_fields_set)
    return native(request.raw, request.model, request.client_headers, dropped)


class MessagesExchange(DoorExchange[Any]):
    """A Messages request through the chat path: the client's headers kept, Anthropic's request id answered."""

    def __init__(self, door: Any, headers: Mapping[str, str]) -> None:
        super().__init__(door)
        self.client_headers = dict(headers)
        self._without_thinking: ChatCompletionRequest | None = None

    def parse(self, raw: bytes) -> Any:
        request = super().parse(raw)
        request.received(raw, self.client_headers)
        return request

    def _chat(self, target: Target, ctx: CallContext) -> ChatCompletionRequest:
        chat = super()._chat(target, ctx)
        if chat.reasoning_effort is None or target.option(THINKING_OPTION, True) is not False:
            return chat
        if self._without_thinking is None:
            fields = chat.model_dump(exclude_unset=True)
            fields.pop("reasoning_effort")
            self._without_thinking = ChatCompletionRequest.model_validate(fields)
        return self._without_thinking

    def error_response(self, error: GatewayError, headers: Mapping[str, str]) -> Response:
        status, _, extra = self.door.error(error)
        request_id = headers.get(REQUEST_ID_HEADER)
        body = shapes.error_body(error, request_id)
        ids = {ANTHROPIC_REQUEST_ID: request_id} if request_id else {}
        return Response(to_json(body), status_code=status, media_type="application/json",
                        headers={**extra, **headers, **ids})

    def finish(self, response: Response) -> Response:
        if (request_id := response.headers.get(REQUEST_ID_HEADER)) and ANTHROPIC_REQUEST_ID not in response.headers:
            response.headers[ANTHROPIC_REQUEST_ID] = request_id
        return response


class CountTokensExchange(MessagesExchange):
    """``count_tokens``: the deployment's own count where it has one, else the gateway's estimate."""

    def __init__(self, door: Any, headers: Mapping[str, str]) -> None:
        super().__init__(door, headers)
        self.estimated = False

    async def call(self, provider: Provider, target: Target, ctx: CallContext) -> JSONBody:
        self.native = self.forwards_to(provider, target)
        result = await self.door.forward(provider, self.request, target, ctx) if self.native else None
        self.estimated = result is None
        return count.answer(count.estimate(self.request)) if result is None else result

    def usage(self, result: JSONBody) -> dict[str, Any] | None:
        return None  # counting uses no tokens

    def finish(self, response: Response) -> Response:
        if self.estimated and response.status_code == 200:
            response.headers[count.ESTIMATE_HEADER] = "true"
        return super().finish(response)


class MessagesDoor:
    name = "messages"

    def parse(self, raw: bytes) -> MessageCreateParams:
        from lambdagate.frontdoors.messages.types import MessageCreateParams

        return parse_request(raw, MessageCreateParams)

    def to_chat(self, request: MessageCreateParams) -> ChatTranslation:
        from lambdagate.frontdoors.messages import request as translate

        return translate.to_chat(request)

    def from_chat(self, completion: dict[str, Any], request: MessageCreateParams) -> dict[str, Any]:
        return shapes.from_chat(completion, request)

    def stream(self, request: MessageCreateParams, *, native: bool) -> DoorStream:
        return NativeEvents() if native else ChatToMessages(request)

    async def forward(self, provider: Provider, request: MessageCreateParams, target: Target,
                      ctx: CallContext) -> JSONBody:
        return await _native(provider).messages(native_request(request), target, ctx)

    def forward_stream(
        self, provider: Provider, request: MessageCreateParams, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        return _native(provider).messages_stream(native_request(request), target, ctx)

    def usage(self, body: JSONBody) -> dict[str, Any] | None:
        return shapes.chat_usage(usage_of(body))

    def error(self, error: GatewayError) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        return shapes.error(error)

    def warm(self) -> None:
        warm()

    def exchange(self, request: Request) -> DoorExchange[Any]:
        return MessagesExchange(self, client_headers(request.headers))


class CountTokensDoor:
    name = "count_tokens"

    def parse(self, raw: bytes) -> MessageCountTokensParams:
        from lambdagate.frontdoors.messages.types import MessageCountTokensParams

        return parse_request(raw, MessageCountTokensParams)

    def to_chat(self, request: MessageCountTokensParams) -> ChatTranslation:
        raise TypeError("count_tokens is answered without a chat call")

    def from_chat(self, completion: dict[str, Any], request: MessageCountTokensParams) -> dict[str, Any]:
        raise TypeError("count_tokens is answered without a chat call")

    def stream(self, request: MessageCountTokensParams, *, native: bool) -> DoorStream:
        raise TypeError("count_tokens is never streamed")

    async def forward(self, provider: Provider, request: MessageCountTokensParams, target: Target,
                      ctx: CallContext) -> JSONBody | None:
        return await _native(provider).count_tokens(native_request(request), target, ctx)

    def forward_stream(
        self, provider: Provider, request: MessageCountTokensParams, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        raise TypeError("count_tokens is never streamed")

    def usage(self, body: JSONBody) -> dict[str, Any] | None:
        return None

    def error(self, error: GatewayError) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        return shapes.error(error)

    def warm(self) -> None:
        warm()

    def exchange(self, request: Request) -> DoorExchange[Any]:
        return CountTokensExchange(self, client_headers(request.headers))


DOOR = MessagesDoor()
COUNT_TOKENS = CountTokensDoor()
