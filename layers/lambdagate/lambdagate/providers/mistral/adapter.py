"""``mistral``: Mistral AI's chat completions (``POST {api_base}/chat/completions``, Bearer key).

Mistral's API is OpenAI-like (reference: docs.mistral.ai API and the mistralai/client-python
models, 2026-11) but not OpenAI's: parameter names and tool-call ids differ on the way in
(:mod:`.request`), and answers need small fixes to be valid OpenAI objects on the way out
(:mod:`.response`). Streams are SSE ending with ``[DONE]``. Errors are OpenAI-like
(``{"message", "type", "param", "code"}``, 422 for validation errors) and are read by the shared
OpenAI error parser. Text completions are served through chat (the base class).

Provider options: ``api_base`` (default ``https://api.mistral.ai/v1``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from lambdagate.errors import upstream_error
from lambdagate.providers import http
from lambdagate.providers.base import CallContext, JSONBody, ParamTable, Provider, RawJSON, Target
from lambdagate.providers.mistral.request import CHAT_PARAMS, build_body
from lambdagate.providers.mistral.response import normalize_chunk, normalize_completion
from lambdagate.types import ChatCompletionRequest

DEFAULT_API_BASE = "https://api.mistral.ai/v1"


class MistralProvider(Provider):
    type_name = "mistral"
    chat_params: ClassVar[ParamTable] = CHAT_PARAMS

    def url(self, target: Target) -> str:
        return (target.config.api_base or DEFAULT_API_BASE).rstrip("/") + "/chat/completions"

    def headers(self, target: Target) -> dict[str, str]:
        return http.bearer_headers(target)

    async def chat(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        body = build_body(request, target.model, ctx, stream=False)
        content = await http.post(target, self.url(target), body, self.headers(target))
        parsed = http.parse_json(content, target)
        if not isinstance(parsed, dict):
            raise upstream_error(target.provider_name, 502, "the upstream answered with an unexpected body.",
                                 secrets=target.secrets)
        return parsed if normalize_completion(parsed, target) else RawJSON(content)

    async def chat_stream(
        self, request: ChatCompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        body = build_body(request, target.model, ctx, stream=True)
        usage: dict[str, Any] | None = None
        last: dict[str, Any] | None = None
        async with http.stream(target, self.url(target), body, self.headers(target)) as response:
            async for _event, data in http.sse_events(response, target):
                if data == "[DONE]":
                    break
                chunk = http.parse_json(data, target)
                if not isinstance(chunk, dict):
                    continue
                if "error" in chunk or chunk.get("object") == "error":
                    info = http.openai_error(chunk)
                    raise upstream_error(target.provider_name, 500, info.message, code=info.code,
                                         secrets=target.secrets)
                if not chunk.get("choices") and chunk.get("usage"):
                    usage, last = chunk["usage"], chunk
                    continue
                changed, carried = normalize_chunk(chunk, target)
                if carried is not None:
                    usage = carried
                last = chunk
                yield chunk if changed else RawJSON(data.encode())
        if request.wants_usage_chunk and usage is not None and last is not None:
            yield {"id": last.get("id", ""), "object": "chat.completion.chunk", "created": last.get("created", 0),
                   "model": last.get("model", target.model), "choices": [], "usage": usage}
