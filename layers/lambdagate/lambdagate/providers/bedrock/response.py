"""Converse answers and Bedrock errors -> OpenAI shapes (shared by the JSON and stream paths).

Errors, per the Bedrock Runtime API reference (Converse / ConverseStream "Errors", read on
2026-12-02): boto3 raises a ``ClientError`` whose ``response["Error"]`` names the exception
(``ThrottlingException``); inside a ConverseStream the same errors arrive as events named in
camel case (``throttlingException``), so codes are looked up case-insensitively. Each maps to the
HTTP status Bedrock documents for it. A prompt over the model's context window is a 400
``ValidationException``; its wording depends on the model behind Converse ("Input is too long for
requested model", "The model returned the following errors: prompt is too long: N tokens > M
maximum", "input length and `max_tokens` exceed context limit", "too many total text bytes"), and
all of them get OpenAI's code ``context_length_exceeded``.

A 200 whose body is no Converse answer reaches :func:`chat_completion` without ``output.message``
(botocore reads an unparseable body as ``{"message": <body>}``): a retryable 502, never an
empty completion. Bodies botocore fails on outright are mapped in :mod:`.client`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdagate.providers import http, shapes
from lambdagate.providers.base import Target

# Converse stopReason -> OpenAI finish_reason. The malformed_* reasons have no OpenAI
# counterpart; the model stopped on its own, so they read as "stop".
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "", "stop")


def usage(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """OpenAI usage; Bedrock counts cache reads and writes apart from ``inputTokens``."""
    if not raw:
        return None
    read = raw.get("cacheReadInputTokens")
    write = raw.get("cacheWriteInputTokens")
    prompt = int(raw.get("inputTokens") or 0) + int(read or 0) + int(write or 0)
    return shapes.usage(prompt, int(raw.get("outputTokens") or 0), cached_tokens=read, cache_creation_tokens=write)


_COUNTS = ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens")


def _block_ok(block: Any) -> bool:
    if not isinstance(block, dict) or ("text" in block and not isinstance(block["text"], str)):
        return False
    if "toolUse" in block:
        use = block["toolUse"]
        if not (isinstance(use, dict) and isinstance(use.get("toolUseId"), str) and isinstance(use.get("name"), str)):
            return False
    if "reasoningContent" in block:
        thought = block["reasoningContent"]
        text = (thought.get("reasoningText") or {}) if isinstance(thought, dict) else None
        if not (isinstance(text, dict) and isinstance(text.get("text") or "", str)):
            return False
    return True


def answer_message(response: Any) -> dict[str, Any] | None:
    """The ``output.message`` of a Converse answer when it has the shape :func:`chat_completion` reads.

    botocore turns a body it cannot parse into ``{"message": <the body>}`` and an unknown
    ``output`` member into ``SDK_UNKNOWN_MEMBER``: neither has ``output.message``.
    """
    output = response.get("output") if isinstance(response, dict) else None
    message = output.get("message") if isinstance(output, dict) else None
    if not isinstance(message, dict):
        return None
    content = message.get("content") or []
    if not (isinstance(content, list) and all(_block_ok(block) for block in content)):
        return None
    raw_usage = response.get("usage") or {}
    if not (isinstance(raw_usage, dict) and all(isinstance(raw_usage.get(key) or 0, int) for key in _COUNTS)):
        return None
    return message if isinstance(response.get("stopReason") or "", str) else None


def chat_completion(response: dict[str, Any], target: Target) -> dict[str, Any]:
    """A ``chat.completion`` from a Converse answer; one without ``output.message`` is a retryable 502."""
    message = answer_message(response)
    if message is None:
        raise http.bad_answer(target, "an object that is not a Converse answer")
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or []:
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append(shapes.tool_call(use["toolUseId"], use["name"], json.dumps(use.get("input") or {})))
        elif "reasoningContent" in block:
            reasoning.append(((block["reasoningContent"].get("reasoningText") or {}).get("text")) or "")
    content = "".join(texts) if texts or not calls else None
    choice = shapes.chat_choice(
        0,
        shapes.chat_message(content, tool_calls=calls or None, reasoning_content="".join(reasoning) or None),
        finish_reason(response.get("stopReason")),
    )
    return shapes.chat_completion(target.model, [choice], usage(response.get("usage")))


ERROR_STATUS = {
    "throttlingexception": 429,
    "validationexception": 400,
    "accessdeniedexception": 403,
    "unrecognizedclientexception": 403,
    "resourcenotfoundexception": 404,
    "modeltimeoutexception": 408,
    "serviceunavailableexception": 503,
    "modelnotreadyexception": 503,
    "internalserverexception": 500,
    "modelerrorexception": 500,
    "modelstreamerrorexception": 500,
    "servicequotaexceededexception": 429,
}
"""Bedrock exception name (lower case) -> the HTTP status it is documented with."""

_CONTEXT_PHRASES = ("too long", "exceed context limit", "context window", "maximum context", "too many input tokens",
                    "too many total text bytes")
"""Lower-case pieces of the ValidationException messages for a prompt that does not fit the model."""


def parse_error(error: Any) -> http.ErrorInfo:
    """A botocore ``ClientError.response`` (``{"Error": {"Code", "Message"}, "ResponseMetadata"}``)."""
    if not isinstance(error, Mapping):
        return http.ErrorInfo(None)
    details = error.get("Error") or {}
    code = str(details.get("Code") or "")
    message = details.get("Message") or code or None
    status = ERROR_STATUS.get(code.lower())
    if status is None:
        answered = int((error.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 502)
        status = answered if answered >= 400 else 502
    if status == 400 and message and any(p in message.lower() for p in _CONTEXT_PHRASES):
        return http.ErrorInfo(message, http.CONTEXT_LENGTH_EXCEEDED, status=400)
    return http.ErrorInfo(message, code or None, status=status)
