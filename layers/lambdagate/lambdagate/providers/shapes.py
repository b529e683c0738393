"""OpenAI response objects, built by adapters that translate a provider's own format.

Keeping the shapes in one place means every translating adapter emits the same fields in the
same way (ids, ``created``, ``system_fingerprint``, usage details), and conformance with the
OpenAI schema is tested once.
"""

from __future__ import annotations

import secrets
import time
from typing import Any


def new_id(prefix: str = "chatcmpl") -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


def usage(
    prompt_tokens: int,
    completion_tokens: int,
    *,
    cached_tokens: int | None = None,
    reasoning_tokens: int | None = None,
    cache_creation_tokens: int | None = None,
) -> dict[str, Any]:
    """A ``CompletionUsage``; cache and reasoning details only when the provider reports them."""
    result: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if cached_tokens is not None or cache_creation_tokens is not None:
        details: dict[str, Any] = {"cached_tokens": cached_tokens or 0}
        if cache_creation_tokens is not None:
            # Not an OpenAI field; kept under the details object where extra keys are allowed.
            details["cache_creation_tokens"] = cache_creation_tokens
        result["prompt_tokens_details"] = details
    if reasoning_tokens is not None:
        result["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return result


def add_usage(total: dict[str, Any] | None, more: dict[str, Any] | None) -> dict[str, Any] | None:
    """Sum two usages (``n`` served by parallel calls)."""
    if more is None:
        return total
    if total is None:
        return dict(more)
    return usage(
        total["prompt_tokens"] + more["prompt_tokens"],
        total["completion_tokens"] + more["completion_tokens"],
    )


def chat_message(
    content: str | None,
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    reasoning_content: str | None = None,
    refusal: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning_content:
        # Not in OpenAI's schema; the field DeepSeek, vLLM and LiteLLM clients read reasoning from.
        message["reasoning_content"] = reasoning_content
    return message


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def chat_choice(index: int, message: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    return {"index": index, "message": message, "finish_reason": finish_reason, "logprobs": None}


def chat_completion(
    model: str,
    choices: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    *,
    id: str | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": id or new_id(),
        "object": "chat.completion",
        "created": created or int(time.time()),
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        body["usage"] = usage
    return body


def text_choice(index: int, text: str, finish_reason: str | None, logprobs: Any = None) -> dict[str, Any]:
    return {"index": index, "text": text, "finish_reason": finish_reason, "logprobs": logprobs}


def text_completion(
    model: str,
    choices: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    *,
    id: str | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": id or new_id("cmpl"),
        "object": "text_completion",
        "created": created or int(time.time()),
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        body["usage"] = usage
    return body


class ChatChunks:
    """Builds the ``chat.completion.chunk`` objects of one stream with one id and timestamp."""

    __slots__ = ("created", "id", "model")

    def __init__(self, model: str, *, id: str | None = None, created: int | None = None) -> None:
        self.model = model
        self.id = id or new_id()
        self.created = created or int(time.time())

    def chunk(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if usage is not None:
            body["usage"] = usage
        return body

    def delta(self, delta: dict[str, Any], index: int = 0, finish_reason: str | None = None) -> dict[str, Any]:
        return self.chunk([{"index": index, "delta": delta, "finish_reason": finish_reason, "logprobs": None}])

    def role(self, index: int = 0) -> dict[str, Any]:
        return self.delta({"role": "assistant", "content": ""}, index)

    def content(self, text: str, index: int = 0) -> dict[str, Any]:
        return self.delta({"content": text}, index)

    def reasoning(self, text: str, index: int = 0) -> dict[str, Any]:
        return self.delta({"reasoning_content": text}, index)

    def tool_call(
        self,
        tool_index: int,
        *,
        id: str | None = None,
        name: str | None = None,
        arguments: str = "",
        index: int = 0,
    ) -> dict[str, Any]:
        call: dict[str, Any] = {"index": tool_index, "function": {"arguments": arguments}}
        if id is not None:
            call["id"] = id
            call["type"] = "function"
        if name is not None:
            call["function"]["name"] = name
        return self.delta({"tool_calls": [call]}, index)

    def finish(self, finish_reason: str, index: int = 0) -> dict[str, Any]:
        return self.delta({}, index, finish_reason)

    def usage(self, usage: dict[str, Any]) -> dict[str, Any]:
        """The final chunk of ``stream_options.include_usage``: no choices, the usage."""
        return self.chunk([], usage)


class TextChunks:
    """Builds the ``text_completion`` chunks of one streamed text completion."""

    __slots__ = ("created", "id", "model")

    def __init__(self, model: str, *, id: str | None = None, created: int | None = None) -> None:
        self.model = model
        self.id = id or new_id("cmpl")
        self.created = created or int(time.time())

    def chunk(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if usage is not None:
            body["usage"] = usage
        return body

    def text(self, text: str, index: int = 0, finish_reason: str | None = None) -> dict[str, Any]:
        return self.chunk([text_choice(index, text, finish_reason)])

    def usage(self, usage: dict[str, Any]) -> dict[str, Any]:
        return self.chunk([], usage)
