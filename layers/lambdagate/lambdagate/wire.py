"""Bodies as they travel between the provider layer and the API layer.

A response or stream chunk is either a dict built by a translating adapter or an upstream's
OpenAI-shaped JSON kept as bytes (passthrough). Both the API layer (which writes them) and
observability (which reads usage from them) need these names, and neither may depend on the
provider layer, so they live here, below both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias


@dataclass(frozen=True, slots=True)
class RawJSON:
    """An upstream's OpenAI-shaped JSON, forwarded as bytes without being parsed again."""

    data: bytes


@dataclass(frozen=True, slots=True)
class RawEvent(RawJSON):
    """An upstream SSE event forwarded as bytes with its ``event:`` name (a front door's passthrough).

    ``value`` is the event's JSON as the shared reader parsed it, so the API layer can read its
    sequence number or usage without parsing the bytes again.
    """

    event: str
    value: Any = field(default=None, compare=False, repr=False)


JSONBody: TypeAlias = dict[str, Any] | RawJSON
"""A response or stream chunk: a dict built by a translating adapter, or upstream bytes."""
