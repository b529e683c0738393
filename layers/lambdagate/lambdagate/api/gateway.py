"""The request path of DESIGN.md for one endpoint: auth -> typed request -> router -> provider.

:meth:`Gateway.serve` is the one owner of the request record: whatever happens inside (an
answer, a ``GatewayError``, an unexpected exception), the client gets a response with
``x-request-id`` and exactly one log line and one set of metrics is written (by the SSE relay
when a stream is answered, since only it knows how the stream ended).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from lambdagate.api.requests import MAX_BODY_BYTES, body_too_large, parse_request, read_body
from lambdagate.api.responses import FirstChunk, StreamLimits, error_response, json_response, stream_response
from lambdagate.auth import authenticate_request, model_allowed
from lambdagate.config.schema import KeyRecord
from lambdagate.config.store import ConfigStore
from lambdagate.errors import GatewayError, ModelNotFound, describe_failure
from lambdagate.limits import Limits
from lambdagate.observability import RequestRecord, record_request, usage_of
from lambdagate.providers import dispatch
from lambdagate.providers.base import CallContext, Provider, Target
from lambdagate.router import Router
from lambdagate.router.deadline import request_deadline
from lambdagate.router.routing import Attempted
from lambdagate.types import ChatCompletionRequest, CompletionRequest
from lambdagate.wire import JSONBody

if TYPE_CHECKING:
    from lambdagate.api.doors import DoorExchange
    from lambdagate.frontdoors.base import DoorRequest

logger = logging.getLogger("lambdagate.api")

DROPPED_HEADER = "x-lambdagate-dropped-params"
PROVIDER_HEADER = "x-lambdagate-provider"
MODEL_HEADER = "x-lambdagate-model"
ATTEMPTS_HEADER = "x-lambdagate-attempts"
FALLBACK_HEADER = "x-lambdagate-fallback"
SHOULD_RETRY_HEADER = "x-should-retry"
REQUEST_ID_HEADER = "x-request-id"
# ``created`` of the entries of /v1/models: the aliases have no creation time of their own.
MODELS_CREATED = int(time.time())

Endpoint = Literal["chat", "completions", "embeddings", "models", "responses", "messages", "other"]
Handler = Callable[[Request, RequestRecord, dict[str, str], float], Awaitable[Response]]
ErrorRenderer = Callable[[GatewayError, Mapping[str, str]], Response]

# The first top-level-looking ``"model": "..."`` of a body: only a hint, so the key, the settings
# and the model's deployments can be fetched in one batch before the body is validated. A hint
# taken from a nested object costs at most one extra look-up, never a wrong answer: the model
# that is routed is the one full validation reads.
_MODEL_HINT = re.compile(rb'"model"\s*:\s*"((?:[^"\\]|\\.){1,256})"')


def request_id(request: Request) -> str:
    context = request.scope.get("aws.context")
    aws_id = getattr(context, "aws_request_id", None)
    return aws_id if isinstance(aws_id, str) else "req_" + secrets.token_hex(12)


def model_hint(raw: bytes) -> str | None:
    match = _MODEL_HINT.search(raw, 0, 65536)
    if match is None:
        return None
    try:
        return match[1].decode()
    except UnicodeDecodeError:
        return None


class Gateway:
    """Holds the configuration store and router of one app; stateless between requests."""

    def __init__(self, store: ConfigStore) -> None:
        self.store = store
        self.router = Router(store)
        self.limits = Limits(store)  # rate limits, budgets, spend and cost (lambdagate.limits)
        # The configured body limit, once known, bounds reading before the settings are fetched.
        self._body_limit = MAX_BODY_BYTES

    async def serve(self, request: Request, endpoint: Endpoint, handler: Handler,
                    render_error: ErrorRenderer = error_response) -> Response:
        """Run ``handler`` as the one owner of the request's record, response and request id.

        ``render_error`` answers a failure: OpenAI's error object, or a front door's own shape.
        """
        started = time.perf_counter()
        record = RequestRecord(request_id=request_id(request), endpoint=endpoint)
        headers = {REQUEST_ID_HEADER: record.request_id}
        try:
            response = await handler(request, record, headers, started)
        except GatewayError as exc:
            record.status, record.error_type = exc.status, exc.type
            response = render_error(exc, headers)
        except Exception as exc:
            # Where it failed goes to the log (scrubbed of URLs and secrets), never to the client.
            logger.error("unhandled error: %s", describe_failure(exc))
            error = GatewayError("The gateway failed to process the request.", status=500)
            record.status, record.error_type = error.status, error.type
            response = render_error(error, headers)
        if isinstance(response, StreamingResponse):
            return response  # the relay finishes the accounting and writes the record when the stream ends
        response = await self.limits.finish(record, response)  # cost header and record, spend settled after
        record.latency_ms = (time.perf_counter() - started) * 1000
        record_request(record)
        return response

    async def complete(self, request: Request, endpoint: Literal["chat", "completions"]) -> Response:
        async def handler(request: Request, record: RequestRecord, headers: dict[str, str], started: float) -> Response:
            return await self._complete(request, endpoint, record, headers, started)

        return await self.serve(request, endpoint, handler)

    async def door(self, request: Request, exchange: DoorExchange[Any]) -> Response:
        """A front door's request (:mod:`lambdagate.api.doors`): the chat path with the door's parsing,
        calls, stream encoding and error shape, so keys, routing, retries, deadlines and records are chat's."""
        endpoint: Endpoint = exchange.endpoint  # type: ignore[assignment]

        async def handler(request: Request, record: RequestRecord, headers: dict[str, str], started: float) -> Response:
            return await self._complete(request, endpoint, record, headers, started, exchange)

        return await self.serve(request, endpoint, handler, exchange.error_response)

    async def _complete(
        self, request: Request, endpoint: Endpoint, record: RequestRecord,
        headers: dict[str, str], started: float, exchange: DoorExchange[Any] | None = None,
    ) -> Response:
        # Order matters for abuse resistance: the body is read within the size limit and the key
        # is checked before the body is parsed or validated, so an unauthenticated client costs
        # a read and a regular-expression search, not a JSON parse of megabytes.
        raw = await read_body(request, self._body_limit)
        key = self._authenticate(request, model_hint(raw))
        record.key_name = key.name
        settings = self.store.settings()
        self._body_limit = min(settings.max_body_bytes, MAX_BODY_BYTES)
        if len(raw) > settings.max_body_bytes:
            raise body_too_large(settings.max_body_bytes)
        body: ChatCompletionRequest | CompletionRequest | DoorRequest = (
            exchange.parse(raw) if exchange is not None else parse_request(raw, ChatCompletionRequest)
            if endpoint == "chat" else parse_request(raw, CompletionRequest)
        )
        record.model, record.stream = body.model, bool(body.stream)
        deployments = self.router.check(body.model, key)
        await self.limits.admit(key, body, len(raw), record)  # 429 / 401 / 503, before any upstream call
        ctx = CallContext(request_id=record.request_id, drop_params=settings.drop_params,
                          max_upstream_calls=settings.max_upstream_calls)
        attempted = Attempted()
        # One deadline for everything that follows: attempts, backoffs, fallbacks and the stream.
        arrived = time.monotonic() - (time.perf_counter() - started)
        deadline = request_deadline(request.scope, settings, body.timeout, arrived)

        if body.stream:
            def open_stream(provider: Provider, target: Target) -> AsyncIterator[JSONBody]:
                if exchange is not None:
                    return exchange.open_stream(provider, target, ctx)
                if isinstance(body, ChatCompletionRequest):
                    return dispatch.chat_stream(provider, body, target, ctx)
                assert isinstance(body, CompletionRequest)
                return dispatch.completion_stream(provider, body, target, ctx)

            opening = self.router.open_stream(body.model, key, deployments, deadline, open_stream, attempted)
            # A first chunk (or failure) that comes quickly is answered with its real status; a
            # slow one gets the response started so keep-alives can flow while it is awaited
            # (the relay writes the first one at once: this wait was its first interval).
            task = asyncio.ensure_future(opening)
            keepalive = settings.stream_keepalive
            try:
                done, _ = await asyncio.wait({task}, timeout=keepalive or None)
            except BaseException:
                task.cancel()
                raise
            if done:
                try:
                    first: FirstChunk | asyncio.Future[FirstChunk] = task.result()
                finally:
                    _describe(body.model, record, attempted, ctx, headers, failed=_failed(task))
                on_open = None
            else:
                first = task

                def on_open() -> dict[str, str]:
                    late: dict[str, str] = {}
                    _describe(body.model, record, attempted, ctx, late, failed=_failed(task))
                    return late

            limits = StreamLimits(
                keepalive=keepalive, deadline=deadline, on_open=on_open,
                idle=lambda: settings.stream_idle_timeout or attempted.limit,
            )
            if exchange is not None:
                return stream_response(first, headers, record, started, limits, exchange.encoder())
            return stream_response(first, headers, record, started, limits)

        async def call(provider: Provider, target: Target) -> JSONBody:
            if exchange is not None:
                return await exchange.call(provider, target, ctx)
            if isinstance(body, ChatCompletionRequest):
                return await dispatch.chat(provider, body, target, ctx)
            assert isinstance(body, CompletionRequest)
            return await dispatch.completion(provider, body, target, ctx)

        try:
            result = await self.router.call(body.model, key, deployments, deadline, call, attempted)
        except BaseException:
            _describe(body.model, record, attempted, ctx, headers, failed=True)
            raise
        _describe(body.model, record, attempted, ctx, headers)
        record.add_usage(usage_of(result) if exchange is None else exchange.usage(result))
        return json_response(result, headers)

    def _authenticate(self, request: Request, model: str | None) -> KeyRecord:
        key = authenticate_request(request, self.store, model)
        self.limits.check_key(key)  # disabled or expired: 401
        return key

    # --- models --------------------------------------------------------------------------

    async def list_models(self, request: Request) -> Response:
        async def handler(request: Request, record: RequestRecord, headers: dict[str, str], started: float) -> Response:
            key = self._authenticate(request, None)
            record.key_name = key.name
            data = [_model(alias) for alias in self.store.aliases() if model_allowed(key, alias)]
            return json_response({"object": "list", "data": data}, headers)

        return await self.serve(request, "models", handler)

    async def get_model(self, request: Request, model_id: str) -> Response:
        async def handler(request: Request, record: RequestRecord, headers: dict[str, str], started: float) -> Response:
            key = self._authenticate(request, model_id)
            record.key_name, record.model = key.name, model_id
            # A model the key may not use is reported as missing, as OpenAI does for other orgs' models.
            if not model_allowed(key, model_id) or self.router.deployments(model_id) is None:
                raise ModelNotFound(f"The model '{model_id}' does not exist or you do not have access to it.",
                                    param="model")
            return json_response(_model(model_id), headers)

        return await self.serve(request, "models", handler)


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": MODELS_CREATED, "owned_by": "lambdagate"}


def header_value(text: str) -> str:
    """``text`` as a header value: a ``provider/model`` name comes from the client, and a line
    break or a non-Latin-1 character in a header would fail the response; such names are
    percent-encoded (UTF-8), printable ASCII is kept as it is."""
    if text.isascii() and text.isprintable():
        return text
    from urllib.parse import quote

    return quote(text, safe="".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%"))


def _failed(task: asyncio.Future[Any]) -> bool:
    return task.cancelled() or task.exception() is not None


def _describe(model: str, record: RequestRecord, attempted: Attempted, ctx: CallContext, headers: dict[str, str],
              *, failed: bool = False) -> None:
    """What the router did, into the request's record and its response headers.

    After an attempt every answer says which provider and upstream model answered (or failed
    last), after how many attempts, and which fallback alias answered if one did. A failure the
    gateway already retried says ``x-should-retry: false``, so the SDK's own retries do not
    multiply the gateway's.
    """
    target = attempted.target
    if target is not None:
        record.provider = target.provider_name
        record.upstream_model = target.model
        headers[PROVIDER_HEADER] = header_value(target.provider_name)
        headers[MODEL_HEADER] = header_value(target.model)
        headers[ATTEMPTS_HEADER] = str(attempted.attempts)
        if not failed and target.alias != model:
            headers[FALLBACK_HEADER] = header_value(target.alias)
    record.attempts = attempted.attempts
    if failed and attempted.retried:
        headers[SHOULD_RETRY_HEADER] = "false"
    if ctx.dropped:
        record.dropped_params = tuple(ctx.dropped)
        headers[DROPPED_HEADER] = ",".join(ctx.dropped)
