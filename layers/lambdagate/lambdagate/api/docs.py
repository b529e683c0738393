"""``/docs`` (Swagger UI) and ``/redoc`` with their JavaScript and CSS served by the app itself.

FastAPI's own pages load their assets from a CDN, so they are blank offline and in locked-down
networks. The assets come from the ``fastapi-offline`` package's ``static`` folder, located (not
imported) when a page is first asked for, so nothing here touches a function's cold start. Where
that package is not installed (the Lambda layer pins only what the request path needs), the
pages fall back to FastAPI's CDN assets.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

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


def add_docs_routes(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` from local assets (create the app with ``docs_url=None, redoc_url=None``)."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html

    oauth2_redirect = "/docs/oauth2-redirect"

    def base(request: Request) -> str:
        return str(request.scope.get("root_path", ""))

    async def swagger(request: Request) -> HTMLResponse:
        root, title = base(request), f"{app.title} - Swagger UI"
        if assets_dir() is None:  # FastAPI's page, assets from its CDN
            return get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title=title,
                                       oauth2_redirect_url=f"{root}{oauth2_redirect}")
        return get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title=title,
                                   oauth2_redirect_url=f"{root}{oauth2_redirect}",
                                   swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png")

    async def redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        root, title = base(request), f"{app.title} - ReDoc"
        if assets_dir() is None:
            return get_redoc_html(openapi_url=f"{root}{app.openapi_url}", title=title)
        return get_redoc_html(openapi_url=f"{root}{app.openapi_url}", title=title, with_google_fonts=False,
                              redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        folder = assets_dir()
        if folder is None or name not in _ASSETS:  # only the known files: no path from the request reaches disk
            return Response(status_code=404)
        return FileResponse(folder / name, media_type=_ASSETS[name], headers={"cache-control": "public, max-age=86400"})

    app.add_route("/docs", swagger, include_in_schema=False)
    app.add_route(oauth2_redirect, redirect, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
    app.add_route(ASSETS_PATH + "/{name}", static, include_in_schema=False)


__all__ = ["ASSETS_PATH", "add_docs_routes", "assets_dir"]
