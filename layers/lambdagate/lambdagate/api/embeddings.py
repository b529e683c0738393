"""The ``POST /v1/embeddings`` front door (and ``/embeddings``): the chat request path, minus streams.

An embeddings request takes the very path of a chat request: :func:`create_embedding` hands an
:class:`EmbeddingsExchange` to :meth:`Gateway.door`, which runs ``Gateway._complete`` inside
:meth:`Gateway.serve` (the one owner of the request record). So the body is read within the size
limit, the key checked (``Gateway._authenticate``) before the body is parsed, the model resolved
and allowed by ``router.check``, rate limits and budgets admitted, and every attempt made by
``router.call`` with chat's retries, fallbacks, cooldowns and one deadline; the ``x-lambdagate-*``
headers, cost, log line and metrics are chat's. The exchange supplies only what differs: parsing
(:class:`~lambdagate.embedding_types.EmbeddingRequest`), each attempt
(:func:`lambdagate.providers.dispatch.embed`: providers without embeddings are a 400, base64 is
encoded there when the provider gave floats) and the usage for the record. Errors are OpenAI's
error object; an embeddings request never streams.

:func:`add_routes` mounts both paths and documents the request body in the OpenAPI document
lazily (generating a schema costs the cold start otherwise). This module is imported only by
apps that serve embeddings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from starlette.requests import Request
from starlette.responses import Response

from lambdagate.api.requests import parse_request
from lambdagate.api.responses import error_response
from lambdagate.api.routes import add_request_route, document_request_schema
from lambdagate.embedding_types import EmbeddingRequest
from lambdagate.errors import GatewayError
from lambdagate.observability import usage_of
from lambdagate.providers import dispatch
from lambdagate.providers.base import CallContext, Provider, Target
from lambdagate.wire import JSONBody

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from lambdagate.api.doors import DoorExchange
    from lambdagate.api.gateway import Gateway

PATH = "/embeddings"
SCHEMA = "CreateEmbeddingRequest"
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A `CreateEmbeddingResponse`: `data[i].embedding` for input `i`, float or base64."},
    "4XX": {"description": "OpenAI-shaped error: `{\"error\": {message, type, param, code}}`"},
    "5XX": {"description": "Upstream failure or timeout, OpenAI-shaped"},
}


class EmbeddingsExchange:
    """One embeddings request on the gateway's request path (the exchange ``Gateway.door`` drives)."""

    endpoint = "embeddings"
    """The record's endpoint (logs and metrics)."""

    def __init__(self) -> None:
        self._request: EmbeddingRequest | None = None

    @property
    def request(self) -> EmbeddingRequest:
        assert self._request is not None, "parse() comes first"
        return self._request

    def parse(self, raw: bytes) -> EmbeddingRequest:
        self._request = parse_request(raw, EmbeddingRequest)
        return self._request

    async def call(self, provider: Provider, target: Target, ctx: CallContext) -> JSONBody:
        return await dispatch.embed(provider, self.request, target, ctx)

    def open_stream(self, provider: Provider, target: Target, ctx: CallContext) -> AsyncIterator[JSONBody]:
        raise AssertionError("an embeddings request never streams (EmbeddingRequest.stream is False)")

    def encoder(self) -> Any:
        raise AssertionError("an embeddings request never streams")

    def usage(self, result: JSONBody) -> dict[str, Any] | None:
        return usage_of(result)

    def error_response(self, error: GatewayError, headers: Mapping[str, str]) -> Response:
        return error_response(error, headers)


async def create_embedding(gateway: Gateway, request: Request) -> Response:
    """Answer one embeddings request through the chat request path (:meth:`Gateway.door`)."""
    # Gateway.door is typed for front doors through chat; it only calls what EmbeddingsExchange has.
    return await gateway.door(request, cast("DoorExchange[Any]", EmbeddingsExchange()))


def add_routes(app: Starlette, gateway: Gateway) -> None:
    """``POST /v1/embeddings`` (documented) and ``POST /embeddings``, with the request schema in /docs."""

    async def create(request: Request) -> Response:
        return await create_embedding(gateway, request)

    extra = {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{SCHEMA}"}}}}}
    for prefix, documented in (("/v1", True), ("", False)):
        add_request_route(app, prefix + PATH, create, ["POST"], summary="Create embeddings",
                          name=f"embeddings{prefix}", include_in_schema=documented, openapi_extra=extra,
                          responses=_RESPONSES)
    document_request_schema(app, SCHEMA, lambda: EmbeddingRequest)


__all__ = ["add_routes", "create_embedding"]
