"""The one shared HTTP client every provider adapter sends its upstream requests through.

Most of the gateway's CPU per request is spent here, so the choice of client lives in this one
module and follows measurement: the httpx API on the aiohttp transport cost about 1.0 ms of CPU
per proxied request against 1.7 ms for httpx's own transport (see DESIGN.md and ``bench/``).
aiohttp is imported on first use, not at import time, so a cold start that serves a request
without an upstream (``mock``, an auth failure) never pays for it.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

_client: httpx.AsyncClient | None = None
_client_loop: asyncio.AbstractEventLoop | None = None

TRANSPORT_ENV = "LAMBDAGATE_HTTP_TRANSPORT"
"""``aiohttp`` (default) or ``httpx``: which transport carries upstream requests."""


def _quiet_http_loggers() -> None:
    """httpx logs every request's URL at INFO and httpcore at DEBUG: upstream URLs stay out of logs."""
    import logging

    for name in ("httpx", "httpcore"):
        library_logger = logging.getLogger(name)
        library_logger.setLevel(max(library_logger.getEffectiveLevel(), logging.WARNING))


def _new_client() -> httpx.AsyncClient:
    import httpx

    _quiet_http_loggers()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=60)
    # Timeouts are set per request from the routed deployment; None here means "unset".
    if os.environ.get(TRANSPORT_ENV, "aiohttp") == "httpx":
        return httpx.AsyncClient(limits=limits, timeout=None, trust_env=False)
    from httpx_aiohttp import AiohttpTransport

    return httpx.AsyncClient(
        transport=AiohttpTransport(limits=limits, trust_env=False), timeout=None, trust_env=False
    )


def get_client() -> httpx.AsyncClient:
    """The client for the running event loop, created on first use.

    A client's connection pool belongs to the loop that created it; Lambda (through Mangum) keeps
    one loop for the life of the environment, tests and CLIs may not, so a new loop gets a new
    client instead of a pool bound to a dead loop.
    """
    global _client, _client_loop
    loop = asyncio.get_running_loop()
    if _client is None or _client_loop is not loop or _client.is_closed:
        _client, _client_loop = _new_client(), loop
    return _client


async def close_client() -> None:
    global _client, _client_loop
    if _client is not None and not _client.is_closed:
        await _client.aclose()
    _client, _client_loop = None, None


def reset_client() -> None:
    """Forget the pool without awaiting it: for SnapStart restore, where sockets are stale."""
    global _client, _client_loop
    _client, _client_loop = None, None
