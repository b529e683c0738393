"""Replicate: a chat request run as one prediction of a language model.

Built against Replicate's HTTP API v1 (predictions, sync mode, streaming; reference pages read on
2026-11-23):

- ``owner/name`` -> ``POST {api_base}/models/{owner}/{name}/predictions``; a pinned version
  ``owner/name:<version id>`` -> ``POST {api_base}/predictions`` with ``version``; a Replicate
  deployment ``deployments/owner/name`` -> ``POST {api_base}/deployments/{owner}/{name}/predictions``.
  ``Authorization: Bearer <api token>``.
- Not streamed: ``Prefer: wait=<n>`` (n <= 60 s) returns the finished prediction when the model is
  quick; otherwise the prediction is polled (``GET {api_base}/predictions/{id}``, built from the id
  rather than taken from ``urls.get``, so the token only ever goes to the configured API) until it
  succeeds, fails or is canceled, within the target's timeout. A prediction given up on (timeout,
  client gone mid-stream) is canceled in the background so it stops running and billing.
- Streamed: created with ``stream: true``; its ``urls.stream`` is read as SSE (``output`` text,
  ``logs``, ``error`` JSON, ``done`` JSON with an optional ``reason``). A model without a stream
  URL is waited for and answered as one chunk.

The chat becomes the ``prompt`` (and ``system_prompt``) inputs of the common LLM models (Meta
Llama, Mistral, ...). Options (provider or deployment):

- ``turn_templates``: role -> template with ``{content}``, for conversations of more than one
  user message (default: ``User: ...`` / ``Assistant: ...`` transcript ending in ``Assistant:``);
  a single user message is sent as it is, so the model's own chat template applies.
- ``system_prompt_field``: input field for system messages (default ``system_prompt``; empty:
  the system text is put in front of the prompt instead).
- ``max_tokens_field``: ``max_tokens`` (current official models) or ``max_new_tokens`` (older).
- ``input``: fixed model inputs merged under the client's (``prompt_template``, ``min_tokens``...).

Replicate reports no finish reason: ``length`` when the output reached the token limit, else
``stop``. Usage comes from ``metrics.input_token_count``/``output_token_count`` when the model
reports them and is left out otherwise (usage is optional in OpenAI's schema; no estimate is
better than a wrong one). Prediction URLs and ids never reach the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from lambdagate.errors import InvalidRequest, UpstreamError, UpstreamTimeout, upstream_error
from lambdagate.providers import http, shapes
from lambdagate.providers.base import (
    ALWAYS_HANDLED,
    UNSET,
    CallContext,
    JSONBody,
    Param,
    ParamTable,
    Provider,
    Target,
    map_params,
)
from lambdagate.providers.content import text_only
from lambdagate.types import ChatCompletionRequest, Message

DEFAULT_API_BASE = "https://api.replicate.com/v1"
MAX_WAIT = 60  # seconds; the most ``Prefer: wait`` accepts
POLL_INTERVAL = 0.5
TERMINAL = frozenset({"succeeded", "failed", "canceled"})
# Cancellations in flight: the event loop keeps only weak references to tasks.
_background: set[asyncio.Task[None]] = set()

DEFAULT_TURN_TEMPLATES: Mapping[str, str] = {
    "user": "User: {content}",
    "assistant": "Assistant: {content}",
    "tool": "Tool result: {content}",
    "function": "Function result: {content}",
    "generation": "Assistant:",
}


def _stop_sequences(value: Any) -> Any:
    """Replicate's LLMs take one comma-separated string."""
    sequences = [value] if isinstance(value, str) else [s for s in value if s]
    return ",".join(sequences) if sequences else UNSET


def replicate_error(body: Any) -> http.ErrorInfo:
    """Replicate's problem details: ``{"title", "detail", "status"}`` (or just ``detail``)."""
    if isinstance(body, dict) and ("detail" in body or "title" in body):
        detail, title = body.get("detail"), body.get("title")
        message = detail if isinstance(detail, str) else (json.dumps(detail) if detail else None)
        return http.ErrorInfo(message or (title if isinstance(title, str) else None))
    return http.openai_error(body)


def _text(message: Message) -> str:
    """A message's text; Replicate LLM inputs are text only."""
    return text_only(message.content, "messages", "replicate", separator="\n")


def _turn(message: Message) -> str:
    text = _text(message)
    calls = getattr(message, "tool_calls", None) or []
    for call in calls:
        text += f"\n[called {call.function.name}({call.function.arguments})]"
    return text.strip()


def build_prompt(messages: list[Message], target: Target) -> dict[str, str]:
    """The ``prompt`` (and ``system_prompt``) inputs for a conversation."""
    templates = {**DEFAULT_TURN_TEMPLATES, **(target.option("turn_templates") or {})}
    system = "\n\n".join(_text(m) for m in messages if m.role in ("system", "developer"))
    turns = [m for m in messages if m.role not in ("system", "developer")]
    if len(turns) == 1 and turns[0].role == "user":
        prompt = _turn(turns[0])
    else:
        lines = [templates.get(m.role, "{content}").format(content=_turn(m)) for m in turns]
        prompt = "\n\n".join([*lines, templates["generation"]])
    field = target.option("system_prompt_field", "system_prompt")
    if system and not field:
        return {"prompt": f"{system}\n\n{prompt}"}
    return {"prompt": prompt, field: system} if system else {"prompt": prompt}


def model_path(model: str) -> tuple[str, dict[str, Any]]:
    """The create path for a model reference, and what it adds to the body (a pinned version)."""
    name, _, version = model.partition(":")
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "deployments" and all(parts):
        return f"/deployments/{parts[1]}/{parts[2]}/predictions", {}
    if len(parts) != 2 or not all(parts):
        raise InvalidRequest(
            f"'{model}' is not a Replicate model; use owner/name or owner/name:version.", param="model"
        )
    if version:
        return "/predictions", {"version": version}
    return f"/models/{parts[0]}/{parts[1]}/predictions", {}


def output_text(output: Any) -> str:
    """Language models return a list of string pieces; some return one string."""
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(piece if isinstance(piece, str) else json.dumps(piece) for piece in output)
    return json.dumps(output)


def usage_of(prediction: Mapping[str, Any]) -> dict[str, Any] | None:
    metrics = prediction.get("metrics") or {}
    prompt, completion = metrics.get("input_token_count"), metrics.get("output_token_count")
    if isinstance(prompt, int) and isinstance(completion, int):
        return shapes.usage(prompt, completion)
    return None


class ReplicateProvider(Provider):
    type_name = "replicate"
    # Fields land under ``input``; ``max_completion_tokens`` after ``max_tokens`` so it wins.
    chat_params: ClassVar[ParamTable] = {
        "max_tokens": Param(to="input.max_tokens"),
        "max_completion_tokens": Param(to="input.max_tokens"),
        "temperature": Param(to="input.temperature"),
        "top_p": Param(to="input.top_p"),
        "top_k": Param(to="input.top_k"),
        "stop": Param(to="input.stop_sequences", transform=_stop_sequences),
        "seed": Param(to="input.seed"),
        "presence_penalty": Param(to="input.presence_penalty"),
        "frequency_penalty": Param(to="input.frequency_penalty"),
    }

    # --- request -------------------------------------------------------------------------

    def headers(self, target: Target) -> dict[str, str]:
        return http.bearer_headers(target)

    def base(self, target: Target) -> str:
        return (target.config.api_base or DEFAULT_API_BASE).rstrip("/")

    def request(
        self, request: ChatCompletionRequest, target: Target, ctx: CallContext, *, stream: bool
    ) -> tuple[str, dict[str, Any]]:
        """The create path and body of the prediction for a chat request."""
        path, extra = model_path(target.model)
        mapped = map_params(request.sent_fields(), self.chat_params, ctx, self.type_name, handled=ALWAYS_HANDLED)
        inputs: dict[str, Any] = dict(target.option("input") or {})
        inputs.update(build_prompt(request.messages, target))
        client_inputs = mapped.get("input", {})
        max_field = target.option("max_tokens_field", "max_tokens")
        if "max_tokens" in client_inputs and max_field != "max_tokens":
            client_inputs[max_field] = client_inputs.pop("max_tokens")
        inputs.update(client_inputs)
        body: dict[str, Any] = {**extra, "input": inputs}
        if stream:
            body["stream"] = True
        return path, body

    # --- calls ---------------------------------------------------------------------------

    async def chat(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        path, body = self.request(request, target, ctx, stream=False)
        prediction = await self._run(target, path, body)
        text = output_text(prediction.get("output"))
        usage = usage_of(prediction)
        choice = shapes.chat_choice(0, shapes.chat_message(text), _finish(request, usage))
        return shapes.chat_completion(target.model, [choice], usage)

    async def chat_stream(
        self, request: ChatCompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        path, body = self.request(request, target, ctx, stream=True)
        deadline = time.monotonic() + target.timeout
        headers = self.headers(target)
        prediction = _json(await http.post(target, self.base(target) + path, body, headers,
                                           parse_error=replicate_error), target)
        chunks = shapes.ChatChunks(target.model)
        stream_url = (prediction.get("urls") or {}).get("stream")
        if not isinstance(stream_url, str):
            # The model cannot stream: wait for it and answer in one piece.
            prediction = await self._wait(target, prediction, deadline)
            yield chunks.role()
            if text := output_text(prediction.get("output")):
                yield chunks.content(text)
            usage = usage_of(prediction)
            yield chunks.finish(_finish(request, usage))
            if request.wants_usage_chunk and usage is not None:
                yield chunks.usage(usage)
            return
        stream_headers = {**headers, "accept": "text/event-stream", "cache-control": "no-store"}
        try:
            async with http.stream(target, stream_url, None, stream_headers, method="GET",
                                   parse_error=replicate_error) as response:
                yield chunks.role()
                async for event, data in http.sse_events(response, target):
                    if event == "output":
                        if data:
                            yield chunks.content(data)
                    elif event == "error":
                        raise _prediction_error(target, "failed", _detail(data))
                    elif event == "done":
                        reason = _detail(data, "reason")
                        if reason in ("canceled", "error"):
                            raise _prediction_error(target, "canceled" if reason == "canceled" else "failed", None)
                        break
        except BaseException:
            # Client gone, stream broken or failed: stop a prediction that may still be running.
            self._cancel_soon(target, prediction)
            raise
        usage = None
        if request.wants_usage_chunk or request.output_token_limit is not None:
            # Token counts are only on the finished prediction, not in the stream: read it once
            # now (it is usually final when ``done`` arrives), and wait only if it is not.
            usage = usage_of(await self._wait(target, await self._get(target, prediction), deadline))
        yield chunks.finish(_finish(request, usage))
        if request.wants_usage_chunk and usage is not None:
            yield chunks.usage(usage)

    async def _run(self, target: Target, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a prediction and return it finished (succeeded), or raise its failure."""
        deadline = time.monotonic() + target.timeout
        headers = {**self.headers(target), "prefer": f"wait={max(1, min(MAX_WAIT, int(target.timeout)))}"}
        created = _json(await http.post(target, self.base(target) + path, body, headers,
                                        parse_error=replicate_error), target)
        return await self._wait(target, created, deadline)

    async def _wait(self, target: Target, prediction: dict[str, Any], deadline: float) -> dict[str, Any]:
        interval = float(target.option("poll_interval", POLL_INTERVAL))
        try:
            while prediction.get("status") not in TERMINAL:
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
        if prediction["status"] != "succeeded":
            raise _prediction_error(target, prediction["status"], prediction.get("error"))
        return prediction

    def _prediction_url(self, target: Target, prediction: Mapping[str, Any]) -> str:
        prediction_id = prediction.get("id")
        if not isinstance(prediction_id, str) or not prediction_id.isalnum():
            raise upstream_error(target.provider_name, 502, "the prediction has no id", secrets=target.secrets)
        return f"{self.base(target)}/predictions/{prediction_id}"

    async def _get(self, target: Target, prediction: Mapping[str, Any]) -> dict[str, Any]:
        import httpx

        headers = {**self.headers(target), "accept": "application/json"}
        async with http.stream(target, self._prediction_url(target, prediction), None, headers, method="GET",
                               parse_error=replicate_error) as response:
            try:
                content = await response.aread()
            except httpx.TransportError as exc:
                raise http.transport_failure(exc, target) from None
        return _json(content, target)

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
            await http.post(target, self._prediction_url(target, prediction) + "/cancel", {}, self.headers(target))


def _finish(request: ChatCompletionRequest, usage: Mapping[str, Any] | None) -> str:
    limit = request.output_token_limit
    if limit is not None and usage is not None and usage["completion_tokens"] >= limit:
        return "length"
    return "stop"


def _json(content: bytes, target: Target) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise upstream_error(target.provider_name, 502, "the prediction is not a JSON object", secrets=target.secrets)
    return value


def _detail(data: str, key: str = "detail") -> str | None:
    """A field of an SSE event's JSON data (``error``: detail, ``done``: reason)."""
    try:
        value = json.loads(data) if data else {}
    except ValueError:
        return data or None
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


def _prediction_error(target: Target, status: str, error: Any) -> UpstreamError:
    """A prediction that failed (the model raised) or was canceled: a 502 the client may retry."""
    message = error if isinstance(error, str) and error else f"the prediction {status}"
    return upstream_error(
        target.provider_name, 500, message, code=f"prediction_{status}", secrets=target.secrets
    )
