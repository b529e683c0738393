"""Claude on Bedrock through its Anthropic-native invocation: the Messages front door's passthrough.

References, read on 2026-12-02: Amazon Bedrock user guide, "Anthropic Claude Messages API" and its
"Request and Response" page (model-parameters-anthropic-claude-messages-request-response), "Count
tokens" (count-tokens), and the Bedrock Runtime API 2023-09-30 as in botocore 1.43 (InvokeModel,
InvokeModelWithResponseStream, CountTokens).

- The body is the client's Messages body with what Bedrock names differently: no ``model`` (the
  model is the ``modelId``) and no ``stream`` (the operation says it), ``anthropic_version:
  "bedrock-2023-05-31"`` (required), and the client's ``anthropic-beta`` header values as the
  ``anthropic_beta`` list (after any the body already has). Every other field goes as sent:
  ``cache_control``, thinking and its signatures, tools, documents.
- ``InvokeModel`` answers the ``Message`` JSON; ``InvokeModelWithResponseStream`` sends each
  Messages event as a ``chunk`` whose ``bytes`` are the event's JSON, ``message_start`` to
  ``message_stop``; Bedrock adds its ``amazon-bedrock-invocationMetrics`` to ``message_stop``,
  which is taken out so the client gets Anthropic's event. Stream exceptions
  (``throttlingException``, ``modelStreamErrorException``...) are raised by botocore and mapped
  like every Bedrock error (:func:`.response.parse_error`).
- ``CountTokens`` takes the same InvokeModel body (``input.invokeModel.body``, with a
  ``max_tokens`` it requires: 1, or the thinking budget plus 1) and a foundation model id: an
  inference profile id (``us.anthropic...``, ``global.anthropic...``) is counted on its model
  (the prefix taken off), an ARN or another id by the deployment option
  ``count_tokens_model``. Models CountTokens refuses (it supports a subset), a role without
  ``bedrock:CountTokens`` and unknown models answer None: the front door estimates instead.
- Which deployments: those whose model id names an Anthropic model (``anthropic.claude-...``, with
  or without a profile prefix); an ARN names none, so its deployment option ``native_messages:
  true`` says so (``false`` translates a Claude deployment through Converse instead).
- A deployment's ``guardrail_config`` (Converse's ``guardrailIdentifier``, ``guardrailVersion``,
  ``trace``) applies here too, as InvokeModel's parameters.

I/O is :mod:`.client`'s: the cached boto3 clients, the worker threads (the stream read by
:class:`.client._Pump`, closed when the client leaves), and its failure mapping.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from lambdagate.errors import UpstreamError
from lambdagate.providers import http
from lambdagate.providers.anthropic.native import PassthroughEvents, is_count, is_message
from lambdagate.providers.anthropic.response import parse_error as anthropic_error
from lambdagate.providers.base import SSEEvent, Target, translate_stream
from lambdagate.providers.bedrock import client
from lambdagate.providers.bedrock.response import parse_error
from lambdagate.wire import JSONBody, RawJSON

if TYPE_CHECKING:
    from lambdagate.frontdoors.messages.passthrough import NativeMessages

NATIVE_OPTION = "native_messages"
"""Deployment option: whether the model speaks Anthropic's Messages (default: its id names an Anthropic model)."""
BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
METRICS_FIELD = "amazon-bedrock-invocationMetrics"
COUNT_MODEL_OPTION = "count_tokens_model"
NOT_COUNTED = frozenset({400, 403, 404})
"""Upstream statuses of a CountTokens call that mean "no count for this model here": the door estimates."""

# Cross-Region inference profile ids put a geography before the model id (us., eu., apac., global. ...).
_PROFILE_PREFIX = re.compile(r"^(?:[a-z]{2,6}(?:-[a-z]+)?)\.(?=[a-z0-9-]+\.[a-z0-9-])")


def speaks_messages(target: Target) -> bool:
    """Claude models take the Messages body; an ARN names no model, so its deployment says (``native_messages``)."""
    named = target.option(NATIVE_OPTION)
    if named is not None:
        return named is True
    return "anthropic." in target.model.lower() and not target.model.startswith("arn:")


def body(request: NativeMessages, *, count: bool = False) -> bytes:
    """The InvokeModel body of a Messages request."""
    fields = request.fields()
    fields.pop("model", None)
    fields.pop("stream", None)
    fields["anthropic_version"] = BEDROCK_ANTHROPIC_VERSION
    betas = [beta for beta in fields.get("anthropic_beta") or () if isinstance(beta, str)]
    betas += [beta for beta in request.betas if beta not in betas]
    if betas:
        fields["anthropic_beta"] = betas
    if count and "max_tokens" not in fields:
        thinking = fields.get("thinking")
        budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
        fields["max_tokens"] = budget + 1 if isinstance(budget, int) else 1
    return http.encode(fields)


def guardrail(target: Target) -> dict[str, Any]:
    """InvokeModel's guardrail parameters from the deployment's Converse-shaped ``guardrail_config``."""
    config = target.option("guardrail_config") or {}
    params: dict[str, Any] = {}
    if config.get("guardrailIdentifier"):
        params["guardrailIdentifier"] = config["guardrailIdentifier"]
        params["guardrailVersion"] = str(config.get("guardrailVersion") or "DRAFT")
        if config.get("trace"):
            params["trace"] = str(config["trace"]).upper()
    return params


def _invoke_params(request: NativeMessages, target: Target) -> dict[str, Any]:
    return {"modelId": target.model, "body": body(request), "contentType": "application/json",
            "accept": "application/json", **guardrail(target)}


async def invoke(request: NativeMessages, target: Target) -> JSONBody:
    """A ``Message`` from ``InvokeModel``, as the upstream's bytes."""

    def run() -> bytes:
        answer = client.client_for(target).invoke_model(**_invoke_params(request, target))
        content: bytes = answer["body"].read()
        return content

    try:
        content = await asyncio.to_thread(run)
    except Exception as exc:
        raise client.map_exception(exc, target, parse_error) from None
    if not is_message(http.parse(content, target)):
        raise http.bad_answer(target, "an object that is not a message")
    return RawJSON(content)


async def _events(request: NativeMessages, target: Target) -> AsyncGenerator[SSEEvent, None]:
    """The Messages events of one ``InvokeModelWithResponseStream``, as they arrive; failures raised mapped."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def deliver(item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening any more
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def open_stream() -> Any:
        answer = client.client_for(target).invoke_model_with_response_stream(**_invoke_params(request, target))
        events = answer.get("body")
        if events is None:
            raise http.bad_answer(target, "an answer without an event stream")
        return events

    pump = client._Pump(deliver)
    thread = threading.Thread(target=pump.run, args=(open_stream,), name="bedrock-messages-stream", daemon=True)
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is client._END:
                return
            if isinstance(item, client._Failure):
                raise client.map_exception(item.exc, target, parse_error) from None
            chunk = item.get("chunk") if isinstance(item, dict) else None
            if not isinstance(chunk, dict) or not isinstance(chunk.get("bytes"), bytes | bytearray):
                continue  # not an event of the Messages stream (botocore raises the exception events)
            yield _event(bytes(chunk["bytes"]), target)
    finally:
        pump.stop()


def _event(content: bytes, target: Target) -> SSEEvent:
    value = http.parse(content, target)
    if METRICS_FIELD in value:
        value = {name: item for name, item in value.items() if name != METRICS_FIELD}
        return SSEEvent(str(value.get("type") or ""), value, http.encode(value).decode())
    return SSEEvent(str(value.get("type") or ""), value, content.decode("utf-8", "replace"))


class _Stream(PassthroughEvents):
    """Anthropic's events; an ``error`` event, should Bedrock pass Anthropic's own on, is raised mapped."""

    def on_event(self, event: SSEEvent) -> Iterable[JSONBody]:
        if event.data.get("type") == "error":
            raise http.event_failure(event.data, self.target, anthropic_error)
        return super().on_event(event)


def invoke_stream(request: NativeMessages, target: Target) -> AsyncIterator[JSONBody]:
    """The Messages events of one request, each as its bytes with its name; closing it stops the upstream."""
    return translate_stream(_events(request, target), _Stream(target))


def count_model(target: Target) -> str | None:
    """The foundation model id CountTokens takes for the deployment, when one can be named."""
    if named := target.option(COUNT_MODEL_OPTION):
        return str(named)
    model = target.model
    if model.startswith("arn:"):
        return None  # an inference profile or provisioned model: its foundation model is not in the ARN
    return _PROFILE_PREFIX.sub("", model, count=1)


async def count_tokens(request: NativeMessages, target: Target) -> JSONBody | None:
    """``{"input_tokens": N}`` from CountTokens, or None when this model has no count here."""
    model = count_model(target)
    if model is None:
        return None
    params = {"modelId": model, "input": {"invokeModel": {"body": body(request, count=True)}}}

    def run() -> dict[str, Any]:
        answer: dict[str, Any] = client.client_for(target).count_tokens(**params)
        return answer

    try:
        answer = await asyncio.to_thread(run)
    except Exception as exc:
        mapped = client.map_exception(exc, target, parse_error)
        if isinstance(mapped, UpstreamError) and mapped.upstream_status in NOT_COUNTED:
            return None
        raise mapped from None
    tokens = answer.get("inputTokens")
    counted = {"input_tokens": tokens}
    if not is_count(counted):
        raise http.bad_answer(target, "a token count that is not a number")
    return counted
