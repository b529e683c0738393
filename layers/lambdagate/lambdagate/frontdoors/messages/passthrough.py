"""A Messages request as a native provider forwards it: the client's bytes and its Anthropic headers.

Anthropic and Bedrock deployments speak the Messages API, so the request is not translated: the
provider gets a :class:`NativeMessages` and sends the client's own body with only the model
changed (:meth:`NativeMessages.body`), with the client's ``anthropic-version`` and
``anthropic-beta``. Everything the gateway does not model (``cache_control``, thinking blocks and
their signatures, documents, citations, server tools, every beta's fields) reaches the upstream
exactly as the client wrote it.

The model is replaced in the bytes: when the body names ``"model"`` with a string value once,
that is the top-level key (JSON encoders never escape the letters of a key, and a quote inside a
string is escaped), and its value is replaced in place. When ``"model": "..."`` occurs more than
once (a tool input of an earlier turn naming a model, say), or the body carries a gateway-only
field (``timeout``), the body is re-encoded from its parsed JSON instead: the same content,
compact formatting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import from_json, to_json

VERSION_HEADER = "anthropic-version"
BETA_HEADER = "anthropic-beta"
FORWARDED_HEADERS = (VERSION_HEADER, BETA_HEADER)
"""The client headers a Messages passthrough forwards; never its ``x-api-key`` or ``authorization``."""

_MODEL_KEY = re.compile(rb'"model"\s*:\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, slots=True)
class NativeMessages:
    """What a provider that speaks Messages gets from the front door (``native_doors`` has ``messages``)."""

    raw: bytes
    """The body as the client sent it."""
    model: str
    """The model the client named (an alias, usually), as parsed."""
    version: str | None = None
    """The client's ``anthropic-version``; None when it sent none."""
    betas: tuple[str, ...] = ()
    """The client's ``anthropic-beta`` values, in order."""
    dropped: frozenset[str] = field(default_factory=frozenset)
    """Top-level fields the upstream must not get (the gateway's own ``timeout``)."""

    def fields(self) -> dict[str, Any]:
        """The body parsed, without the dropped fields (for an upstream that reshapes it: Bedrock)."""
        value = from_json(self.raw)
        return {name: item for name, item in value.items() if name not in self.dropped}

    def body(self, model: str) -> bytes:
        """The client's bytes with ``model`` as the top-level model."""
        if self.dropped:
            return to_json({**self.fields(), "model": model})
        if model == self.model:
            return self.raw
        matches = [m for m in _MODEL_KEY.finditer(self.raw) if not _escaped(self.raw, m.start())]
        if len(matches) == 1 and from_json(b'"' + matches[0][1] + b'"') == self.model:
            start, end = matches[0].span(1)
            encoded = to_json(model)[1:-1]  # the value between its quotes, escaped as JSON
            return self.raw[:start] + encoded + self.raw[end:]
        return to_json({**self.fields(), "model": model})


def _escaped(raw: bytes, quote: int) -> bool:
    """Whether the quote at ``quote`` is escaped (an odd run of backslashes before it)."""
    run = 0
    while quote - run > 0 and raw[quote - run - 1] == 0x5C:
        run += 1
    return run % 2 == 1


def betas_of(values: list[str]) -> tuple[str, ...]:
    """``anthropic-beta`` values (comma-separated, possibly over several header lines), in order, once each."""
    seen: dict[str, None] = {}
    for value in values:
        for beta in value.split(","):
            if beta := beta.strip():
                seen.setdefault(beta, None)
    return tuple(seen)


def client_headers(headers: Any) -> dict[str, str]:
    """The forwarded headers of a client's request (``starlette`` headers: repeated lines joined)."""
    found: dict[str, str] = {}
    for name in FORWARDED_HEADERS:
        values = headers.getlist(name) if hasattr(headers, "getlist") else [headers.get(name)]
        values = [value for value in values if value]
        if values:
            found[name] = ",".join(values)
    return found


def native(raw: bytes, model: str, headers: Mapping[str, str], dropped: frozenset[str]) -> NativeMessages:
    beta = headers.get(BETA_HEADER)
    return NativeMessages(raw, model, headers.get(VERSION_HEADER), betas_of([beta]) if beta else (), dropped)
