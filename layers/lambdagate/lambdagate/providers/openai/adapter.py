"""The OpenAI wire format itself: requests pass through, responses are forwarded as bytes.

Nothing is translated, so nothing is re-parsed: the upstream's JSON body and each SSE ``data``
payload go back to the client as they came (see DESIGN.md, "forward upstream bytes"). Unknown
request fields pass through too, so new OpenAI parameters and server-specific ones (vLLM's
``guided_json``, OpenRouter's ``provider``) work without a change here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from lambdagate.providers import http
from lambdagate.providers.base import CallContext, JSONBody, ParamTable, Provider, RawJSON, Target
from lambdagate.types import ChatCompletionRequest, CompletionRequest, _Request

DEFAULT_API_BASE = "https://api.openai.com/v1"


class OpenAIProvider(Provider):
    type_name = "openai"
    # Everything passes through: the table is empty and no field is ever reported as dropped.
    chat_params: ClassVar[ParamTable] = {}

    def headers(self, target: Target) -> dict[str, str]:
        headers = http.bearer_headers(target)
        if organization := target.option("organization"):
            headers["openai-organization"] = organization
        if project := target.option("project"):
            headers["openai-project"] = project
        return headers

    def url(self, target: Target, path: str) -> str:
        return (target.config.api_base or DEFAULT_API_BASE).rstrip("/") + path

    def body(self, request: _Request, target: Target, *, stream: bool) -> dict[str, Any]:
        body = request.sent_fields()
        body["model"] = target.model
        if stream:
            body["stream"] = True
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)
        return body

    async def chat(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        return await self._post(request, target, "/chat/completions")

    def chat_stream(
        self, request: ChatCompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        return self._stream(request, target, "/chat/completions")

    async def completion(self, request: CompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        return await self._post(request, target, "/completions")

    def completion_stream(
        self, request: CompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        return self._stream(request, target, "/completions")

    async def _post(self, request: _Request, target: Target, path: str) -> JSONBody:
        content = await http.post(
            target, self.url(target, path), self.body(request, target, stream=False), self.headers(target)
        )
        return RawJSON(content)

    async def _stream(self, request: _Request, target: Target, path: str) -> AsyncIterator[JSONBody]:
        body = self.body(request, target, stream=True)
        async with http.stream(target, self.url(target, path), body, self.headers(target)) as response:
            async for _event, data in http.sse_events(response, target):
                if data == "[DONE]":
                    return
                if data.startswith('{"error"'):
                    raise stream_error(data, target)
                yield RawJSON(data.encode())


def stream_error(data: str, target: Target) -> Exception:
    """An error event in the middle of an upstream stream (OpenAI sends these on overload)."""
    from lambdagate.errors import upstream_error

    try:
        info = http.openai_error(json.loads(data))
    except ValueError:
        info = http.ErrorInfo(None)
    return upstream_error(target.provider_name, 500, info.message, code=info.code, secrets=target.secrets)
