"""``bedrock``: AWS Bedrock through the Converse and ConverseStream APIs, one request shape for every model.

Built against the Bedrock Runtime API 2023-09-30 as shipped in botocore 1.44 (November 2026) and
the Converse / ConverseStream reference (docs.aws.amazon.com/bedrock/latest/APIReference; errors
re-checked 2026-12-02). No key: boto3 signs with the function's IAM role, and :mod:`.client`
(not :mod:`lambdagate.providers.http`) is the upstream I/O. Options (provider or deployment):
``region`` (default AWS_REGION / AWS_DEFAULT_REGION), ``endpoint_url`` (or ``api_base``: VPC
endpoints, tests), ``guardrail_config`` (Converse ``guardrailConfig``: identifier, version, trace),
``api`` (``openai``, ``openai-chat``, ``openai-responses``: OpenAI's models through Bedrock Runtime's
OpenAI-compatible endpoint instead of Converse, :mod:`.openai_api`).

Converse has no ``n`` (choices are parallel calls) and no logprobs; it has tools, images (inline
bytes) and structured output for ``response_format: json_schema``. ``json_object`` has no
Converse form and is dropped or refused like any unsupported parameter.

Claude deployments also speak the Messages front door (``/v1/messages``, ``count_tokens``) natively:
its requests go through InvokeModel as Anthropic's own body (:mod:`.messages`), not through Converse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from lambdagate.embedding_types import EmbeddingRequest
from lambdagate.errors import ProviderNotConfigured
from lambdagate.providers.base import CallContext, Capabilities, ParamTable, Provider, Target
from lambdagate.providers.bedrock import client, response
from lambdagate.providers.bedrock.params import PARAMS
from lambdagate.providers.bedrock.request import build_params
from lambdagate.providers.bedrock.stream import StreamTranslator
from lambdagate.types import ChatCompletionRequest
from lambdagate.wire import JSONBody

if TYPE_CHECKING:
    from lambdagate.frontdoors.messages.passthrough import NativeMessages
    from lambdagate.providers.bedrock.openai_api import BedrockOpenAIProvider


class BedrockProvider(Provider):
    type_name = "bedrock"
    capabilities: ClassVar[Capabilities] = Capabilities(tools=True, images=True, json_schema=True, embeddings=True,
                                                        upstream_api="converse")
    params: ClassVar[ParamTable] = PARAMS

    def capabilities_for(self, target: Target) -> Capabilities:
        """Claude deployments also speak the Messages front door natively (:mod:`.messages`)."""
        from lambdagate.providers.bedrock import messages

        if (openai := _openai_api(target)) is not None:
            return openai.capabilities_for(target)
        if messages.speaks_messages(target):
            return replace(self.capabilities, native_doors=frozenset({"messages", "count_tokens"}))
        return self.capabilities

    def prepare(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> dict[str, Any]:
        """The keyword arguments of ``converse`` / ``converse_stream``."""
        return build_params(request, target.model, target.options, ctx)

    async def embed(self, request: EmbeddingRequest, target: Target, ctx: CallContext) -> JSONBody:
        """Titan Text Embeddings v2 or Cohere Embed through InvokeModel (:mod:`.embeddings`)."""
        from lambdagate.providers.bedrock import embeddings

        return await embeddings.embed(request, target, ctx)

    async def chat(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        if (openai := _openai_api(target)) is not None:
            return await openai.chat(request, target, ctx)
        result = await client.call(target, "converse", self.prepare(request, target, ctx),
                                   parse_error=response.parse_error)
        return response.chat_completion(result, target)

    def chat_stream(
        self, request: ChatCompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        if (openai := _openai_api(target)) is not None:
            return openai.chat_stream(request, target, ctx)
        params = self.prepare(request, target, ctx)
        translator = StreamTranslator(target, include_usage=request.wants_usage_chunk)
        return client.relay(target, params, translator, parse_error=response.parse_error)

    # --- OpenAI's Responses API on Bedrock's OpenAI endpoint (the Responses front door's passthrough) ---

    async def responses(self, fields: dict[str, Any], target: Target, ctx: CallContext) -> JSONBody:
        return await _openai_endpoint(target).responses(fields, target, ctx)

    def responses_stream(self, fields: dict[str, Any], target: Target, ctx: CallContext) -> AsyncIterator[JSONBody]:
        return _openai_endpoint(target).responses_stream(fields, target, ctx)

    # --- Claude's Messages API through InvokeModel (the Messages front door's passthrough) --------

    async def messages(self, request: NativeMessages, target: Target, ctx: CallContext) -> JSONBody:
        from lambdagate.providers.bedrock import messages

        return await messages.invoke(request, target)

    def messages_stream(self, request: NativeMessages, target: Target, ctx: CallContext) -> AsyncIterator[JSONBody]:
        from lambdagate.providers.bedrock import messages

        return messages.invoke_stream(request, target)

    async def count_tokens(self, request: NativeMessages, target: Target, ctx: CallContext) -> JSONBody | None:
        from lambdagate.providers.bedrock import messages

        return await messages.count_tokens(request, target)


def _openai_api(target: Target) -> BedrockOpenAIProvider | None:
    """The OpenAI-compatible endpoint's adapter when the target selects it (``api: openai``, :mod:`.openai_api`)."""
    from lambdagate.providers.bedrock import openai_api

    return openai_api.PROVIDER if openai_api.uses_openai(target) else None


def _openai_endpoint(target: Target) -> BedrockOpenAIProvider:
    if (openai := _openai_api(target)) is None:
        raise ProviderNotConfigured(f"The Responses API on Bedrock needs the option 'api: openai' (route "
                                    f"'{target.alias}').")
    return openai
