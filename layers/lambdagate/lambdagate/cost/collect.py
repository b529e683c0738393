"""Usage is always collected: every stream asks its upstream for the final usage chunk.

The client may not have asked (``stream_options.include_usage``); the gateway asks anyway, so the
request is billed from the provider's own count, and the relay drops that chunk before the client
sees it (:meth:`lambdagate.limits.RequestAccounting.hidden`). A provider or deployment option
``stream_usage: false`` turns the request off for an OpenAI-compatible server that refuses
``stream_options`` (such a stream then has no cost).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from lambdagate.types import BaseRequest, StreamOptions

if TYPE_CHECKING:
    from lambdagate.providers.base import Target

R = TypeVar("R", bound=BaseRequest)


def with_stream_usage(request: R, target: Target, *, free: bool = True) -> R:
    """``request`` asking for the usage chunk (a copy), unless it does already or the target must not be asked.

    ``free`` false: the provider's usage costs another upstream call, made only when the client asks.
    """
    if request.wants_usage_chunk or not free or target.option("stream_usage", True) is False:
        return request
    options = request.stream_options.model_dump(exclude_unset=True) if request.stream_options is not None else {}
    return request.model_copy(update={"stream_options": StreamOptions(**{**options, "include_usage": True})})


__all__ = ["with_stream_usage"]
