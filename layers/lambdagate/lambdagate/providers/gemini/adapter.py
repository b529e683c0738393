"""``gemini``: the Google AI Gemini API (``generateContent``, ``streamGenerateContent?alt=sse``).

Built against the Gemini API v1beta REST reference as of 2026-11 (``v1`` works too through the
``api_version`` option, but lacks newer fields such as ``parametersJsonSchema``). The key travels
in the ``x-goog-api-key`` header, never in the URL, so it cannot end up in an access log.

Provider options: ``api_base`` (default ``https://generativelanguage.googleapis.com/<api_version>``),
``api_version`` (default ``v1beta``). The parameter table is in :mod:`.params`, the transforms in
:mod:`.request`, :mod:`.response` (errors included) and :mod:`.stream`.

``n`` is native (``candidateCount``): one upstream call answers every choice. Models that take
one candidate per request (Gemini 3, :func:`.params.single_candidate`) declare no native ``n``
(:meth:`GeminiProvider.capabilities_for`), so theirs is served by parallel calls.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote

from lambdagate.providers import http
from lambdagate.providers.base import CallContext, Capabilities, ParamTable, Target
from lambdagate.providers.gemini import response
from lambdagate.providers.gemini.params import PARAMS, single_candidate
from lambdagate.providers.gemini.request import build_body
from lambdagate.providers.gemini.stream import StreamTranslator
from lambdagate.providers.http_provider import HTTPProvider, UpstreamCall
from lambdagate.providers.transforms import chat_only
from lambdagate.types import BaseRequest
from lambdagate.wire import JSONBody

if TYPE_CHECKING:
    from lambdagate.embedding_types import EmbeddingRequest

DEFAULT_HOST = "https://generativelanguage.googleapis.com"
DEFAULT_API_VERSION = "v1beta"


class GeminiProvider(HTTPProvider):
    type_name = "gemini"
    # Gemini has log probabilities (responseLogprobs), but they are not translated yet.
    capabilities: ClassVar[Capabilities] = Capabilities(n=True, tools=True, images=True, json_schema=True,
                                                        embeddings=True)
    params: ClassVar[ParamTable] = PARAMS

    def url(self, target: Target, method: str) -> str:
        base = target.config.api_base or f"{DEFAULT_HOST}/{target.option('api_version', DEFAULT_API_VERSION)}"
        model = quote(target.model.removeprefix("models/"), safe="-._~")
        return f"{base.rstrip('/')}/models/{model}:{method}"

    def headers(self, target: Target) -> dict[str, str]:
        headers = dict(target.config.headers)
        if target.api_key:
            headers["x-goog-api-key"] = target.api_key
        return headers

    def prepare(self, request: BaseRequest, target: Target, ctx: CallContext, *, stream: bool) -> UpstreamCall:
        url = self.url(target, "streamGenerateContent") + "?alt=sse" if stream else self.url(target, "generateContent")
        return UpstreamCall(
            url=url,
            body=build_body(chat_only(request, self.type_name), target.model, ctx),
            headers=self.headers(target),
            parse_error=response.gemini_error,
            error_in_body=response.is_error_body,
        )

    def respond(self, reply: http.Reply, call: UpstreamCall, target: Target) -> JSONBody:
        return response.chat_completion(reply.value, target)

    def translator(self, request: BaseRequest, call: UpstreamCall, target: Target) -> StreamTranslator:
        return StreamTranslator(target, include_usage=request.wants_usage_chunk)

    async def embed(self, request: EmbeddingRequest, target: Target, ctx: CallContext) -> JSONBody:
        """``batchEmbedContents`` (:mod:`.embeddings`), 100 texts per call."""
        from lambdagate.providers.gemini import embeddings

        return await embeddings.embed(self.url(target, "batchEmbedContents"), self.headers(target), request, target,
                                      ctx)

    def capabilities_for(self, target: Target) -> Capabilities:
        # Gemini 3 models refuse candidateCount > 1: their ``n`` is served by parallel calls.
        if single_candidate(target.model):
            return replace(self.capabilities, n=False)
        return self.capabilities
