"""The stream translator: Mistral's chunks, forwarded as their bytes unless they need repair.

A chunk that differs from OpenAI's (see :mod:`.response`) is repaired and re-encoded; the usage
Mistral puts into its last chunk, next to the choices, is sent as OpenAI's separate usage chunk,
and only when the client asked for it. The shared reader ends the stream at ``[DONE]``; a stream
in which a started choice never got its finish reason was cut off.
"""

from __future__ import annotations

from typing import Any

from lambdagate.providers import http
from lambdagate.providers.base import SSEEvent, Target
from lambdagate.providers.mistral.response import normalize_chunk
from lambdagate.wire import JSONBody, RawJSON


class StreamTranslator:
    def __init__(self, target: Target, *, include_usage: bool) -> None:
        self.target = target
        self.include_usage = include_usage
        self.usage: dict[str, Any] | None = None
        self.last: dict[str, Any] | None = None
        self.started: set[int] = set()
        self.done: set[int] = set()
        self.finished = False  # [DONE] ends the stream in the shared reader

    def on_event(self, event: SSEEvent) -> list[JSONBody]:
        chunk = event.data
        self.last = chunk
        if not chunk.get("choices") and chunk.get("usage"):
            self.usage = chunk["usage"]
            return []
        changed, carried = normalize_chunk(chunk, self.target)
        if carried is not None:
            self.usage = carried
        for choice in chunk.get("choices") or []:
            index = choice.get("index", 0)
            self.started.add(index)
            if choice.get("finish_reason") is not None:
                self.done.add(index)
        return [chunk if changed else RawJSON(http.passthrough_bytes(event))]

    def on_end(self) -> list[JSONBody]:
        if not self.started or not self.started <= self.done:
            raise http.bad_answer(self.target, "a stream that ended before every choice had finished")
        if not (self.include_usage and self.usage is not None and self.last is not None):
            return []
        last = self.last
        return [{"id": last.get("id", ""), "object": "chat.completion.chunk", "created": last.get("created", 0),
                 "model": last.get("model", self.target.model), "choices": [], "usage": self.usage}]
