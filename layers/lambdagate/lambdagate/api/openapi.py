"""The OpenAPI document of ``lambdagate serve``'s app, generated when ``/openapi.json`` is first asked for.

Every app serves its routes with Starlette alone; FastAPI is only the document's generator (it reads
each route's summary, parameters, responses and extra fields). The routes are recorded here as they
are added and handed to FastAPI's generator on the first request for the document, so the gateway's
launch does not import FastAPI: about 160 ms of CPU on the development machine, a third of the
launch's imports (``lambdagate serve`` answered its first request in 0.31 s without it, 0.42 s
with it). The request bodies' JSON schemas are generated then too: routes read their bodies
themselves (auth comes before parsing, errors are OpenAI's), so no generator could infer them from
the endpoints.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel
    from starlette.requests import Request
    from starlette.responses import Response


@dataclass(frozen=True)
class DocumentedRoute:
    """One route as the document describes it; ``documentation`` holds FastAPI's route arguments
    (``summary``, ``include_in_schema``, ``openapi_extra``, ``responses``)."""

    path: str
    endpoint: Callable[[Request], Awaitable[Response]]
    methods: list[str]
    name: str
    documentation: dict[str, Any]


@dataclass
class ApiDocument:
    """The routes and request schemas an app documents, and the document they make, built once."""

    title: str
    version: str
    description: str
    routes: list[DocumentedRoute] = field(default_factory=list)
    schemas: dict[str, Callable[[], type[BaseModel]]] = field(default_factory=dict)
    _document: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def add_route(self, route: DocumentedRoute) -> None:
        self.routes.append(route)
        self._document = None

    def add_schema(self, name: str, model: Callable[[], type[BaseModel]]) -> None:
        """Document ``model()``'s JSON schema as ``name``; ``model`` is called when the document is built,
        so a module the model lives in is not imported before then."""
        self.schemas.setdefault(name, model)
        self._document = None

    def document(self) -> dict[str, Any]:
        if self._document is None:
            self._document = self._generate()
        return self._document

    def _generate(self) -> dict[str, Any]:
        from fastapi.openapi.utils import get_openapi
        from fastapi.routing import APIRoute

        routes = [APIRoute(route.path, route.endpoint, methods=route.methods, name=route.name, response_model=None,
                           **route.documentation) for route in self.routes]
        document = get_openapi(title=self.title, version=self.version, description=self.description, routes=routes)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, model in self.schemas.items():
            schema = model().model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[name] = schema
        return document


__all__ = ["ApiDocument", "DocumentedRoute"]
