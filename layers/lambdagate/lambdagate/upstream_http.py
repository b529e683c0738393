"""The one shared HTTP client every provider adapter sends its upstream requests through.

Most of the gateway's CPU per request is spent here, so the choice of client lives in this one
module and follows measurement: aiohttp carries the requests, about 1.0 ms of CPU per proxied
request against 1.7 ms for httpx's own transport (see DESIGN.md and ``bench/``), and both kinds of
call go to its session directly: a buffered one (:func:`fetch`) reads the whole answer, a stream
(:func:`open_stream`) hands over its text as it arrives, which is all httpx-sse reads of a
response. Failures are raised as httpx's exception types (:func:`_aiohttp_failures`), so the
callers handle one family whichever transport carries the request; httpx's own transport stays the
alternative (``LAMBDAGATE_HTTP_TRANSPORT=httpx``).

Importing this module costs nothing; :func:`prepare` imports the client stack (aiohttp, httpx,
httpx-sse) and builds the pool and its TLS context. The Lambda entry
points call it during init (``lambda_runtime``), where SnapStart snapshots the result and an
on-demand cold start pays it before the first request is waited on: measured, the stack was about
300 ms of CPU inside the first request otherwise (two seconds at 256 MB's CPU share). Elsewhere
(tests, ``lambdagate serve``) the first :func:`get_client` does it.

Two costs are avoided on purpose. httpx imports its command-line client from its package
``__init__`` (click, and rich and pygments where installed); the gateway never runs it, so a stand-in
module takes its place before httpx is imported. And aiohttp builds its verified default TLS
context when it is imported (the system trust store: ``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured);
upstream connections use that one rather than load a second CA bundle (certifi's, httpx's default),
which costs as much again (about 40 ms of CPU each on the development machine).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import os
import sys
import types
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import ssl

    import aiohttp
    import httpx

_client: httpx.AsyncClient | SessionPool | None = None
_client_loop: asyncio.AbstractEventLoop | None = None
_tls: ssl.SSLContext | None = None
# httpx's own transport and its client's default headers as a plain dict, when that transport
# carries requests (see :func:`send`); replaced together with the client.
_transport: httpx.AsyncBaseTransport | None = None
_default_headers: dict[str, str] = {}
# The headers of a request aiohttp sends (see :func:`fetch`): httpx's defaults but for the
# connection and accept-encoding headers aiohttp writes itself, the latter naming exactly what it
# can decompress.
_fetch_headers: dict[str, str] = {}
POOL_LIMITS = (200, 60.0)
"""Connections at most, and seconds an idle one is kept, in each event loop's pool."""

DRAIN_LIMITS = (0.1, 64 * 1024)
"""Seconds and bytes that closing a stream waits for and reads of the rest of its body, so that
its connection goes back to the pool (see :meth:`_AiohttpStream.aclose`); past either it is closed."""

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


def _new_session() -> aiohttp.ClientSession:
    """The aiohttp session of a pool: the verified TLS context, the pool's limits, and no cookie jar.

    aiohttp's default jar keeps the cookies an answer sets (for a host name, not an IP address)
    and sends them with later requests to that host: one client's upstream session cookie would
    ride along on every other client's request.
    """
    import aiohttp

    connections, keepalive = POOL_LIMITS
    connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=keepalive, ssl=tls_context())
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


class SessionPool:
    """The connections of one event loop: an aiohttp session, opened on the loop's first request.

    A session binds the loop it is made on, and init (where the pool is built) runs before any
    loop does; so the pool is an object that opens its session when a request first needs it.
    """

    __slots__ = ("_session", "is_closed")

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self.is_closed = False

    @property
    def opened(self) -> bool:
        return self._session is not None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = _new_session()
        return self._session

    async def aclose(self) -> None:
        self.is_closed = True
        if self._session is not None:
            await self._session.close()


def _new_client() -> httpx.AsyncClient | SessionPool:
    global _transport, _default_headers, _fetch_headers
    _import_httpx()
    import httpx

    _quiet_http_loggers()
    # What httpx's client would send that aiohttp does not write itself (its own accept-encoding
    # names what it can decompress; connection is its own too): the same accept and user-agent
    # whichever transport carries the request.
    _fetch_headers = {"accept": "*/*", "user-agent": f"python-httpx/{httpx.__version__}"}
    if os.environ.get(TRANSPORT_ENV, "aiohttp") == "httpx":
        connections, keepalive = POOL_LIMITS
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=50, keepalive_expiry=keepalive)
        transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False, verify=tls_context())
        # Timeouts are set per request from the routed deployment; None here means "unset".
        client = httpx.AsyncClient(transport=transport, timeout=None, trust_env=False)
        _transport, _default_headers = transport, dict(client.headers)
        return client
    tls_context()  # imports aiohttp; built with the pool, so that no request builds it
    _transport, _default_headers = None, {}
    return SessionPool()


def prepare() -> None:
    """Import the client stack and build the pool now (Lambda init), without opening a connection.

    The pool is not bound to an event loop until it sends its first request, so it is safe to
    build before any loop runs; :func:`get_client` adopts it for the first loop that asks.
    """
    global _client, _client_loop
    if _client is None or _client.is_closed:
        _client, _client_loop = _new_client(), None
    # aiohttp resolves a host name with getaddrinfo on the loop's default executor, whose module
    # (and its queue) the first request to a named upstream would otherwise import.
    import concurrent.futures.thread  # noqa: F401

    import httpx_sse  # noqa: F401  (the SSE reader of providers/http.py)


def get_client() -> httpx.AsyncClient | SessionPool:
    """The pool for the running event loop (httpx's client on its own transport), created on first use.

    A connection pool belongs to the loop that first used it; Lambda (through Mangum)
    keeps one loop for the life of the environment, tests and CLIs may not, so a new loop gets a
    new pool instead of one bound to a dead loop.
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
    pool = get_client()  # the pool of the running loop
    return pool.session() if isinstance(pool, SessionPool) else None


def _httpx_equivalent(exc: aiohttp.ClientError) -> type[Exception]:
    """The httpx exception for the same fault: a timeout only when time ran out (waiting for a
    connection, or between bytes of the answer), refusals, resets and closes as what they are."""
    import aiohttp
    import httpx

    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # connecting, or waiting for a free connection
        return httpx.ConnectTimeout
    if isinstance(exc, aiohttp.ServerTimeoutError):  # sock_read: no byte of the answer in time
        return httpx.ReadTimeout
    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        return httpx.ProxyError
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, unresolved, TLS refused (the cause says which)
        return httpx.ConnectError
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol
    if isinstance(exc, aiohttp.ClientPayloadError):  # a body cut short, or one that does not decompress
        return httpx.ReadError
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError  # closed before an answer, or an answer that is not HTTP
    if isinstance(exc, aiohttp.ClientConnectionError):  # reset, broken pipe
        return httpx.NetworkError
    return httpx.TransportError


@contextlib.contextmanager
def _aiohttp_failures() -> Iterator[None]:
    """aiohttp's failures raised as httpx's, so the callers handle one family whichever transport is used.

    The aiohttp exception is kept as the cause (a certificate refusal is read from there); the
    message is only its type's name, since aiohttp's messages name the upstream's host and port.
    """
    import aiohttp

    try:
        yield
    except aiohttp.ClientError as exc:
        raise _httpx_equivalent(exc)(type(exc).__name__) from exc


def _request_options(headers: Mapping[str, str], timeout: httpx.Timeout) -> dict[str, object]:
    """aiohttp's arguments for a request: httpx's timeouts mapped to aiohttp's (connect, read between
    bytes, and the wait for a free connection with its connecting); redirects and compression off."""
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
    buffered request through the gateway). Failures are raised as the httpx exceptions of the same
    fault (:func:`_aiohttp_failures`), so every caller handles one family.
    """
    session = _aiohttp_session()
    if session is None:
        response = await send(method, url, content, headers, timeout)
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        return Answer(response.status_code, response.headers, body)
    with _aiohttp_failures():
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
        with _aiohttp_failures():
            return await self._response.read()

    async def aiter_text(self) -> AsyncIterator[str]:
        """The body as UTF-8 text, chunk by chunk as it arrives (an event stream is UTF-8 whatever
        its header says, the SSE standard)."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        with _aiohttp_failures():
            async for chunk in self._response.content.iter_any():
                text = decoder.decode(chunk)
                if text:
                    yield text
        tail = decoder.decode(b"", True)
        if tail:
            yield tail

    async def aclose(self) -> None:
        """Give the connection back to the pool when the rest of the body comes at once, else close it.

        A stream's reader stops at its last event (``[DONE]``, ``message_stop``), a few bytes before
        the body ends: the chunked encoding's last chunk often comes in a later packet. aiohttp
        closes a connection whose answer was not read to its end, so without this wait many
        streams opened a new connection to the upstream (on a real provider, a TLS handshake
        before the next first chunk). Not when the task is being cancelled (the client left, or
        time ran out): then the upstream must stop generating now.
        """
        response = self._response
        task = asyncio.current_task()
        if not response.content.at_eof() and task is not None and not task.cancelling():
            with contextlib.suppress(Exception):  # the rest is nobody's: failing to read it just closes
                await self._read_rest()
        with _aiohttp_failures():
            response.release()
            await response.wait_for_close()

    async def _read_rest(self) -> None:
        wait, limit = DRAIN_LIMITS
        content, read = self._response.content, 0
        async with asyncio.timeout(wait):
            while not content.at_eof() and read <= limit:
                read += len(await content.readany())


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
    with _aiohttp_failures():
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
