"""The response transform: a Gemini ``GenerateContentResponse`` -> ``chat.completion``; and its errors.

- Text parts become ``content``; parts marked ``thought: true`` become ``reasoning_content``.
- ``functionCall`` parts become tool calls: Gemini's call ``id`` when it gives one, a generated
  ``call_...`` id otherwise, arguments as JSON text, and the part's ``thoughtSignature`` under
  ``extra_content.google.thought_signature`` so the next turn can send it back.
- Finish reasons: see :data:`FINISH_REASONS`; a candidate that called a function and stopped
  naturally finishes with ``tool_calls``.
- A blocked prompt (``promptFeedback.blockReason``, no candidates) is answered like a filtered
  completion: one choice, no content, ``finish_reason: content_filter``, HTTP 200. That is what
  OpenAI-compatible clients already handle for filtered output, whereas an error would make the
  SDK raise for what is a normal outcome of a moderated model, and would be retried by the router.
- ``usageMetadata`` -> ``usage``: thoughts count as completion tokens (as OpenAI counts
  reasoning tokens) and are reported again as ``reasoning_tokens``; cached content tokens as
  ``cached_tokens``.
- One choice per candidate (``candidateCount``), numbered by the candidate's ``index``.

Errors (:func:`gemini_error`) come as ``{"error": {"code", "message", "status", "details"}}``,
as the v1beta reference and real answers show them (checked 2026-12-02).
Google's ``status`` becomes the error ``code`` (``RESOURCE_EXHAUSTED`` -> ``rate_limit_exceeded``);
the ``retryDelay`` of a ``google.rpc.RetryInfo`` detail becomes Retry-After when no header gave
one; a bad key (``API_KEY_INVALID``, sent by Google as a 400) is the operator's fault, reported
as the 401 it is (a 502 ``upstream_authentication_failed`` to the client); and a prompt longer
than the model's context (400 ``INVALID_ARGUMENT`` "The input token count (N) exceeds the
maximum number of tokens allowed (M)", sometimes without the parentheses) gets OpenAI's
``context_length_exceeded``. The same error object under a 200 (:func:`is_error_body`) is mapped
like an error status; any other 200 that is not an answer of the shape the transforms read
(:func:`well_formed`: no candidates and no blocked prompt, parts that are not objects...) is a
retryable 502.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from lambdagate.providers import http, shapes
from lambdagate.providers.base import Target

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "MODEL_ARMOR": "content_filter",
}
"""Gemini finish reasons with an OpenAI equivalent; any other (OTHER, LANGUAGE,
MALFORMED_FUNCTION_CALL...) ends the choice as ``stop``."""


# Google's canonical error statuses that have a closer OpenAI error code.
_ERROR_CODES = {"RESOURCE_EXHAUSTED": "rate_limit_exceeded"}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)s")
_PROMPT_TOO_LONG = re.compile(r"input token count.*exceeds the maximum number of tokens", re.IGNORECASE | re.DOTALL)


def _error_object(body: Any) -> dict[str, Any] | None:
    # A non-SSE stream answers with a JSON array of responses; an error may come wrapped in one.
    if isinstance(body, list) and body:
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.fullmatch(str(detail.get("retryDelay", "")))
            if match:
                return float(match[1])
    return None


def gemini_error(body: Any) -> http.ErrorInfo:
    """Google's error body (of an error status or of a stream's error event) as the gateway maps it."""
    error = _error_object(body)
    if error is None:
        return http.openai_error(body)
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    if any(detail.get("reason") == "API_KEY_INVALID" for detail in details):
        return http.ErrorInfo("the provider rejected the configured API key.", status=401)
    message = error.get("message") if isinstance(error.get("message"), str) else None
    if message is not None and _PROMPT_TOO_LONG.search(message):
        return http.ErrorInfo(message, http.CONTEXT_LENGTH_EXCEEDED, "messages", status=400)
    status = error.get("status")
    code = _ERROR_CODES.get(status, status.lower()) if isinstance(status, str) else None
    # The body's HTTP code is what tells a stream's error event (a 200 so far) what it is.
    number = error.get("code")
    status_override = number if isinstance(number, int) and number >= 400 else None
    return http.ErrorInfo(message, code, status=status_override, retry_after=_retry_delay(details))


def finish_reason(reason: str | None, *, called: bool) -> str:
    mapped = FINISH_REASONS.get(reason or "STOP", "stop")
    return "tool_calls" if called and mapped == "stop" else mapped


def usage(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    if not metadata:
        return None
    thoughts = metadata.get("thoughtsTokenCount")
    cached = metadata.get("cachedContentTokenCount")
    return shapes.usage(
        metadata.get("promptTokenCount", 0) + metadata.get("toolUsePromptTokenCount", 0),
        metadata.get("candidatesTokenCount", 0) + (thoughts or 0),
        cached_tokens=cached,
        reasoning_tokens=thoughts,
    )


def _call_id(call: dict[str, Any]) -> str:
    given = call.get("id")
    return given if isinstance(given, str) and given else "call_" + secrets.token_hex(12)


def tool_call(part: dict[str, Any]) -> dict[str, Any]:
    call = part["functionCall"]
    result = shapes.tool_call(_call_id(call), call.get("name") or "", json.dumps(call.get("args") or {}))
    if part.get("thoughtSignature"):
        result["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    return result


def blocked(data: dict[str, Any]) -> bool:
    return not data.get("candidates") and bool((data.get("promptFeedback") or {}).get("blockReason"))


def is_error_body(value: Any) -> bool:
    """Google's ``{"error": {...}}`` under a 200 (a proxy in front of Gemini may answer so)."""
    return isinstance(value, dict) and "candidates" not in value and _error_object(value) is not None


_COUNTS = ("promptTokenCount", "toolUsePromptTokenCount", "candidatesTokenCount", "thoughtsTokenCount",
           "cachedContentTokenCount")


def _part_ok(part: Any) -> bool:
    if not isinstance(part, dict) or ("text" in part and not isinstance(part["text"], str)):
        return False
    if not isinstance(part.get("thoughtSignature") or "", str):
        return False
    if "functionCall" not in part:
        return True
    call = part["functionCall"]
    return (isinstance(call, dict) and isinstance(call.get("name") or "", str)
            and isinstance(call.get("args") or {}, dict))


def _candidate_ok(candidate: Any) -> bool:
    if not isinstance(candidate, dict) or not isinstance(candidate.get("finishReason") or "", str):
        return False
    if not isinstance(candidate.get("index", 0), int):
        return False
    content = candidate.get("content") or {}
    parts = (content.get("parts") or []) if isinstance(content, dict) else None
    return isinstance(parts, list) and all(_part_ok(part) for part in parts)


def well_formed(data: dict[str, Any]) -> bool:
    """Whether a ``GenerateContentResponse`` (an answer or one streamed piece) has the shape the
    transforms read: lists of objects where they index, strings where they join, integer counts."""
    candidates = data.get("candidates") or []
    metadata = data.get("usageMetadata") or {}
    return (
        isinstance(candidates, list) and all(_candidate_ok(candidate) for candidate in candidates)
        and isinstance(data.get("promptFeedback") or {}, dict)
        and isinstance(metadata, dict) and all(isinstance(metadata.get(key, 0), int) for key in _COUNTS)
        and isinstance(data.get("modelVersion") or "", str) and isinstance(data.get("responseId") or "", str)
    )


def chat_completion(data: dict[str, Any], target: Target) -> dict[str, Any]:
    """A ``chat.completion`` from a ``generateContent`` answer.

    An answer without candidates that is not a blocked prompt, or one of the wrong shape, is the
    upstream's fault: a retryable 502, not an empty completion or a crash.
    """
    if not well_formed(data) or not (data.get("candidates") or blocked(data)):
        raise http.bad_answer(target, "an object that is not a Gemini answer")
    choices = []
    if blocked(data):
        choices.append(shapes.chat_choice(0, shapes.chat_message(None), "content_filter"))
    for position, candidate in enumerate(data.get("candidates") or []):
        texts: list[str] = []
        thoughts: list[str] = []
        calls: list[dict[str, Any]] = []
        for part in (candidate.get("content") or {}).get("parts") or []:
            if "functionCall" in part:
                calls.append(tool_call(part))
            elif "text" in part:
                (thoughts if part.get("thought") else texts).append(part["text"])
        finish = finish_reason(candidate.get("finishReason"), called=bool(calls))
        # No text at all is an empty answer, unless the choice is a call or was filtered out.
        content = "".join(texts) if texts or (not calls and finish != "content_filter") else None
        message = shapes.chat_message(content, tool_calls=calls, reasoning_content="".join(thoughts) or None)
        choices.append(shapes.chat_choice(candidate.get("index", position), message, finish))
    choices.sort(key=lambda choice: choice["index"])
    response_id = data.get("responseId")
    return shapes.chat_completion(data.get("modelVersion") or target.model, choices, usage(data.get("usageMetadata")),
                                  id=f"chatcmpl-{response_id}" if response_id else None)
