"""What a request cost, in USD, from its real token usage, the price table and the deployment's override.

The usage is the chat contract's (every adapter reports it the same way, ``providers/shapes.py``):
``prompt_tokens`` counts every input token, cached and cache-written ones included;
``prompt_tokens_details.cached_tokens`` (cache reads) and ``.cache_creation_tokens`` (cache
writes) and ``.audio_tokens`` are parts of it; ``completion_tokens`` counts every output token,
reasoning (``completion_tokens_details.reasoning_tokens``) and audio included. So:

    cost = (prompt - cached - written - audio_in) x input + cached x cache_read + written x cache_write
         + audio_in x input_audio + (completion - audio_out) x output + audio_out x output_audio

per million tokens, each missing rate falling back to the input (or output) rate; reasoning tokens
are output tokens. A prompt over a tier's threshold prices the whole request at the tier's rates
(Anthropic's and Gemini's long-context prices). Which price: the deployment's ``price`` (fields it
leaves out from the table, ``scale`` multiplying), else the table (:mod:`.prices`, imported on the
first priced request) for the vendor behind the provider: its type, or for ``type: openai`` the
host of its ``api_base`` (api.groq.com is Groq), or a provider named like a vendor.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from lambdagate.config.schema import PriceOverride
    from lambdagate.cost.prices import Price

MILLION = Decimal(1_000_000)
_FIELDS = ("input", "output", "cache_read", "cache_write", "input_audio", "output_audio")


@dataclass(frozen=True, slots=True)
class Tokens:
    """A request's token counts, each part (cached, written, audio) included in its total."""

    prompt: int = 0
    completion: int = 0
    cached: int = 0
    cache_write: int = 0
    audio_prompt: int = 0
    audio_completion: int = 0

    @property
    def total(self) -> int:
        return self.prompt + self.completion


@functools.lru_cache(maxsize=256)
def vendor_of(provider_type: str, api_base: str | None, provider_name: str) -> str | None:
    """Whose prices a provider is billed at: a key of the price table, or None (self-hosted, unknown).

    Cached (a pure function of a few configured strings): every priced request asks.
    """
    from lambdagate.cost.prices import HOSTS, TABLE

    if provider_type == "openai":
        host = (urlsplit(api_base).hostname or "").lower() if api_base else "api.openai.com"
        if host in HOSTS:
            return HOSTS[host]
        return provider_name if provider_name in TABLE and provider_name not in ("openai", "azure") else None
    return provider_type if provider_type in TABLE else None


def resolve_price(vendor: str | None, model: str, override: PriceOverride | None = None) -> Price | None:
    """The price of ``model`` at ``vendor`` with a deployment's ``override`` applied, or None if unknown."""
    price = _table_lookup()(vendor, model)
    if override is not None:
        given = {name: getattr(override, name) for name in _FIELDS if getattr(override, name) is not None}
        if price is None:
            if "input" not in given or "output" not in given:
                return None
            from lambdagate.cost.prices import Price

            price = Price(given.pop("input"), given.pop("output"))
        if given:
            # A deployment priced on its own has no long-context tiers unless the table's are kept whole.
            price = replace(price, **given, tiers=() if {"input", "output"} & given.keys() else price.tiers)
        if override.scale is not None:
            price = price.scaled(override.scale)
    return price


@functools.cache
def _table_lookup() -> Callable[[str | None, str], Price | None]:
    """:func:`lambdagate.cost.prices.lookup`, imported on first use: the table loads with the first
    priced request, not with this module; an import statement run on every request cost more than
    the (cached) look-up it served."""
    from lambdagate.cost.prices import lookup

    return lookup


def cost_of(tokens: Tokens, price: Price) -> Decimal:
    """USD for ``tokens`` at ``price`` (exact decimal arithmetic)."""
    prompt = max(tokens.prompt, 0)
    rate_in, rate_out, rate_read, rate_write = price.input, price.output, price.cache_read, price.cache_write
    for tier in price.tiers:
        if prompt > tier.above:
            rate_in, rate_out = tier.input, tier.output
            rate_read, rate_write = tier.cache_read, tier.cache_write
    cached = min(max(tokens.cached, 0), prompt)
    written = min(max(tokens.cache_write, 0), prompt - cached)
    audio_in = min(max(tokens.audio_prompt, 0), prompt - cached - written)
    fresh = prompt - cached - written - audio_in
    completion = max(tokens.completion, 0)
    audio_out = min(max(tokens.audio_completion, 0), completion)
    total = (
        fresh * rate_in
        + cached * (rate_read if rate_read is not None else rate_in)
        + written * (rate_write if rate_write is not None else rate_in)
        + audio_in * (price.input_audio if price.input_audio is not None else rate_in)
        + (completion - audio_out) * rate_out
        + audio_out * (price.output_audio if price.output_audio is not None else rate_out)
    )
    return total / MILLION


def format_usd(amount: Decimal) -> str:
    """``0.000123`` style: plain notation, at most 10 decimals, no trailing zeros."""
    text = f"{amount.quantize(Decimal('1e-10')):f}".rstrip("0").rstrip(".")
    return text or "0"


__all__ = ["Tokens", "cost_of", "format_usd", "resolve_price", "vendor_of"]
