"""Turning results into HTTP responses: JSON bodies, SSE streams, and OpenAI-shaped errors."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Mapping

from pydantic_core import to_json
from starlette.responses import Response, StreamingResponse

from lambdagate.errors import GatewayError, describe_failure
from lambdagate.observability import RequestRecord, record_request, usage_of
from lambdagate.providers.base import JSONBody, RawJSON

logger = logging.getLogger("lambdagate.api")

# Stop proxies and CDNs (and nginx's X-Accel) from holding chunks back.
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"


def json_body(body: JSONBody) -> bytes:
    return body.data if isinstance(body, RawJSON) else to_json(body)


def json_response(body: JSONBody, headers: Mapping[str, str], status: int = 200) -> Response:
    return Response(json_body(body), status_code=status, media_type="application/json", headers=dict(headers))


def error_response(error: GatewayError, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        to_json(error.body()), status_code=error.status, media_type="application/json",
        headers={**error.headers, **(headers or {})},
    )


def sse_event(body: JSONBody) -> bytes:
    return b"data: " + json_body(body) + b"\n\n"


FirstChunk = tuple[JSONBody | None, AsyncIterator[JSONBody]]


async def relay(
    opening: Awaitable[FirstChunk] | FirstChunk,
    record: RequestRecord,
    started: float,
    keepalive: float,
) -> AsyncIterator[bytes]:
    """The SSE body: keep-alives while the first chunk is awaited, then each chunk as it arrives.

    A failure after the response started becomes an OpenAI error event followed by ``[DONE]``,
    so the SDK raises instead of hanging. Leaving early (client gone) closes the upstream stream.
    """
    stream: AsyncIterator[JSONBody] | None = None
    try:
        if isinstance(opening, tuple):
            first, stream = opening
        else:
            task = asyncio.ensure_future(opening)
            try:
                while True:
                    done, _ = await asyncio.wait({task}, timeout=keepalive or None)
                    if done:
                        break
                    yield KEEPALIVE
            finally:
                if not task.done():
                    task.cancel()
            first, stream = task.result()
        if first is not None:
            _account(record, first, started)
            yield sse_event(first)
        async for chunk in stream:
            _account(record, chunk, started)
            yield sse_event(chunk)
        yield DONE
    except GatewayError as exc:
        record.error_type = exc.type
        record.status = exc.status
        yield sse_event(exc.body())
        yield DONE
    except Exception as exc:
        logger.error("stream failed: %s", describe_failure(exc))
        record.error_type = "server_error"
        record.status = 500
        yield sse_event({"error": {"message": "The stream failed inside the gateway.", "type": "server_error",
                                   "param": None, "code": None}})
        yield DONE
    finally:
        if stream is not None:
            await stream.aclose()  # type: ignore[attr-defined]
        record.latency_ms = (time.perf_counter() - started) * 1000
        record_request(record)


def _account(record: RequestRecord, chunk: JSONBody, started: float) -> None:
    """Time to first token and usage, for the request's log line and metrics."""
    if record.time_to_first_token_ms is None:
        record.time_to_first_token_ms = (time.perf_counter() - started) * 1000
    record.add_usage(usage_of(chunk))


def stream_response(
    opening: Awaitable[FirstChunk] | FirstChunk,
    headers: Mapping[str, str],
    record: RequestRecord,
    started: float,
    keepalive: float,
) -> StreamingResponse:
    return StreamingResponse(
        relay(opening, record, started, keepalive), media_type="text/event-stream",
        headers={**SSE_HEADERS, **headers},
    )
