"""The OpenAI type's stream: each upstream event is forwarded as its own bytes.

The shared reader has already ended the stream at ``[DONE]``, raised error events, and checked
that each event is one JSON object; multi-line ``data:`` fields are re-encoded onto one line.
"""

from __future__ import annotations

from collections.abc import Iterable

from lambdagate.providers import http
from lambdagate.providers.base import SSEEvent
from lambdagate.wire import JSONBody, RawJSON


class PassthroughStream:
    """The OpenAI type's :class:`~lambdagate.providers.base.StreamTranslator`."""

    finished = False

    def on_event(self, event: SSEEvent) -> Iterable[JSONBody]:
        return (RawJSON(http.passthrough_bytes(event)),)

    def on_end(self) -> Iterable[JSONBody]:
        return ()
