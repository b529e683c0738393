"""The response transform: a Cohere v2 chat answer -> an OpenAI ``chat.completion``; and its errors.

Error bodies are ``{"id": ..., "message": ...}``. A prompt longer than the model's context is a
400 whose message starts ``too many tokens:`` (docs.cohere.com/reference/errors, checked 2026-12-02:
"too many tokens: total number of tokens in the prompt cannot exceed N - received M" and "too
many tokens: size limit exceeded by N tokens"); it gets OpenAI's ``context_length_exceeded``.
The same prefix on "max tokens must be less than or equal to N" is an output limit the client
set too high, not a long prompt, and keeps Cohere's wording without the code.

The same ``{"message": "..."}`` under a 200 (a proxy, or Cohere itself, answering an error with
the wrong status) is recognised by :func:`is_error_body` and mapped like an error status; any
other 200 without the ``message`` object of a chat answer (or with parts, calls or counts of
the wrong type) is a retryable 502, never a crash (:func:`chat_completion`).
"""

from __future__ import annotations

from typing import Any

from lambdagate.errors import GatewayError, UpstreamTimeout, upstream_error
from lambdagate.providers import http, shapes
from lambdagate.providers.base import Target

FINISH_REASONS = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
}


def cohere_error(body: Any) -> http.ErrorInfo:
    """Cohere's ``{"message": ...}`` error body, with its "prompt too long" given OpenAI's code."""
    if not (isinstance(body, dict) and isinstance(body.get("message"), str)):
        return http.openai_error(body)
    message: str = body["message"]
    lowered = message.lower()
    if "too many tokens" in lowered and "max tokens" not in lowered:
        return http.ErrorInfo(message, http.CONTEXT_LENGTH_EXCEEDED, "messages", status=400)
    return http.ErrorInfo(message)


def failed(finish_reason: str | None, error: str | None, target: Target) -> GatewayError | None:
    """The error for a generation Cohere ended with ERROR or TIMEOUT, else None."""
    if finish_reason == "TIMEOUT":
        return UpstreamTimeout(f"{target.provider_name} timed out while generating.")
    if finish_reason == "ERROR":
        return upstream_error(target.provider_name, 500, error or "The generation failed.", secrets=target.secrets)
    return None


def finish_reason(reason: str | None) -> str:
    return FINISH_REASONS.get(reason or "", "stop")


def is_error_body(value: Any) -> bool:
    """Cohere's error object under a 200: a string ``message``, where a chat answer has an object."""
    return isinstance(value, dict) and isinstance(value.get("message"), str)


def usage(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """Tokens the model saw and produced; billed units when those are all Cohere reports."""
    if not raw:
        return None
    counts = raw.get("tokens") or raw.get("billed_units") or {}
    return shapes.usage(int(counts.get("input_tokens") or 0), int(counts.get("output_tokens") or 0))


def _strings(*values: Any) -> bool:
    return all(value is None or isinstance(value, str) for value in values)


def _objects(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(item, dict) for item in value))


def _tally_ok(tally: Any) -> bool:
    return tally is None or (isinstance(tally, dict) and all(
        isinstance(tally.get(key) or 0, int | float) for key in ("input_tokens", "output_tokens")))


def _usage_ok(raw: Any) -> bool:
    if raw is None:
        return True
    return isinstance(raw, dict) and _tally_ok(raw.get("tokens")) and _tally_ok(raw.get("billed_units"))


def _call_ok(call: dict[str, Any]) -> bool:
    function = call.get("function")
    if function is None:
        return _strings(call.get("id"))
    return isinstance(function, dict) and _strings(call.get("id"), function.get("name"), function.get("arguments"))


def is_answer(body: dict[str, Any]) -> bool:
    """Whether ``body`` has the shape :func:`chat_completion` reads: a ``message`` object whose
    ``content`` and ``tool_calls`` are lists of objects with string texts, ids, names and arguments."""
    message = body.get("message")
    if not (isinstance(message, dict) and _objects(message.get("content")) and _objects(message.get("tool_calls"))):
        return False
    parts: list[dict[str, Any]] = message.get("content") or []
    calls: list[dict[str, Any]] = message.get("tool_calls") or []
    return (
        _strings(body.get("finish_reason"), message.get("tool_plan")) and _usage_ok(body.get("usage"))
        and all(_strings(part.get("type"), part.get("text"), part.get("thinking")) for part in parts)
        and all(_call_ok(call) for call in calls)
    )


def chat_completion(body: dict[str, Any], target: Target) -> dict[str, Any]:
    """A ``chat.completion`` from a v2 chat answer; an object that is not one is a retryable 502."""
    finish = body.get("finish_reason")
    error_text = body.get("error") if isinstance(body.get("error"), str) else None
    if (error := failed(finish, error_text, target)) is not None:
        raise error
    if not is_answer(body):
        raise http.bad_answer(target, "an object that is not a Cohere chat answer")
    message: dict[str, Any] = body["message"]
    texts, thoughts = [], []
    for part in message.get("content") or []:
        if part.get("type") == "text":
            texts.append(part.get("text") or "")
        elif part.get("type") == "thinking":
            thoughts.append(part.get("thinking") or "")
    if message.get("tool_plan"):
        thoughts.append(message["tool_plan"])
    calls = [
        shapes.tool_call(call.get("id") or "", (call.get("function") or {}).get("name") or "",
                         (call.get("function") or {}).get("arguments") or "{}")
        for call in message.get("tool_calls") or []
    ]
    content = "".join(texts) if texts or not calls else None
    choice = shapes.chat_choice(
        0, shapes.chat_message(content, tool_calls=calls or None, reasoning_content="".join(thoughts) or None),
        finish_reason(finish),
    )
    return shapes.chat_completion(target.model, [choice], usage(body.get("usage")))
