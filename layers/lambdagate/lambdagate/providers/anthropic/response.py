"""Anthropic Messages answers and errors -> OpenAI shapes (shared by the JSON and stream paths)."""

from __future__ import annotations

import json
from typing import Any

from lambdagate.errors import UpstreamError, upstream_error
from lambdagate.providers import shapes
from lambdagate.providers.base import Target
from lambdagate.providers.http import ErrorInfo

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# Anthropic error type -> the HTTP status it is documented with (for errors inside a stream,
# which arrive after a 200 and carry only the type).
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


def chat_completion(data: dict[str, Any], model: str, response_tool: str | None) -> dict[str, Any]:
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    answered_by_tool = False
    for block in data.get("content") or []:
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


def parse_error(body: Any) -> ErrorInfo:
    """``{"type": "error", "error": {"type", "message"}, "request_id"}``."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        message = error.get("message")
        kind = error.get("type")
        return ErrorInfo(message if isinstance(message, str) else None, kind if isinstance(kind, str) else None)
    return ErrorInfo(None)


def stream_error(data: str, target: Target) -> UpstreamError:
    """An ``error`` event inside a stream: mapped by its type, as the same error before the stream."""
    try:
        info = parse_error(json.loads(data))
    except ValueError:
        info = ErrorInfo(None)
    status = ERROR_STATUS.get(info.code or "", 500)
    return upstream_error(target.provider_name, status, info.message, code=info.code, secrets=target.secrets)
