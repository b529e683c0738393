"""The chat contract -> the keyword arguments of ``converse`` / ``converse_stream`` (pure: no I/O).

Converse keeps system prompts apart (``system`` blocks), wants strictly alternating turns made of
content blocks, and carries tool results as ``toolResult`` blocks inside a *user* turn. Images
must be sent as bytes: Converse cannot fetch a URL, so only ``data:`` URLs are accepted.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from lambdagate.errors import InvalidRequest
from lambdagate.providers.base import CallContext, map_params
from lambdagate.providers.bedrock.params import HANDLED, PARAMS
from lambdagate.providers.content import text_only
from lambdagate.types import (
    AssistantMessage,
    ChatCompletionRequest,
    DeveloperMessage,
    ImagePart,
    Message,
    NamedToolChoice,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)

PROVIDER_TYPE = "bedrock"

# MIME subtype -> Converse ImageFormat.
_IMAGE_FORMATS = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg", "gif": "gif", "webp": "webp"}


def image_block(url: str, param: str) -> dict[str, Any]:
    """A Converse image block from a ``data:image/...;base64,`` URL."""
    if not url.startswith("data:"):
        raise InvalidRequest(
            "Bedrock Converse cannot fetch image URLs; send the image inline as a base64 data URL "
            "(data:image/png;base64,...).", param=param, code="invalid_image_url",
        )
    header, _, data = url[5:].partition(",")
    mime, _, encoding = header.partition(";")
    kind, _, subtype = mime.partition("/")
    image_format = _IMAGE_FORMATS.get(subtype.lower())
    if kind != "image" or image_format is None or encoding != "base64":
        raise InvalidRequest("Images must be base64 data URLs of type png, jpeg, gif or webp.", param=param,
                             code="invalid_image_url")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("The image data URL is not valid base64.", param=param,
                             code="invalid_image_url") from None
    return {"image": {"format": image_format, "source": {"bytes": raw}}}


def _user_blocks(message: UserMessage, param: str) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"text": message.content}]
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(message.content):
        if isinstance(part, TextPart):
            blocks.append({"text": part.text})
        elif isinstance(part, ImagePart):
            blocks.append(image_block(part.image_url.url, f"{param}.content.{j}.image_url"))
        else:
            raise InvalidRequest(f"Content parts of type '{part.type}' are not supported by Bedrock.",
                                 param=f"{param}.content.{j}")
    return blocks


def _assistant_blocks(message: AssistantMessage, param: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    text = text_only(message.content, param, PROVIDER_TYPE)
    if text:  # Converse rejects blank text blocks
        blocks.append({"text": text})
    for call in message.tool_calls or []:
        try:
            arguments = json.loads(call.function.arguments or "{}")  # the client's arguments, not upstream bytes
        except ValueError:
            raise InvalidRequest("Tool call arguments must be a JSON object.",
                                 param=f"{param}.tool_calls") from None
        if not isinstance(arguments, dict):
            raise InvalidRequest("Tool call arguments must be a JSON object.", param=f"{param}.tool_calls")
        blocks.append({"toolUse": {"toolUseId": call.id, "name": call.function.name, "input": arguments}})
    return blocks


def _tool_result(message: ToolMessage, param: str) -> dict[str, Any]:
    return {"toolResult": {"toolUseId": message.tool_call_id,
                           "content": [{"text": text_only(message.content, param, PROVIDER_TYPE)}]}}


def convert_messages(messages: list[Message]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system, messages)`` for Converse; consecutive turns of one role are merged into one."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        param = f"messages.{i}"
        if isinstance(message, SystemMessage | DeveloperMessage):
            if text := text_only(message.content, param, PROVIDER_TYPE):
                system.append({"text": text})
            continue
        if isinstance(message, UserMessage):
            role, blocks = "user", _user_blocks(message, param)
        elif isinstance(message, AssistantMessage):
            role, blocks = "assistant", _assistant_blocks(message, param)
        elif isinstance(message, ToolMessage):
            # Tool results travel in a user turn; parallel results share one turn.
            role, blocks = "user", [_tool_result(message, param)]
        else:
            raise InvalidRequest("Messages with role 'function' are not supported; use tools and tool messages.",
                                 param=param)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _uses_tools(turns: list[dict[str, Any]]) -> bool:
    return any("toolUse" in block or "toolResult" in block for turn in turns for block in turn["content"])


def tool_config(request: ChatCompletionRequest, turns: list[dict[str, Any]]) -> dict[str, Any] | None:
    """``toolConfig`` from ``tools`` and ``tool_choice``.

    ``none`` has no Converse equivalent, so the tools are left out; but Converse refuses toolUse /
    toolResult blocks without a toolConfig, so when the history has them the tools stay, unforced.
    """
    if not request.tools:
        return None
    choice = request.tool_choice
    if choice == "none" and not _uses_tools(turns):
        return None
    tools = []
    for tool in request.tools:
        spec: dict[str, Any] = {
            "name": tool.function.name,
            "inputSchema": {"json": tool.function.parameters or {"type": "object", "properties": {}}},
        }
        if tool.function.description:
            spec["description"] = tool.function.description
        if tool.function.strict is not None:
            spec["strict"] = tool.function.strict
        tools.append({"toolSpec": spec})
    config: dict[str, Any] = {"tools": tools}
    if choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, NamedToolChoice):
        config["toolChoice"] = {"tool": {"name": choice.function.name}}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        config["toolChoice"] = {"tool": {"name": choice["function"].get("name")}}
    return config


def output_config(request: ChatCompletionRequest) -> dict[str, Any] | None:
    """``outputConfig.textFormat`` for ``response_format: json_schema`` (Converse structured output)."""
    response_format = request.response_format
    if response_format is None or response_format.type != "json_schema":
        return None
    spec = response_format.json_schema or {}
    definition: dict[str, Any] = {"schema": json.dumps(spec.get("schema") or {"type": "object"})}
    if spec.get("name"):
        definition["name"] = spec["name"]
    if spec.get("description"):
        definition["description"] = spec["description"]
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}


def build_params(request: ChatCompletionRequest, model: str, options: Mapping[str, Any],
                 ctx: CallContext) -> dict[str, Any]:
    """The keyword arguments of ``converse`` / ``converse_stream`` for one chat request."""
    params = map_params(request.translated_fields(), PARAMS, ctx, PROVIDER_TYPE, handled=HANDLED)
    system, messages = convert_messages(request.messages)
    params["modelId"] = model
    params["messages"] = messages
    if system:
        params["system"] = system
    if (tools := tool_config(request, messages)) is not None:
        params["toolConfig"] = tools
    if request.response_format is not None and request.response_format.type == "json_object":
        ctx.unsupported("response_format", PROVIDER_TYPE)  # Converse has no schema-less JSON mode
    elif (output := output_config(request)) is not None:
        params["outputConfig"] = output
    if guardrail := options.get("guardrail_config"):
        params["guardrailConfig"] = dict(guardrail)
    return params
