"""Anthropic Messages answers and errors -> OpenAI shapes (shared by the JSON and stream paths).

Errors, per the Claude API reference "Errors" page as read on 2026-12-02: the body is
``{"type": "error", "error": {"type", "message"}, "request_id"}``, each error type documented with
one HTTP status (``overloaded_error`` is 529). Inside a stream the same object arrives as an
``error`` event after a 200, so :func:`parse_error` gives the type's status itself
(:attr:`ErrorInfo.status`) and a stream error maps exactly like the same error before the stream.
A prompt over the model's context window is a 400 ``invalid_request_error`` whose message reads
``prompt is too long: N tokens > M maximum`` (older models: ``input length and `max_tokens` exceed
context limit: A + B > C``); it gets OpenAI's code, ``context_length_exceeded``, so clients and
context-window fallbacks can rely on it.
"""

from __future__ import annotations

import json
from typing import Any

from lambdagate.providers import http, shapes
from lambdagate.providers.base import Target

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
"""Anthropic error type -> the HTTP status it is documented with."""

_CONTEXT_PHRASES = ("prompt is too long", "exceed context limit")
"""Lower-case wordings of a 400 ``invalid_request_error`` for a prompt over the context window."""


def finish_reason(stop_reason: str | None, *, answered_by_response_tool: bool = False) -> str:
    if stop_reason == "tool_use" and answered_by_response_tool:
        return "stop"  # the forced JSON tool is how the answer came, not a call for the client
    return FINISH_REASONS.get(stop_reason or "", "stop")


def usage(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """OpenAI counts every input token as a prompt token; Anthropic reports cached ones apart."""
    if not raw:
        return None
    read = raw.get("cache_read_input_tokens")
    created = raw.get("cache_creation_input_tokens")
    prompt = (raw.get("input_tokens") or 0) + (read or 0) + (created or 0)
    return shapes.usage(prompt, raw.get("output_tokens") or 0, cached_tokens=read, cache_creation_tokens=created)


def response_id(message_id: str | None) -> str | None:
    return f"chatcmpl-{message_id}" if message_id else None


def chat_completion(data: dict[str, Any], model: str, response_tool: str | None, target: Target) -> dict[str, Any]:
    """A ``chat.completion`` from a Messages answer; an object that is not a message is a retryable 502."""
    content = data.get("content")
    if not isinstance(content, list):
        raise http.bad_answer(target, "an object that is not a message")
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    answered_by_tool = False
    for block in content:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "thinking":
            reasoning.append(block.get("thinking", ""))
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
            if response_tool is not None and block.get("name") == response_tool:
                texts.append(arguments)
                answered_by_tool = True
            else:
                calls.append(shapes.tool_call(block["id"], block["name"], arguments))
    stop = data.get("stop_reason")
    finish = finish_reason(stop, answered_by_response_tool=answered_by_tool and not calls)
    text = "".join(texts)
    message = shapes.chat_message(
        text if text or not calls else None,
        tool_calls=calls or None,
        reasoning_content="".join(reasoning) or None,
    )
    return shapes.chat_completion(
        data.get("model") or model, [shapes.chat_choice(0, message, finish)], usage(data.get("usage")),
        id=response_id(data.get("id")),
    )


def parse_error(body: Any) -> http.ErrorInfo:
    """``{"type": "error", "error": {"type", "message"}}``: its message, its type as code, the type's status."""
    if not (isinstance(body, dict) and isinstance(body.get("error"), dict)):
        return http.ErrorInfo(None)
    error = body["error"]
    message = error.get("message") if isinstance(error.get("message"), str) else None
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    status = ERROR_STATUS.get(kind or "")
    if kind == "invalid_request_error" and message and any(p in message.lower() for p in _CONTEXT_PHRASES):
        return http.ErrorInfo(message, http.CONTEXT_LENGTH_EXCEEDED, status=400)
    return http.ErrorInfo(message, kind, status=status)


def is_error_event(event: str, data: Any) -> bool:
    """Anthropic's stream error: ``event: error`` with ``{"type": "error", ...}``."""
    return event == "error" or (isinstance(data, dict) and data.get("type") == "error")


def is_error_body(value: Any) -> bool:
    """An error object under a 200 (a proxy in front of Anthropic may answer so)."""
    return isinstance(value, dict) and value.get("type") == "error"
