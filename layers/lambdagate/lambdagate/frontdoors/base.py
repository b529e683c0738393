"""What a front door is: a request transform into the chat contract, transforms back, and passthrough.

The gateway's one contract with providers is chat (``ChatCompletionRequest`` in,
``chat.completion`` and its chunks out). A front door that speaks another API (OpenAI's
Responses, Anthropic's Messages) is an adapter on top of it, the same shape for every door:

- ``parse``: the door's own typed, validated request (from the body bytes), before routing;
- ``to_chat``: that request as a chat request (the request transform), refusing with a clear 400
  what the chat contract cannot carry and listing what a provider may drop (:class:`ChatTranslation`);
- ``from_chat``: a ``chat.completion`` as the door's response (the response transform);
- ``stream``: a :class:`DoorStream` turning the items of a stream into the door's SSE events:
  chat chunks (translated), or the upstream's own events (``native``, passthrough);
- ``forward`` / ``forward_stream``: the request as the door's own API, for providers that
  declare the door in ``Capabilities.native_doors`` (bytes forwarded, the upstream's features
  kept), instead of translating;
- ``usage``: a door-shaped response's usage in chat terms, for the request record;
- ``error``: a gateway error in the door's own status, body and headers;
- ``warm``: build at init what the first request would need (validators), where the app serves
  this door alone (its own Lambda, which SnapStart then snapshots with them).

``lambdagate.api.doors`` serves any door through the same request path as chat (keys, routing,
retries, fallbacks, deadlines, records). Doors never see provider formats, and providers never
see door formats: a native provider only forwards what the door hands it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from lambdagate.errors import GatewayError
from lambdagate.providers.base import CallContext, Provider, Target
from lambdagate.types import ChatCompletionRequest
from lambdagate.wire import JSONBody


@dataclass(frozen=True, slots=True)
class DoorEvent:
    """One event of a door's stream: its SSE ``event:`` name (None for data-only) and its body."""

    name: str | None
    body: JSONBody


class DoorStream(Protocol):
    """Stream items in, door events out: one call per item, one at the end, one on failure.

    ``usage`` reads the chat-shaped usage an item carries (``prompt_tokens``, ``completion_tokens``),
    for the request record; the items are chat chunks, or the upstream's own events when native.
    After ``on_error`` the stream is over: it must end the door's stream cleanly by itself.
    """

    def on_chunk(self, chunk: JSONBody) -> Iterable[DoorEvent]: ...

    def on_end(self) -> Iterable[DoorEvent]: ...

    def on_error(self, error: GatewayError) -> Iterable[DoorEvent]: ...

    def usage(self, chunk: JSONBody) -> dict[str, Any] | None: ...


class DoorRequest(Protocol):
    """The typed request of a door: what the gateway itself reads from it."""

    model: str
    stream: bool | None
    timeout: float | None

    def sent_fields(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=DoorRequest)


@dataclass(frozen=True, slots=True)
class ChatTranslation:
    """A door request as a chat request, and how to speak about it in the door's terms.

    ``unsupported``: door parameters the chat contract cannot carry, which every translated
    provider therefore drops (listed in the dropped-params header) or refuses (``drop_params:
    false``). ``names``: chat parameter -> the door's name for it, so a parameter a provider drops
    or refuses is named as the client sent it (``max_tokens`` -> ``max_output_tokens``).
    """

    request: ChatCompletionRequest
    unsupported: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)


class FrontDoor(Protocol[R]):
    name: str
    """The door's endpoint name (``responses``): its record's endpoint and its key in ``native_doors``."""

    def parse(self, raw: bytes) -> R: ...

    def to_chat(self, request: R) -> ChatTranslation: ...

    def from_chat(self, completion: dict[str, Any], request: R) -> dict[str, Any]: ...

    def stream(self, request: R, *, native: bool) -> DoorStream: ...

    async def forward(self, provider: Provider, request: R, target: Target, ctx: CallContext) -> JSONBody: ...

    def forward_stream(
        self, provider: Provider, request: R, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]: ...

    def usage(self, body: JSONBody) -> dict[str, Any] | None: ...

    def error(self, error: GatewayError) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        """Status, body and headers of ``error`` in the door's own shape."""
        ...

    def warm(self) -> None:
        """Build now what the first request would (validators), for an app that serves this door alone."""
        ...
