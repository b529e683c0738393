"""The Converse parameter table: sampling in ``inferenceConfig``, the rest in Converse's own fields.

``top_k`` (sent by clients as an extra field) goes to ``additionalModelRequestFields.top_k``, the
name Anthropic, Mistral and Cohere models on Bedrock read. Tools, ``tool_choice`` and
``response_format`` become Converse structures of their own and are translated in :mod:`.request`.
"""

from __future__ import annotations

from typing import Any

from lambdagate.providers.base import ALWAYS_HANDLED, UNSET, Param, ParamTable
from lambdagate.providers.transforms import stop_sequences


def _service_tier(value: Any) -> Any:
    # OpenAI's "auto" and "scale" have no Bedrock tier: leave the choice to Bedrock.
    return {"type": value} if value in ("default", "flex", "priority") else UNSET


PARAMS: ParamTable = {
    "max_tokens": Param("inferenceConfig.maxTokens"),
    "temperature": Param("inferenceConfig.temperature", max=1),
    "top_p": Param("inferenceConfig.topP"),
    "stop": Param("inferenceConfig.stopSequences", transform=stop_sequences),
    "top_k": Param("additionalModelRequestFields.top_k"),
    "metadata": Param("requestMetadata"),
    "service_tier": Param("serviceTier", transform=_service_tier),
}

HANDLED = ALWAYS_HANDLED | {"tools", "tool_choice", "response_format"}
"""Parameters :mod:`.request` translates itself."""
