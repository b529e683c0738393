"""``cohere``: Cohere's v2 Chat API, ``POST {api_base}/v2/chat`` with a Bearer key, JSON or SSE.

Built against the v2 Chat reference (docs.cohere.com/reference/chat, chat-stream; the
cohere-python SDK's generated v2 types) as of November 2026. The parameter table is in
:mod:`.params`, the transforms in :mod:`.request`, :mod:`.response` and :mod:`.stream`; sending
and reading (a reply that is not JSON is a retryable 502; Cohere's error object under a 200 is
mapped like an error status) are the shared reader's.

Provider options: ``api_base`` (default ``https://api.cohere.com``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from lambdagate.providers import http
from lambdagate.providers.base import CallContext, Capabilities, ParamTable, Target
from lambdagate.providers.cohere import response
from lambdagate.providers.cohere.params import PARAMS
from lambdagate.providers.cohere.request import build_body
from lambdagate.providers.cohere.stream import StreamTranslator
from lambdagate.providers.http_provider import HTTPProvider, UpstreamCall
from lambdagate.providers.transforms import chat_only
from lambdagate.types import BaseRequest
from lambdagate.wire import JSONBody

if TYPE_CHECKING:
    from lambdagate.embedding_types import EmbeddingRequest

DEFAULT_API_BASE = "https://api.cohere.com"


class CohereProvider(HTTPProvider):
    type_name = "cohere"
    # v2 Chat has no n (num_generations was v1 generate's) and its logprobs are not translated.
    capabilities: ClassVar[Capabilities] = Capabilities(tools=True, images=True, json_schema=True, embeddings=True)
    params: ClassVar[ParamTable] = PARAMS

    def url(self, target: Target) -> str:
        return (target.config.api_base or DEFAULT_API_BASE).rstrip("/") + "/v2/chat"

    def prepare(self, request: BaseRequest, target: Target, ctx: CallContext, *, stream: bool) -> UpstreamCall:
        return UpstreamCall(
            url=self.url(target),
            body=build_body(chat_only(request, self.type_name), target.model, ctx, stream=stream),
            headers=http.bearer_headers(target),
            parse_error=response.cohere_error,
            error_in_body=response.is_error_body,
        )

    def respond(self, reply: http.Reply, call: UpstreamCall, target: Target) -> JSONBody:
        return response.chat_completion(reply.value, target)

    def translator(self, request: BaseRequest, call: UpstreamCall, target: Target) -> StreamTranslator:
        return StreamTranslator(target, include_usage=request.wants_usage_chunk)

    async def embed(self, request: EmbeddingRequest, target: Target, ctx: CallContext) -> JSONBody:
        """v2 Embed (:mod:`.embeddings`), 96 texts per call."""
        from lambdagate.providers.cohere import embeddings

        url = (target.config.api_base or DEFAULT_API_BASE).rstrip("/") + "/v2/embed"
        return await embeddings.embed(url, http.bearer_headers(target), request, target, ctx)
