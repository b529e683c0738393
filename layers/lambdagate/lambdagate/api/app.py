"""The app: the OpenAI routes (with and without ``/v1``) and OpenAI-shaped errors.

``create_app(endpoints=...)`` mounts only the routes a function serves, so the per-endpoint
Lambdas share one code path with the streaming function and ``lambdagate serve``.

Every app is Starlette's, with the same routes, error handlers and middleware. ``documented=True``
(``lambdagate serve``) adds ``/openapi.json``, ``/docs`` and ``/redoc`` (``api/docs.py``), whose
document FastAPI generates when it is first asked for (``api/openapi.py``); the Lambda functions'
apps have none (API Gateway routes only a function's endpoint to it, and a public function URL has
no need to serve the docs). Neither imports FastAPI to start: it was the biggest single part of a
function's init, about 140 ms of CPU on top of everything else (CPython 3.13, the development
machine) and about a second of a cold start at 256 MB's CPU share, and about a quarter of
``lambdagate serve``'s launch.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from lambdagate import __version__
from lambdagate.api.cors import SettingsCors, platform_answers_cors
from lambdagate.api.gateway import Gateway
from lambdagate.api.responses import error_response
from lambdagate.api.routes import add_request_route, document_request_schema
from lambdagate.config import load_store
from lambdagate.config.store import ConfigStore
from lambdagate.errors import GatewayError, describe_failure
from lambdagate.types import BaseRequest, ChatCompletionRequest, CompletionRequest

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


def create_app(store: ConfigStore | None = None, endpoints: Collection[str] = ENDPOINTS, *,
               documented: bool = True) -> Starlette:
    """An app for ``endpoints`` over ``store`` (``$LAMBDAGATE_CONFIG`` when not given).

    ``documented``: with ``/docs``, ``/redoc`` and ``/openapi.json``; otherwise the same API without them.
    """
    gateway = Gateway(store if store is not None else load_store())
    app = Starlette(lifespan=_lifespan)
    app.state.gateway = gateway
    if documented:
        _add_documentation(app)

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


def _add_documentation(app: Starlette) -> None:
    from lambdagate.api.docs import add_docs_routes
    from lambdagate.api.openapi import ApiDocument

    document = ApiDocument(
        title="lambdagate", version=__version__,
        description="OpenAI-compatible LLM gateway. Authenticate with `Authorization: Bearer <key>`.",
    )
    app.state.api_document = document
    add_docs_routes(app, document)


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
    document_request_schema(app, model.__name__, lambda: model)


def _add_models_routes(app: Starlette, gateway: Gateway) -> None:
    async def list_models(request: Request) -> Response:
        return await gateway.list_models(request)

    async def retrieve_model(request: Request) -> Response:
        return await gateway.get_model(request, request.path_params["model_id"])

    # The path parameter is documented by hand: the endpoint takes the bare request, as every route's does.
    parameter = {"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"},
                 "description": "The ID of the model to use for this request"}
    for prefix, documented in (("/v1", True), ("", False)):
        add_request_route(app, prefix + "/models", list_models, ["GET"], summary="List models",
                          include_in_schema=documented, name=f"models{prefix}")
        add_request_route(app, prefix + "/models/{model_id:path}", retrieve_model, ["GET"],
                          summary="Retrieve a model", include_in_schema=documented, name=f"model{prefix}",
                          openapi_extra={"parameters": [parameter]})


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
