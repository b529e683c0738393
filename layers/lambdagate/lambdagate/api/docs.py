"""``/openapi.json``, ``/docs`` (Swagger UI) and ``/redoc``, with the pages' JavaScript and CSS served by the app.

FastAPI's own pages load their assets from a CDN, so they are blank offline and in locked-down
networks. The assets come from the ``fastapi-offline`` package's ``static`` folder, located (not
imported) when a page is first asked for, so nothing here touches a function's cold start. Where
that package is not installed (the Lambda layer pins only what the request path needs), the
pages fall back to FastAPI's CDN assets. The pages' HTML comes from FastAPI, imported when a page
is first asked for, as the document's generator is (``api/openapi.py``).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from lambdagate.api.openapi import ApiDocument

OPENAPI_PATH = "/openapi.json"
ASSETS_PATH = "/docs-assets"
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}


@cache
def assets_dir() -> Path | None:
    """fastapi-offline's bundled Swagger UI and ReDoc, or None when the package is absent."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    return folder if all((folder / name).is_file() for name in _ASSETS) else None


def add_docs_routes(app: Starlette, document: ApiDocument) -> None:
    """Serve ``document`` at ``/openapi.json`` and its pages at ``/docs`` and ``/redoc``, from local assets."""
    oauth2_redirect = "/docs/oauth2-redirect"

    def base(request: Request) -> str:
        return str(request.scope.get("root_path", ""))

    async def openapi(request: Request) -> JSONResponse:
        content = document.document()
        root = base(request).rstrip("/")
        # Behind a proxy that mounts the gateway under a prefix, "Try it out" must call through it (as FastAPI's does).
        if root and root not in {server.get("url") for server in content.get("servers", [])}:
            content = {**content, "servers": [{"url": root}, *content.get("servers", [])]}
        return JSONResponse(content)

    async def swagger(request: Request) -> HTMLResponse:
        from fastapi.openapi.docs import get_swagger_ui_html

        root, title = base(request), f"{document.title} - Swagger UI"
        if assets_dir() is None:  # FastAPI's page, assets from its CDN
            return get_swagger_ui_html(openapi_url=f"{root}{OPENAPI_PATH}", title=title,
                                       oauth2_redirect_url=f"{root}{oauth2_redirect}")
        return get_swagger_ui_html(openapi_url=f"{root}{OPENAPI_PATH}", title=title,
                                   oauth2_redirect_url=f"{root}{oauth2_redirect}",
                                   swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png")

    async def redirect(request: Request) -> HTMLResponse:
        from fastapi.openapi.docs import get_swagger_ui_oauth2_redirect_html

        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        from fastapi.openapi.docs import get_redoc_html

        root, title = base(request), f"{document.title} - ReDoc"
        if assets_dir() is None:
            return get_redoc_html(openapi_url=f"{root}{OPENAPI_PATH}", title=title)
        return get_redoc_html(openapi_url=f"{root}{OPENAPI_PATH}", title=title, with_google_fonts=False,
                              redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        folder = assets_dir()
        if folder is None or name not in _ASSETS:  # only the known files: no path from the request reaches disk
            return Response(status_code=404)
        return FileResponse(folder / name, media_type=_ASSETS[name], headers={"cache-control": "public, max-age=86400"})

    for path, endpoint in ((OPENAPI_PATH, openapi), ("/docs", swagger), (oauth2_redirect, redirect),
                           ("/redoc", redoc), (ASSETS_PATH + "/{name}", static)):
        app.router.routes.append(Route(path, endpoint, methods=["GET"]))


__all__ = ["ASSETS_PATH", "OPENAPI_PATH", "add_docs_routes", "assets_dir"]
