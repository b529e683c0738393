"""``mistral``: Mistral AI's chat completions (``POST {api_base}/chat/completions``, Bearer key).

Mistral's API is OpenAI-like (reference: docs.mistral.ai API and the mistralai/client-python
models, 2026-11) but not OpenAI's: parameter names, tool-call ids and the order of turns differ
on the way in (:mod:`.params`, :mod:`.request`), and answers need small fixes to be valid OpenAI
objects on the way out (:mod:`.response`, :mod:`.stream`). Streams are SSE ending with
``[DONE]``. ``n`` is native: one upstream call answers every choice. Text completions are served
through chat.

Provider options: ``api_base`` (default ``https://api.mistral.ai/v1``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from lambdagate.providers import http
from lambdagate.providers.base import CallContext, Capabilities, ParamTable, Target
from lambdagate.providers.http_provider import HTTPProvider, UpstreamCall
from lambdagate.providers.mistral import response
from lambdagate.providers.mistral.params import PARAMS
from lambdagate.providers.mistral.request import build_body
from lambdagate.providers.mistral.stream import StreamTranslator
from lambdagate.providers.transforms import chat_only
from lambdagate.types import BaseRequest
from lambdagate.wire import JSONBody

if TYPE_CHECKING:
    from lambdagate.embedding_types import EmbeddingRequest

DEFAULT_API_BASE = "https://api.mistral.ai/v1"


class MistralProvider(HTTPProvider):
    type_name = "mistral"
    # Mistral's chat API has no logprobs (they are dropped by the table).
    capabilities: ClassVar[Capabilities] = Capabilities(n=True, tools=True, images=True, json_schema=True,
                                                        embeddings=True)
    params: ClassVar[ParamTable] = PARAMS

    def url(self, target: Target) -> str:
        return (target.config.api_base or DEFAULT_API_BASE).rstrip("/") + "/chat/completions"

    def prepare(self, request: BaseRequest, target: Target, ctx: CallContext, *, stream: bool) -> UpstreamCall:
        return UpstreamCall(
            url=self.url(target),
            body=build_body(chat_only(request, self.type_name), target.model, ctx, stream=stream),
            headers=http.bearer_headers(target),
            parse_error=response.mistral_error,
            error_in_body=response.has_error,
        )

    def respond(self, reply: http.Reply, call: UpstreamCall, target: Target) -> JSONBody:
        return response.completion(reply, target)

    def translator(self, request: BaseRequest, call: UpstreamCall, target: Target) -> StreamTranslator:
        return StreamTranslator(target, include_usage=request.wants_usage_chunk)

    async def embed(self, request: EmbeddingRequest, target: Target, ctx: CallContext) -> JSONBody:
        """``/embeddings`` (:mod:`.embeddings`), 512 inputs per call."""
        from lambdagate.providers.mistral import embeddings

        url = (target.config.api_base or DEFAULT_API_BASE).rstrip("/") + "/embeddings"
        return await embeddings.embed(url, http.bearer_headers(target), request, target, ctx)
