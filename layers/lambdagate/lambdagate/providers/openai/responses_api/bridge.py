"""Chat requests of the OpenAI-type adapters, sent to ``/chat/completions`` or through the Responses API.

:mod:`.route` decides per request; this module runs the decision with the shared upstream I/O
(:mod:`lambdagate.providers.http`): a chat call as the adapter always made it, or a Responses call
built by :mod:`.request` and read back by :mod:`.response` / :mod:`.stream`. When a chat call is
refused because the model needs the Responses API (``auto``), the same request is sent again
through the bridge within the same attempt, and the model is remembered.

The Responses API has no ``n``: ``n`` choices through it are parallel calls (:mod:`..fanout`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING

from lambdagate.errors import UpstreamError
from lambdagate.providers import fanout, http
from lambdagate.providers.base import CallContext, Target, translate_stream
from lambdagate.providers.openai.responses_api import request as build
from lambdagate.providers.openai.responses_api import response, route
from lambdagate.providers.openai.responses_api.stream import StreamTranslator
from lambdagate.types import ChatCompletionRequest
from lambdagate.wire import JSONBody

if TYPE_CHECKING:
    from lambdagate.providers.openai.adapter import OpenAIProvider


def choose(provider: OpenAIProvider, request: ChatCompletionRequest, target: Target) -> route.Route:
    return route.choose(provider.chat_api(target), request, target)


def encrypted_reasoning(request: ChatCompletionRequest, target: Target, chosen: route.Route) -> bool:
    """Whether to ask for the model's encrypted reasoning: for models known or asked to reason.

    Models that do not reason refuse ``include: reasoning.encrypted_content``, so a forced ``api:
    responses`` asks only with a ``reasoning_effort`` (other than ``none``) or the option
    ``encrypted_reasoning: true``; ``false`` never asks.
    """
    option = target.option("encrypted_reasoning")
    if isinstance(option, bool):
        return option
    if request.reasoning_effort == "none":
        return False
    return chosen.reasoning_model or request.reasoning_effort is not None


async def chat(provider: OpenAIProvider, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
    chosen = choose(provider, request, target)
    if chosen.responses:
        if (request.n or 1) > 1:
            return await fanout.chat(provider, request, target, ctx)
        call = provider.prepare_responses(request, target, ctx, stream=False,
                                          encrypted_reasoning=encrypted_reasoning(request, target, chosen))
        reply = await http.request_json(target, call.url, call.body, call.headers, parse_error=call.parse_error,
                                        error_in_body=call.error_in_body)
        return response.chat_completion(reply.value, target, build.reasoning_format(target.provider_type),
                                        call.parse_error)
    try:
        return await provider.send(provider.prepare(request, target, ctx, stream=False), target)
    except UpstreamError as exc:
        if not route.learn(chosen, exc, request, target):
            raise
    return await chat(provider, request, target, ctx)  # now through the Responses API


def chat_stream(
    provider: OpenAIProvider, request: ChatCompletionRequest, target: Target, ctx: CallContext
) -> AsyncIterator[JSONBody]:
    chosen = choose(provider, request, target)
    if chosen.responses:
        if (request.n or 1) > 1:
            return fanout.chat_stream(provider, request, target, ctx)
        return _responses_stream(provider, request, target, ctx, chosen)
    if not chosen.learns:
        return provider.relay(request, target, ctx)
    return _learning_stream(provider, request, target, ctx, chosen)


def _responses_stream(provider: OpenAIProvider, request: ChatCompletionRequest, target: Target, ctx: CallContext,
                      chosen: route.Route) -> AsyncIterator[JSONBody]:
    call = provider.prepare_responses(request, target, ctx, stream=True,
                                      encrypted_reasoning=encrypted_reasoning(request, target, chosen))
    events = http.read_sse(target, call.url, call.body, call.headers, parse_error=call.parse_error,
                           error_event=call.error_event)
    translator = StreamTranslator(target, include_usage=request.wants_usage_chunk,
                                  fmt=build.reasoning_format(target.provider_type), parse_error=call.parse_error)
    return translate_stream(events, translator)


async def _learning_stream(provider: OpenAIProvider, request: ChatCompletionRequest, target: Target,
                           ctx: CallContext, chosen: route.Route) -> AsyncGenerator[JSONBody, None]:
    """The chat stream, unless its opening is refused for the Responses API: then the bridge's stream.

    The refusal comes before any chunk, so nothing has reached the client when the bridge takes over.
    """
    upstream = provider.relay(request, target, ctx)
    try:
        try:
            first: JSONBody | None = await anext(upstream)
        except StopAsyncIteration:
            return
        except UpstreamError as exc:
            if not route.learn(chosen, exc, request, target):
                raise
            first = None
        if first is None:
            await _close(upstream)
            upstream = chat_stream(provider, request, target, ctx)
        else:
            yield first
        async for chunk in upstream:
            yield chunk
    finally:
        await _close(upstream)  # the client left, or the stream failed: the upstream request ends too


async def _close(stream: AsyncIterator[JSONBody]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


__all__ = ["chat", "chat_stream", "choose", "encrypted_reasoning"]
