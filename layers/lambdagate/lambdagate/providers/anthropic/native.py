"""The ``anthropic`` type's Messages API, forwarded: the Messages front door's passthrough.

``POST /v1/messages`` and ``POST /v1/messages/count_tokens`` get the client's body as it sent it
(only ``model`` becomes the routed one: :class:`~lambdagate.frontdoors.messages.passthrough.NativeMessages`)
with the client's ``anthropic-version`` (else the provider's ``api_version``) and its
``anthropic-beta`` values, merged after the provider's own ``anthropic_beta`` option. The key is
the provider's, sent as that version wants it (:meth:`.adapter.AnthropicProvider.headers`): the
client's ``x-api-key`` and ``authorization`` are never forwarded. The answer is the upstream's
bytes: the JSON ``Message`` (or ``MessageTokensCount``) once it is known to be one, and each
stream event as it came, with its ``event:`` name (:class:`~lambdagate.wire.RawEvent`).

Built against the Claude API reference ("Messages", "Count tokens", "Streaming messages"),
read on 2026-12-02: a stream is ``message_start``, ``content_block_start`` /
``content_block_delta`` / ``content_block_stop`` per block, ``message_delta``, ``message_stop``,
with ``ping`` events anywhere and unknown event types allowed; an ``error`` event is the upstream
failing, raised mapped (:func:`.response.parse_error`), and the front door ends the stream with
its own ``error`` event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from lambdagate.providers import http
from lambdagate.providers.anthropic import response
from lambdagate.providers.anthropic.params import api_version
from lambdagate.providers.base import Target, translate_stream
from lambdagate.providers.passthrough import NamedEventPassthrough
from lambdagate.wire import JSONBody, RawJSON

if TYPE_CHECKING:
    from lambdagate.frontdoors.messages.passthrough import NativeMessages
    from lambdagate.providers.anthropic.adapter import AnthropicProvider

COUNT_TOKENS_PATH = "/count_tokens"
"""After the provider's Messages URL: ``.../v1/messages/count_tokens``."""
BETA_HEADER = "anthropic-beta"


def headers(provider: AnthropicProvider, request: NativeMessages, target: Target) -> dict[str, str]:
    """The provider's auth for the client's version, with the provider's and the client's betas."""
    version = api_version(request.version or target.option("api_version"))
    sent = provider.headers(target, version)
    configured = [value for name, value in sent.items() if name.lower() == BETA_HEADER]
    betas: dict[str, None] = {}
    for value in [*configured, *request.betas]:
        for beta in value.split(","):
            if beta := beta.strip():
                betas.setdefault(beta, None)
    sent = {name: value for name, value in sent.items() if name.lower() != BETA_HEADER}
    if betas:
        sent[BETA_HEADER] = ",".join(betas)
    return sent


def is_message(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "message"


def is_count(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("input_tokens"), int)


async def messages(provider: AnthropicProvider, request: NativeMessages, target: Target) -> JSONBody:
    """A ``Message``, as the upstream's bytes."""
    reply = await http.request_json(
        target, provider.url(target), RawJSON(request.body(target.model)),
        headers(provider, request, target), parse_error=response.parse_error, error_in_body=response.is_error_body,
    )
    if not is_message(reply.value):
        raise http.bad_answer(target, "an object that is not a message")
    return RawJSON(reply.content)


def messages_stream(provider: AnthropicProvider, request: NativeMessages, target: Target) -> AsyncIterator[JSONBody]:
    """The upstream's Messages events, each as its bytes with its name."""
    events = http.read_sse(
        target, provider.url(target), RawJSON(request.body(target.model)),
        headers(provider, request, target), parse_error=response.parse_error, error_event=response.is_error_event,
    )
    return translate_stream(events, PassthroughEvents(target))


async def count_tokens(provider: AnthropicProvider, request: NativeMessages, target: Target) -> JSONBody:
    """``{"input_tokens": N}``, Anthropic's own count, as the upstream's bytes."""
    reply = await http.request_json(
        target, provider.url(target) + COUNT_TOKENS_PATH, RawJSON(request.body(target.model)),
        headers(provider, request, target), parse_error=response.parse_error, error_in_body=response.is_error_body,
    )
    if not is_count(reply.value):
        raise http.bad_answer(target, "an object that is not a token count")
    return RawJSON(reply.content)


class PassthroughEvents(NamedEventPassthrough):
    """Messages events as their own bytes, for every upstream that streams them (Anthropic, Claude
    on Bedrock); ``message_stop`` is the last event."""

    last_events = frozenset({"message_stop"})
    api = "Messages"
