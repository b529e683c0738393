"""CORS for browser clients of ``lambdagate serve`` (and any host that is not the AWS platform).

On AWS the platform answers CORS on both URLs: the HTTP API's ``CorsConfiguration`` (API Gateway
answers preflights itself and ignores CORS headers from the integration) and the function URL's
``Cors`` (Lambda adds the configured headers to every response, and they take precedence over the
function's). The template sets ``LAMBDAGATE_CORS=platform`` on every function, which keeps this
middleware out, so no response carries the headers twice. Elsewhere the allowed origins come from
``settings.cors_allow_origins`` (empty by default: no CORS, browsers refuse cross-origin calls).

The origins are read from the store per request that carries an ``Origin`` header (the store
caches settings), so a changed setting applies without a restart; the Starlette middleware for a
given list is built once.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from starlette.middleware.cors import CORSMiddleware

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from lambdagate.config.store import ConfigStore

logger = logging.getLogger("lambdagate.api")

CORS_ENV = "LAMBDAGATE_CORS"
"""``platform``: the URLs' own CORS configuration answers; the app adds no CORS header."""
ALLOW_METHODS = ("GET", "POST", "OPTIONS")
ALLOW_HEADERS = (
    # Named, because a wildcard does not cover Authorization (Fetch standard); "*" covers the
    # SDKs' other headers (x-stainless-*, openai-organization, ...) for credential-less requests.
    "authorization", "content-type", "accept", "openai-organization", "openai-project", "x-api-key",
    "anthropic-version", "anthropic-beta", "*",
)
EXPOSE_HEADERS = (
    "x-request-id", "retry-after", "x-should-retry", "x-lambdagate-dropped-params",
    "x-lambdagate-provider", "x-lambdagate-model", "x-lambdagate-attempts", "x-lambdagate-fallback",
    "x-lambdagate-cost-usd", "retry-after-ms", "request-id", "x-lambdagate-token-estimate",
)
MAX_AGE = 600
"""Seconds a browser may cache a preflight answer (Chromium caps it at 7200)."""


def platform_answers_cors() -> bool:
    return os.environ.get(CORS_ENV, "").strip().lower() == "platform"


class SettingsCors:
    """ASGI middleware: Starlette's ``CORSMiddleware`` with the origins of the current settings."""

    def __init__(self, app: ASGIApp, store: ConfigStore) -> None:
        self.app = app
        self.store = store
        self._built: dict[tuple[str, ...], CORSMiddleware] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origins = self._origins(scope) if scope["type"] == "http" else ()
        if not origins:
            await self.app(scope, receive, send)
            return
        middleware = self._built.get(origins)
        if middleware is None:
            middleware = self._built[origins] = CORSMiddleware(
                self.app, allow_origins=list(origins), allow_methods=list(ALLOW_METHODS),
                allow_headers=list(ALLOW_HEADERS), expose_headers=list(EXPOSE_HEADERS), max_age=MAX_AGE)
        await middleware(scope, receive, send)

    def _origins(self, scope: Scope) -> tuple[str, ...]:
        if not any(key.lower() == b"origin" for key, _ in scope.get("headers", ())):
            return ()
        try:
            return tuple(self.store.settings().cors_allow_origins)
        except Exception as exc:  # no settings (store outage): no CORS, the request itself reports it
            logger.warning("CORS origins unavailable: %s", type(exc).__name__)
            return ()
