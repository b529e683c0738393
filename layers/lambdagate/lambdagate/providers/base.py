"""What every provider adapter is: declared capabilities, a parameter table, and transforms.

A provider type is a folder with the same files everywhere (see ARCHITECTURE.md): ``params.py``
(its :data:`ParamTable`, ``PARAMS``), ``request.py`` (the chat contract -> the provider's body),
``response.py`` (the provider's answer -> a ``chat.completion``), ``stream.py`` (a
:class:`StreamTranslator`: one call per upstream event, one at the end) and ``adapter.py`` (the
:class:`Provider`: where and how to call, its :class:`Capabilities`, which transforms to use).
Upstream I/O is not in any of them: :mod:`lambdagate.providers.http` owns it.

What a provider can do is *declared* in :class:`Capabilities`, never inferred from its table:
the OpenAI type's table is empty because everything passes through, not because it lacks ``n``.

Adapters never see the client's HTTP request, and the API layer never sees a provider format.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeAlias

from lambdagate.config.schema import ProviderConfig
from lambdagate.errors import InvalidRequest, UnsupportedParameter
from lambdagate.types import ChatCompletionRequest, CompletionRequest
from lambdagate.wire import JSONBody, RawJSON

if TYPE_CHECKING:  # only the embeddings path imports the embeddings request
    from lambdagate.embedding_types import EmbeddingRequest


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""No default / "leave this field out" when returned by a transform."""


@dataclass(frozen=True, slots=True)
class Param:
    """How one OpenAI parameter maps onto the provider's request body.

    ``to`` is the provider's field, a dotted path for nested objects
    (``"generationConfig.temperature"``); ``None`` keeps the OpenAI name. Values outside
    ``min``/``max`` are clamped to the provider's range. ``transform`` converts the value and may
    return :data:`UNSET` to leave the field out. ``default`` is sent when the client omits it.
    ``required`` fields the provider cannot do without (Anthropic's ``max_tokens``): when the
    client omits one and no default exists (here or per call), the request is refused with a 400.
    """

    to: str | None = None
    transform: Callable[[Any], Any] | None = None
    default: Any = UNSET
    min: float | None = None
    max: float | None = None
    required: bool = False


ParamTable: TypeAlias = Mapping[str, Param]


@dataclass(frozen=True, slots=True)
class Target:
    """One routed deployment: the provider with its resolved secrets, and the upstream model."""

    alias: str
    provider_name: str
    provider_type: str
    config: ProviderConfig
    model: str
    options: Mapping[str, Any]
    """Provider options overlaid with the deployment's own (``api_version``, ``region``...)."""
    timeout: float

    @property
    def api_key(self) -> str | None:
        return self.config.api_key

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    @property
    def secrets(self) -> tuple[str | None, ...]:
        """Everything that must never reach a client or a log: scrubbed from upstream errors."""
        return (self.config.api_key, self.config.api_base, *self.config.headers.values())


@dataclass(slots=True)
class CallContext:
    """Per-request state an adapter reports back (dropped parameters) or reads (policy)."""

    request_id: str
    drop_params: bool = True
    max_upstream_calls: int = 20
    """``settings.max_upstream_calls``: the most upstream calls one request may fan out into."""
    dropped: list[str] = field(default_factory=list)
    param_names: Mapping[str, str] = field(default_factory=dict)
    """Chat parameter -> the name the client sent it under, when a front door translated the request
    (``max_tokens`` -> ``max_output_tokens``): what is dropped or refused is named as the client knows it."""

    def unsupported(self, param: str, provider_type: str) -> None:
        """Drop a parameter the provider cannot take, or refuse the request if dropping is off."""
        param = self.param_names.get(param, param)
        if not self.drop_params:
            raise UnsupportedParameter(param, provider_type)
        if param not in self.dropped:
            self.dropped.append(param)


def set_path(body: dict[str, Any], path: str, value: Any) -> None:
    """Set ``body["a"]["b"] = value`` for ``path == "a.b"``, creating objects on the way."""
    *parents, leaf = path.split(".")
    node = body
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf] = value


def map_params(
    fields: Mapping[str, Any],
    table: ParamTable,
    ctx: CallContext,
    provider_type: str,
    *,
    handled: Collection[str] = (),
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Translate the client's parameters through ``table`` into a provider request body.

    ``fields`` are the parameters the client sent, normalised (``ChatCompletionRequest.
    translated_fields``: one ``max_tokens``); ``handled`` are those the adapter translates itself
    (messages, tools...). Every other field the table does not name is unsupported by this
    provider: dropped and reported, or refused, per ``drop_params``. A null value counts as not
    sent. ``defaults`` override the table's defaults for this call (values from provider options).
    """
    body: dict[str, Any] = {}
    for name, spec in table.items():
        value = fields.get(name)
        if value is None:
            default = (defaults or {}).get(name, spec.default)
            if default is not UNSET:
                set_path(body, spec.to or name, default)
            elif spec.required:
                raise InvalidRequest(f"Missing required parameter: '{name}'.", param=name,
                                     code="missing_required_parameter")
            continue
        if spec.min is not None and isinstance(value, int | float) and value < spec.min:
            value = type(value)(spec.min)
        if spec.max is not None and isinstance(value, int | float) and value > spec.max:
            value = type(value)(spec.max)
        if spec.transform is not None:
            value = spec.transform(value)
            if value is UNSET:
                continue
        set_path(body, spec.to or name, value)
    for name, value in fields.items():
        if value is not None and name not in table and name not in handled:
            ctx.unsupported(name, provider_type)
    return body


ALWAYS_HANDLED = frozenset({"model", "messages", "prompt", "stream", "stream_options"})
"""Parameters the gateway handles for every provider, never mapped through a table."""


UpstreamAPI: TypeAlias = Literal["chat", "responses", "messages", "converse", "generate", "predictions", "local"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider type does natively, declared by its adapter.

    The gateway's shared machinery reads these instead of guessing: ``n`` false means ``n``
    choices are served by parallel calls (:mod:`.fanout`); ``text_completions`` false means
    ``/v1/completions`` is answered through chat (:mod:`.text_completions`); ``logprobs`` false
    means ``logprobs``/``best_of`` are dropped or refused there.
    """

    n: bool = False
    logprobs: bool = False
    text_completions: bool = False
    tools: bool = False
    images: bool = False
    json_schema: bool = False
    upstream_api: UpstreamAPI = "chat"
    native_doors: frozenset[str] = frozenset()
    """Front doors (``responses``) whose API the provider speaks itself: their requests are forwarded
    to it as sent (:mod:`lambdagate.frontdoors`), not translated through chat."""
    embeddings: bool = False
    """``POST /v1/embeddings`` is served (:meth:`Provider.embed`); false: refused with a 400."""
    stream_usage_free: bool = True
    """A stream's usage comes with the stream; false: it costs another round trip (Replicate reads
    the finished prediction), so usage is asked for only when the client asks for it."""


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One upstream Server-Sent Event, already parsed by :mod:`lambdagate.providers.http`.

    ``data`` is the JSON value of the event's ``data`` field (never a string to parse again);
    ``raw`` is that field's text as it came, for passthrough adapters that forward it unchanged.
    """

    event: str
    data: Any
    raw: str


class StreamTranslator(Protocol):
    """Turns one upstream stream into chunks: one call per event, one when the stream ends.

    ``finished`` tells the reader to stop reading (the provider sent its last event);
    ``on_end`` yields the closing chunks, or raises when the stream ended before it was complete.
    """

    finished: bool

    def on_event(self, event: SSEEvent) -> Iterable[JSONBody]: ...

    def on_end(self) -> Iterable[JSONBody]: ...


async def translate_stream(
    events: AsyncGenerator[SSEEvent, None], translator: StreamTranslator
) -> AsyncGenerator[JSONBody, None]:
    """Feed upstream events through ``translator`` until its last event, then its closing chunks.

    The one stream loop of every provider, whatever carries its events (SSE, Bedrock's event
    stream): closing this generator (the client left) closes ``events`` and with it the upstream.
    """
    try:
        async for event in events:
            for chunk in translator.on_event(event):
                yield chunk
            if translator.finished:
                break
    finally:
        await events.aclose()
    for chunk in translator.on_end():
        yield chunk


class Provider(ABC):
    """A provider type. One instance serves every configured provider of that type.

    ``chat_stream`` (and ``completion_stream``) are async generators: an error raised before the
    first chunk lets the router retry or fall back; after it, the API layer ends the stream with
    an error event. Closing the generator (client gone) must close the upstream request, which
    the readers in :mod:`lambdagate.providers.http` do.

    The gateway does not call these directly but through :mod:`lambdagate.providers.dispatch`,
    which fans ``n`` out and answers text completions through chat per :attr:`capabilities`.
    """

    type_name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    params: ClassVar[ParamTable]

    def capabilities_for(self, target: Target) -> Capabilities:
        """The capabilities for one routed model: the type's, unless some of its models differ."""
        return self.capabilities

    @abstractmethod
    async def chat(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        """A ``chat.completion`` object."""

    @abstractmethod
    def chat_stream(
        self, request: ChatCompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        """``chat.completion.chunk`` objects, usage chunk last when the client asked for it."""

    async def completion(self, request: CompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        """A native ``text_completion`` (only where ``capabilities.text_completions``)."""
        raise NotImplementedError(f"{self.type_name} has no native text completions")

    def completion_stream(
        self, request: CompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        """Native ``text_completion`` chunks (only where ``capabilities.text_completions``)."""
        raise NotImplementedError(f"{self.type_name} has no native text completions")

    async def embed(self, request: EmbeddingRequest, target: Target, ctx: CallContext) -> JSONBody:
        """A float ``CreateEmbeddingResponse``, or upstream bytes (only where ``capabilities.embeddings``)."""
        raise NotImplementedError(f"{self.type_name} has no embeddings")


__all__ = [
    "ALWAYS_HANDLED", "UNSET", "CallContext", "Capabilities", "JSONBody", "Param", "ParamTable", "Provider",
    "RawJSON", "SSEEvent", "StreamTranslator", "Target", "map_params", "set_path", "translate_stream",
]
