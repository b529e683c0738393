"""OpenAI chat request -> Mistral ``POST /v1/chat/completions`` body.

Built against Mistral's chat completion API as its official SDK (mistralai/client-python,
``ChatCompletionRequest``, 2026-11) declares it: ``temperature``, ``top_p``, ``max_tokens``,
``stop``, ``random_seed``, ``n``, ``presence_penalty``, ``frequency_penalty``, ``response_format``
(``json_object`` and ``json_schema`` in OpenAI's shape), ``tools``, ``tool_choice``
(``auto``/``none``/``any``/``required``/named), ``parallel_tool_calls``, ``prediction``,
``reasoning_effort`` (``none``/``high``), ``prompt_mode``, ``guardrails``, ``metadata``,
``prompt_cache_key``, ``safe_prompt``. It has no ``logit_bias``, ``user``, ``logprobs``,
``top_logprobs``, ``store``, ``service_tier``, ``modalities`` or ``stream_options``: those are
dropped (or refused when ``drop_params`` is off), because Mistral answers unknown fields with 422.

Messages are rebuilt field by field for the same reason (an OpenAI ``name`` on a user message
would be refused). Mistral requires tool call ids of exactly nine letters and digits; ids it
generated already are, and any other (a conversation started on another provider) is mapped to
nine characters by a hash, the same way in the assistant's ``tool_calls`` and in the
``tool_call_id`` of the tool message, so the pair still matches.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from lambdagate.errors import InvalidRequest
from lambdagate.providers.base import ALWAYS_HANDLED, CallContext, Param, ParamTable, map_params
from lambdagate.providers.content import text_and_image_parts, text_only
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


def _tool_choice(value: Any) -> Any:
    # Mistral's name for "must call a tool" is "any" ("required" is accepted too, "any" everywhere).
    return "any" if value == "required" else value


def _reasoning_effort(value: Any) -> Any:
    # Mistral has two levels; any OpenAI level above "none" asks for reasoning.
    return "none" if value == "none" else "high"


CHAT_PARAMS: ParamTable = {
    "temperature": Param(),
    "top_p": Param(),
    "max_tokens": Param(),
    # After max_tokens so that the newer name wins when a client sends both.
    "max_completion_tokens": Param("max_tokens"),
    "stop": Param(),
    "seed": Param("random_seed"),
    "random_seed": Param(),
    "n": Param(),
    "presence_penalty": Param(),
    "frequency_penalty": Param(),
    "response_format": Param(),
    "tool_choice": Param(transform=_tool_choice),
    "parallel_tool_calls": Param(),
    "prediction": Param(),
    "reasoning_effort": Param(transform=_reasoning_effort),
    "metadata": Param(),
    "prompt_cache_key": Param(),
    # Mistral's own fields, sent by clients through the SDKs' extra_body.
    "safe_prompt": Param(),
    "prompt_mode": Param(),
    "guardrails": Param(),
}

HANDLED = ALWAYS_HANDLED | {"tools"}

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
    body = map_params(request.sent_fields(), CHAT_PARAMS, ctx, PROVIDER_TYPE, handled=HANDLED)
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
