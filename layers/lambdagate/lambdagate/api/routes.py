"""Routes whose endpoint takes the bare request and answers with a response, as every API route does.

Each route is FastAPI's (documented in the OpenAPI schema, matched and named as any other), but the
ASGI app it runs is Starlette's ``request_response``: such an endpoint uses nothing of the layer
FastAPI wraps it in (dependency solving, two per-request exit stacks, response-model handling), and
that layer was about a twentieth of a buffered request's CPU on the development machine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response

RequestEndpoint = Callable[[Request], Awaitable[Response]]


def add_request_route(app: FastAPI, path: str, endpoint: RequestEndpoint, methods: list[str],
                      **options: Any) -> None:
    """``app.add_api_route(path, endpoint, methods=methods, **options)``, the endpoint called directly."""
    app.add_api_route(path, endpoint, methods=methods, response_model=None, **options)
    route = app.router.routes[-1]
    if not isinstance(route, APIRoute) or route.endpoint is not endpoint:
        raise RuntimeError(f"the route for {path} was not the last one added")
    route.app = request_response(endpoint)
