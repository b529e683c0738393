"""``openai``: the OpenAI API and every OpenAI-compatible server, bytes forwarded untouched.

Nothing is translated, so nothing is re-encoded: the upstream's JSON body and each SSE ``data``
payload go back to the client as they came (DESIGN.md, "forward upstream bytes"), after the
shared reader has checked that they are usable.

Provider options: ``api_base`` (default ``https://api.openai.com/v1``), ``organization``,
``project``, ``native_responses`` (default true: Responses API requests are forwarded to the
upstream's ``/responses``; false for an OpenAI-compatible server without it, whose Responses
requests are then translated through chat), ``api`` (``chat``, ``responses`` or ``auto``: which
upstream API answers chat requests, see :mod:`.responses_api.route`; ``auto`` is the default on
OpenAI's own API, ``chat`` elsewhere), ``responses_models``, ``encrypted_reasoning``,
``reasoning_summary``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from lambdagate.providers import http
from lambdagate.providers.base import CallContext, Capabilities, ParamTable, StreamTranslator, Target, translate_stream
from lambdagate.providers.http_provider import HTTPProvider, UpstreamCall
from lambdagate.providers.openai import response, responses
from lambdagate.providers.openai.params import PARAMS
from lambdagate.providers.openai.request import build_body
from lambdagate.providers.openai.stream import PassthroughStream
from lambdagate.types import BaseRequest, ChatCompletionRequest
from lambdagate.wire import JSONBody

if TYPE_CHECKING:
    from lambdagate.embedding_types import EmbeddingRequest

DEFAULT_API_BASE = "https://api.openai.com/v1"


def path_of(request: BaseRequest) -> str:
    return "/chat/completions" if isinstance(request, ChatCompletionRequest) else "/completions"


class OpenAIProvider(HTTPProvider):
    type_name = "openai"
    capabilities: ClassVar[Capabilities] = Capabilities(
        n=True, logprobs=True, text_completions=True, tools=True, images=True, json_schema=True, embeddings=True,
        native_doors=frozenset({"responses"}),
    )
    params: ClassVar[ParamTable] = PARAMS

    def capabilities_for(self, target: Target) -> Capabilities:
        if target.option("native_responses", True) is False:
            return replace(self.capabilities, native_doors=frozenset())
        return self.capabilities

    def parse_error(self, body: Any) -> http.ErrorInfo:
        return http.openai_error(body)

    def headers(self, target: Target) -> dict[str, str]:
        headers = http.bearer_headers(target)
        if organization := target.option("organization"):
            headers["openai-organization"] = organization
        if project := target.option("project"):
            headers["openai-project"] = project
        return headers

    def url(self, target: Target, path: str) -> str:
        return (target.config.api_base or DEFAULT_API_BASE).rstrip("/") + path

    def model(self, target: Target) -> str:
        return target.model

    def prepare(self, request: BaseRequest, target: Target, ctx: CallContext, *, stream: bool) -> UpstreamCall:
        return UpstreamCall(
            url=self.url(target, path_of(request)),
            body=build_body(request, self.model(target), stream=stream),
            headers=self.headers(target),
            parse_error=self.parse_error,
            error_in_body=response.has_error,
        )

    def respond(self, reply: http.Reply, call: UpstreamCall, target: Target) -> JSONBody:
        return response.completion(reply, target)

    def translator(self, request: BaseRequest, call: UpstreamCall, target: Target) -> StreamTranslator:
        return PassthroughStream()

    # --- chat through the Responses API where the model needs it (providers/openai/responses_api) ---

    def chat_api(self, target: Target) -> str:
        """The ``api`` option: ``chat``, ``responses`` or ``auto``, the default on OpenAI's own API only."""
        openai_itself = _is_openai_itself(target.config.api_base or DEFAULT_API_BASE)
        return str(target.option("api") or ("auto" if openai_itself else "chat"))

    async def chat(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        return await _bridge_chat()(self, request, target, ctx)

    def chat_stream(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> AsyncIterator[JSONBody]:
        return _bridge_chat_stream()(self, request, target, ctx)

    def prepare_responses(self, request: ChatCompletionRequest, target: Target, ctx: CallContext, *, stream: bool,
                          encrypted_reasoning: bool) -> UpstreamCall:
        """The Responses API call answering a chat request (stateless: ``store: false``)."""
        from lambdagate.providers.openai.responses_api.request import build_body as responses_body

        body = responses_body(request, self.responses_model(target), ctx, target.provider_type, stream=stream,
                              encrypted_reasoning=encrypted_reasoning,
                              reasoning_summary=target.option("reasoning_summary"))
        return UpstreamCall(url=self.responses_url(target), body=body, headers=self.headers(target),
                            parse_error=self.parse_error, error_event=responses.is_error_event,
                            error_in_body=responses.has_error)

    # --- the Responses API, forwarded (the Responses front door's passthrough) ---------------------

    def responses_url(self, target: Target) -> str:
        return self.url(target, responses.PATH)

    def responses_model(self, target: Target) -> str:
        return self.model(target)

    async def responses(self, fields: dict[str, Any], target: Target, ctx: CallContext) -> JSONBody:
        """A ``Response`` for the client's Responses request ``fields``, as the upstream's bytes."""
        body = responses.build_body(fields, self.responses_model(target), stream=False)
        reply = await http.request_json(target, self.responses_url(target), body, self.headers(target),
                                        parse_error=self.parse_error, error_in_body=responses.has_error)
        return responses.response(reply, target)

    def responses_stream(self, fields: dict[str, Any], target: Target, ctx: CallContext) -> AsyncIterator[JSONBody]:
        """The upstream's Responses events, each as its bytes with its name (:class:`~lambdagate.wire.RawEvent`)."""
        body = responses.build_body(fields, self.responses_model(target), stream=True)
        events = http.read_sse(target, self.responses_url(target), body, self.headers(target),
                               parse_error=self.parse_error, error_event=responses.is_error_event)
        return translate_stream(events, responses.PassthroughEvents(target))

    async def embed(self, request: EmbeddingRequest, target: Target, ctx: CallContext) -> JSONBody:
        from lambdagate.providers.openai import embeddings

        return await embeddings.embed(self, request, target, ctx)


@functools.lru_cache(maxsize=64)
def _is_openai_itself(api_base: str) -> bool:
    """Whether ``api_base`` is OpenAI's own API: asked on every chat request, parsed once per URL."""
    from urllib.parse import urlsplit

    return urlsplit(api_base).hostname == "api.openai.com"


# The chat-through-Responses bridge is imported with the first chat call rather than with the
# adapter (embeddings need none of it), then kept: an import statement on every chat call cost
# about a microsecond. One loader per function keeps the calls type-checked.
ChatCall = Callable[["OpenAIProvider", ChatCompletionRequest, Target, CallContext], Awaitable[JSONBody]]
StreamCall = Callable[["OpenAIProvider", ChatCompletionRequest, Target, CallContext], AsyncIterator[JSONBody]]


@functools.cache
def _bridge_chat() -> ChatCall:
    from lambdagate.providers.openai.responses_api.bridge import chat

    return chat


@functools.cache
def _bridge_chat_stream() -> StreamCall:
    from lambdagate.providers.openai.responses_api.bridge import chat_stream

    return chat_stream
