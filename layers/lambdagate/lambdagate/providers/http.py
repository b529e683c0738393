"""Upstream I/O for HTTP providers, written once: send, read JSON, read SSE, map every failure.

Adapters describe *what* to send (URL, body, headers, how to read the provider's error body);
this module owns *how*, with one policy for every provider:

- A transport failure is a 502 ``upstream_unreachable`` (refused, reset, closed before any
  byte) or a 504 (a real timeout), both retryable.
- An error status keeps the provider's message, scrubbed of keys and URLs, mapped by
  :func:`lambdagate.errors.upstream_error`.
- A successful answer that is not what was asked for (not JSON, an HTML page, a JSON value of
  the wrong type, a body that does not decode, an error object under a 200) is the provider's
  fault: a retryable 502, never relayed to the client.
- SSE: empty events and ``id:``/``event:``/``retry:``-only blocks and comments are skipped,
  multi-line ``data:`` fields are joined, ``[DONE]`` ends the stream, an error event raises the
  mapped error, and every event reaches the adapter parsed (:class:`SSEEvent`). An upstream
  that keeps the connection open but sends no event for the attempt's timeout is a 504.

Adapters never call ``json.loads`` on upstream bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
from collections.abc import AsyncGenerator, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from pydantic_core import from_json, to_json

from lambdagate.errors import (
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    parse_retry_after,
    upstream_error,
)
from lambdagate.providers.base import SSEEvent, Target
from lambdagate.upstream_http import StreamedAnswer, fetch, open_stream
from lambdagate.wait_timer import WaitTimer
from lambdagate.wire import RawJSON

if TYPE_CHECKING:
    import httpx

CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
"""OpenAI's error code for a prompt longer than the model's context; every adapter maps to it."""


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What an adapter reads from a provider's error body.

    ``status`` overrides the HTTP status for errors that arrive inside a 200 stream (Anthropic's
    ``overloaded_error`` event is a 529 in all but name).
    """

    message: str | None
    code: str | None = None
    param: str | None = None
    status: int | None = None
    retry_after: float | None = None
    """Seconds the body asks to wait (Google's RetryInfo), when no header said so."""


ErrorParser = Callable[[Any], ErrorInfo]
"""Reads a provider's parsed error body (or None when it was not JSON)."""

ErrorEvent = Callable[[str, Any], bool]
"""Tells whether an SSE event (event name, parsed data) is the provider reporting an error."""


def openai_error(body: Any) -> ErrorInfo:
    """OpenAI's ``{"error": {...}}`` and the common variants of OpenAI-compatible servers."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail") or body.get("message") or body.get("detail")
            return ErrorInfo(_text(message), _text(error.get("code") or error.get("type")), _text(error.get("param")))
        if isinstance(error, str):
            return ErrorInfo(error)
    return ErrorInfo(None)


def is_error_event(event: str, data: Any) -> bool:
    """The error events of OpenAI-like streams: ``event: error``, ``{"error": ...}``, ``object: error``."""
    if event == "error":
        return True
    return isinstance(data, dict) and (
        ("error" in data and "choices" not in data) or data.get("object") == "error" or data.get("type") == "error"
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else to_json(value).decode()


def bearer_headers(target: Target) -> dict[str, str]:
    """The provider's configured headers plus ``Authorization: Bearer <api_key>`` when it has a key."""
    headers = dict(target.config.headers)
    if target.api_key:
        headers["authorization"] = f"Bearer {target.api_key}"
    return headers


# Header names that carry a credential whatever their value; any header holding the api_key counts too.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key",
                                 "cookie"})
_CREDENTIAL_WORDS = ("key", "token", "secret", "auth")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1  # a malformed port matches no origin
    return scheme, (parts.hostname or "").lower().rstrip("."), port or {"https": 443, "http": 80}.get(scheme)


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ``::1``: the only hosts plain http may carry credentials to."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Every request asks about the same few URLs; parsing them each time was a visible share of the
# per-request CPU. A pure function of two strings, so a small cache is exact.
@functools.lru_cache(maxsize=512)
def credentials_allowed(url: str, api_base: str | None = None) -> bool:
    """Whether a provider's credentials may be sent to ``url``.

    Only over https, or plain http to a loopback host; and when ``api_base`` is given, only to
    its origin (scheme, host, port), so a URL an upstream names (Replicate's ``urls.stream``)
    never receives the key unless it is the configured API itself.
    """
    scheme, host, port = _origin(url)
    if not (scheme == "https" or (scheme == "http" and is_loopback(host))):
        return False
    return api_base is None or _origin(api_base) == (scheme, host, port)


def carries_credentials(target: Target, url: str, headers: Mapping[str, str]) -> bool:
    """Whether a request would carry the provider's credentials (in a header or the URL)."""
    key = target.api_key
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _CREDENTIAL_HEADERS or any(word in lowered for word in _CREDENTIAL_WORDS):
            return True
        if key and key in value:
            return True
    return bool(key and key in url)


def guard_credentials(target: Target, url: str, headers: Mapping[str, str]) -> None:
    """Refuse (a 502, before any byte is sent) a request whose credentials would leave the configured API.

    The configured ``api_base`` is the only origin credentials may go to when it is set (an
    adapter's default base is its own constant); http is accepted for loopback hosts only.
    """
    if carries_credentials(target, url, headers) and not credentials_allowed(url, target.config.api_base):
        raise upstream_error(
            target.provider_name, 502,
            "refused to send the provider's credentials to a URL that is not its configured API over https "
            "(plain http only to loopback hosts).",
            code="insecure_upstream_url", secrets=target.secrets,
        )


def encode(body: Any) -> bytes:
    """JSON bytes for an upstream body (pydantic-core's encoder: several times the stdlib's speed).

    A body already encoded (:class:`~lambdagate.wire.RawJSON`: a front door's passthrough, the
    client's own bytes) is sent as it is.
    """
    if isinstance(body, RawJSON):
        return body.data
    return to_json(body)


def bad_answer(target: Target, what: str) -> UpstreamError:
    """A successful status with an unusable body: the provider's fault, retryable (502)."""
    return upstream_error(target.provider_name, 502, f"the upstream answered with {what}.", secrets=target.secrets)


def parse(content: bytes | str, target: Target, *, expect: type | None = dict) -> Any:
    """A provider's JSON answer of type ``expect``; anything else is a retryable 502."""
    try:
        value = from_json(content)
    except ValueError:
        raise bad_answer(target, "a body that is not JSON") from None
    if expect is not None and not isinstance(value, expect):
        raise bad_answer(target, f"JSON that is not an object ({type(value).__name__})")
    return value


def _timeout(target: Target) -> httpx.Timeout:
    import httpx

    return httpx.Timeout(target.timeout, connect=min(target.timeout, 10.0))


def failure(status: int, headers: Mapping[str, str], content: bytes, target: Target,
            parse_error: ErrorParser) -> UpstreamError:
    """The mapped error for an upstream error status and body (JSON or not)."""
    try:
        parsed: Any = from_json(content) if content else None
    except ValueError:
        parsed = None
    info = parse_error(parsed)
    if info.message is None and not parsed and content:
        info = ErrorInfo(content[:300].decode("utf-8", "replace"), info.code, info.param)
    retry_after = retry_after_of(headers)
    if retry_after is None:
        retry_after = info.retry_after
    return upstream_error(
        target.provider_name, info.status or status, info.message, code=info.code, param=info.param,
        retry_after=retry_after, secrets=target.secrets,
    )


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` (the exact one, read first as the OpenAI SDKs do) or
    ``retry-after`` (seconds or an HTTP date)."""
    if (ms := parse_retry_after(headers.get("retry-after-ms"))) is not None:
        return ms / 1000
    return parse_retry_after(headers.get("retry-after"))


def event_failure(data: Any, target: Target, parse_error: ErrorParser) -> UpstreamError:
    """The mapped error for an error event inside a successful stream (500 unless it says more)."""
    info = parse_error(data)
    return upstream_error(target.provider_name, info.status or 500, info.message, code=info.code,
                          param=info.param, retry_after=info.retry_after, secrets=target.secrets)


def transport_failure(exc: Exception, target: Target) -> Exception:
    """A timeout (504) only when time ran out; refused, reset or closed connections are 502."""
    import httpx

    # Both transports raise a timeout type only when time ran out (upstream_http maps aiohttp's
    # failures so; httpx's own transport raises them for httpcore's timeouts).
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"{target.provider_name} did not answer within {target.timeout:g} seconds.")
    if _certificate_rejected(exc):
        # Said apart from "could not be reached": the operator's fix (a trust store, a certificate)
        # differs from a network one, and a retry elsewhere will not change the answer.
        return UpstreamUnavailable(f"{target.provider_name} could not be reached: its TLS certificate "
                                   "was not verified against the gateway's trust store.")
    return UpstreamUnavailable(f"{target.provider_name} could not be reached.")


def _certificate_rejected(exc: BaseException) -> bool:
    """Whether a certificate verification failure is among the causes of ``exc``."""
    import ssl

    seen: BaseException | None = exc
    for _ in range(8):  # cause chains are short; a bound keeps a cyclic one from looping
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _io_errors() -> tuple[type[Exception], ...]:
    import httpx

    # DecodingError (a gzip that does not decode) is not a TransportError but is the same fault.
    return (httpx.TransportError, httpx.DecodingError)


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful JSON answer: its parsed value, and its bytes for passthrough."""

    value: Any
    content: bytes


async def request_json(
    target: Target,
    url: str,
    body: Any,
    headers: Mapping[str, str],
    *,
    parse_error: ErrorParser = openai_error,
    method: str = "POST",
    expect: type | None = dict,
    error_in_body: Callable[[Any], bool] | None = None,
) -> Reply:
    """Send one request and return its parsed JSON answer, or raise the mapped error.

    ``error_in_body`` recognises providers (OpenAI-compatible servers) that report an error
    inside a 200: that body is mapped like an error status, never returned.
    """
    guard_credentials(target, url, headers)
    all_headers = {"accept": "application/json", **headers}
    if body is not None:
        all_headers["content-type"] = "application/json"
    try:
        response = await fetch(method, url, encode(body) if body is not None else None, all_headers,
                               _timeout(target))
    except _io_errors() as exc:
        raise transport_failure(exc, target) from None
    content = response.content
    if response.status_code >= 400:
        raise failure(response.status_code, response.headers, content, target, parse_error)
    value = parse(content, target, expect=expect)
    if error_in_body is not None and error_in_body(value):
        raise event_failure(value, target, parse_error)
    return Reply(value, content)


async def post_json(
    target: Target,
    url: str,
    body: Any,
    headers: Mapping[str, str],
    *,
    parse_error: ErrorParser = openai_error,
) -> Any:
    """POST a JSON body and return the parsed JSON object of the answer."""
    return (await request_json(target, url, body, headers, parse_error=parse_error)).value


async def read_sse(
    target: Target,
    url: str,
    body: Any,
    headers: Mapping[str, str],
    *,
    parse_error: ErrorParser = openai_error,
    error_event: ErrorEvent = is_error_event,
    method: str = "POST",
    text_events: Collection[str] = (),
) -> AsyncGenerator[SSEEvent, None]:
    """The parsed events of an upstream SSE stream, ending at ``[DONE]`` or the end of the body.

    Closing the generator (the client left) closes the upstream response and its connection.
    ``text_events`` names the events whose data is plain text, not JSON (Replicate's ``output``):
    they reach the adapter with the text as ``data``, and are never taken for ``[DONE]``.
    """
    import httpx

    guard_credentials(target, url, headers)
    try:
        response = await open_stream(method, url, encode(body) if body is not None else None,
                                     {"content-type": "application/json", "accept": "text/event-stream", **headers},
                                     _timeout(target))
    except _io_errors() as exc:
        raise transport_failure(exc, target) from None
    try:
        if response.status_code >= 400:
            try:
                content = await response.aread()
            except _io_errors():
                content = b""
            raise failure(response.status_code, response.headers, content, target, parse_error)
        media = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media != "text/event-stream":
            raise await _not_a_stream(response, target, parse_error)
        # Closed on the way out, a consumer that stopped early included: a suspended reader left to
        # the garbage collector is finalised whenever and wherever a collection runs.
        async with contextlib.aclosing(_events(response, target, parse_error, error_event, text_events)) as events:
            async for event in events:
                yield event
    except httpx.StreamError:
        raise bad_answer(target, "a stream that could not be read") from None
    finally:
        await response.aclose()


async def _not_a_stream(response: StreamedAnswer, target: Target, parse_error: ErrorParser) -> UpstreamError:
    """A 200 that is not SSE: an error object some servers send instead, or a wrong body."""
    try:
        content = await response.aread()
    except _io_errors():
        return bad_answer(target, "a body that could not be read instead of an event stream")
    try:
        value = from_json(content)
    except ValueError:
        return bad_answer(target, "a body that is not an event stream")
    if is_error_event("", value):
        return event_failure(value, target, parse_error)
    return bad_answer(target, "JSON instead of an event stream")


async def _events(
    response: StreamedAnswer, target: Target, parse_error: ErrorParser, error_event: ErrorEvent,
    text_events: Collection[str] = (),
) -> AsyncGenerator[SSEEvent, None]:
    from httpx_sse import EventSource

    loop = asyncio.get_running_loop()
    idle = target.timeout
    seen = False  # a stream that ends before its first event (an empty body, "[DONE]" alone) is broken
    timer = WaitTimer()
    # httpx-sse reads only the content type and aiter_text() of a response, which every
    # StreamedAnswer has (decoded as UTF-8, as the SSE standard has it whatever the header says).
    # Its reader is closed here too, whichever way this ends (see read_sse).
    async with contextlib.aclosing(EventSource(cast("httpx.Response", response)).aiter_sse()) as source:
        with contextlib.closing(timer):
            while True:
                # The read timeout cannot see an upstream that sends only comments, so events get an
                # idle limit of their own; it wraps only the read, never the consumer's work.
                try:
                    with timer.until(loop.time() + idle):
                        sse = await anext(source)
                except StopAsyncIteration:
                    if not seen:
                        raise bad_answer(target, "an event stream without any event") from None
                    return
                except TimeoutError:
                    raise UpstreamTimeout(f"{target.provider_name} sent no event for {idle:g} seconds.") from None
                except _io_errors() as exc:
                    raise transport_failure(exc, target) from None
                data = sse.data
                if not data:
                    continue
                if sse.event in text_events:
                    seen = True
                    yield SSEEvent(sse.event, data, data)
                    continue
                if data == "[DONE]":
                    if not seen:
                        raise bad_answer(target, "an event stream without any event")
                    return
                try:
                    value = from_json(data)
                except ValueError:
                    raise bad_answer(target, "a stream event that is not JSON") from None
                if not isinstance(value, dict):
                    raise bad_answer(target, f"a stream event that is not an object ({type(value).__name__})")
                if error_event(sse.event, value):
                    raise event_failure(value, target, parse_error)
                seen = True
                yield SSEEvent(sse.event, value, data)


def passthrough_bytes(event: SSEEvent) -> bytes:
    """An event's JSON as one line of bytes: as it came unless a multi-line field joined it."""
    return event.raw.encode() if "\n" not in event.raw else to_json(event.data)
