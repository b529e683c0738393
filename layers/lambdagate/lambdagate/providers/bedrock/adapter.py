"""AWS Bedrock through the Converse and ConverseStream APIs, one request shape for every model.

Built against the Bedrock Runtime API 2023-09-30 as shipped in botocore 1.44 (November 2026) and
the Converse / ConverseStream reference (docs.aws.amazon.com/bedrock/latest/APIReference). No key:
boto3 signs with the function's IAM role. Options (provider or deployment): ``region`` (default
AWS_REGION / AWS_DEFAULT_REGION), ``endpoint_url`` (or ``api_base``: VPC endpoints, tests),
``guardrail_config`` (Converse ``guardrailConfig``: identifier, version, trace).

Sampling goes to ``inferenceConfig``; ``top_k`` (sent by clients as an extra field) goes to
``additionalModelRequestFields.top_k``, the name Anthropic, Mistral and Cohere models on Bedrock
read. ``response_format: json_schema`` uses Converse structured output; ``json_object`` has no
Converse form and is dropped or refused like any unsupported parameter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

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
from lambdagate.providers.bedrock import client, request, response
from lambdagate.types import ChatCompletionRequest


def _stop_sequences(value: Any) -> Any:
    stops = [value] if isinstance(value, str) else [s for s in value if s]
    return stops or UNSET


def _service_tier(value: Any) -> Any:
    # OpenAI's "auto" and "scale" have no Bedrock tier: leave the choice to Bedrock.
    return {"type": value} if value in ("default", "flex", "priority") else UNSET


CHAT_PARAMS: ParamTable = {
    "max_tokens": Param("inferenceConfig.maxTokens"),
    "max_completion_tokens": Param("inferenceConfig.maxTokens"),
    "temperature": Param("inferenceConfig.temperature", max=1),
    "top_p": Param("inferenceConfig.topP"),
    "stop": Param("inferenceConfig.stopSequences", transform=_stop_sequences),
    "top_k": Param("additionalModelRequestFields.top_k"),
    "metadata": Param("requestMetadata"),
    "service_tier": Param("serviceTier", transform=_service_tier),
}

_HANDLED = ALWAYS_HANDLED | {"tools", "tool_choice", "response_format"}


class BedrockProvider(Provider):
    type_name = "bedrock"
    chat_params: ClassVar[ParamTable] = CHAT_PARAMS

    def params(self, chat: ChatCompletionRequest, target: Target, ctx: CallContext) -> dict[str, Any]:
        """The keyword arguments of ``converse`` / ``converse_stream``."""
        params = map_params(chat.sent_fields(), self.chat_params, ctx, self.type_name, handled=_HANDLED)
        system, messages = request.convert_messages(chat.messages)
        params["modelId"] = target.model
        params["messages"] = messages
        if system:
            params["system"] = system
        if (tools := request.tool_config(chat, messages)) is not None:
            params["toolConfig"] = tools
        if chat.response_format is not None and chat.response_format.type == "json_object":
            ctx.unsupported("response_format", self.type_name)
        elif (output := request.output_config(chat)) is not None:
            params["outputConfig"] = output
        if guardrail := target.option("guardrail_config"):
            params["guardrailConfig"] = dict(guardrail)
        return params

    async def chat(self, chat: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        result = await client.call(target, "converse", self.params(chat, target, ctx))
        return response.chat_completion(result, target.model)

    async def chat_stream(
        self, chat: ChatCompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        translator = response.StreamTranslator(target.model, include_usage=chat.wants_usage_chunk)
        events = client.stream(target, self.params(chat, target, ctx))
        try:
            async for event in events:
                for chunk in translator.feed(event):
                    yield chunk
        finally:
            await events.aclose()  # type: ignore[attr-defined]
