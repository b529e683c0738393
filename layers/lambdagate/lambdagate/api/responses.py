"""Turning results into HTTP responses: JSON bodies, SSE streams, and OpenAI-shaped errors."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic_core import to_json
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from lambdagate.errors import GatewayError, UpstreamTimeout, describe_failure
from lambdagate.limits import Limits
from lambdagate.observability import RequestRecord, record_request, usage_of
from lambdagate.router.deadline import Deadline
from lambdagate.wait_timer import WaitTimer
from lambdagate.wire import JSONBody, RawJSON

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


class StreamEncoder(Protocol):
    """How the relay writes a stream's items: the bytes of each, of its end and of its failure, and
    the usage each carries. Chat and text completions use :data:`CHAT_SSE`; a front door its own
    (:mod:`lambdagate.api.doors`: named events, no ``[DONE]``, errors as the door's events)."""

    def chunk(self, body: JSONBody) -> bytes: ...

    def end(self) -> bytes: ...

    def error(self, error: GatewayError) -> bytes:
        """The bytes that end a failed stream, after which nothing more is written."""
        ...

    def usage(self, body: JSONBody) -> dict[str, Any] | None: ...


class ChatSSE:
    """OpenAI's chat and completion streams: ``data:`` lines, ``[DONE]`` last, a failure as an error event."""

    def chunk(self, body: JSONBody) -> bytes:
        return sse_event(body)

    def end(self) -> bytes:
        return DONE

    def error(self, error: GatewayError) -> bytes:
        return sse_event(error_event(error)) + DONE

    def usage(self, body: JSONBody) -> dict[str, Any] | None:
        return usage_of(body)


CHAT_SSE = ChatSSE()


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """What bounds a stream once its response has started.

    ``keepalive``: seconds of silence after which a ``: keep-alive`` comment is written, while the
    first chunk is awaited and between chunks (0: none). ``idle``: seconds the stream may go
    without a chunk, read when the stream has opened (its attempt's limit is known then); past it
    the stream ends with a 504 error event. ``deadline``: the request's, ended the same way.
    ``on_open``: called once the stream has opened when the response had to start before (keep-
    alives were flowing): the response headers it returns (which provider answered, after how many
    attempts...) could not be sent as headers any more and are written as one SSE comment instead.
    """

    keepalive: float = 0.0
    idle: Callable[[], float | None] | None = None
    deadline: Deadline | None = None
    on_open: Callable[[], Mapping[str, str]] | None = None


_CHUNK, _END, _FAILED = 0, 1, 2
READ_AHEAD = 16
"""Chunks the upstream reader may parse ahead of the client; those already read go out in one write
(measured: about 20% less CPU per 22-event stream when events arrive back to back). Bounded, so
that one stream's burst holds the event loop (and other streams' first chunks) for little."""
PUMP_CLOSE_WAIT = 1.0
"""Seconds the relay waits, when it ends early, for the upstream stream to close."""


async def relay(
    opening: Awaitable[FirstChunk] | FirstChunk,
    record: RequestRecord,
    started: float,
    limits: StreamLimits | float = 0.0,
    encoder: StreamEncoder = CHAT_SSE,
) -> AsyncIterator[bytes]:
    """The SSE body: keep-alives while the first chunk is awaited and between chunks, then each chunk.

    The gateway answers a stream whose first chunk is late after one ``keepalive`` interval, so
    here the first keep-alive leaves at once: keep-alives come every ``keepalive`` seconds from
    the request's start, not two intervals late. A failure after the response started (an upstream
    error, a stream idle past its limit, the request's deadline) becomes an OpenAI error event
    followed by ``[DONE]``, so the SDK raises instead of hanging. Leaving early (client gone)
    closes the upstream stream.
    """
    if not isinstance(limits, StreamLimits):
        limits = StreamLimits(keepalive=limits)
    keepalive = limits.keepalive
    accounting = Limits.current()  # the request's limits and cost (lambdagate.limits), set at admission
    pump: asyncio.Task[None] | None = None
    timer: WaitTimer | None = None
    stream: AsyncIterator[JSONBody] | None = None
    try:
        if isinstance(opening, tuple):
            first, stream = opening
        else:
            task = asyncio.ensure_future(opening)
            try:
                while not task.done():
                    yield KEEPALIVE
                    await asyncio.wait({task}, timeout=keepalive or None)
            finally:
                if not task.done():
                    task.cancel()
            try:
                first, stream = task.result()
            finally:  # the record learns who answered (or failed) either way
                described = limits.on_open() if limits.on_open is not None else None
            if described:
                yield b"".join(b": %s: %s\n" % (name.encode(), value.encode()) for name, value in described.items())
                yield b"\n"
        if first is not None and accounting is not None and accounting.hidden(first):
            _account(record, first, started, encoder)  # the usage chunk the client did not ask for
            first = None
        if first is not None:
            _account(record, first, started, encoder)
            yield encoder.chunk(first)
        loop = asyncio.get_running_loop()
        idle = limits.idle() if limits.idle is not None else None
        left = math.inf if limits.deadline is None else limits.deadline.remaining()
        deadline_at = loop.time() + left if math.isfinite(left) else None
        queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue(maxsize=READ_AHEAD)
        timer = WaitTimer()
        pump = asyncio.ensure_future(_pump(stream, queue))
        stream = None  # the pump owns it now, and closes it however it ends
        last_chunk = last_write = loop.time()
        held: tuple[int, Any] | None = None  # an end or failure found while coalescing, handled next
        while True:
            if held is not None:
                (kind, value), held = held, None
                if kind == _END:
                    await pump
                    break
                raise value
            wakes = [t for t in (last_write + keepalive if keepalive else None,
                                 last_chunk + idle if idle else None, deadline_at) if t is not None]
            try:
                with timer.until(min(wakes) if wakes else None):
                    kind, value = await queue.get()
            except TimeoutError:
                now = loop.time()
                if deadline_at is not None and now >= deadline_at and limits.deadline is not None:
                    raise limits.deadline.exceeded() from None
                if idle and now >= last_chunk + idle:
                    raise UpstreamTimeout(f"The upstream sent no chunk for {idle:g} seconds.") from None
                last_write = now
                yield KEEPALIVE
                continue
            if kind == _END:
                await pump  # already closing the stream it has finished
                break
            if kind == _FAILED:
                raise value
            _account(record, value, started, encoder)
            if accounting is not None and accounting.hidden(value):
                continue  # the usage chunk the gateway asked for and the client did not: accounted, not sent
            out = [encoder.chunk(value)]
            while not queue.empty():  # chunks that arrived in the same read: one write for all of them
                held = queue.get_nowait()
                if held[0] != _CHUNK:
                    break
                _, value = held
                held = None
                _account(record, value, started, encoder)
                if accounting is None or not accounting.hidden(value):
                    out.append(encoder.chunk(value))
            last_chunk = last_write = loop.time()
            yield out[0] if len(out) == 1 else b"".join(out)
        if accounting is not None and (trailer := accounting.trailer(record)):
            yield trailer  # the cost, as an SSE comment: the headers are long gone
        yield encoder.end()
    except GatewayError as exc:
        record.error_type = exc.type
        record.status = exc.status
        yield encoder.error(exc)
    except Exception as exc:
        logger.error("stream failed: %s", describe_failure(exc))
        record.error_type = "server_error"
        record.status = 500
        yield encoder.error(GatewayError("The stream failed inside the gateway.", status=500))
    finally:
        if timer is not None:
            timer.close()
        if pump is not None and not pump.done():
            pump.cancel()  # it closes the upstream stream; give it a moment to (Mangum's loop stops after us)
            await asyncio.wait({pump}, timeout=PUMP_CLOSE_WAIT)
        if stream is not None:
            await stream.aclose()  # type: ignore[attr-defined]
        record.latency_ms = (time.perf_counter() - started) * 1000
        if accounting is not None:
            accounting.finish(record)  # the cost into the log line and metrics
        record_request(record)
        if accounting is not None:
            await accounting.flush()  # spend and tokens into the limits store


async def _pump(stream: AsyncIterator[JSONBody], queue: asyncio.Queue[tuple[int, Any]]) -> None:
    """Read the upstream stream in a task of its own, so the relay can wait on it with timeouts.

    One task reads every chunk (never several tasks taking turns on one generator), and it closes
    the stream however it ends, cancellation included.
    """
    try:
        async for chunk in stream:
            await queue.put((_CHUNK, chunk))
        await queue.put((_END, None))
    except Exception as exc:
        await queue.put((_FAILED, exc))
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


def error_event(error: GatewayError) -> dict[str, Any]:
    """The error object of a failure after the stream started: its status is lost (the 200 is out).

    The type and code stay (a 429 keeps ``rate_limit_error``, so ``openai.APIError.type`` says
    what happened), and a wait the upstream asked for is said in the message.
    """
    body = error.body()
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after > 0:
        body["error"]["message"] = f"{error.message} (retry after {retry_after:.3g} seconds)"
    return body


def _account(record: RequestRecord, chunk: JSONBody, started: float, encoder: StreamEncoder = CHAT_SSE) -> None:
    """Time to first token and usage, for the request's log line and metrics."""
    if record.time_to_first_token_ms is None:
        record.time_to_first_token_ms = (time.perf_counter() - started) * 1000
    record.add_usage(encoder.usage(chunk))


class SSEResponse(StreamingResponse):
    """Starlette's ``StreamingResponse``, watching for the client leaving with one plain asyncio task.

    Under ASGI spec versions before 2.4 (uvicorn and Mangum report 2.3 and 2.0) Starlette runs
    the body and a disconnect listener in an anyio task group; its cancel scopes and backend
    look-ups were about 5% of a relayed stream's CPU (py-spy, 22-event streams), part of it
    before the first chunk. What happens is the same: when the client leaves, the body's task
    is cancelled (the relay closes the upstream stream) and the call returns.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        spec = tuple(map(int, scope.get("asgi", {}).get("spec_version", "2.0").split(".")))
        task = asyncio.current_task()
        if scope["type"] != "http" or spec >= (2, 4) or task is None:
            await super().__call__(scope, receive, send)
            return
        streaming, left = True, False

        async def watch() -> None:
            nonlocal left
            try:
                while (await receive())["type"] != "http.disconnect":
                    pass
            except Exception:  # the server's receive failed: nothing to watch any more
                return
            if streaming:
                left = True
                task.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            await self.stream_response(send)
        except asyncio.CancelledError:
            if not left or task.uncancel() > 0:  # cancelled from outside too: not ours to swallow
                raise
        finally:
            streaming = False  # no await since the body ended: the watcher cannot cancel us after this
            watcher.cancel()
        if self.background is not None:
            await self.background()


def stream_response(
    opening: Awaitable[FirstChunk] | FirstChunk,
    headers: Mapping[str, str],
    record: RequestRecord,
    started: float,
    limits: StreamLimits | float = 0.0,
    encoder: StreamEncoder = CHAT_SSE,
) -> StreamingResponse:
    return SSEResponse(
        relay(opening, record, started, limits, encoder), media_type="text/event-stream",
        headers={**SSE_HEADERS, **headers},
    )
