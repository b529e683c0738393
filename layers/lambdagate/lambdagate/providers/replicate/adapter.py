"""Replicate: a chat request run as one prediction of a language model.

Built against Replicate's HTTP API v1 (predictions, sync mode, streaming; reference pages read on
2026-11-23):

- Create: ``POST {api_base}`` + the model's path (:func:`.request.model_path`) with
  ``Authorization: Bearer <api token>``.
- Not streamed: ``Prefer: wait=<n>`` (n <= 60 s) returns the finished prediction when the model is
  quick; otherwise the prediction is polled (``GET {api_base}/predictions/{id}``, built from the id
  rather than taken from ``urls.get``, so the token only ever goes to the configured API) until it
  succeeds, fails or is canceled, within the target's timeout. A prediction given up on (timeout,
  client gone mid-stream) is canceled in the background so it stops running and billing.
- Streamed: created with ``stream: true``; its ``urls.stream`` is read as SSE (:mod:`.stream`).
  That URL is named by the upstream, so it gets the token only when it is on the configured API's
  origin; Replicate's own stream host is another one and its URLs carry their own access token (the
  official JS client reads them without the API token). A stream URL that is not https (plain
  http is accepted for loopback only) is refused with a 502. A model without a stream URL is
  waited for and answered as one chunk.

Every upstream call goes through :mod:`lambdagate.providers.http` (``request_json`` for create,
poll and cancel, ``read_sse`` for the stream); prediction URLs and ids never reach the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from lambdagate.errors import UpstreamTimeout
from lambdagate.providers import http
from lambdagate.providers.base import CallContext, Capabilities, ParamTable, Provider, Target
from lambdagate.providers.replicate import response
from lambdagate.providers.replicate.params import PARAMS
from lambdagate.providers.replicate.request import build_request
from lambdagate.providers.replicate.stream import TEXT_EVENTS, StreamTranslator
from lambdagate.types import ChatCompletionRequest
from lambdagate.wire import JSONBody

DEFAULT_API_BASE = "https://api.replicate.com/v1"
MAX_WAIT = 60  # seconds; the most ``Prefer: wait`` accepts
POLL_INTERVAL = 0.5
# Cancellations in flight: the event loop keeps only weak references to tasks.
_background: set[asyncio.Task[None]] = set()


def _no_error_event(event: str, data: Any) -> bool:
    # Replicate's ``error`` event is a failed prediction, mapped by the translator with its code.
    return False


class ReplicateProvider(Provider):
    type_name = "replicate"
    capabilities: ClassVar[Capabilities] = Capabilities(upstream_api="predictions", stream_usage_free=False)
    params: ClassVar[ParamTable] = PARAMS

    def headers(self, target: Target) -> dict[str, str]:
        return http.bearer_headers(target)

    def base(self, target: Target) -> str:
        return (target.config.api_base or DEFAULT_API_BASE).rstrip("/")

    # --- calls ---------------------------------------------------------------------------

    async def chat(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        path, body = build_request(request, target, ctx, stream=False)
        deadline = time.monotonic() + target.timeout
        headers = {**self.headers(target), "prefer": f"wait={max(1, min(MAX_WAIT, int(target.timeout)))}"}
        created = await self._request(target, self.base(target) + path, body, headers)
        return response.completion(await self._wait(target, created, deadline), request, target)

    async def chat_stream(
        self, request: ChatCompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        path, body = build_request(request, target, ctx, stream=True)
        deadline = time.monotonic() + target.timeout
        prediction = await self._request(target, self.base(target) + path, body, self.headers(target))
        urls = prediction.get("urls")
        stream_url = urls.get("stream") if isinstance(urls, dict) else None
        if not isinstance(stream_url, str):
            # The model cannot stream: wait for it and answer in one piece.
            for chunk in response.chunks(await self._wait(target, prediction, deadline), request, target):
                yield chunk
            return
        translator = StreamTranslator(request, target)
        try:
            events = http.read_sse(
                target, stream_url, None, self._stream_headers(target, stream_url), method="GET",
                parse_error=response.replicate_error, error_event=_no_error_event, text_events=TEXT_EVENTS,
            )
            try:
                async for event in events:
                    for chunk in translator.on_event(event):
                        yield chunk
                    if translator.finished:
                        break
            finally:
                await events.aclose()
        except BaseException:
            # Client gone, stream broken or failed: stop a prediction that may still be running.
            self._cancel_soon(target, prediction)
            raise
        if translator.finished and (request.wants_usage_chunk or request.output_token_limit is not None):
            # Token counts are only on the finished prediction, not in the stream: read it once
            # now (it is usually final when ``done`` arrives), and wait only if it is not.
            done = await self._wait(target, await self._get(target, prediction), deadline)
            translator.usage = response.usage_of(done)
        for chunk in translator.on_end():
            yield chunk

    def _stream_headers(self, target: Target, url: str) -> dict[str, str]:
        """The stream URL's headers: the token only if it is the configured API's own origin."""
        if not http.credentials_allowed(url):
            # Not even the stream's own token goes over plain http (the caller cancels the prediction).
            raise http.bad_answer(target, "a stream URL that is not https")
        headers = {"cache-control": "no-store"}
        if http.credentials_allowed(url, self.base(target)):
            headers.update(self.headers(target))
        return headers

    async def _request(
        self, target: Target, url: str, body: Any, headers: Mapping[str, str], method: str = "POST"
    ) -> dict[str, Any]:
        reply = await http.request_json(target, url, body, headers, method=method, parse_error=response.replicate_error)
        value: dict[str, Any] = reply.value
        return value

    async def _wait(self, target: Target, prediction: dict[str, Any], deadline: float) -> dict[str, Any]:
        """Poll a prediction until it is terminal; the succeeded one, or its failure raised."""
        interval = float(target.option("poll_interval", POLL_INTERVAL))
        try:
            while prediction.get("status") not in response.TERMINAL:
                if time.monotonic() + interval > deadline:
                    raise UpstreamTimeout(
                        f"{target.provider_name} did not finish within {target.timeout:g} seconds."
                    )
                await asyncio.sleep(interval)
                prediction = await self._get(target, prediction)
        except BaseException:
            # Given up on (timeout, client gone, poll failed): it must not keep running and billing.
            self._cancel_soon(target, prediction)
            raise
        return response.finished(prediction, target)

    def _prediction_url(self, target: Target, prediction: Mapping[str, Any]) -> str:
        prediction_id = prediction.get("id")
        if not isinstance(prediction_id, str) or not prediction_id.isalnum():
            raise http.bad_answer(target, "a prediction without an id")
        return f"{self.base(target)}/predictions/{prediction_id}"

    async def _get(self, target: Target, prediction: Mapping[str, Any]) -> dict[str, Any]:
        return await self._request(target, self._prediction_url(target, prediction), None, self.headers(target),
                                   method="GET")

    def _cancel_soon(self, target: Target, prediction: Mapping[str, Any]) -> None:
        """Cancel a prediction in the background, so unwinding (timeout, disconnect) never waits on it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a generator finalised outside the loop: nothing can be sent any more
            return
        task = loop.create_task(self._cancel(target, prediction))
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _cancel(self, target: Target, prediction: Mapping[str, Any]) -> None:
        # Best effort: any failure here is moot, the client already has its error.
        with contextlib.suppress(Exception):
            await http.request_json(target, self._prediction_url(target, prediction) + "/cancel", {},
                                    self.headers(target))


__all__ = ["DEFAULT_API_BASE", "ReplicateProvider"]
