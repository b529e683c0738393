"""``anthropic``: the Claude Messages API (``POST /v1/messages``), JSON and streamed.

Built against the Claude API reference as of 2026-11-23, API versions ``2026-10-21`` (default)
and ``2023-06-01``; what differs between them is data in :mod:`.params`.

Provider/deployment options:

- ``api_version``: the ``anthropic-version`` header (default ``2026-10-21``), which also picks
  the parameter table and the auth header (``Authorization: Bearer`` or ``x-api-key``).
- ``default_max_tokens``: sent when the client gives neither ``max_tokens`` nor
  ``max_completion_tokens`` (Anthropic requires one; default 4096).
- ``json_schema_mode``: ``native`` (default) sends ``response_format`` json_schema as
  Anthropic's structured output (``output_config.format``, generally available on current
  models); ``tool`` forces a tool whose input is the answer, for older models. ``json_object``,
  which has no schema, always uses the forced tool.
- ``thinking_mode``: ``adaptive`` (default) maps ``reasoning_effort`` to adaptive thinking plus
  ``output_config.effort``; ``budget`` maps it to extended thinking with ``budget_tokens``.
- ``anthropic_beta``: value(s) of the ``anthropic-beta`` header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar

from lambdagate.errors import InvalidRequest
from lambdagate.providers import http
from lambdagate.providers.anthropic import messages, params, response
from lambdagate.providers.anthropic.stream import StreamTranslator
from lambdagate.providers.base import CallContext, JSONBody, ParamTable, Provider, Target, map_params
from lambdagate.types import ChatCompletionRequest

DEFAULT_API_BASE = "https://api.anthropic.com"


@dataclass(frozen=True, slots=True)
class _Call:
    body: dict[str, Any]
    headers: dict[str, str]
    response_tool: str | None
    """Name of the forced JSON tool when the answer comes as its input, else None."""


class AnthropicProvider(Provider):
    type_name = "anthropic"
    chat_params: ClassVar[ParamTable] = params.VERSIONS[params.DEFAULT_API_VERSION].params

    def url(self, target: Target) -> str:
        base = (target.config.api_base or DEFAULT_API_BASE).rstrip("/")
        return base + ("/messages" if base.endswith("/v1") else "/v1/messages")

    def headers(self, target: Target, version: params.ApiVersion) -> dict[str, str]:
        headers = {"anthropic-version": version.name}
        if target.api_key:
            if version.auth == "bearer":
                headers["authorization"] = f"Bearer {target.api_key}"
            else:
                headers["x-api-key"] = target.api_key
        if beta := target.option("anthropic_beta"):
            headers["anthropic-beta"] = beta if isinstance(beta, str) else ",".join(beta)
        # Headers configured on the provider win (a proxy in front of Anthropic may want its own auth).
        return {**headers, **target.config.headers}

    def prepare(self, request: ChatCompletionRequest, target: Target, ctx: CallContext, *, stream: bool) -> _Call:
        version = params.api_version(target.option("api_version"))
        fields = request.sent_fields()
        mapped = map_params(fields, version.params, ctx, self.type_name, handled=params.HANDLED)
        system, turns = messages.convert(request.messages, version, ctx)
        body: dict[str, Any] = {"model": target.model}
        if system:
            body["system"] = system
        body["messages"] = turns
        body.update(mapped)
        if "max_tokens" not in body:
            body["max_tokens"] = int(target.option("default_max_tokens", params.DEFAULT_MAX_TOKENS))
        response_tool = _response_format(body, fields.get("response_format"), target)
        _reasoning(body, fields.get("reasoning_effort"), target)
        _settle_tool_choice(body)
        if stream:
            body["stream"] = True
        return _Call(body, self.headers(target, version), response_tool)

    async def chat(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        call = self.prepare(request, target, ctx, stream=False)
        content = await http.post(target, self.url(target), call.body, call.headers, parse_error=response.parse_error)
        return response.chat_completion(http.parse_json(content, target), target.model, call.response_tool)

    async def chat_stream(
        self, request: ChatCompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        call = self.prepare(request, target, ctx, stream=True)
        translator = StreamTranslator(target, call.response_tool, request.wants_usage_chunk)
        async with http.stream(
            target, self.url(target), call.body, call.headers, parse_error=response.parse_error
        ) as upstream:
            async for event, data in http.sse_events(upstream, target):
                for chunk in translator.feed(event, data):
                    yield chunk
                if translator.finished:
                    return
        if translator.stop_reason is None:
            raise translator.ended_early()
        for chunk in translator.finish():
            yield chunk


def _response_format(body: dict[str, Any], value: dict[str, Any] | None, target: Target) -> str | None:
    """Structured output natively, or through a forced tool; returns that tool's name if used."""
    kind = (value or {}).get("type", "text")
    if kind == "text":
        return None
    if kind == "json_schema":
        spec = (value or {}).get("json_schema") or {}
        schema = spec.get("schema")
        if not isinstance(schema, dict):
            raise InvalidRequest("response_format.json_schema.schema is required.", param="response_format")
        if target.option("json_schema_mode", "native") == "native":
            body.setdefault("output_config", {})["format"] = {"type": "json_schema", "schema": schema}
            return None
    elif kind == "json_object":
        schema = {"type": "object"}
    else:
        raise InvalidRequest(f"Invalid response_format type '{kind}'.", param="response_format")
    tool = {"name": params.RESPONSE_TOOL, "description": "Answer with a JSON object.", "input_schema": schema}
    if body.get("tools"):
        # The client's own tools stay callable; the model answers through either.
        body["tools"].append(tool)
    else:
        body["tools"] = [tool]
        body["tool_choice"] = {"type": "tool", "name": params.RESPONSE_TOOL}
    return params.RESPONSE_TOOL


def _reasoning(body: dict[str, Any], effort: str | None, target: Target) -> None:
    """``reasoning_effort`` -> thinking; an explicit Anthropic ``thinking`` from the client wins."""
    if effort is None or effort == "none" or "thinking" in body:
        return
    if effort not in params.EFFORT_LEVEL:
        raise InvalidRequest(f"Invalid reasoning_effort '{effort}'.", param="reasoning_effort")
    if target.option("thinking_mode", "adaptive") == "budget":
        budget = min(params.THINKING_BUDGET[effort], body["max_tokens"] - 1)
        if budget >= params.MIN_THINKING_BUDGET:  # below Anthropic's minimum: answer without thinking
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        return
    body["thinking"] = {"type": "adaptive"}
    body.setdefault("output_config", {})["effort"] = params.EFFORT_LEVEL[effort]


def _settle_tool_choice(body: dict[str, Any]) -> None:
    """Anthropic refuses a tool_choice without tools, and one without its ``type``."""
    choice = body.get("tool_choice")
    if choice is None:
        return
    if not body.get("tools"):
        del body["tool_choice"]
        return
    choice.setdefault("type", "auto")
    if choice["type"] == "none":
        choice.pop("disable_parallel_tool_use", None)
