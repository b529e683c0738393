"""Routes whose endpoint takes the bare request and answers with a response, as every API route does.

Every app serves them as Starlette ``Route``s: such an endpoint uses nothing of the layer FastAPI
would wrap it in (dependency solving, two per-request exit stacks, response-model handling), which
was about a twentieth of a buffered request's CPU on the development machine. An app with an
OpenAPI document (``lambdagate serve``'s) also records each route's documentation in it
(``api/openapi.py``), for FastAPI's generator to read when the document is first asked for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from pydantic import BaseModel

    from lambdagate.api.openapi import ApiDocument

RequestEndpoint = Callable[[Request], Awaitable[Response]]


def api_document(app: Starlette) -> ApiDocument | None:
    """The OpenAPI document ``app`` serves, or None for an app without one (every Lambda function's)."""
    return cast("ApiDocument | None", getattr(app.state, "api_document", None))


def add_request_route(app: Starlette, path: str, endpoint: RequestEndpoint, methods: list[str], *, name: str,
                      **documentation: Any) -> None:
    """Route ``methods`` of ``path`` to ``endpoint``, called with the request.

    ``documentation`` (``summary``, ``include_in_schema``, ``openapi_extra``, ``responses``) goes to
    the app's OpenAPI document, if it has one; an app without one has nothing to put it in.
    """
    app.router.routes.append(Route(path, endpoint, methods=methods, name=name))
    document = api_document(app)
    if document is not None:
        from lambdagate.api.openapi import DocumentedRoute

        document.add_route(DocumentedRoute(path, endpoint, methods, name, documentation))


def document_request_schema(app: Starlette, name: str, model: Callable[[], type[BaseModel]]) -> None:
    """Put ``model()``'s JSON schema in the app's OpenAPI document as ``name``, when the document is built.

    Routes read their bodies themselves (auth comes before parsing), so no generator can infer the
    schema from the endpoint; ``model`` is called only then, so neither the schema nor a module it
    needs costs the launch. An app without an OpenAPI document has nowhere to put it.
    """
    document = api_document(app)
    if document is not None:
        document.add_schema(name, model)
