"""The app: the OpenAI routes (with and without ``/v1``) and OpenAI-shaped errors.

``create_app(endpoints=...)`` mounts only the routes a function serves, so the per-endpoint
Lambdas share one code path with the streaming function and ``lambdagate serve``.

Two flavours of the same app: a FastAPI one, which also serves ``/docs``, ``/redoc`` and the
OpenAPI document (``lambdagate serve``), and, with ``documented=False``, a plain Starlette one with
the same routes, error handlers and middleware and no documentation (every Lambda function: API
Gateway routes only a function's endpoint to it, and a public function URL has no need to serve
the docs). Every route endpoint takes the bare request and answers with a response
(``api/routes.py``), so the two answer alike (``tests/test_app_flavours.py``); what the functions
save is FastAPI's import: about 140 ms of CPU on top of everything else they import (CPython 3.13,
the development machine), the biggest single part of their init, and about a second of a cold
start at 256 MB's CPU share.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from lambdagate import __version__
from lambdagate.api.cors import SettingsCors, platform_answers_cors
from lambdagate.api.gateway import Gateway
from lambdagate.api.responses import error_response
from lambdagate.api.routes import add_request_route
from lambdagate.config import load_store
from lambdagate.config.store import ConfigStore
from lambdagate.errors import GatewayError, describe_failure
from lambdagate.types import BaseRequest, ChatCompletionRequest, CompletionRequest

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.telemetry import TelemetryConfig

logger = logging.getLogger("lambdagate.api")

ENDPOINTS = ("chat", "completions", "models", "embeddings", "responses", "messages", "count_tokens")
_ROUTES: dict[str, tuple[str, str, type[BaseRequest], str]] = {
    "chat": ("/chat/completions", "POST", ChatCompletionRequest, "Create a chat completion"),
    "completions": ("/completions", "POST", CompletionRequest, "Create a text completion"),
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A completion object, or with `stream: true` an SSE stream of chunks ending "
                         "with `data: [DONE]`.",
          "content": {"application/json": {}, "text/event-stream": {}}},
    "4XX": {"description": "OpenAI-shaped error: `{\"error\": {message, type, param, code}}`"},
    "5XX": {"description": "Upstream failure or timeout, OpenAI-shaped"},
}


FRAMEWORK_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's own OpenTelemetry instrumentation, off. The gateway's telemetry is its request record
and EMF metrics (names and numbers only, observability/); FastAPI's would add a span and HTTP metrics
of its own to every request wherever an OTel layer configures a provider, and it looks the global
providers up on every request even where none is: about 6 us of CPU a request on the development
machine, 1% of a proxied one."""


def create_app(store: ConfigStore | None = None, endpoints: Collection[str] = ENDPOINTS, *,
               documented: bool = True) -> Starlette:
    """An app for ``endpoints`` over ``store`` (``$LAMBDAGATE_CONFIG`` when not given).

    ``documented``: FastAPI's app, with ``/docs``, ``/redoc`` and ``/openapi.json``; otherwise
    Starlette's, the same API without them (and without importing FastAPI).
    """
    gateway = Gateway(store if store is not None else load_store())
    app = _documented_app() if documented else Starlette(lifespan=_lifespan)
    app.state.gateway = gateway

    for endpoint in endpoints:
        if endpoint == "models":
            _add_models_routes(app, gateway)
        elif endpoint in _ROUTES:
            _add_completion_route(app, gateway, endpoint)
        elif endpoint == "embeddings":
            from lambdagate.api import embeddings  # imported only by apps that serve it

            embeddings.add_routes(app, gateway)
        else:
            from lambdagate.api import doors  # the other APIs' front doors (Responses), imported when served

            if endpoint not in doors.ROUTES:
                raise ValueError(f"unknown endpoint {endpoint!r}")
            doors.add_routes(app, gateway, endpoint, warm=len(endpoints) == 1)

    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
    if not platform_answers_cors():  # on AWS the URLs answer CORS themselves (api/cors.py)
        app.add_middleware(SettingsCors, store=gateway.store)
    return app


def _documented_app() -> FastAPI:
    from fastapi import FastAPI

    from lambdagate.api.docs import add_docs_routes

    app = FastAPI(
        title="lambdagate", version=__version__, lifespan=_lifespan,
        description="OpenAI-compatible LLM gateway. Authenticate with `Authorization: Bearer <key>`.",
        docs_url=None, redoc_url=None,  # added below, with local assets instead of a CDN's (api/docs.py)
        telemetry=FRAMEWORK_TELEMETRY,
    )
    add_docs_routes(app)
    _document_request_bodies(app)
    return app


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    """Close the upstream connection pool when a server shuts down (Mangum runs no lifespan)."""
    yield
    from lambdagate.upstream_http import close_client

    await close_client()


def _add_completion_route(app: Starlette, gateway: Gateway, endpoint: str) -> None:
    path, method, model, summary = _ROUTES[endpoint]
    kind: Literal["chat", "completions"] = "chat" if endpoint == "chat" else "completions"
    model.model_rebuild()  # a schema built lazily is built now, at init, not by the first request

    async def create(request: Request) -> Response:
        return await gateway.complete(request, kind)

    extra = {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}
    for prefix, documented in (("/v1", True), ("", False)):
        add_request_route(app, prefix + path, create, [method], summary=summary, name=f"{endpoint}{prefix}",
                          include_in_schema=documented, openapi_extra=extra, responses=_RESPONSES)


def _add_models_routes(app: Starlette, gateway: Gateway) -> None:
    async def list_models(request: Request) -> Response:
        return await gateway.list_models(request)

    async def retrieve_model(request: Request) -> Response:
        return await gateway.get_model(request, request.path_params["model_id"])

    # The path parameter is documented by hand: an endpoint that declares it as an argument has FastAPI
    # analyse it as a field, which imports pydantic.v1 (about 40 ms at init) to rule out a v1 model.
    parameter = {"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"},
                 "description": "The ID of the model to use for this request"}
    for prefix, documented in (("/v1", True), ("", False)):
        add_request_route(app, prefix + "/models", list_models, ["GET"], summary="List models",
                          include_in_schema=documented, name=f"models{prefix}")
        add_request_route(app, prefix + "/models/{model_id:path}", retrieve_model, ["GET"],
                          summary="Retrieve a model", include_in_schema=documented, name=f"model{prefix}",
                          openapi_extra={"parameters": [parameter]})


def _document_request_bodies(app: FastAPI) -> None:
    """Add the request models to the OpenAPI document when /docs first asks for it.

    Routes read their bodies themselves (auth comes before parsing, and errors are OpenAI's), so
    FastAPI cannot infer the schemas; generating them lazily keeps them off the cold start.
    """
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = original()
        from pydantic.json_schema import models_json_schema

        _, schemas = models_json_schema(
            [(ChatCompletionRequest, "validation"), (CompletionRequest, "validation")],
            ref_template="#/components/schemas/{model}",
        )
        document.setdefault("components", {}).setdefault("schemas", {}).update(schemas.get("$defs", {}))
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


async def _gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed for {request.url.path}."
    else:
        message = str(exc.detail)
    # Starlette's headers stay: a 405 names the methods the path allows (``Allow``, which HTTP requires).
    error = GatewayError(message, status=exc.status_code, type="invalid_request_error", headers=exc.headers)

    async def fail(*_: Any) -> Response:
        raise error

    # Through the gateway, so a request to no route is logged and answered with its request id too.
    gateway: Gateway = request.app.state.gateway
    return await gateway.serve(request, "other", fail)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # Where it failed goes to the log (scrubbed of URLs and secrets), never to the client.
    logger.error("unhandled error: %s", describe_failure(exc))
    return error_response(GatewayError("The gateway failed to process the request.", status=500))


__all__ = ["ENDPOINTS", "create_app"]
