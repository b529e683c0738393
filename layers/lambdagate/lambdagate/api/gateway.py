"""The request path of DESIGN.md for one endpoint: auth -> typed request -> router -> provider."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from lambdagate.api.requests import MAX_BODY_BYTES, body_too_large, parse_request, read_body
from lambdagate.api.responses import FirstChunk, error_response, json_response, stream_response
from lambdagate.auth import authenticate, bearer_hash, model_allowed
from lambdagate.config.schema import KeyRecord
from lambdagate.config.store import ConfigStore
from lambdagate.errors import GatewayError, InvalidRequest, ModelNotFound
from lambdagate.observability import RequestRecord, record_request, usage_of
from lambdagate.providers import fanout
from lambdagate.providers.base import CallContext, JSONBody, Provider, Target
from lambdagate.router import Router
from lambdagate.router.routing import Attempted
from lambdagate.types import ChatCompletionRequest, CompletionRequest

DROPPED_HEADER = "x-lambdagate-dropped-params"
REQUEST_ID_HEADER = "x-request-id"
# ``created`` of the entries of /v1/models: the aliases have no creation time of their own.
MODELS_CREATED = int(time.time())

Endpoint = Literal["chat", "completions"]


def request_id(request: Request) -> str:
    context = request.scope.get("aws.context")
    aws_id = getattr(context, "aws_request_id", None)
    return aws_id if isinstance(aws_id, str) else "req_" + secrets.token_hex(12)


class Gateway:
    """Holds the configuration store and router of one app; stateless between requests."""

    def __init__(self, store: ConfigStore) -> None:
        self.store = store
        self.router = Router(store)

    async def complete(self, request: Request, endpoint: Endpoint) -> Response:
        started = time.perf_counter()
        record = RequestRecord(request_id=request_id(request), endpoint=endpoint)
        headers = {REQUEST_ID_HEADER: record.request_id}
        try:
            response = await self._complete(request, endpoint, record, headers, started)
        except GatewayError as exc:
            record.status, record.error_type = exc.status, exc.type
            record.latency_ms = (time.perf_counter() - started) * 1000
            record_request(record)
            return error_response(exc, headers)
        return response

    async def _complete(
        self, request: Request, endpoint: Endpoint, record: RequestRecord, headers: dict[str, str], started: float
    ) -> Response:
        # The body is read and parsed before the key is checked, so the store can fetch the key,
        # the settings and the model's configuration together (two SSM round trips when cold);
        # a parse error is still reported only to an authenticated client.
        raw = await read_body(request, MAX_BODY_BYTES)
        body: ChatCompletionRequest | CompletionRequest | None = None
        parse_failure: GatewayError | None = None
        try:
            body = (parse_request(raw, ChatCompletionRequest) if endpoint == "chat"
                    else parse_request(raw, CompletionRequest))
        except GatewayError as exc:
            parse_failure = exc
        key = self._authenticate(request, body.model if body is not None else None)
        record.key_name = key.name
        settings = self.store.settings()
        if len(raw) > settings.max_body_bytes:
            raise body_too_large(settings.max_body_bytes)
        if body is None:
            raise parse_failure or InvalidRequest("Invalid request body.")
        record.model, record.stream = body.model, bool(body.stream)
        deployments = self.router.check(body.model, key)
        ctx = CallContext(request_id=record.request_id, drop_params=settings.drop_params)
        attempted = Attempted()

        if body.stream:
            def open_stream(provider: Provider, target: Target) -> AsyncIterator[JSONBody]:
                if isinstance(body, ChatCompletionRequest):
                    return fanout.chat_stream(provider, body, target, ctx)
                return provider.completion_stream(body, target, ctx)

            opening = self.router.open_stream(body.model, key, deployments, body.timeout, open_stream, attempted)
            # A first chunk (or failure) that comes quickly is answered with its real status; a
            # slow one gets the response started so keep-alives can flow while it is awaited.
            task = asyncio.ensure_future(opening)
            keepalive = settings.stream_keepalive
            done, _ = await asyncio.wait({task}, timeout=keepalive or None)
            first: FirstChunk | asyncio.Future[FirstChunk] = task.result() if done else task
            _describe(record, attempted, ctx, headers)
            return stream_response(first, headers, record, started, keepalive)

        async def call(provider: Provider, target: Target) -> JSONBody:
            if isinstance(body, ChatCompletionRequest):
                return await fanout.chat(provider, body, target, ctx)
            return await provider.completion(body, target, ctx)

        result = await self.router.call(body.model, key, deployments, body.timeout, call, attempted)
        _describe(record, attempted, ctx, headers)
        record.add_usage(usage_of(result))
        record.latency_ms = (time.perf_counter() - started) * 1000
        record_request(record)
        return json_response(result, headers)

    def _authenticate(self, request: Request, model: str | None) -> KeyRecord:
        authorization = request.headers.get("authorization")
        self.store.prefetch(bearer_hash(authorization), model)
        return authenticate(authorization, self.store)

    # --- models --------------------------------------------------------------------------

    async def list_models(self, request: Request) -> Response:
        try:
            key = self._authenticate(request, None)
        except GatewayError as exc:
            return error_response(exc)
        data = [_model(alias) for alias in self.store.aliases() if model_allowed(key, alias)]
        return json_response({"object": "list", "data": data}, {})

    async def get_model(self, request: Request, model_id: str) -> Response:
        try:
            key = self._authenticate(request, model_id)
            # A model the key may not use is reported as missing, as OpenAI does for other orgs' models.
            if not model_allowed(key, model_id) or self.router.deployments(model_id) is None:
                raise ModelNotFound(f"The model '{model_id}' does not exist or you do not have access to it.",
                                    param="model")
        except GatewayError as exc:
            return error_response(exc)
        return json_response(_model(model_id), {})


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": MODELS_CREATED, "owned_by": "lambdagate"}


def _describe(record: RequestRecord, attempted: Attempted, ctx: CallContext, headers: dict[str, str]) -> None:
    if attempted.target is not None:
        record.provider = attempted.target.provider_name
        record.upstream_model = attempted.target.model
    record.attempts = attempted.attempts
    if ctx.dropped:
        record.dropped_params = tuple(ctx.dropped)
        headers[DROPPED_HEADER] = ",".join(ctx.dropped)
