"""Bodies as they travel between the provider layer and the API layer.

A response or stream chunk is either a dict built by a translating adapter or an upstream's
OpenAI-shaped JSON kept as bytes (passthrough). Both the API layer (which writes them) and
observability (which reads usage from them) need these names, and neither may depend on the
provider layer, so they live here, below both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

from pydantic_core import from_json


@dataclass(frozen=True, slots=True)
class RawJSON:
    """An upstream's OpenAI-shaped JSON, forwarded as bytes without being parsed again.

    ``value``, when given, is the same JSON as the provider layer already parsed it (to check its
    shape): the API layer and observability read usage or fields from it instead of decoding the
    bytes a second time. It is never written; the bytes are.
    """

    data: bytes
    value: Any = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class RawEvent(RawJSON):
    """An upstream SSE event forwarded as bytes with its ``event:`` name (a front door's passthrough).

    ``value`` is the event's JSON as the shared reader parsed it, so the API layer can read its
    sequence number or usage without parsing the bytes again.
    """

    event: str


JSONBody: TypeAlias = dict[str, Any] | RawJSON
"""A response or stream chunk: a dict built by a translating adapter, or upstream bytes."""


def as_dict(body: JSONBody) -> dict[str, Any]:
    """A body as a dict, for the code that must read inside it (fan-out merges, front doors).

    The result may be the body's own ``value``, shared with every other reader: read it, never
    change it (copy first). Passthrough bytes are parsed (their ``value`` when the provider layer
    already did); they were checked to be a JSON object where they came in, and anything else
    reads as empty.
    """
    if not isinstance(body, RawJSON):
        return body
    value = body.value if body.value is not None else from_json(body.data)
    return value if isinstance(value, dict) else {}
