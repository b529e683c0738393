"""The record of one request: names and numbers only, filled in along the request path.

It holds the key's *name*, the alias, the provider's *name*, statuses, timings and token counts.
Keys, upstream URLs and prompts never enter it: nothing here ever sees a prompt. It is its own
module so that the writers of the record (:mod:`.records`, :mod:`.metrics`) both depend on it
and not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    endpoint: str
    status: int = 200
    key_name: str | None = None
    model: str | None = None
    provider: str | None = None
    upstream_model: str | None = None
    stream: bool = False
    attempts: int = 0
    latency_ms: float = 0.0
    time_to_first_token_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error_type: str | None = None
    dropped_params: tuple[str, ...] = ()
    team: str | None = None
    cost_usd: float | None = None
    """What the request cost at the provider's prices (``lambdagate.cost``); None when no price is known."""
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    audio_prompt_tokens: int | None = None
    audio_completion_tokens: int | None = None
    limited: str | None = None
    """The limit that refused the request (``key.rpm``, ``team.budget``...)."""
    limits_error: bool = False
    """The limits store failed for this request (admitted anyway, or refused with a 503, per the setting)."""

    def add_usage(self, usage: dict[str, Any] | None) -> None:
        if usage:
            self.prompt_tokens = (self.prompt_tokens or 0) + int(usage.get("prompt_tokens") or 0)
            self.completion_tokens = (self.completion_tokens or 0) + int(usage.get("completion_tokens") or 0)
            _add_details(self, usage)


def _add_details(record: RequestRecord, usage: dict[str, Any]) -> None:
    """The parts of the usage that are priced apart: cache reads and writes, reasoning, audio."""
    prompt = usage.get("prompt_tokens_details")
    prompt = prompt if isinstance(prompt, dict) else {}
    completion = usage.get("completion_tokens_details")
    completion = completion if isinstance(completion, dict) else {}
    # DeepSeek reports its cache hits as ``prompt_cache_hit_tokens`` (older answers have only that).
    cached = prompt.get("cached_tokens", usage.get("prompt_cache_hit_tokens"))
    for name, value in (("cached_tokens", cached), ("cache_write_tokens", prompt.get("cache_creation_tokens")),
                        ("reasoning_tokens", completion.get("reasoning_tokens")),
                        ("audio_prompt_tokens", prompt.get("audio_tokens")),
                        ("audio_completion_tokens", completion.get("audio_tokens"))):
        if isinstance(value, int) and value:
            setattr(record, name, (getattr(record, name) or 0) + value)
