"""``n`` choices from providers that answer one at a time: parallel calls, merged as OpenAI would.

A client asking for ``n=3`` expects three choices. When the provider declares no native ``n``
(:attr:`Capabilities.n`), the request is sent ``n`` times in parallel with ``n`` unset, and the answers are merged:
choice ``i`` comes from call ``i``, usage is summed (each call is billed), and streams are
interleaved as their chunks arrive with each stream's choice renumbered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from lambdagate.errors import InvalidRequest
from lambdagate.providers import shapes
from lambdagate.providers.base import CallContext, Provider, Target
from lambdagate.types import ChatCompletionRequest, StreamOptions
from lambdagate.wire import JSONBody, as_dict

T = TypeVar("T")


def check_upstream_calls(calls: int, ctx: CallContext, target: Target, *, param: str, detail: str) -> None:
    """Refuse, naming ``param``, a request that would take more than ``max_upstream_calls`` calls.

    Counted before anything is built per call, so a request for 100,000 calls costs nothing.
    """
    limit = ctx.max_upstream_calls
    if calls > limit:
        raise InvalidRequest(
            f"This request needs {calls} upstream calls ({detail}) on the '{target.provider_type}' provider, "
            f"over the limit of {limit} calls per request (settings.max_upstream_calls); send fewer prompts "
            "per request or a smaller n or best_of.",
            param=param, code="too_many_upstream_calls",
        )


def fans_out(provider: Provider, request: ChatCompletionRequest, target: Target) -> bool:
    """Whether ``n`` choices need parallel calls: only where the provider has no native ``n``."""
    return (request.n or 1) > 1 and not provider.capabilities_for(target).n


def _single(request: ChatCompletionRequest) -> ChatCompletionRequest:
    update: dict[str, Any] = {"n": None}
    if request.stream:
        update["stream_options"] = StreamOptions(include_usage=True)  # summed, then sent if asked
    return request.model_copy(update=update)


async def chat(provider: Provider, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
    """``n`` choices from ``n`` parallel calls, merged into one ``chat.completion``."""
    check_upstream_calls(request.n or 1, ctx, target, param="n", detail=f"n={request.n or 1}")
    single = _single(request)
    bodies = [as_dict(body) for body in await asyncio.gather(
        *(provider.chat(single, target, ctx) for _ in range(request.n or 1)))]
    choices: list[dict[str, Any]] = []
    usage: dict[str, Any] | None = None
    for index, body in enumerate(bodies):
        choices += [{**choice, "index": index} for choice in body.get("choices", [])[:1]]
        usage = shapes.add_usage(usage, body.get("usage"))
    merged = {**bodies[0], "choices": choices}
    if usage is not None:
        merged["usage"] = usage
    return merged


async def chat_stream(
    provider: Provider, request: ChatCompletionRequest, target: Target, ctx: CallContext
) -> AsyncIterator[JSONBody]:
    """``n`` parallel streams interleaved, each renumbered to its choice index."""
    check_upstream_calls(request.n or 1, ctx, target, param="n", detail=f"n={request.n or 1}")
    single = _single(request)
    streams = [(index, provider.chat_stream(single, target, ctx)) for index in range(request.n or 1)]
    usage: dict[str, Any] | None = None
    identity: dict[str, Any] | None = None
    async for index, piece in merge_streams(streams):
        chunk = as_dict(piece)
        # One id and timestamp for the whole merged stream, as a single upstream stream would have.
        identity = identity or {"id": chunk.get("id"), "created": chunk.get("created")}
        if chunk.get("usage") and not chunk.get("choices"):
            usage = shapes.add_usage(usage, chunk["usage"])
            continue
        yield {**{name: value for name, value in chunk.items() if name != "usage"}, **identity,
               "choices": [{**c, "index": index} for c in chunk.get("choices", [])]}
    if request.wants_usage_chunk and usage is not None:
        yield {"object": "chat.completion.chunk", "model": target.model, **(identity or {}), "choices": [],
               "usage": usage}


async def merge_streams(streams: list[tuple[T, AsyncIterator[JSONBody]]]) -> AsyncIterator[tuple[T, JSONBody]]:
    """Interleave several upstream streams as their chunks arrive, each item tagged with its stream.

    The first failure of any stream ends the merge (and cancels the others); one stream needs no tasks.
    """
    if len(streams) == 1:
        tag, only = streams[0]
        async for body in only:
            yield tag, body
        return
    queue: asyncio.Queue[tuple[T, JSONBody] | BaseException | None] = asyncio.Queue()
    item: tuple[T, JSONBody] | BaseException | None

    async def pump(tag: T, source: AsyncIterator[JSONBody]) -> None:
        try:
            async for body in source:
                await queue.put((tag, body))
            await queue.put(None)
        except BaseException as exc:
            await queue.put(exc)
            raise

    tasks = [asyncio.create_task(pump(tag, source)) for tag, source in streams]
    try:
        remaining = len(tasks)
        while remaining:
            item = await queue.get()
            if item is None:
                remaining -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
