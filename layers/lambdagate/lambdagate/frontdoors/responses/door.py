"""The Responses front door: ``POST /v1/responses`` for every provider.

OpenAI and Azure deployments (``native_doors`` has ``responses``) get the request forwarded as
sent (:meth:`ResponsesDoor.forward`): the upstream's own features keep working, stored responses
and ``previous_response_id`` included. Every other provider gets it translated through the chat
contract (:mod:`.request`) and answered as a ``Response`` (:mod:`.response`) or as the Responses
event stream (:mod:`.stream`). Errors are OpenAI's error object, as the Responses API answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol, runtime_checkable

from lambdagate.api.requests import parse_request
from lambdagate.errors import GatewayError, ProviderNotConfigured
from lambdagate.frontdoors.base import ChatTranslation, DoorStream
from lambdagate.frontdoors.responses import request as translate
from lambdagate.frontdoors.responses import response as shapes
from lambdagate.frontdoors.responses.stream import ChatToResponses, NativeEvents
from lambdagate.frontdoors.responses.types import CreateResponse, build
from lambdagate.observability import usage_of
from lambdagate.providers.base import CallContext, Provider, Target
from lambdagate.wire import JSONBody


@runtime_checkable
class SpeaksResponses(Protocol):
    """What a provider that declares ``native_doors={"responses"}`` implements (the OpenAI type)."""

    async def responses(self, fields: dict[str, Any], target: Target, ctx: CallContext) -> JSONBody: ...

    def responses_stream(self, fields: dict[str, Any], target: Target, ctx: CallContext) -> AsyncIterator[JSONBody]:
        ...


def _native(provider: Provider) -> SpeaksResponses:
    if not isinstance(provider, SpeaksResponses):
        raise ProviderNotConfigured(f"The '{provider.type_name}' provider declares the Responses API but cannot "
                                    "forward it.")
    return provider


class ResponsesDoor:
    name = "responses"

    def parse(self, raw: bytes) -> CreateResponse:
        return parse_request(raw, CreateResponse)

    def to_chat(self, request: CreateResponse) -> ChatTranslation:
        return translate.to_chat(request)

    def from_chat(self, completion: dict[str, Any], request: CreateResponse) -> dict[str, Any]:
        return shapes.from_chat(completion, request)

    def stream(self, request: CreateResponse, *, native: bool) -> DoorStream:
        return NativeEvents() if native else ChatToResponses(request)

    async def forward(self, provider: Provider, request: CreateResponse, target: Target, ctx: CallContext) -> JSONBody:
        return await _native(provider).responses(request.sent_fields(), target, ctx)

    def forward_stream(
        self, provider: Provider, request: CreateResponse, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        return _native(provider).responses_stream(request.sent_fields(), target, ctx)

    def usage(self, body: JSONBody) -> dict[str, Any] | None:
        return shapes.chat_usage(usage_of(body))

    def error(self, error: GatewayError) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        return error.status, error.body(), error.headers

    def warm(self) -> None:
        build()


DOOR = ResponsesDoor()
