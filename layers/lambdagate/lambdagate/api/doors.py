"""Any front door (:mod:`lambdagate.frontdoors`) served through the chat request path.

A door's request takes the very path of a chat request (:meth:`Gateway.door` runs
``Gateway._complete`` with a :class:`DoorExchange`): the body read within the limit, the key
checked before parsing, the same settings, allow-lists, routing, retries, fallbacks, deadline,
keep-alives, headers and request record. The exchange supplies only what differs:

- parsing: the door's typed request;
- each attempt: forwarded as the door's own API when the routed provider declares the door in
  ``Capabilities.native_doors``, else translated through chat (``door.to_chat``), with the door
  parameters the chat contract cannot carry dropped or refused like any unsupported parameter,
  and dropped ones named as the client sent them;
- the answer: a translated ``chat.completion`` becomes the door's response (``door.from_chat``);
- the stream: the door's SSE events (``event: <name>``), encoded by :class:`DoorEncoder` from the
  relay's items (chat chunks, or the upstream's own events when forwarded), its failure as the
  door's error events;
- errors: in the door's own shape (``door.error``).

Which attempt answered decides how its stream is read: the relay starts only once a stream has
opened, and retries and fallbacks happen before that, so the mode of the last attempt is the mode
of every item the encoder sees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any, Generic

from pydantic import BaseModel
from pydantic_core import to_json
from starlette.requests import Request
from starlette.responses import Response

from lambdagate.api.responses import json_body
from lambdagate.api.routes import add_request_route, document_request_schema
from lambdagate.errors import GatewayError
from lambdagate.frontdoors.base import ChatTranslation, DoorEvent, DoorStream, FrontDoor, R
from lambdagate.observability import usage_of
from lambdagate.providers import dispatch
from lambdagate.providers.base import CallContext, Provider, Target
from lambdagate.types import ChatCompletionRequest
from lambdagate.wire import JSONBody, as_dict

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from lambdagate.api.gateway import Gateway


class DoorExchange(Generic[R]):
    """One request through a front door: its typed request, each attempt's call, its stream encoding."""

    def __init__(self, door: FrontDoor[R]) -> None:
        self.door = door
        self.endpoint = door.name
        self._request: R | None = None
        self._translation: ChatTranslation | None = None
        self._usage: dict[str, Any] | None = None
        self.native = False
        """Whether the last attempt was forwarded as the door's own API (else translated)."""

    @property
    def request(self) -> R:
        assert self._request is not None, "parse() comes first"
        return self._request

    def parse(self, raw: bytes) -> R:
        self._request = self.door.parse(raw)
        return self._request

    # --- attempts (the router calls these once per attempt) ---------------------------------------

    def forwards_to(self, provider: Provider, target: Target) -> bool:
        return self.door.name in provider.capabilities_for(target).native_doors

    def _chat(self, target: Target, ctx: CallContext) -> ChatCompletionRequest:
        """The chat request of a translated attempt (translated once, checked per provider)."""
        if self._translation is None:
            self._translation = self.door.to_chat(self.request)
        ctx.param_names = self._translation.names
        for param in self._translation.unsupported:
            ctx.unsupported(param, target.provider_type)
        return self._translation.request

    async def call(self, provider: Provider, target: Target, ctx: CallContext) -> JSONBody:
        self.native = self.forwards_to(provider, target)
        if self.native:
            result = await self.door.forward(provider, self.request, target, ctx)
            self._usage = self.door.usage(result)
            return result
        completion = await dispatch.chat(provider, self._chat(target, ctx), target, ctx)
        self._usage = usage_of(completion)
        return self.door.from_chat(as_dict(completion), self.request)

    def open_stream(self, provider: Provider, target: Target, ctx: CallContext) -> AsyncIterator[JSONBody]:
        self.native = self.forwards_to(provider, target)
        if self.native:
            return self.door.forward_stream(provider, self.request, target, ctx)
        return dispatch.chat_stream(provider, self._chat(target, ctx), target, ctx)

    def usage(self, result: JSONBody) -> dict[str, Any] | None:
        """The chat-shaped usage of the answer ``call`` returned, for the request record."""
        return self._usage

    # --- answers ----------------------------------------------------------------------------------

    def encoder(self) -> DoorEncoder:
        return DoorEncoder(self)

    def error_response(self, error: GatewayError, headers: Mapping[str, str]) -> Response:
        status, body, extra = self.door.error(error)
        return Response(to_json(body), status_code=status, media_type="application/json",
                        headers={**extra, **headers})

    def finish(self, response: Response) -> Response:
        """The response as the route returns it, a door's own headers added (none here)."""
        return response


class DoorEncoder:
    """The relay's encoder for a door's stream (:class:`lambdagate.api.responses.StreamEncoder`)."""

    def __init__(self, exchange: DoorExchange[Any]) -> None:
        self.exchange = exchange
        self._stream: DoorStream | None = None

    @property
    def stream(self) -> DoorStream:
        if self._stream is None:  # first used once the stream opened: the answering attempt's mode is known
            self._stream = self.exchange.door.stream(self.exchange.request, native=self.exchange.native)
        return self._stream

    def chunk(self, body: JSONBody) -> bytes:
        return encode_events(self.stream.on_chunk(body))

    def end(self) -> bytes:
        return encode_events(self.stream.on_end())

    def error(self, error: GatewayError) -> bytes:
        return encode_events(self.stream.on_error(error))

    def usage(self, body: JSONBody) -> dict[str, Any] | None:
        return self.stream.usage(body)


def encode_events(events: Iterable[DoorEvent]) -> bytes:
    """SSE bytes: ``event: <name>`` (when named) and ``data: <json>`` per event."""
    return b"".join(
        (b"event: " + event.name.encode() + b"\ndata: " if event.name else b"data: ") + json_body(event.body) + b"\n\n"
        for event in events
    )


# --- routes ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DoorRoute:
    """Where a front door is served and documented."""

    path: str
    summary: str
    response: str
    """What a 200 is, for the OpenAPI document."""
    module: str
    """The door's package: its ``DOOR`` is the :class:`~lambdagate.frontdoors.base.FrontDoor`."""
    request_model: str
    """``module:Class`` of its typed request, whose schema /docs shows under the class's name."""
    errors: str = "OpenAI-shaped error: `{\"error\": {message, type, param, code}}`"
    """The door's error shape, for the OpenAPI document."""

    @property
    def schema(self) -> str:
        return self.request_model.rpartition(":")[2]


ROUTES = {
    "responses": DoorRoute(
        "/responses", "Create a model response",
        "A `Response` object, or with `stream: true` the Responses API's SSE events "
        "(`event: response.created` ... `event: response.completed`).",
        "lambdagate.frontdoors.responses", "lambdagate.frontdoors.responses.types:CreateResponse"),
    "messages": DoorRoute(
        "/messages", "Create a Message (Anthropic Messages API)",
        "A `Message` object, or with `stream: true` the Messages API's SSE events "
        "(`event: message_start` ... `event: message_stop`).",
        "lambdagate.frontdoors.messages", "lambdagate.frontdoors.messages.types:MessageCreateParams",
        errors="Anthropic-shaped error: `{\"type\": \"error\", \"error\": {type, message}, \"request_id\"}`"),
    "count_tokens": DoorRoute(
        "/messages/count_tokens", "Count tokens in a Message (Anthropic Messages API)",
        "A `MessageTokensCount` object, `{\"input_tokens\": N}`; estimated by the gateway where the deployment "
        "has no count of its own (header `x-lambdagate-token-estimate: true`).",
        "lambdagate.frontdoors.messages.count_tokens",
        "lambdagate.frontdoors.messages.types:MessageCountTokensParams",
        errors="Anthropic-shaped error: `{\"type\": \"error\", \"error\": {type, message}, \"request_id\"}`"),
}
"""The endpoints served by a front door (each also answers without ``/v1``); a new door is one entry."""


def load_door(name: str) -> FrontDoor[Any]:
    """A front door by endpoint name, imported when its route is mounted."""
    door: FrontDoor[Any] = import_module(ROUTES[name].module).DOOR
    return door


def request_model(name: str) -> type[BaseModel]:
    module, _, cls = ROUTES[name].request_model.partition(":")
    model: type[BaseModel] = getattr(import_module(module), cls)
    return model


def add_routes(app: Starlette, gateway: Gateway, endpoint: str, *, warm: bool = False) -> None:
    """The door's ``POST /v1/<path>`` (documented) and ``POST /<path>``, its request schema in /docs.

    ``warm``: build the door's validators now (an app serving this door alone); otherwise its first
    request does, and the cold start of an app serving every endpoint stays chat's.
    """
    route = ROUTES[endpoint]
    door = load_door(endpoint)
    if warm:
        door.warm()

    # A door that needs more than the body (the client's headers), or answers some requests itself, makes
    # its own exchange (a DoorExchange subclass): ``door.exchange(request)``.
    make_exchange = getattr(door, "exchange", None)

    async def create(request: Request) -> Response:
        exchange = make_exchange(request) if make_exchange is not None else DoorExchange(door)
        return exchange.finish(await gateway.door(request, exchange))

    extra = {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{route.schema}"}}}}}
    responses: dict[int | str, dict[str, Any]] = {
        200: {"description": route.response, "content": {"application/json": {}, "text/event-stream": {}}},
        "4XX": {"description": route.errors},
        "5XX": {"description": f"Upstream failure or timeout. {route.errors}"},
    }
    for prefix, documented in (("/v1", True), ("", False)):
        add_request_route(app, prefix + route.path, create, ["POST"], summary=route.summary,
                          name=f"{endpoint}{prefix}", include_in_schema=documented, openapi_extra=extra,
                          responses=responses)
    document_request_schema(app, route.schema, lambda: request_model(endpoint))
