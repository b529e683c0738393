"""The response transform: Mistral's OpenAI-like answers, made to validate against the OpenAI schema.

Mistral's responses differ from OpenAI's in small ways that make strict clients (and the
schema) reject them:

- ``message.refusal`` and ``choices[].logprobs`` are missing (both required by OpenAI's schema);
  ``tool_calls`` may be ``null`` instead of absent.
- ``content`` may be a list of chunks (``text``, and ``thinking`` from reasoning models) instead
  of a string: text chunks are joined, thinking becomes ``reasoning_content``.
- ``finish_reason`` may be ``model_length`` (-> ``length``) or ``error`` (the generation failed:
  raised as an upstream error so the router may retry, rather than passed off as an answer).
- Streamed tool calls may lack ``index``/``type``; the last chunk carries ``usage`` next to its
  choices, where OpenAI sends a separate usage chunk only when ``include_usage`` was asked for.

A body that needs none of this is forwarded as the upstream's bytes.

Errors are OpenAI-like (``{"object": "error", "message", "type", "param", "code"}``, 422 for
validation errors) and read by the shared OpenAI parser, except for a prompt longer than the
model's context: a 400 "Prompt contains N tokens, too large for model with M maximum context
length" (the wording of docs.mistral.ai's known limitations and of the servers' answers as
clients quote them, checked 2026-12-02), which gets OpenAI's ``context_length_exceeded``.
"""

from __future__ import annotations

import re
from typing import Any

from lambdagate.errors import UpstreamError, upstream_error
from lambdagate.providers import http
from lambdagate.providers.base import Target
from lambdagate.wire import JSONBody, RawJSON

FINISH_REASONS = {"model_length": "length"}
_PROMPT_TOO_LONG = re.compile(r"too large for model with \d+ maximum context length", re.IGNORECASE)


def mistral_error(body: Any) -> http.ErrorInfo:
    """OpenAI's error shape, with Mistral's "prompt too long" given OpenAI's code."""
    info = http.openai_error(body)
    if info.message is not None and _PROMPT_TOO_LONG.search(info.message):
        return http.ErrorInfo(info.message, http.CONTEXT_LENGTH_EXCEEDED, info.param or "messages", status=400)
    return info


def has_error(value: Any) -> bool:
    """An error object sent with a 200 (``object: error``), which must not pass for an answer."""
    return http.is_error_event("", value)


def completion(reply: http.Reply, target: Target) -> JSONBody:
    """The answer, repaired where Mistral's differs from OpenAI's, else as the upstream's bytes."""
    body = reply.value
    if not isinstance(body.get("choices"), list):
        raise http.bad_answer(target, "an object that is not a completion")
    return body if normalize_completion(body, target) else RawJSON(reply.content, value=body)


_OPENAI_FINISH = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call", None})


def _finish(choice: dict[str, Any], target: Target) -> bool:
    """Map the choice's finish_reason in place; True when it changed."""
    reason = choice.get("finish_reason")
    if reason == "error":
        raise _generation_error(target)
    if reason in _OPENAI_FINISH:
        return False
    choice["finish_reason"] = FINISH_REASONS.get(str(reason), "stop")
    return True


def _generation_error(target: Target) -> UpstreamError:
    return upstream_error(target.provider_name, 500, "the generation stopped on an upstream error.",
                          secrets=target.secrets)


def _flatten(message: dict[str, Any]) -> bool:
    """Chunked content -> text content plus reasoning_content; True when it changed."""
    content = message.get("content")
    if not isinstance(content, list):
        return False
    texts: list[str] = []
    thoughts: list[str] = []
    for chunk in content:
        if not isinstance(chunk, dict):
            continue
        if chunk.get("type") == "text":
            texts.append(chunk.get("text") or "")
        elif chunk.get("type") == "thinking":
            for inner in chunk.get("thinking") or []:
                if isinstance(inner, dict) and inner.get("type") == "text":
                    thoughts.append(inner.get("text") or "")
    message["content"] = "".join(texts)
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    return True


def _tool_calls(holder: dict[str, Any], *, stream: bool) -> bool:
    calls = holder.get("tool_calls", ())
    if calls is None:
        del holder["tool_calls"]
        return True
    changed = False
    for position, call in enumerate(calls):
        if call.get("type") != "function":
            call["type"] = "function"
            changed = True
        if stream and not isinstance(call.get("index"), int):
            call["index"] = position
            changed = True
    return changed


def normalize_completion(body: dict[str, Any], target: Target) -> bool:
    """Make a ``chat.completion`` conform in place; True when anything changed."""
    changed = False
    for choice in body.get("choices") or []:
        changed |= _finish(choice, target)
        if "logprobs" not in choice:
            choice["logprobs"] = None
            changed = True
        message = choice.get("message")
        if not isinstance(message, dict):
            choice["message"] = message = {"role": "assistant", "content": None}
            changed = True
        changed |= _flatten(message)
        changed |= _tool_calls(message, stream=False)
        if "refusal" not in message:
            message["refusal"] = None
            changed = True
    if body.get("object") != "chat.completion":
        body["object"] = "chat.completion"
        changed = True
    return changed


def normalize_chunk(body: dict[str, Any], target: Target) -> tuple[bool, dict[str, Any] | None]:
    """Make a ``chat.completion.chunk`` conform in place.

    Returns whether it changed, and the usage it carried next to choices (removed from it, to be
    sent as OpenAI's separate usage chunk).
    """
    changed = False
    choices = body.get("choices") or []
    for choice in choices:
        changed |= _finish(choice, target)
        if "finish_reason" not in choice:
            choice["finish_reason"] = None
            changed = True
        delta = choice.get("delta")
        if isinstance(delta, dict):
            changed |= _flatten(delta)
            changed |= _tool_calls(delta, stream=True)
    usage = None
    if choices and "usage" in body:
        usage = body.pop("usage")
        changed = True
    return changed, usage
