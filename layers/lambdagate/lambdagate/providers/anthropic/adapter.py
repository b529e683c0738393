"""``anthropic``: the Claude Messages API (``POST /v1/messages``), JSON and streamed.

Built against the Claude API reference as of 2026-11-23 (errors re-checked 2026-12-02), API
versions ``2026-10-21`` (default) and ``2023-06-01``; what differs between them is data in
:mod:`.params`. Anthropic has no ``n`` (choices are parallel calls), no logprobs and no text
completions; it has tools, images and documents, and JSON schema output.

Provider/deployment options:

- ``api_version``: the ``anthropic-version`` header (default ``2026-10-21``), which also picks
  the parameter table and the auth header (``Authorization: Bearer`` or ``x-api-key``).
- ``default_max_tokens``: sent when the client gives neither ``max_tokens`` nor
  ``max_completion_tokens`` (Anthropic requires one; default 4096; null makes the client's required).
- ``json_schema_mode``: ``native`` (default) sends ``response_format`` json_schema as
  Anthropic's structured output (``output_config.format``, generally available on current
  models); ``tool`` forces a tool whose input is the answer, for older models. ``json_object``,
  which has no schema, always uses the forced tool.
- ``thinking_mode``: ``adaptive`` (default) maps ``reasoning_effort`` to adaptive thinking plus
  ``output_config.effort``; ``budget`` maps it to extended thinking with ``budget_tokens``.
- ``anthropic_beta``: value(s) of the ``anthropic-beta`` header.

The Messages front door (``/v1/messages``, ``/v1/messages/count_tokens``) is not translated: its
requests are forwarded as the client's bytes (``native_doors``, :mod:`.native`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, ClassVar

from lambdagate.providers import http
from lambdagate.providers.anthropic import native, response
from lambdagate.providers.anthropic.params import PARAMS, ApiVersion, api_version
from lambdagate.providers.anthropic.request import build_body
from lambdagate.providers.anthropic.stream import StreamTranslator
from lambdagate.providers.base import CallContext, Capabilities, ParamTable, Target
from lambdagate.providers.http_provider import HTTPProvider, UpstreamCall
from lambdagate.types import BaseRequest, ChatCompletionRequest
from lambdagate.wire import JSONBody

if TYPE_CHECKING:
    from lambdagate.frontdoors.messages.passthrough import NativeMessages

DEFAULT_API_BASE = "https://api.anthropic.com"
TOOL_STATE = "response_tool"
"""The :attr:`UpstreamCall.state` key of the forced JSON tool's name (None when there is none)."""


class AnthropicProvider(HTTPProvider):
    type_name = "anthropic"
    capabilities: ClassVar[Capabilities] = Capabilities(tools=True, images=True, json_schema=True,
                                                        upstream_api="messages",
                                                        native_doors=frozenset({"messages", "count_tokens"}))
    params: ClassVar[ParamTable] = PARAMS

    def url(self, target: Target) -> str:
        base = (target.config.api_base or DEFAULT_API_BASE).rstrip("/")
        return base + ("/messages" if base.endswith("/v1") else "/v1/messages")

    def headers(self, target: Target, version: ApiVersion) -> dict[str, str]:
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

    def prepare(self, request: BaseRequest, target: Target, ctx: CallContext, *, stream: bool) -> UpstreamCall:
        if not isinstance(request, ChatCompletionRequest):
            # capabilities.text_completions is false: dispatch answers /v1/completions through chat.
            raise TypeError("the anthropic adapter takes chat requests only")
        version = api_version(target.option("api_version"))
        body, response_tool = build_body(request, target.model, version, target.options, ctx, stream=stream)
        return UpstreamCall(
            url=self.url(target), body=body, headers=self.headers(target, version),
            parse_error=response.parse_error, error_event=response.is_error_event,
            error_in_body=response.is_error_body, state={TOOL_STATE: response_tool},
        )

    def respond(self, reply: http.Reply, call: UpstreamCall, target: Target) -> JSONBody:
        return response.chat_completion(reply.value, target.model, call.state[TOOL_STATE], target)

    def translator(self, request: BaseRequest, call: UpstreamCall, target: Target) -> StreamTranslator:
        return StreamTranslator(target, call.state[TOOL_STATE], request.wants_usage_chunk)

    # --- the Messages API, forwarded (the Messages front door's passthrough: :mod:`.native`) -------

    async def messages(self, request: NativeMessages, target: Target, ctx: CallContext) -> JSONBody:
        return await native.messages(self, request, target)

    def messages_stream(self, request: NativeMessages, target: Target, ctx: CallContext) -> AsyncIterator[JSONBody]:
        return native.messages_stream(self, request, target)

    async def count_tokens(self, request: NativeMessages, target: Target, ctx: CallContext) -> JSONBody | None:
        return await native.count_tokens(self, request, target)
