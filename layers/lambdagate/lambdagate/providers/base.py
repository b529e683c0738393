"""What every provider adapter is: a parameter table, request/response transforms, and streams.

An adapter turns a typed OpenAI request into one upstream call and the answer back into
OpenAI-shaped JSON. It declares the OpenAI parameters it takes as a :data:`ParamTable` (OpenAI
name -> provider field, default, bounds, transform), so what a provider supports is read from a
table, and :func:`map_params` applies it the same way for every provider, dropping (and listing)
or refusing what the table does not name.

Adapters never see the client's HTTP request, and the API layer never sees a provider format.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from lambdagate.config.schema import ProviderConfig
from lambdagate.errors import UnsupportedParameter
from lambdagate.types import ChatCompletionRequest, CompletionRequest


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""No default / "leave this field out" when returned by a transform."""


@dataclass(frozen=True, slots=True)
class RawJSON:
    """An upstream's OpenAI-shaped JSON, forwarded as bytes without being parsed again."""

    data: bytes


JSONBody: TypeAlias = dict[str, Any] | RawJSON
"""A response or stream chunk: a dict built by a translating adapter, or upstream bytes."""


@dataclass(frozen=True, slots=True)
class Param:
    """How one OpenAI parameter maps onto the provider's request body.

    ``to`` is the provider's field, a dotted path for nested objects
    (``"generationConfig.temperature"``); ``None`` keeps the OpenAI name. Values outside
    ``min``/``max`` are clamped to the provider's range. ``transform`` converts the value and may
    return :data:`UNSET` to leave the field out. ``default`` is sent when the client omits it.
    """

    to: str | None = None
    transform: Callable[[Any], Any] | None = None
    default: Any = UNSET
    min: float | None = None
    max: float | None = None


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
    dropped: list[str] = field(default_factory=list)

    def unsupported(self, param: str, provider_type: str) -> None:
        """Drop a parameter the provider cannot take, or refuse the request if dropping is off."""
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
) -> dict[str, Any]:
    """Translate the client's parameters through ``table`` into a provider request body.

    ``fields`` are the parameters the client sent; ``handled`` are those the adapter translates
    itself (messages, tools...). Every other field the table does not name is unsupported by
    this provider: dropped and reported, or refused, per ``drop_params``. A null value counts as
    not sent. Entries are applied in table order, so a later entry that writes the same provider
    field wins (``max_completion_tokens`` after ``max_tokens``).
    """
    body: dict[str, Any] = {}
    for name, spec in table.items():
        value = fields.get(name)
        if value is None:
            if spec.default is not UNSET:
                set_path(body, spec.to or name, spec.default)
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


class Provider(ABC):
    """A provider type. One instance serves every configured provider of that type.

    ``chat_stream`` and ``completion_stream`` are async generators: an error raised before the
    first chunk lets the router retry or fall back; after it, the API layer ends the stream with
    an error event. Closing the generator (client gone) must close the upstream request, which
    ``async with`` around the upstream call does.
    """

    type_name: ClassVar[str]
    chat_params: ClassVar[ParamTable]

    @abstractmethod
    async def chat(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        """A ``chat.completion`` object."""

    @abstractmethod
    def chat_stream(
        self, request: ChatCompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        """``chat.completion.chunk`` objects, usage chunk last when the client asked for it."""

    async def completion(self, request: CompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        """A ``text_completion`` object; chat-only providers answer through their chat call."""
        from lambdagate.providers.text_completions import complete_via_chat

        return await complete_via_chat(self, request, target, ctx)

    def completion_stream(
        self, request: CompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        from lambdagate.providers.text_completions import stream_via_chat

        return stream_via_chat(self, request, target, ctx)
