"""The one shared HTTP client every provider adapter sends its upstream requests through.

Most of the gateway's CPU per request is spent here, so the choice of client lives in this one
module and follows measurement: the httpx API on the aiohttp transport cost about 1.0 ms of CPU
per proxied request against 1.7 ms for httpx's own transport (see DESIGN.md and ``bench/``), and
both kinds of call skip the httpx layer too, going to the transport's aiohttp session itself: a
buffered one (:func:`fetch`) reads the whole answer, a stream (:func:`open_stream`) hands over its
text as it arrives, which is all httpx-sse reads of a response.

Importing this module costs nothing; :func:`prepare` imports the client stack (httpx,
httpx-aiohttp, aiohttp, httpx-sse) and builds the client and its TLS context. The Lambda entry
points call it during init (``lambda_runtime``), where SnapStart snapshots the result and an
on-demand cold start pays it before the first request is waited on: measured, the stack was about
300 ms of CPU inside the first request otherwise (two seconds at 256 MB's CPU share). Elsewhere
(tests, ``lambdagate serve``) the first :func:`get_client` does it.

Two costs are avoided on purpose. httpx imports its command-line client from its package
``__init__`` (click, and rich and pygments where installed); the gateway never runs it, so a stand-in
module takes its place before httpx is imported. And aiohttp builds its verified default TLS
context when it is imported (the system trust store: ``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured);
upstream connections use that one rather than load a second CA bundle (certifi's, httpx's default),
which costs as much again (about 50 ms of CPU each on the development machine).
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import os
import sys
import types
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import ssl

    import aiohttp
    import httpx

_client: httpx.AsyncClient | None = None
_client_loop: asyncio.AbstractEventLoop | None = None
_tls: ssl.SSLContext | None = None
# The transport the current client was built on, and the client's default headers as a plain
# dict (see :func:`send`); replaced together with the client.
_transport: httpx.AsyncBaseTransport | None = None
_default_headers: dict[str, str] = {}
# The same defaults for a request aiohttp sends itself (see :func:`fetch`): aiohttp writes its own
# connection and accept-encoding headers, the latter naming exactly what it can decompress.
_fetch_headers: dict[str, str] = {}

TRANSPORT_ENV = "LAMBDAGATE_HTTP_TRANSPORT"
"""``aiohttp`` (default) or ``httpx``: which transport carries upstream requests."""


def _quiet_http_loggers() -> None:
    """httpx logs every request's URL at INFO and httpcore at DEBUG: upstream URLs stay out of logs."""
    import logging

    for name in ("httpx", "httpcore"):
        library_logger = logging.getLogger(name)
        library_logger.setLevel(max(library_logger.getEffectiveLevel(), logging.WARNING))


def _no_cli() -> None:
    raise RuntimeError("httpx's command-line client is not loaded in the gateway")


def _import_httpx() -> None:
    """Import httpx without its command-line client (``httpx/__init__`` does ``from ._main import main``)."""
    if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
        stand_in = types.ModuleType("httpx._main", "httpx's command-line client, not loaded by lambdagate")
        stand_in.main = _no_cli  # type: ignore[attr-defined]
        sys.modules["httpx._main"] = stand_in
    import httpx  # noqa: F401


def _import_aiohttp() -> None:
    """Import aiohttp with the system trust store loaded once, lazily, into the one context that verifies.

    aiohttp builds two TLS contexts when it is imported, its verified default and an unverified one
    for ``ssl=False``, and has OpenSSL load the default CA paths into both. The unverified one
    (``CERT_NONE``) never looks at them, and the verified one reads them from the hashed directory
    where that trusts the same authorities (:mod:`lambdagate.trust_store`): each of the two loads
    is about 40 ms of CPU on the development machine, a quarter of a second at 256 MB's CPU share.
    """
    if "aiohttp.connector" in sys.modules:
        return
    from lambdagate import trust_store

    with trust_store.lazy_default_loads():
        import aiohttp.connector  # noqa: F401


def tls_context() -> ssl.SSLContext:
    """The verified TLS context of upstream connections, built once per process."""
    global _tls
    if _tls is None:
        _import_aiohttp()
        from aiohttp import connector

        context = getattr(connector, "_SSL_CONTEXT_VERIFIED", None)  # built by aiohttp's import
        if context is None:  # an aiohttp without it: build one
            import ssl

            from lambdagate import trust_store

            with trust_store.lazy_default_loads():
                context = ssl.create_default_context()
        _tls = context
    return _tls


def _new_session(limits: httpx.Limits) -> aiohttp.ClientSession:
    """The aiohttp session of a pool: the connector httpx-aiohttp would build, and no cookie jar.

    aiohttp's default jar keeps the cookies an answer sets (for a host name, not an IP address)
    and sends them with later requests to that host: one client's upstream session cookie would
    ride along on every other client's request.
    """
    import aiohttp

    connector = aiohttp.TCPConnector(limit=limits.max_connections or 0, keepalive_timeout=limits.keepalive_expiry,
                                     ssl=tls_context())
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


def _new_client() -> httpx.AsyncClient:
    global _transport, _default_headers, _fetch_headers
    _import_httpx()
    import httpx

    _quiet_http_loggers()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=60)
    transport: httpx.AsyncBaseTransport
    if os.environ.get(TRANSPORT_ENV, "aiohttp") == "httpx":
        transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False, verify=tls_context())
    else:
        _import_aiohttp()
        from httpx_aiohttp import AiohttpTransport

        # The transport opens the aiohttp session (bound to the running loop) on its first request.
        transport = AiohttpTransport(verify=tls_context(), limits=limits, trust_env=False,
                                     client=functools.partial(_new_session, limits))
    # Timeouts are set per request from the routed deployment; None here means "unset".
    client = httpx.AsyncClient(transport=transport, timeout=None, trust_env=False)
    _transport, _default_headers = transport, dict(client.headers)
    _fetch_headers = {k: v for k, v in _default_headers.items() if k not in ("connection", "accept-encoding")}
    return client


def prepare() -> None:
    """Import the client stack and build the client now (Lambda init), without opening a connection.

    The client is not bound to an event loop until it sends its first request, so it is safe to
    build before any loop runs; :func:`get_client` adopts it for the first loop that asks.
    """
    global _client, _client_loop
    if _client is None or _client.is_closed:
        _client, _client_loop = _new_client(), None
    # aiohttp resolves a host name with getaddrinfo on the loop's default executor, whose module
    # (and its queue) the first request to a named upstream would otherwise import.
    import concurrent.futures.thread  # noqa: F401

    import httpx_sse  # noqa: F401  (the SSE reader of providers/http.py)


def get_client() -> httpx.AsyncClient:
    """The client for the running event loop, created on first use.

    A client's connection pool belongs to the loop that first used it; Lambda (through Mangum)
    keeps one loop for the life of the environment, tests and CLIs may not, so a new loop gets a
    new client instead of a pool bound to a dead loop.
    """
    global _client, _client_loop
    loop = asyncio.get_running_loop()
    if _client is None or _client.is_closed or (_client_loop is not None and _client_loop is not loop):
        _client = _new_client()
    _client_loop = loop
    return _client


@functools.lru_cache(maxsize=512)
def _parsed_url(url: str) -> httpx.URL:
    """httpx parses a string URL on every request; a parsed URL is immutable, so it is shared."""
    import httpx

    return httpx.URL(url)


async def send(method: str, url: str, content: bytes | None, headers: Mapping[str, str],
               timeout: httpx.Timeout) -> httpx.Response:
    """Send one request on the shared pool; the caller reads the body and closes the response.

    What :func:`fetch` and :func:`open_stream` use on httpx's own transport. The request goes
    straight to the client's transport, httpx's one-method interface, past ``AsyncClient``'s
    per-request layers (URL merging, the cookie jar, auth and redirect handling, event hooks), none of
    which the gateway uses: measured, they were about 100 us of CPU a request, two fifths of the
    client's share. The client's default headers (``accept-encoding``, ``user-agent``...) are sent
    as before, under the caller's. Without the cookie jar a cookie one upstream answer sets is never
    sent along with another client's request.
    """
    import httpx

    get_client()  # the pool of the running loop
    assert _transport is not None
    request = httpx.Request(method, _parsed_url(url), content=content, headers={**_default_headers, **headers},
                            extensions={"timeout": timeout.as_dict()})
    return await _transport.handle_async_request(request)


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole upstream answer, read: what a buffered call needs of it."""

    status_code: int
    headers: Mapping[str, str]
    """Case-insensitive, as every transport's headers are."""
    content: bytes


def _aiohttp_session() -> aiohttp.ClientSession | None:
    """The aiohttp session of the running loop's pool, or None when httpx's own transport carries requests."""
    get_client()  # the pool of the running loop
    from httpx_aiohttp import AiohttpTransport

    transport = _transport
    if not isinstance(transport, AiohttpTransport):  # httpx's own transport (LAMBDAGATE_HTTP_TRANSPORT)
        return None
    import aiohttp

    session = transport.client
    if not isinstance(session, aiohttp.ClientSession):
        session = transport.client = transport.get_client()  # what the transport does on its first request
    return session


def _request_options(headers: Mapping[str, str], timeout: httpx.Timeout) -> dict[str, object]:
    """aiohttp's arguments for a request, as httpx-aiohttp sets them (the timeouts mapped the same way)."""
    import aiohttp

    limits = timeout.as_dict()
    return {"headers": {**_fetch_headers, **headers}, "allow_redirects": False, "compress": False,
            "timeout": aiohttp.ClientTimeout(sock_connect=limits.get("connect"), sock_read=limits.get("read"),
                                             connect=limits.get("pool"))}


async def fetch(method: str, url: str, content: bytes | None, headers: Mapping[str, str],
                timeout: httpx.Timeout) -> Answer:
    """Send one request and read its whole answer (decompressed) on the shared pool.

    A buffered call needs the status, the headers and the bytes, none of httpx's request and
    response objects; on the aiohttp transport it therefore goes to the transport's aiohttp session
    directly. Measured on loopback, the same call through :func:`send` and ``aread`` cost 1.8x the
    CPU of the session's own (about 250 us more a call on the development machine, a fifth of a
    buffered request through the gateway). Failures are raised as the httpx exceptions the
    transport raises for the same fault (httpx-aiohttp's own mapping), so every caller handles one
    family.
    """
    session = _aiohttp_session()
    if session is None:
        response = await send(method, url, content, headers, timeout)
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        return Answer(response.status_code, response.headers, body)
    from httpx_aiohttp.transport import map_aiohttp_exceptions

    with map_aiohttp_exceptions():
        async with session.request(method, url, data=content, **_request_options(headers, timeout)) as answer:  # type: ignore[arg-type]
            body = await answer.read()
    return Answer(answer.status, answer.headers, body)


class StreamedAnswer(Protocol):
    """An answer whose body is read as it arrives: the part of ``httpx.Response`` that streams use."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def aread(self) -> bytes: ...

    def aiter_text(self) -> AsyncIterator[str]: ...

    async def aclose(self) -> None: ...


class _AiohttpStream:
    """An aiohttp response read as a :class:`StreamedAnswer`; its failures raised as httpx's."""

    __slots__ = ("_response", "headers", "status_code")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status_code: int = response.status
        self.headers: Mapping[str, str] = response.headers

    async def aread(self) -> bytes:
        from httpx_aiohttp.transport import map_aiohttp_exceptions

        with map_aiohttp_exceptions():
            return await self._response.read()

    async def aiter_text(self) -> AsyncIterator[str]:
        """The body as UTF-8 text, chunk by chunk as it arrives (an event stream is UTF-8 whatever
        its header says, the SSE standard)."""
        from httpx_aiohttp.transport import map_aiohttp_exceptions

        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        with map_aiohttp_exceptions():
            async for chunk in self._response.content.iter_any():
                text = decoder.decode(chunk)
                if text:
                    yield text
        tail = decoder.decode(b"", True)
        if tail:
            yield tail

    async def aclose(self) -> None:
        """Give the connection back to the pool when the body was read whole, else close it."""
        from httpx_aiohttp.transport import map_aiohttp_exceptions

        with map_aiohttp_exceptions():
            self._response.release()
            await self._response.wait_for_close()


async def open_stream(method: str, url: str, content: bytes | None, headers: Mapping[str, str],
                      timeout: httpx.Timeout) -> StreamedAnswer:
    """Send one request and return its answer once its headers are in; the caller reads and closes it.

    On the aiohttp transport the request goes to its aiohttp session, like :func:`fetch`: httpx's
    request object and its byte-stream, byte-chunking and text-decoding layers around every chunk
    cost about a third more CPU per 22-event stream on loopback than the session's own reads.
    """
    session = _aiohttp_session()
    if session is None:
        response = await send(method, url, content, headers, timeout)
        response.encoding = "utf-8"  # as above, and httpx does not parse the charset with the email package
        return response
    from httpx_aiohttp.transport import map_aiohttp_exceptions

    with map_aiohttp_exceptions():
        answer = await session.request(method, url, data=content, **_request_options(headers, timeout))  # type: ignore[arg-type]
    return _AiohttpStream(answer)


async def close_client() -> None:
    """Close the pool when it belongs to the running loop (a server shutting down its own loop).

    A pool made on another loop (another server in the same process) cannot be closed from here:
    it is only forgotten, and goes with its loop.
    """
    global _client, _client_loop, _transport
    if _client is not None and not _client.is_closed and _client_loop is asyncio.get_running_loop():
        await _client.aclose()
    _client, _client_loop, _transport = None, None, None


def reset_client() -> None:
    """Forget the pool without awaiting it: for SnapStart restore, where sockets are stale.

    The imports and the TLS context stay (nothing in them is tied to a connection or a secret), so
    the next :func:`get_client` only builds the client object again.
    """
    global _client, _client_loop, _transport
    _client, _client_loop, _transport = None, None, None
