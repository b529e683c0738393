"""Bedrock Runtime's OpenAI-compatible API: OpenAI's models on Bedrock (gpt-oss, gpt-5.x), signed with the role.

Built against the Amazon Bedrock user guide (read 2026-12): "Invoke a model with the OpenAI Chat
Completions API" and "Responses API" (``https://bedrock-runtime.{region}.amazonaws.com/openai/v1``
with ``/chat/completions`` and ``/responses``; authentication with AWS credentials, SigV4 signed
for the service ``bedrock``, or a Bedrock API key as a Bearer token), and "Data retention" (on the
Responses API ``store`` defaults to true, so the gateway sends ``store: false`` unless the client
set it). Models served on another route (some are on ``/v1``, the Mantle endpoint
``https://bedrock-mantle.{region}.api.aws/v1`` signs for ``bedrock-mantle``) are reached with
``endpoint_url`` naming that base.

Selected on a ``bedrock`` provider or deployment with the option ``api``: ``openai`` (chat
completions, and the Responses API where the model needs it, as ``api: auto`` does for the
``openai`` type), ``openai-chat`` (chat completions only) or ``openai-responses`` (every chat
request through the Responses API). Everything else is the OpenAI type's: the request goes as
sent, the answer and each event come back as the upstream's bytes, the Responses front door is
forwarded (``native_responses: false`` translates it through chat instead, for a model with no
Responses API on this endpoint), and the bridge of :mod:`lambdagate.providers.openai.responses_api`
is the same. The SigV4 signature is computed for each request over the exact bytes sent.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

from lambdagate.errors import ProviderNotConfigured
from lambdagate.providers import http
from lambdagate.providers.base import CallContext, Capabilities, Target, translate_stream
from lambdagate.providers.bedrock import sigv4
from lambdagate.providers.bedrock.client import region_of
from lambdagate.providers.bedrock.response import _CONTEXT_PHRASES
from lambdagate.providers.http_provider import UpstreamCall
from lambdagate.providers.openai import responses
from lambdagate.providers.openai.adapter import OpenAIProvider
from lambdagate.types import BaseRequest, ChatCompletionRequest
from lambdagate.wire import JSONBody, RawJSON

OPENAI_PATH = "/openai/v1"
CHAT_APIS = {"openai": "auto", "openai-chat": "chat", "openai-responses": "responses"}
"""The bedrock ``api`` option -> the OpenAI type's ``api`` for chat requests."""


def uses_openai(target: Target) -> bool:
    return str(target.option("api") or "").startswith("openai")


def base_url(target: Target) -> str:
    """``endpoint_url`` (or ``api_base``) when set, ``/openai/v1`` added to a bare host; else the region's."""
    explicit = target.option("endpoint_url") or target.config.api_base
    if explicit:
        base = str(explicit).rstrip("/")
        return base if urlsplit(base).path else base + OPENAI_PATH
    region = region_of(target)
    if not region:
        raise ProviderNotConfigured(
            f"The provider '{target.provider_name}' has no AWS region: set its 'region' option or AWS_REGION."
        )
    return f"https://bedrock-runtime.{region}.amazonaws.com{OPENAI_PATH}"


def signing_region(target: Target, url: str) -> str:
    if region := region_of(target):
        return region
    host = (urlsplit(url).hostname or "").split(".")
    if len(host) > 2 and host[0] in ("bedrock-runtime", "bedrock-mantle"):
        return host[1]
    raise ProviderNotConfigured(
        f"The provider '{target.provider_name}' has no AWS region: set its 'region' option or AWS_REGION."
    )


def parse_error(body: Any) -> http.ErrorInfo:
    """OpenAI's error shape (or AWS's ``{"message"}``); a prompt over the context window gets OpenAI's code."""
    info = http.openai_error(body)
    if info.code in (None, "ValidationException", "validation_error", "invalid_request_error") and info.message \
            and any(phrase in info.message.lower() for phrase in _CONTEXT_PHRASES):
        return http.ErrorInfo(info.message, http.CONTEXT_LENGTH_EXCEEDED, info.param)
    return info


class BedrockOpenAIProvider(OpenAIProvider):
    """The OpenAI type on Bedrock's endpoint: its URL, SigV4 (or a Bedrock API key) and ``store: false``."""

    type_name = "bedrock"
    capabilities: ClassVar[Capabilities] = Capabilities(
        tools=True, images=True, json_schema=True, embeddings=True, native_doors=frozenset({"responses"}),
    )
    """No ``n`` or logprobs documented for this endpoint (``n`` choices are parallel calls), and no text
    completions (answered through chat); embeddings stay Bedrock's own (Titan, Cohere)."""

    def chat_api(self, target: Target) -> str:
        return CHAT_APIS.get(str(target.option("api")), "auto")

    def parse_error(self, body: Any) -> http.ErrorInfo:
        return parse_error(body)

    def url(self, target: Target, path: str) -> str:
        return base_url(target) + path

    def headers(self, target: Target) -> dict[str, str]:
        """The configured headers, and the Bedrock API key as a Bearer token when one is set."""
        return http.bearer_headers(target)

    def sign(self, target: Target, url: str, body: Any) -> tuple[RawJSON, dict[str, str]]:
        """The body as the bytes to send, and its headers: signed over those bytes unless a key is set."""
        data = http.encode(body)
        headers = self.headers(target)
        if not target.api_key:
            headers.update(sigv4.headers(target, url, data, signing_region(target, url),
                                         service=sigv4.service_for(url, target)))
        return RawJSON(data), headers

    def _signed(self, call: UpstreamCall, target: Target) -> UpstreamCall:
        call.body, call.headers = self.sign(target, call.url, call.body)
        return call

    def prepare(self, request: BaseRequest, target: Target, ctx: CallContext, *, stream: bool) -> UpstreamCall:
        return self._signed(super().prepare(request, target, ctx, stream=stream), target)

    def prepare_responses(self, request: ChatCompletionRequest, target: Target, ctx: CallContext, *, stream: bool,
                          encrypted_reasoning: bool) -> UpstreamCall:
        call = super().prepare_responses(request, target, ctx, stream=stream, encrypted_reasoning=encrypted_reasoning)
        return self._signed(call, target)

    # Credentials are made ready (resolved or refreshed in a thread) before each call is prepared and signed.

    async def chat(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        await self._ready(target)
        return await super().chat(request, target, ctx)

    def chat_stream(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> AsyncIterator[JSONBody]:
        return self._after_ready(target, lambda: super(BedrockOpenAIProvider, self).chat_stream(request, target, ctx))

    async def responses(self, fields: dict[str, Any], target: Target, ctx: CallContext) -> JSONBody:
        await self._ready(target)
        url = self.responses_url(target)
        fields = _stateless(responses.build_body(fields, self.model(target), stream=False))
        body, headers = self.sign(target, url, fields)
        reply = await http.request_json(target, url, body, headers, parse_error=self.parse_error,
                                        error_in_body=responses.has_error)
        return responses.response(reply, target)

    def responses_stream(self, fields: dict[str, Any], target: Target, ctx: CallContext) -> AsyncIterator[JSONBody]:
        def open_stream() -> AsyncIterator[JSONBody]:
            url = self.responses_url(target)
            sent = _stateless(responses.build_body(fields, self.model(target), stream=True))
            body, headers = self.sign(target, url, sent)
            events = http.read_sse(target, url, body, headers, parse_error=self.parse_error,
                                   error_event=responses.is_error_event)
            return translate_stream(events, responses.PassthroughEvents(target))

        return self._after_ready(target, open_stream)

    async def _ready(self, target: Target) -> None:
        if not target.api_key:
            await sigv4.ready()

    async def _after_ready(self, target: Target, open_stream: Any) -> AsyncGenerator[JSONBody, None]:
        await self._ready(target)
        stream = open_stream()
        try:
            async for chunk in stream:
                yield chunk
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()


def _stateless(body: dict[str, Any]) -> dict[str, Any]:
    """Bedrock stores responses unless told not to; the gateway does not ask it to, unless the client did."""
    body.setdefault("store", False)
    return body


PROVIDER = BedrockOpenAIProvider()

__all__ = ["CHAT_APIS", "PROVIDER", "BedrockOpenAIProvider", "base_url", "parse_error", "uses_openai"]
