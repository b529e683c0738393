"""The chat contract -> an Anthropic Messages request body (pure: no I/O).

Anthropic keeps system text out of the conversation, wants user and assistant turns to alternate
(consecutive messages of one role are merged into one turn), carries tool calls as ``tool_use``
blocks in the assistant turn and tool results as ``tool_result`` blocks in the next user turn
(several results of one round in one user message, before any text), and rejects empty text
blocks. Images come as base64 or URL sources, PDFs as document blocks.

Most fields go through the version's table (:mod:`.params`); ``response_format`` and
``reasoning_effort`` become several Anthropic fields each and are translated here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lambdagate.errors import InvalidRequest
from lambdagate.providers.anthropic import params
from lambdagate.providers.anthropic.params import ApiVersion
from lambdagate.providers.base import CallContext, map_params
from lambdagate.types import (
    AssistantMessage,
    AudioPart,
    ChatCompletionRequest,
    ContentPart,
    FilePart,
    ImagePart,
    Message,
    RefusalPart,
    TextPart,
    ToolMessage,
)

PROVIDER_TYPE = "anthropic"

_DATA_URL = re.compile(r"^data:(?P<media>[\w.+-]+/[\w.+-]+)(?:;[\w-]+=[^;,]*)*;base64,(?P<data>.*)$", re.DOTALL)
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
ASSISTANT_DOCUMENT_PARAM = "messages.assistant.content.file"
"""The name under which a document in an assistant message is reported when a version refuses it."""

Block = dict[str, Any]


def _text(text: str) -> list[Block]:
    return [{"type": "text", "text": text}] if text else []


def _image(url: str) -> Block:
    if match := _DATA_URL.match(url):
        media = match["media"].lower()
        if media not in _IMAGE_TYPES:
            raise InvalidRequest(f"Image type '{media}' is not supported by the 'anthropic' provider "
                                 "(use JPEG, PNG, GIF or WebP).", param="messages")
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": match["data"]}}
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise InvalidRequest("An image_url must be an https URL or a base64 data URL.", param="messages")


def _document(file: dict[str, Any]) -> Block:
    data = file.get("file_data")
    match = _DATA_URL.match(data) if isinstance(data, str) else None
    if match is None or match["media"].lower() != "application/pdf":
        # An OpenAI file_id names a file stored at OpenAI; Anthropic cannot read it.
        raise InvalidRequest("The 'anthropic' provider takes files as base64 PDF data URLs in file_data.",
                             param="messages")
    block: Block = {"type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": match["data"]}}
    if file.get("filename"):
        block["title"] = file["filename"]
    return block


def _parts(content: str | list[ContentPart] | None) -> list[Block]:
    if content is None:
        return []
    if isinstance(content, str):
        return _text(content)
    blocks: list[Block] = []
    for part in content:
        if isinstance(part, TextPart):
            blocks += _text(part.text)
        elif isinstance(part, ImagePart):
            blocks.append(_image(part.image_url.url))
        elif isinstance(part, FilePart):
            blocks.append(_document(part.file))
        elif isinstance(part, RefusalPart):
            blocks += _text(part.refusal)
        elif isinstance(part, AudioPart):
            raise InvalidRequest("Audio input is not supported by the 'anthropic' provider.", param="messages")
    return blocks


def _plain_text(content: str | list[ContentPart] | None) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    return "\n".join(part.text for part in content if isinstance(part, TextPart))


def _tool_use(call_id: str, name: str, arguments: str) -> Block:
    try:
        value = json.loads(arguments) if arguments.strip() else {}  # the client's arguments, not upstream bytes
    except ValueError:
        raise InvalidRequest(f"The arguments of tool call '{call_id}' are not valid JSON.",
                             param="messages") from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"The arguments of tool call '{call_id}' must be a JSON object.", param="messages")
    return {"type": "tool_use", "id": call_id, "name": name, "input": value}


def _assistant(message: AssistantMessage, version: ApiVersion, ctx: CallContext) -> list[Block]:
    blocks: list[Block] = []
    for block in _parts(message.content):
        if block["type"] == "document" and not version.assistant_documents:
            ctx.unsupported(ASSISTANT_DOCUMENT_PARAM, PROVIDER_TYPE)
            continue
        blocks.append(block)
    # reasoning_content is not sent back: Anthropic only accepts thinking blocks with the
    # signature it issued, which an OpenAI-shaped history does not carry.
    blocks += [_tool_use(call.id, call.function.name, call.function.arguments) for call in message.tool_calls or []]
    return blocks


def _tool_result(message: ToolMessage) -> Block:
    content: str | list[Block] = (
        message.content if isinstance(message.content, str) else _parts(message.content)
    )
    return {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": content}


def convert(messages: list[Message], version: ApiVersion, ctx: CallContext) -> tuple[str | None, list[Block]]:
    """The ``system`` text (None when there is none) and the alternating Anthropic turns."""
    system: list[str] = []
    turns: list[tuple[str, list[Block]]] = []
    for message in messages:
        if message.role in ("system", "developer"):
            if text := _plain_text(message.content):
                system.append(text)
            continue
        if isinstance(message, AssistantMessage):
            role, blocks = "assistant", _assistant(message, version, ctx)
        elif isinstance(message, ToolMessage):
            role, blocks = "user", [_tool_result(message)]
        elif message.role == "user":
            role, blocks = "user", _parts(message.content)
        else:
            raise InvalidRequest("Function messages are not supported by the 'anthropic' provider; "
                                 "use tool messages.", param="messages")
        if not blocks:
            if role == "assistant":
                continue
            blocks = [{"type": "text", "text": ""}]  # let the provider report the empty message
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    return ("\n\n".join(system) or None), [_turn(role, blocks) for role, blocks in turns]


def _turn(role: str, blocks: list[Block]) -> Block:
    if role == "user":
        # Tool results must lead the user turn that answers a tool round.
        blocks = sorted(blocks, key=lambda block: block["type"] != "tool_result")
    if len(blocks) == 1 and blocks[0]["type"] == "text":
        return {"role": role, "content": blocks[0]["text"]}
    return {"role": role, "content": blocks}


def build_body(
    request: ChatCompletionRequest, model: str, version: ApiVersion, options: Mapping[str, Any], ctx: CallContext,
    *, stream: bool,
) -> tuple[dict[str, Any], str | None]:
    """The Messages body, and the name of the forced JSON tool when the answer will come as its input."""
    fields = request.translated_fields()
    limit = options.get("default_max_tokens", params.DEFAULT_MAX_TOKENS)
    defaults = {"max_tokens": int(limit)} if limit is not None else {}
    mapped = map_params(fields, version.params, ctx, PROVIDER_TYPE, handled=params.HANDLED, defaults=defaults)
    system, turns = convert(request.messages, version, ctx)
    body: dict[str, Any] = {"model": model}
    if system:
        body["system"] = system
    body["messages"] = turns
    body.update(mapped)
    response_tool = _response_format(body, fields.get("response_format"), options)
    _reasoning(body, fields.get("reasoning_effort"), options)
    _settle_tool_choice(body)
    if stream:
        body["stream"] = True
    return body, response_tool


def _response_format(body: dict[str, Any], value: dict[str, Any] | None, options: Mapping[str, Any]) -> str | None:
    """Structured output natively, or through a forced tool; returns that tool's name if used."""
    kind = (value or {}).get("type", "text")
    if kind == "text":
        return None
    if kind == "json_schema":
        spec = (value or {}).get("json_schema") or {}
        schema = spec.get("schema")
        if not isinstance(schema, dict):
            raise InvalidRequest("response_format.json_schema.schema is required.", param="response_format")
        if options.get("json_schema_mode", "native") == "native":
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


def _reasoning(body: dict[str, Any], effort: str | None, options: Mapping[str, Any]) -> None:
    """``reasoning_effort`` -> thinking; an explicit Anthropic ``thinking`` from the client wins."""
    if effort is None or effort == "none" or "thinking" in body:
        return
    if effort not in params.EFFORT_LEVEL:
        raise InvalidRequest(f"Invalid reasoning_effort '{effort}'.", param="reasoning_effort")
    if options.get("thinking_mode", "adaptive") == "budget":
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
