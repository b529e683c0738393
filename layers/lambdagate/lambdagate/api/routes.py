"""Routes whose endpoint takes the bare request and answers with a response, as every API route does.

On the documented app (FastAPI's) each route is FastAPI's (in the OpenAPI schema, matched and
named as any other), but the ASGI app it runs is Starlette's ``request_response``: such an
endpoint uses nothing of the layer FastAPI wraps it in (dependency solving, two per-request exit
stacks, response-model handling), and that layer was about a twentieth of a buffered request's CPU
on the development machine. On the plain Starlette app of the Lambda functions it is a Starlette
``Route``, which runs the endpoint the same way; the documentation is FastAPI's only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, request_response

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pydantic import BaseModel

RequestEndpoint = Callable[[Request], Awaitable[Response]]


def documented_app(app: Starlette) -> FastAPI | None:
    """``app`` as the FastAPI app it is when it has an OpenAPI document; None for a plain Starlette app.

    Read from the app rather than imported: the Lambda functions' apps never import FastAPI.
    """
    return cast("FastAPI", app) if hasattr(app, "add_api_route") else None


def add_request_route(app: Starlette, path: str, endpoint: RequestEndpoint, methods: list[str], *, name: str,
                      **documentation: Any) -> None:
    """Route ``methods`` of ``path`` to ``endpoint``, called with the request.

    ``documentation`` (``summary``, ``include_in_schema``, ``openapi_extra``, ``responses``) goes to
    the OpenAPI document of a documented app, FastAPI's ``add_api_route``; an app without one
    (plain Starlette) has nothing to put it in.
    """
    documented = documented_app(app)
    if documented is None:
        app.router.routes.append(Route(path, endpoint, methods=methods, name=name))
        return
    from fastapi.routing import APIRoute

    documented.add_api_route(path, endpoint, methods=methods, name=name, response_model=None, **documentation)
    route = documented.router.routes[-1]
    if not isinstance(route, APIRoute) or route.endpoint is not endpoint:
        raise RuntimeError(f"the route for {path} was not the last one added")
    route.app = request_response(endpoint)


def document_request_schema(app: Starlette, name: str, model: Callable[[], type[BaseModel]]) -> None:
    """Put ``model()``'s JSON schema in the app's OpenAPI document as ``name``, when it is first asked for.

    Routes read their bodies themselves (auth comes before parsing), so FastAPI cannot infer the
    schema; ``model`` is called only then, so neither the schema nor a module it needs costs the
    cold start. An app without an OpenAPI document (plain Starlette) has nowhere to put it.
    """
    documented = documented_app(app)
    if documented is None:
        return
    original = documented.openapi

    def openapi() -> dict[str, Any]:
        document = original()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        if name not in schemas:
            schema = model().model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[name] = schema
        return document

    documented.openapi = openapi  # type: ignore[method-assign]
