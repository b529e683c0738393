"""Upstream calls for HTTP providers: send, stream, and turn every failure into a GatewayError.

Adapters describe *what* to send; this module owns *how*: the shared client, per-attempt
timeouts, mapping transport failures (timeout -> 504, unreachable -> 502) and provider error
bodies (status kept or mapped, message scrubbed of secrets and URLs).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic_core import to_json

from lambdagate.errors import (
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    parse_retry_after,
    upstream_error,
)
from lambdagate.providers.base import Target
from lambdagate.upstream_http import get_client

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    message: str | None
    code: str | None = None
    param: str | None = None


ErrorParser = Callable[[Any], ErrorInfo]
"""Reads a provider's parsed error body (or None when it was not JSON)."""


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


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def parse_json(content: bytes | str, target: Target) -> Any:
    """A provider's JSON answer; anything else is the provider's failure (502), not the client's."""
    try:
        return json.loads(content)
    except ValueError:
        raise upstream_error(target.provider_name, 502, "the upstream answered with invalid JSON.",
                             secrets=target.secrets) from None


def bearer_headers(target: Target) -> dict[str, str]:
    """The provider's configured headers plus ``Authorization: Bearer <api_key>`` when it has a key."""
    headers = dict(target.config.headers)
    if target.api_key:
        headers["authorization"] = f"Bearer {target.api_key}"
    return headers


def encode(body: Any) -> bytes:
    """JSON bytes for an upstream body (pydantic-core's encoder: several times the stdlib's speed)."""
    return to_json(body)


def _timeout(target: Target) -> httpx.Timeout:
    import httpx

    return httpx.Timeout(target.timeout, connect=min(target.timeout, 10.0))


def failure(response: httpx.Response, content: bytes, target: Target, parse: ErrorParser) -> UpstreamError:
    try:
        parsed: Any = json.loads(content) if content else None
    except ValueError:
        parsed = None
    info = parse(parsed)
    if info.message is None and not parsed and content:
        info = ErrorInfo(content[:300].decode("utf-8", "replace"))
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if retry_after is None and (ms := parse_retry_after(response.headers.get("retry-after-ms"))) is not None:
        retry_after = ms / 1000
    return upstream_error(
        target.provider_name, response.status_code, info.message, code=info.code, param=info.param,
        retry_after=retry_after, secrets=target.secrets,
    )


def transport_failure(exc: Exception, target: Target) -> Exception:
    import httpx

    # httpx-aiohttp reports a refused connection as ConnectTimeout; the cause tells them apart.
    cause = exc.__cause__
    refused = isinstance(cause, OSError) and not isinstance(cause, TimeoutError)
    if isinstance(exc, httpx.TimeoutException) and not refused:
        return UpstreamTimeout(f"{target.provider_name} did not answer within {target.timeout:g} seconds.")
    return UpstreamUnavailable(f"{target.provider_name} could not be reached.")


async def post(
    target: Target,
    url: str,
    body: Any,
    headers: Mapping[str, str],
    *,
    parse_error: ErrorParser = openai_error,
) -> bytes:
    """POST a JSON body and return the successful response's bytes, or raise the mapped error."""
    import httpx

    try:
        response = await get_client().post(
            url, content=encode(body), headers={"content-type": "application/json", **headers},
            timeout=_timeout(target),
        )
        content = response.content
    except httpx.TransportError as exc:
        raise transport_failure(exc, target) from None
    if response.status_code >= 400:
        raise failure(response, content, target, parse_error)
    return content


@asynccontextmanager
async def stream(
    target: Target,
    url: str,
    body: Any,
    headers: Mapping[str, str],
    *,
    parse_error: ErrorParser = openai_error,
    method: str = "POST",
) -> AsyncIterator[httpx.Response]:
    """Open a streamed upstream response; leaving the block closes it (and the connection)."""
    import httpx

    client = get_client()
    request = client.build_request(
        method, url, content=encode(body) if body is not None else None,
        headers={"content-type": "application/json", "accept": "text/event-stream", **headers},
        timeout=_timeout(target),
    )
    try:
        response = await client.send(request, stream=True)
    except httpx.TransportError as exc:
        raise transport_failure(exc, target) from None
    try:
        if response.status_code >= 400:
            try:
                content = await response.aread()
            except httpx.TransportError:
                content = b""
            raise failure(response, content, target, parse_error)
        yield response
    finally:
        await response.aclose()


async def sse_events(response: httpx.Response, target: Target) -> AsyncIterator[tuple[str, str]]:
    """``(event, data)`` for each Server-Sent Event of an upstream response, parsed by httpx-sse."""
    import httpx
    from httpx_sse import EventSource

    try:
        async for event in EventSource(response).aiter_sse():
            yield event.event, event.data
    except httpx.TransportError as exc:
        raise transport_failure(exc, target) from None
