"""Azure's stream: OpenAI's chunks forwarded as bytes, and two Azure-only chunks repaired.

The prompt-filter report (``object: ""``, no choices) is not a valid chunk and is dropped; the
asynchronous-filter annotations (choices without ``delta``) get an empty delta. Every other
chunk is forwarded as it came.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lambdagate.providers import http
from lambdagate.providers.base import SSEEvent
from lambdagate.types import BaseRequest, ChatCompletionRequest
from lambdagate.wire import JSONBody, RawJSON

_AZURE_ONLY_CHUNK = re.compile(r'"object"\s*:\s*""|"content_filter_offsets"')


class StreamTranslator:
    finished = False

    def __init__(self, request: BaseRequest) -> None:
        self.kind = "chat.completion.chunk" if isinstance(request, ChatCompletionRequest) else "text_completion"

    def on_event(self, event: SSEEvent) -> Iterable[JSONBody]:
        if not _AZURE_ONLY_CHUNK.search(event.raw):
            return (RawJSON(http.passthrough_bytes(event)),)
        chunk = event.data
        choices = chunk.get("choices") or []
        if not choices and not chunk.get("usage"):
            return ()
        chunk["object"] = self.kind
        if self.kind == "chat.completion.chunk":
            for choice in choices:
                choice.setdefault("delta", {})
        return (chunk,)

    def on_end(self) -> Iterable[JSONBody]:
        return ()
