"""The request transform: an OpenAI chat request -> a Mistral ``POST /v1/chat/completions`` body.

Parameters map through :data:`.params.PARAMS`. Messages are rebuilt field by field, because
Mistral answers unknown fields with 422 (an OpenAI ``name`` on a user message would be refused).

Mistral requires tool call ids of exactly nine letters and digits; ids it generated already are,
and any other (a conversation started on another provider) is mapped to nine characters by a
hash, the same way in the assistant's ``tool_calls`` and in the ``tool_call_id`` of the tool
message, so the pair still matches.

Mistral checks the order of turns more strictly than OpenAI: after a ``tool`` turn only another
``tool`` or an ``assistant`` turn may follow, and an assistant turn needs text or tool calls
(mistral-common's ``MistralRequestValidator._validate_message_order`` and
``_validate_assistant_message``, checked 2026-12-02). A ``user`` (or ``system``) turn right
after tool results, an ordinary OpenAI conversation, is answered with 400
``invalid_request_message_order`` (code 3230, "Unexpected role 'user' after role 'tool'"), so
a short assistant turn (:data:`TOOL_RESULTS_BRIDGE`) is put between them.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from lambdagate.errors import InvalidRequest
from lambdagate.providers.base import CallContext, map_params
from lambdagate.providers.content import text_and_image_parts, text_only
from lambdagate.providers.mistral.params import HANDLED, PARAMS
from lambdagate.types import (
    AssistantMessage,
    ChatCompletionRequest,
    DeveloperMessage,
    Message,
    RefusalPart,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)

PROVIDER_TYPE = "mistral"
TOOL_RESULTS_BRIDGE = {"role": "assistant", "content": "Tool results received."}
"""The assistant turn that lets a user or system turn follow tool results on Mistral."""
_AFTER_TOOL = frozenset({"tool", "assistant"})

_MISTRAL_ID = re.compile(r"[A-Za-z0-9]{9}")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def tool_call_id(call_id: str) -> str:
    """The id Mistral accepts for ``call_id``: itself when valid, else a stable 9-character hash."""
    if _MISTRAL_ID.fullmatch(call_id):
        return call_id
    number = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big")
    chars = []
    for _ in range(9):
        number, digit = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def build_body(request: ChatCompletionRequest, model: str, ctx: CallContext, *, stream: bool) -> dict[str, Any]:
    body = map_params(request.translated_fields(), PARAMS, ctx, PROVIDER_TYPE, handled=HANDLED)
    body["model"] = model
    body["messages"] = convert_messages(request.messages)
    if request.tools:
        body["tools"] = [{"type": "function", "function": tool.function.model_dump(exclude_none=True)}
                         for tool in request.tools]
    if stream:
        body["stream"] = True
    return body


def convert_messages(messages: list[Message]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for message in messages:
        if isinstance(message, SystemMessage | DeveloperMessage):
            text = text_only(message.content, "messages", "mistral", separator="\n")
            result.append({"role": "system", "content": text})
        elif isinstance(message, UserMessage):
            result.append({"role": "user", "content": text_and_image_parts(message.content, "messages", "mistral")})
        elif isinstance(message, AssistantMessage):
            result.append(_assistant(message, call_names))
        elif isinstance(message, ToolMessage):
            text = text_only(message.content, "messages", "mistral", separator="\n")
            converted = {"role": "tool", "content": text, "tool_call_id": tool_call_id(message.tool_call_id)}
            if message.tool_call_id in call_names:
                converted["name"] = call_names[message.tool_call_id]
            result.append(converted)
        else:
            raise InvalidRequest("Messages with role 'function' are not supported by Mistral; use tool "
                                 "messages.", param="messages")
        if len(result) > 1 and result[-2]["role"] == "tool" and result[-1]["role"] not in _AFTER_TOOL:
            result.insert(-1, dict(TOOL_RESULTS_BRIDGE))
    # A conversation that ends with the assistant asks Mistral to continue that message.
    if result and result[-1]["role"] == "assistant" and not result[-1].get("tool_calls"):
        result[-1]["prefix"] = True
    return result


def _assistant(message: AssistantMessage, call_names: dict[str, str]) -> dict[str, Any]:
    content = message.content
    if isinstance(content, list):
        content = "".join(p.text if isinstance(p, TextPart) else p.refusal if isinstance(p, RefusalPart) else ""
                          for p in content)
    converted: dict[str, Any] = {"role": "assistant", "content": content or message.refusal or ""}
    if message.tool_calls:
        converted["tool_calls"] = []
        for call in message.tool_calls:
            call_names[call.id] = call.function.name
            converted["tool_calls"].append({
                "id": tool_call_id(call.id), "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            })
    return converted
