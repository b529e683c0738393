"""The response transform: a ``chat.completion`` as a Messages ``Message``, and errors in Anthropic's shape.

- ``content``: a ``thinking`` block (the chat message's ``reasoning_content``; its ``signature``
  is empty: only Anthropic signs thinking, and a translated provider's is never sent back), a
  ``text`` block, then one ``tool_use`` block per tool call (its ``id`` is the chat tool call's,
  so a ``tool_result`` sent back with it reaches the same call; ``input`` the parsed arguments).
- ``stop_reason``: ``finish_reason`` ``stop`` is ``end_turn`` (``stop_sequence`` when the
  provider names the stop string it met, as vLLM's ``stop_reason`` does, and the request asked
  for it; ``tool_use`` when the answer calls tools), ``length`` is ``max_tokens``, ``tool_calls``
  is ``tool_use``, ``content_filter`` is ``refusal``.
- ``usage``: ``input_tokens`` are the prompt tokens read fresh (chat counts cached ones in
  ``prompt_tokens``; Anthropic does not), ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens`` from the prompt details, ``output_tokens``.

Errors (:func:`error`): ``{"type": "error", "error": {"type", "message"}, "request_id"}`` with the
status the official Anthropic SDKs map to their exception classes: 400 ``invalid_request_error``
(``BadRequestError``), 401 ``authentication_error``, 403 ``permission_error``, 404
``not_found_error``, 413 ``request_too_large``, 429 ``rate_limit_error``, 500 and 502
``api_error`` (``InternalServerError``), 503 and 529 ``overloaded_error`` (``ServiceUnavailableError``,
``OverloadedError``), 504 ``timeout_error``. A provider that is not configured is a 503
``api_error``. ``retry-after`` and the gateway's other error headers are kept.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic_core import from_json

from lambdagate.errors import GatewayError

if TYPE_CHECKING:
    from lambdagate.frontdoors.messages.types import MessageCreateParams

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                "content_filter": "refusal"}
"""``finish_reason`` -> ``stop_reason``; anything else ends the turn."""

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
               503: "overloaded_error", 504: "timeout_error", 529: "overloaded_error"}
"""HTTP status -> Anthropic's error type (other 4xx are ``invalid_request_error``, other 5xx ``api_error``)."""

OVERLOADED_STATUS = 529


def new_id(prefix: str = "msg") -> str:
    """An id in Anthropic's form (``msg_``, ``toolu_`` + 24 base-16 characters)."""
    return f"{prefix}_{secrets.token_hex(12)}"


# --- usage -------------------------------------------------------------------------------------------


def usage(chat_usage: Mapping[str, Any] | None) -> dict[str, int]:
    """A chat ``usage`` as Messages ``usage`` (zeros when the provider reported none)."""
    chat_usage = chat_usage or {}
    details = chat_usage.get("prompt_tokens_details") or {}
    read = int(details.get("cached_tokens") or 0)
    written = int(details.get("cache_creation_tokens") or details.get("cache_write_tokens") or 0)
    prompt = int(chat_usage.get("prompt_tokens") or 0)
    return {"input_tokens": max(0, prompt - read - written), "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read, "output_tokens": int(chat_usage.get("completion_tokens") or 0)}


def chat_usage(messages_usage: Any, *, prompt: bool = True, completion: bool = True) -> dict[str, Any] | None:
    """A Messages ``usage`` in chat terms, for the request record (and the cost of a passthrough).

    ``prompt``/``completion`` pick which half to count: a stream reports input in
    ``message_start`` and output in ``message_delta``.
    """
    if not isinstance(messages_usage, dict):
        return None
    read = int(messages_usage.get("cache_read_input_tokens") or 0) if prompt else 0
    written = int(messages_usage.get("cache_creation_input_tokens") or 0) if prompt else 0
    fresh = int(messages_usage.get("input_tokens") or 0) if prompt else 0
    output = int(messages_usage.get("output_tokens") or 0) if completion else 0
    converted: dict[str, Any] = {"prompt_tokens": fresh + read + written, "completion_tokens": output,
                                 "total_tokens": fresh + read + written + output}
    if read or written:
        converted["prompt_tokens_details"] = {"cached_tokens": read, "cache_creation_tokens": written}
    return converted


# --- chat.completion -> Message ----------------------------------------------------------------------


def stop_reason(finish_reason: str | None, matched: Any, request: MessageCreateParams, *,
                called: bool = False) -> tuple[str, str | None]:
    """``(stop_reason, stop_sequence)`` of a chat choice; ``matched`` is the stop string a provider reported.

    ``called``: the answer has tool calls. Some providers end such an answer with ``stop``; Anthropic's
    clients run the tools of a ``tool_use`` turn, so that is what it is.
    """
    if finish_reason == "stop" and isinstance(matched, str) and matched in (request.stop_sequences or ()):
        return "stop_sequence", matched
    reason = STOP_REASONS.get(finish_reason or "", "end_turn")
    return ("tool_use" if called and reason == "end_turn" else reason), None


def tool_input(arguments: str | None) -> dict[str, Any]:
    """A tool call's ``arguments`` as the ``input`` object (an unparseable or non-object one is kept under ``raw``)."""
    if not arguments or not arguments.strip():
        return {}
    try:
        value = from_json(arguments)
    except ValueError:
        return {"raw": arguments}
    return value if isinstance(value, dict) else {"raw": arguments}


def thinking_block(text: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": ""}


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def tool_use_block(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def message(message_id: str, model: str, content: list[dict[str, Any]], stop: str | None, sequence: str | None,
            messages_usage: dict[str, int]) -> dict[str, Any]:
    return {"id": message_id, "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop, "stop_sequence": sequence, "usage": messages_usage}


def from_chat(completion: dict[str, Any], request: MessageCreateParams) -> dict[str, Any]:
    choice = (completion.get("choices") or [{}])[0]
    chat_message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if reasoning := chat_message.get("reasoning_content"):
        content.append(thinking_block(reasoning))
    if text := chat_message.get("content") or chat_message.get("refusal"):
        content.append(text_block(text))
    for call in chat_message.get("tool_calls") or ():
        function = call.get("function") or {}
        content.append(tool_use_block(call.get("id") or new_id("toolu"), function.get("name") or "",
                                      tool_input(function.get("arguments"))))
    stop, sequence = stop_reason(choice.get("finish_reason"), choice.get("stop_reason"), request,
                                 called=any(block["type"] == "tool_use" for block in content))
    return message(new_id(), str(completion.get("model") or request.model), content, stop, sequence,
                   usage(completion.get("usage")))


# --- errors ------------------------------------------------------------------------------------------


def error_type(error: GatewayError) -> tuple[int, str]:
    """The status and Anthropic error type of a gateway error."""
    if error.type == "overloaded_error":  # Anthropic's own 529, mapped to a 503 on the OpenAI side
        return OVERLOADED_STATUS, "overloaded_error"
    if error.code == "provider_not_configured":
        return error.status, "api_error"
    kind = ERROR_TYPES.get(error.status) or ("invalid_request_error" if error.status < 500 else "api_error")
    return error.status, kind


def error_message(error: GatewayError) -> str:
    """The error's message; Anthropic's error has no ``param``, so a message that does not name it is prefixed
    with it, as Anthropic words its own (``messages.0.role: Input should be ...``)."""
    if error.param and error.param not in error.message:
        return f"{error.param}: {error.message}"
    return error.message


def error_body(error: GatewayError, request_id: str | None = None) -> dict[str, Any]:
    _, kind = error_type(error)
    return {"type": "error", "error": {"type": kind, "message": error_message(error)}, "request_id": request_id}


def error(error: GatewayError) -> tuple[int, dict[str, Any], Mapping[str, str]]:
    status, _ = error_type(error)
    return status, error_body(error), error.headers
