"""How the gateway calls a provider: native where it can, shared fallbacks where it cannot.

The router hands every attempt to these functions, which read the provider's declared
:class:`~lambdagate.providers.base.Capabilities`: ``n`` choices without native ``n`` become
parallel calls (:mod:`.fanout`), and text completions without a native endpoint are answered
through chat (:mod:`.text_completions`). Keeping the choice here, above the adapters and the
fallbacks, is what keeps ``base``, ``fanout`` and ``text_completions`` free of import cycles.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from lambdagate.cost.collect import with_stream_usage
from lambdagate.errors import InvalidRequest
from lambdagate.providers import fanout, text_completions
from lambdagate.providers.base import CallContext, Provider, Target
from lambdagate.types import ChatCompletionRequest, CompletionRequest
from lambdagate.wire import JSONBody

if TYPE_CHECKING:  # the chat functions never import the embeddings path
    from lambdagate.embedding_types import EmbeddingRequest


async def chat(provider: Provider, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
    if fanout.fans_out(provider, request, target):
        return await fanout.chat(provider, request, target, ctx)
    return await provider.chat(request, target, ctx)


def chat_stream(
    provider: Provider, request: ChatCompletionRequest, target: Target, ctx: CallContext
) -> AsyncIterator[JSONBody]:
    # Usage is always collected (the relay hides the chunk the client did not ask for).
    request = with_stream_usage(request, target, free=provider.capabilities_for(target).stream_usage_free)
    if fanout.fans_out(provider, request, target):
        return fanout.chat_stream(provider, request, target, ctx)
    return provider.chat_stream(request, target, ctx)


async def completion(provider: Provider, request: CompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
    if provider.capabilities_for(target).text_completions:
        return await provider.completion(request, target, ctx)
    return await text_completions.complete_via_chat(provider, request, target, ctx)


def completion_stream(
    provider: Provider, request: CompletionRequest, target: Target, ctx: CallContext
) -> AsyncIterator[JSONBody]:
    # Usage is always collected (the relay hides the chunk the client did not ask for).
    request = with_stream_usage(request, target, free=provider.capabilities_for(target).stream_usage_free)
    if provider.capabilities_for(target).text_completions:
        return provider.completion_stream(request, target, ctx)
    return text_completions.stream_via_chat(provider, request, target, ctx)


async def embed(provider: Provider, request: EmbeddingRequest, target: Target, ctx: CallContext) -> JSONBody:
    """Embeddings where the provider declares them, else a 400; base64 encoded here when the provider gave floats."""
    if not provider.capabilities_for(target).embeddings:
        raise InvalidRequest(f"The '{target.provider_type}' provider has no embeddings; route '{target.alias}' "
                             "to an embeddings model of another provider.", param="model", code="unsupported_model")
    result = await provider.embed(request, target, ctx)
    if request.encoding_format == "base64" and isinstance(result, dict):
        from lambdagate.providers.embeddings import to_base64

        result = to_base64(result)
    return result
