"""Gemini ``GenerateContentResponse`` -> OpenAI ``chat.completion`` and ``chat.completion.chunk``.

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
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from lambdagate.providers import shapes

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
    result = shapes.tool_call(_call_id(call), call.get("name", ""), json.dumps(call.get("args") or {}))
    if part.get("thoughtSignature"):
        result["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    return result


def _blocked(data: dict[str, Any]) -> bool:
    return not data.get("candidates") and bool((data.get("promptFeedback") or {}).get("blockReason"))


def chat_completion(data: dict[str, Any], model: str) -> dict[str, Any]:
    choices = []
    if _blocked(data):
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
    response_id = data.get("responseId")
    return shapes.chat_completion(data.get("modelVersion") or model, choices, usage(data.get("usageMetadata")),
                                  id=f"chatcmpl-{response_id}" if response_id else None)


class StreamTranslator:
    """Turns each streamed ``GenerateContentResponse`` into ``chat.completion.chunk``s.

    Gemini streams text in pieces but each function call whole, so a call becomes one tool-call
    delta with its id, name and complete arguments. Usage metadata is cumulative; the last one
    is the total.
    """

    def __init__(self, model: str, *, include_usage: bool) -> None:
        self.chunks = shapes.ChatChunks(model)
        self.include_usage = include_usage
        self.started: set[int] = set()
        self.calls: dict[int, int] = {}
        self.usage: dict[str, Any] | None = None

    def translate(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if data.get("usageMetadata"):
            self.usage = usage(data["usageMetadata"])
        if _blocked(data):
            self._start(0, out)
            out.append(self.chunks.finish("content_filter", 0))
        for position, candidate in enumerate(data.get("candidates") or []):
            index = candidate.get("index", position)
            self._start(index, out)
            for part in (candidate.get("content") or {}).get("parts") or []:
                out.extend(self._part(part, index))
            if candidate.get("finishReason"):
                called = self.calls.get(index, 0) > 0
                out.append(self.chunks.finish(finish_reason(candidate["finishReason"], called=called), index))
        return out

    def end(self) -> list[dict[str, Any]]:
        if self.include_usage and self.usage is not None:
            return [self.chunks.usage(self.usage)]
        return []

    def _start(self, index: int, out: list[dict[str, Any]]) -> None:
        if index not in self.started:
            self.started.add(index)
            out.append(self.chunks.role(index))

    def _part(self, part: dict[str, Any], index: int) -> list[dict[str, Any]]:
        if "functionCall" in part:
            call = tool_call(part)
            position = self.calls.get(index, 0)
            self.calls[index] = position + 1
            chunk = self.chunks.tool_call(position, id=call["id"], name=call["function"]["name"],
                                          arguments=call["function"]["arguments"], index=index)
            if "extra_content" in call:
                chunk["choices"][0]["delta"]["tool_calls"][0]["extra_content"] = call["extra_content"]
            return [chunk]
        text = part.get("text")
        if not text:
            return []
        return [self.chunks.reasoning(text, index) if part.get("thought") else self.chunks.content(text, index)]
