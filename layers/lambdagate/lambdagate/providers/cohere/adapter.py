"""Cohere's v2 Chat API: ``POST {api_base}/v2/chat`` with a Bearer key, JSON or SSE.

Built against the v2 Chat reference (docs.cohere.com/reference/chat, chat-stream; the
cohere-python SDK's generated v2 types) as of November 2026. Sampling names differ from OpenAI's
(``p``, ``k``, ``stop_sequences``) and so do ranges: ``p`` is 0.01-0.99 and the penalties 0-1,
so values are clamped into Cohere's range rather than refused. ``response_format`` json_object
and json_schema both become Cohere's ``json_object`` (with ``json_schema`` for the latter).
Error bodies are ``{"message": ...}``; statuses are mapped like every provider's.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from lambdagate.errors import upstream_error
from lambdagate.providers import http
from lambdagate.providers.base import (
    ALWAYS_HANDLED,
    UNSET,
    CallContext,
    JSONBody,
    Param,
    ParamTable,
    Provider,
    Target,
    map_params,
)
from lambdagate.providers.cohere import request, response
from lambdagate.types import ChatCompletionRequest

DEFAULT_API_BASE = "https://api.cohere.com"


def _stop_sequences(value: Any) -> Any:
    stops = [value] if isinstance(value, str) else [s for s in value if s]
    return stops or UNSET


def _response_format(value: Any) -> Any:
    kind = value.get("type")
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = (value.get("json_schema") or {}).get("schema")
        return {"type": "json_object", "json_schema": schema} if schema else {"type": "json_object"}
    return {"type": "text"}


CHAT_PARAMS: ParamTable = {
    "max_tokens": Param(),
    "max_completion_tokens": Param("max_tokens"),
    "temperature": Param(),
    "top_p": Param("p", min=0.01, max=0.99),
    "top_k": Param("k", min=0, max=500),
    "stop": Param("stop_sequences", transform=_stop_sequences),
    "seed": Param(),
    "frequency_penalty": Param(min=0, max=1),
    "presence_penalty": Param(min=0, max=1),
    "response_format": Param(transform=_response_format),
    # Cohere's own fields, sent by clients as extra body fields.
    "safety_mode": Param(),
    "thinking": Param(),
}

_HANDLED = ALWAYS_HANDLED | {"tools", "tool_choice"}


def cohere_error(body: Any) -> http.ErrorInfo:
    """Cohere answers errors with ``{"id": ..., "message": ...}``."""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return http.ErrorInfo(body["message"])
    return http.openai_error(body)


class CohereProvider(Provider):
    type_name = "cohere"
    chat_params: ClassVar[ParamTable] = CHAT_PARAMS

    def url(self, target: Target) -> str:
        return (target.config.api_base or DEFAULT_API_BASE).rstrip("/") + "/v2/chat"

    def headers(self, target: Target) -> dict[str, str]:
        return http.bearer_headers(target)

    def body(self, chat: ChatCompletionRequest, target: Target, ctx: CallContext, *, stream: bool) -> dict[str, Any]:
        body = map_params(chat.sent_fields(), self.chat_params, ctx, self.type_name, handled=_HANDLED)
        return {
            "model": target.model,
            "messages": request.convert_messages(chat.messages),
            **request.tool_fields(chat),
            **body,
            "stream": stream,
        }

    async def chat(self, chat: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        body = self.body(chat, target, ctx, stream=False)
        content = await http.post(target, self.url(target), body, self.headers(target), parse_error=cohere_error)
        return response.chat_completion(json.loads(content), target)

    async def chat_stream(
        self, chat: ChatCompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        body = self.body(chat, target, ctx, stream=True)
        translator = response.StreamTranslator(target, include_usage=chat.wants_usage_chunk)
        async with http.stream(target, self.url(target), body, self.headers(target),
                               parse_error=cohere_error) as upstream:
            async for _event, data in http.sse_events(upstream, target):
                if not data or data == "[DONE]":
                    continue
                try:
                    event = json.loads(data)
                except ValueError:
                    raise upstream_error(target.provider_name, 502, "Malformed stream event.") from None
                for chunk in translator.feed(event):
                    yield chunk
