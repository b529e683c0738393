"""What the embeddings adapters share: the OpenAI list shape, batching, and base64 encoding.

Translating adapters (every type but OpenAI/Azure, which forward bytes) build their answer with
:func:`embedding_list` from float vectors in input order. Providers that cap how many inputs one
call may carry get the inputs split by :func:`run_batches`, which runs the calls with bounded
concurrency and puts the vectors back in input order, so ``data[i].index == i`` whatever order the
calls finish in. ``encoding_format: base64`` is answered by :func:`to_base64` once, in
:func:`lambdagate.providers.dispatch.embed`, the way OpenAI encodes: the little-endian float32 bytes
of each vector, base64-encoded (what the openai SDKs decode with ``np.frombuffer(..., "float32")``).
"""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from lambdagate.providers import http
from lambdagate.providers.base import Target

T = TypeVar("T")

DEFAULT_CONCURRENCY = 4
"""Upstream calls one request keeps in flight when its inputs span several batches: enough to cut
latency, few enough not to trip a provider's per-key rate limit with one client request."""


@dataclass(frozen=True, slots=True)
class Batch:
    """The vectors of one upstream call (in its inputs' order) and the tokens it reported."""

    vectors: list[list[float]]
    prompt_tokens: int = 0


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` cut into consecutive slices of at most ``size``."""
    return [items[start:start + size] for start in range(0, len(items), size)]


async def run_batches(
    items: Sequence[T], size: int, call: Callable[[Sequence[T]], Awaitable[Batch]], *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Batch:
    """``call`` on each slice of ``items`` (at most ``concurrency`` at a time), joined in input order.

    The first failure fails the whole request (a partial answer would misnumber the rest) and is
    raised as it came, so the router sees the provider's mapped error and retries or falls back as
    for any call; the calls still in flight are cancelled (also when the router's timeout cancels
    this one).
    """
    pieces = chunks(items, size)
    if len(pieces) == 1:
        return await call(pieces[0])
    limit = asyncio.Semaphore(max(1, concurrency))

    async def bounded(piece: Sequence[T]) -> Batch:
        async with limit:
            return await call(piece)

    tasks = [asyncio.ensure_future(bounded(piece)) for piece in pieces]
    try:
        batches = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    vectors: list[list[float]] = []
    for batch in batches:
        vectors.extend(batch.vectors)
    return Batch(vectors, sum(batch.prompt_tokens for batch in batches))


def embedding_list(vectors: Sequence[Sequence[float]], model: str, prompt_tokens: int) -> dict[str, Any]:
    """A ``CreateEmbeddingResponse``: one ``embedding`` object per vector, indexed in order."""
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": index, "embedding": list(vector)}
                 for index, vector in enumerate(vectors)],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def float_vector(value: Any, target: Target) -> list[float]:
    """A provider's vector, checked: a list of numbers (else the answer is unusable, a 502)."""
    if not isinstance(value, list) or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value):
        raise http.bad_answer(target, "an embedding that is not a list of numbers")
    return value


def expect_count(vectors: list[list[float]], wanted: int, target: Target) -> list[list[float]]:
    """The vectors of one call, which must be one per input sent (else indexes would be wrong)."""
    if len(vectors) != wanted:
        raise http.bad_answer(target, f"{len(vectors)} embeddings for {wanted} inputs")
    return vectors


def input_errors(parse_error: http.ErrorParser) -> http.ErrorParser:
    """A provider's error parser with its "prompt too long" pointed at ``input`` instead of ``messages``.

    The chat error parsers name ``messages`` (or nothing) for OpenAI's ``context_length_exceeded``;
    on this endpoint the input is what was too long.
    """

    def parse(body: Any) -> http.ErrorInfo:
        info = parse_error(body)
        if info.param == "messages" or (info.param is None and info.code == http.CONTEXT_LENGTH_EXCEEDED):
            return http.ErrorInfo(info.message, info.code, "input", info.status, info.retry_after)
        return info

    return parse


def encode_vector(vector: Sequence[float]) -> str:
    """OpenAI's base64 embedding: the vector as little-endian float32 bytes."""
    packed = struct.pack(f"<{len(vector)}f", *vector)
    return base64.b64encode(packed).decode("ascii")


def to_base64(response: dict[str, Any]) -> dict[str, Any]:
    """A float ``CreateEmbeddingResponse`` with each vector base64-encoded instead."""
    for item in response.get("data") or ():
        vector = item.get("embedding")
        if isinstance(vector, list):
            item["embedding"] = encode_vector(vector)
    return response


__all__ = ["Batch", "chunks", "embedding_list", "encode_vector", "expect_count", "float_vector", "input_errors",
           "run_batches", "to_base64"]
