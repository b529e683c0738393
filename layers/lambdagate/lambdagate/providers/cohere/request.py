"""The request transform: an OpenAI chat request -> a Cohere v2 ``POST /v2/chat`` body.

v2 is close to OpenAI's shape: roles system/user/assistant/tool, ``tool_call_id`` on tool
messages, OpenAI-style function tools. The differences handled here: an assistant turn that calls
tools carries its accompanying text as ``tool_plan``; ``tool_choice`` is only ``REQUIRED`` or
``NONE``, so a named choice becomes ``REQUIRED`` with the tool list narrowed to that one tool.
"""

from __future__ import annotations

from typing import Any

from lambdagate.errors import InvalidRequest
from lambdagate.providers.base import CallContext, map_params
from lambdagate.providers.cohere.params import HANDLED, PARAMS
from lambdagate.providers.content import text_and_image_parts, text_only
from lambdagate.types import (
    AssistantMessage,
    ChatCompletionRequest,
    DeveloperMessage,
    Message,
    NamedToolChoice,
    SystemMessage,
    ToolMessage,
    UserMessage,
)

PROVIDER_TYPE = "cohere"


def build_body(request: ChatCompletionRequest, model: str, ctx: CallContext, *, stream: bool) -> dict[str, Any]:
    """The whole upstream body; parameters Cohere cannot take are dropped or refused (``ctx``)."""
    mapped = map_params(request.translated_fields(), PARAMS, ctx, PROVIDER_TYPE, handled=HANDLED)
    return {
        "model": model,
        "messages": convert_messages(request.messages),
        **tool_fields(request),
        **mapped,
        "stream": stream,
    }


def _assistant(message: AssistantMessage, param: str) -> dict[str, Any]:
    text = text_only(message.content, param, "cohere")
    converted: dict[str, Any] = {"role": "assistant"}
    if message.tool_calls:
        converted["tool_calls"] = [
            {"id": call.id, "type": "function",
             "function": {"name": call.function.name, "arguments": call.function.arguments}}
            for call in message.tool_calls
        ]
        # Cohere returns its reasoning before tool calls as tool_plan (surfaced as reasoning_content).
        if plan := message.reasoning_content or text:
            converted["tool_plan"] = plan
    elif text:
        converted["content"] = text
    return converted


def convert_messages(messages: list[Message]) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        param = f"messages.{i}"
        if isinstance(message, SystemMessage | DeveloperMessage):
            converted.append({"role": "system", "content": text_only(message.content, param, "cohere")})
        elif isinstance(message, UserMessage):
            converted.append({"role": "user", "content": text_and_image_parts(message.content, param, "cohere")})
        elif isinstance(message, AssistantMessage):
            converted.append(_assistant(message, param))
        elif isinstance(message, ToolMessage):
            converted.append({"role": "tool", "tool_call_id": message.tool_call_id,
                              "content": text_only(message.content, param, "cohere")})
        else:
            raise InvalidRequest("Messages with role 'function' are not supported; use tools and tool messages.",
                                 param=param)
    return converted


def tool_fields(request: ChatCompletionRequest) -> dict[str, Any]:
    """``tools``, ``tool_choice`` and ``strict_tools`` for the request body."""
    if not request.tools:
        return {}
    choice = request.tool_choice
    named = choice.function.name if isinstance(choice, NamedToolChoice) else None
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        named = choice["function"].get("name")
    tools = [tool for tool in request.tools if named is None or tool.function.name == named]
    if named is not None and not tools:
        raise InvalidRequest(f"tool_choice names '{named}', which is not in tools.", param="tool_choice")
    fields: dict[str, Any] = {"tools": [
        {"type": "function", "function": {
            "name": tool.function.name,
            **({"description": tool.function.description} if tool.function.description else {}),
            "parameters": tool.function.parameters or {"type": "object", "properties": {}},
        }}
        for tool in tools
    ]}
    if choice == "required" or named is not None:
        fields["tool_choice"] = "REQUIRED"
    elif choice == "none":
        fields["tool_choice"] = "NONE"
    if any(tool.function.strict for tool in tools):
        fields["strict_tools"] = True
    return fields
