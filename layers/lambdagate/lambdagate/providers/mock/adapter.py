"""A deterministic model: it answers from the prompt, streams word by word, and counts usage.

The answer depends only on the request, so a smoke test after a deploy can assert on it, and a
benchmark measures the gateway alone. Options (provider or deployment): ``latency`` seconds before
the first token, ``chunk_delay`` seconds between streamed words.

- The last message is a tool result: the answer reports it.
- Tools are offered and ``tool_choice`` is ``required`` or names a function: that function (or
  the first) is called with ``{"input": <last user text>}``.
- ``response_format`` asks for JSON: the answer is ``{"echo": <last user text>}``.
- Otherwise: ``You said: <last user text>``.

``max_tokens``/``max_completion_tokens`` cut the answer (finish_reason ``length``), ``stop``
sequences end it (``stop``), ``n`` repeats it. A token is a whitespace-separated word.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from lambdagate.providers import shapes
from lambdagate.providers.base import (
    ALWAYS_HANDLED,
    CallContext,
    Capabilities,
    ParamTable,
    Provider,
    Target,
    map_params,
)
from lambdagate.providers.mock.params import PARAMS
from lambdagate.types import ChatCompletionRequest, Message, NamedToolChoice, TextPart
from lambdagate.wire import JSONBody

if TYPE_CHECKING:
    from lambdagate.embedding_types import EmbeddingRequest


@dataclass(frozen=True, slots=True)
class _Answer:
    words: list[str]
    finish_reason: str
    tool_call: dict[str, Any] | None = None


def _text(message: Message) -> str:
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return " ".join(part.text for part in content if isinstance(part, TextPart))


def _tokens(text: str) -> int:
    return len(text.split())


class MockProvider(Provider):
    type_name = "mock"
    capabilities: ClassVar[Capabilities] = Capabilities(n=True, tools=True, json_schema=True, upstream_api="local",
                                                        embeddings=True)
    params: ClassVar[ParamTable] = PARAMS

    def answer(self, request: ChatCompletionRequest) -> _Answer:
        last = request.messages[-1]
        user_text = next((_text(m) for m in reversed(request.messages) if m.role == "user"), "")
        choice = request.tool_choice
        if last.role == "tool":
            return self._limit(request, f"The tool returned: {_text(last)}")
        wanted = choice.function.name if isinstance(choice, NamedToolChoice) else None
        if request.tools and (choice == "required" or wanted):
            name = wanted or request.tools[0].function.name
            arguments = json.dumps({"input": user_text})
            call = shapes.tool_call(f"call_{zlib.crc32((name + arguments).encode()):010d}", name, arguments)
            return _Answer([], "tool_calls", call)
        if request.response_format is not None and request.response_format.type != "text":
            return self._limit(request, json.dumps({"echo": user_text}))
        return self._limit(request, f"You said: {user_text}")

    def _limit(self, request: ChatCompletionRequest, text: str) -> _Answer:
        for stop in request.stop_list():
            if stop and stop in text:
                return _Answer(text[: text.index(stop)].split(" ") if text.index(stop) else [], "stop")
        words = text.split(" ")
        limit = request.output_token_limit
        if limit is not None and len(words) > limit:
            return _Answer(words[:limit], "length")
        return _Answer(words, "stop")

    def usage(self, request: ChatCompletionRequest, answer: _Answer, n: int) -> dict[str, Any]:
        prompt = sum(_tokens(_text(m)) for m in request.messages)
        completion = len(answer.words) or (1 if answer.tool_call else 0)
        return shapes.usage(prompt, completion * n)

    async def chat(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        map_params(request.translated_fields(), self.params, ctx, self.type_name, handled=ALWAYS_HANDLED)
        answer = self.answer(request)
        if latency := float(target.option("latency", 0)):
            await asyncio.sleep(latency)
        n = request.n or 1
        message = shapes.chat_message(
            None if answer.tool_call else " ".join(answer.words),
            tool_calls=[answer.tool_call] if answer.tool_call else None,
        )
        choices = [shapes.chat_choice(i, message, answer.finish_reason) for i in range(n)]
        return shapes.chat_completion(target.model, choices, self.usage(request, answer, n))

    async def chat_stream(
        self, request: ChatCompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        map_params(request.translated_fields(), self.params, ctx, self.type_name, handled=ALWAYS_HANDLED)
        answer = self.answer(request)
        chunks = shapes.ChatChunks(target.model)
        n = request.n or 1
        delay = float(target.option("chunk_delay", 0))
        if latency := float(target.option("latency", 0)):
            await asyncio.sleep(latency)
        for index in range(n):
            yield chunks.role(index)
        if answer.tool_call:
            function = answer.tool_call["function"]
            for index in range(n):
                yield chunks.tool_call(0, id=answer.tool_call["id"], name=function["name"], index=index)
                yield chunks.tool_call(0, arguments=function["arguments"], index=index)
        for position, word in enumerate(answer.words):
            if delay and position:
                await asyncio.sleep(delay)
            piece = word if position == len(answer.words) - 1 else word + " "
            for index in range(n):
                yield chunks.content(piece, index)
        for index in range(n):
            yield chunks.finish(answer.finish_reason, index)
        if request.wants_usage_chunk:
            yield chunks.usage(self.usage(request, answer, n))

    async def embed(self, request: EmbeddingRequest, target: Target, ctx: CallContext) -> JSONBody:
        """Deterministic unit vectors from each input's text (:mod:`.embeddings`)."""
        from lambdagate.providers.mock import embeddings

        if latency := float(target.option("latency", 0)):
            await asyncio.sleep(latency)
        return embeddings.embed(request, target, ctx)
