"""The price table: USD per million tokens for the models lambdagate routes, kept by hand.

Why by hand (README, "Limits, budgets and cost"): pydantic's ``genai-prices`` covers far more
models, but importing it costs about 300 ms of CPU on the development machine (it brings its own
HTTP client and pydantic models for 1.6 MB of data), which Lambda's 256 MB share of a vCPU turns
into seconds, and some of its entries lag (``deepseek-chat`` still had the night discount DeepSeek
dropped in September 2025). This module is plain data, imported on the first priced request.

Each vendor's rows are ``pattern -> Price``. A model matches a pattern when it is the pattern, or
the pattern followed by a date or version suffix (``gpt-4o-mini-2024-07-18``, ``claude-sonnet-4-5-
20250929``, ``gemini-2.5-flash-preview-05-20``, ``mistral-small-2506``, ``command-a-03-2025``): never
a longer family name, so ``claude-opus-4-5`` never takes ``claude-opus-4``'s price. A model the table lacks has no cost
(``cost_usd: null``) unless its deployment sets ``price``.

Sources, read 2026-12-02 (stored copies of the providers' pages, cross-checked against the data of
genai-prices 0.2.3, 2026-11): OpenAI developers.openai.com/api/docs/pricing; Anthropic
platform.claude.com/docs/en/about-claude/pricing; Google ai.google.dev/gemini-api/docs/pricing;
AWS aws.amazon.com/bedrock/pricing; Azure azure.microsoft.com/pricing/details/cognitive-services/
openai-service; Mistral mistral.ai/pricing; Cohere cohere.com/pricing; Groq groq.com/pricing;
DeepSeek api-docs.deepseek.com/quick_start/pricing.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from decimal import Decimal

D = Decimal


@dataclass(frozen=True, slots=True)
class Tier:
    """Prices of a whole request whose prompt (cached and written tokens included) exceeds ``above`` tokens."""

    above: int
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens. ``None``: billed at the input (or output) rate."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    """Cached prompt tokens (OpenAI cached input, Anthropic/Bedrock cache reads, Gemini cached content)."""
    cache_write: Decimal | None = None
    """Prompt tokens written to the cache (Anthropic, Bedrock: the 5-minute rate)."""
    input_audio: Decimal | None = None
    output_audio: Decimal | None = None
    tiers: tuple[Tier, ...] = ()

    def scaled(self, factor: Decimal) -> Price:
        def s(value: Decimal | None) -> Decimal | None:
            return None if value is None else value * factor

        return Price(
            self.input * factor, self.output * factor, s(self.cache_read), s(self.cache_write),
            s(self.input_audio), s(self.output_audio),
            tuple(replace(t, input=t.input * factor, output=t.output * factor, cache_read=s(t.cache_read),
                          cache_write=s(t.cache_write)) for t in self.tiers),
        )


def P(inp: str, out: str, read: str | None = None, write: str | None = None, *,
      audio: tuple[str, str | None] | None = None, tiers: tuple[Tier, ...] = ()) -> Price:
    """A row: input, output, cache read, cache write; ``audio``: (input, output) audio prices."""
    audio_in, audio_out = audio or (None, None)
    return Price(D(inp), D(out), D(read) if read else None, D(write) if write else None,
                 D(audio_in) if audio_in else None, D(audio_out) if audio_out else None, tiers)


def _long(inp: str, out: str, read: str, write: str | None = None, above: int = 200_000) -> tuple[Tier, ...]:
    return (Tier(above, D(inp), D(out), D(read), D(write) if write else None),)


# --- the table ---------------------------------------------------------------------------------

OPENAI: dict[str, Price] = {
    "gpt-4o-mini": P("0.15", "0.60", "0.075"),
    "gpt-4o": P("2.50", "10.00", "1.25"),
    "gpt-4.1": P("2.00", "8.00", "0.50"),
    "gpt-4.1-mini": P("0.40", "1.60", "0.10"),
    "gpt-4.1-nano": P("0.10", "0.40", "0.025"),
    "gpt-5": P("1.25", "10.00", "0.125"),
    "gpt-5-mini": P("0.25", "2.00", "0.025"),
    "gpt-5-nano": P("0.05", "0.40", "0.005"),
    "gpt-5.1": P("1.25", "10.00", "0.125"),
    "gpt-5.2": P("1.75", "14.00", "0.175"),
    "gpt-5.4": P("2.50", "15.00", "0.25", tiers=_long("5.00", "22.50", "0.50", above=272_000)),
    "gpt-5.4-mini": P("0.75", "4.50", "0.075"),
    "gpt-5.4-nano": P("0.20", "1.25", "0.02"),
    "gpt-5.5": P("5.00", "30.00", "0.50", tiers=_long("10.00", "45.00", "1.00", above=272_000)),
    "o1": P("15.00", "60.00", "7.50"),
    "o3": P("2.00", "8.00", "0.50"),
    "o3-mini": P("1.10", "4.40", "0.55"),
    "o4-mini": P("1.10", "4.40", "0.275"),
    "gpt-audio": P("2.50", "10.00", audio=("32.00", "64.00")),
    "gpt-audio-mini": P("0.60", "2.40", audio=("10.00", "20.00")),
    "gpt-oss-120b": P("0.039", "0.18"),
    "gpt-oss-20b": P("0.029", "0.14"),
}

# 5-minute cache writes are 1.25x the input price, cache reads 0.1x; over 200k prompt tokens (the
# 1M-context models) the whole request costs the long-context rates.
ANTHROPIC: dict[str, Price] = {
    "claude-opus-4-7": P("5", "25", "0.50", "6.25"),
    "claude-opus-4-6": P("5", "25", "0.50", "6.25"),
    "claude-opus-4-5": P("5", "25", "0.50", "6.25"),
    "claude-opus-4-1": P("15", "75", "1.50", "18.75"),
    "claude-opus-4": P("15", "75", "1.50", "18.75"),
    "claude-opus-4-0": P("15", "75", "1.50", "18.75"),
    "claude-sonnet-4-6": P("3", "15", "0.30", "3.75"),
    "claude-sonnet-4-5": P("3", "15", "0.30", "3.75", tiers=_long("6", "22.50", "0.60", "7.50")),
    "claude-sonnet-4": P("3", "15", "0.30", "3.75", tiers=_long("6", "22.50", "0.60", "7.50")),
    "claude-sonnet-4-0": P("3", "15", "0.30", "3.75", tiers=_long("6", "22.50", "0.60", "7.50")),
    "claude-3-7-sonnet": P("3", "15", "0.30", "3.75"),
    "claude-haiku-4-5": P("1", "5", "0.10", "1.25"),
    "claude-3-5-haiku": P("0.80", "4", "0.08", "1"),
    "claude-3-haiku": P("0.25", "1.25", "0.03", "0.30"),
}

GEMINI: dict[str, Price] = {
    "gemini-2.5-pro": P("1.25", "10.00", "0.125", tiers=_long("2.50", "15.00", "0.25")),
    "gemini-2.5-flash": P("0.30", "2.50", "0.03", audio=("1.00", None)),
    "gemini-2.5-flash-lite": P("0.10", "0.40", "0.01", audio=("0.30", None)),
    "gemini-2.0-flash": P("0.10", "0.40", "0.025", audio=("0.70", None)),
    "gemini-2.0-flash-lite": P("0.075", "0.30"),
    "gemini-3-pro-preview": P("2.00", "12.00", "0.20", tiers=_long("4.00", "18.00", "0.40")),
    "gemini-3.1-pro-preview": P("2.00", "12.00", "0.20", tiers=_long("4.00", "18.00", "0.40")),
}

# Bedrock: on-demand prices of the global cross-Region profiles (``global.``); in-Region and
# geographic profiles (``us.``, ``eu.``, ``apac.``...) of the models marked below cost 10% more.
BEDROCK: dict[str, Price] = {
    "claude-opus-4-7": ANTHROPIC["claude-opus-4-7"],
    "claude-opus-4-6": ANTHROPIC["claude-opus-4-6"],
    "claude-opus-4-5": ANTHROPIC["claude-opus-4-5"],
    "claude-opus-4-1": ANTHROPIC["claude-opus-4-1"],
    "claude-opus-4": ANTHROPIC["claude-opus-4"],
    "claude-sonnet-4-6": ANTHROPIC["claude-sonnet-4-6"],
    "claude-sonnet-4-5": P("3", "15", "0.30", "3.75"),
    "claude-sonnet-4": P("3", "15", "0.30", "3.75"),
    "claude-3-7-sonnet": ANTHROPIC["claude-3-7-sonnet"],
    "claude-haiku-4-5": ANTHROPIC["claude-haiku-4-5"],
    "claude-3-5-haiku": ANTHROPIC["claude-3-5-haiku"],
    "claude-3-haiku": P("0.25", "1.25"),
    "nova-premier": P("2.50", "12.50", "0.625"),
    "nova-pro": P("0.80", "3.20", "0.20"),
    "nova-lite": P("0.06", "0.24", "0.015"),
    "nova-micro": P("0.035", "0.14", "0.00875"),
}
BEDROCK_REGIONAL_PREMIUM = frozenset({
    "claude-opus-4-7", "claude-opus-4-6", "claude-opus-4-5", "claude-sonnet-4-6", "claude-sonnet-4-5",
    "claude-haiku-4-5",
})
REGIONAL_FACTOR = D("1.1")

MISTRAL: dict[str, Price] = {
    "mistral-small-latest": P("0.15", "0.60", "0.015"),  # Mistral Small 4 (2603) since 2026-03-16
    "mistral-small-2603": P("0.15", "0.60", "0.015"),
    "mistral-small-2506": P("0.10", "0.30"),
    "mistral-medium-latest": P("1.50", "7.50", "0.15"),
}

COHERE: dict[str, Price] = {
    "command-a": P("2.50", "10.00"),
    "command-r-plus": P("2.50", "10.00"),
    "command-r": P("0.15", "0.60"),
    "command-r7b": P("0.0375", "0.15"),
}

GROQ: dict[str, Price] = {
    "llama-3.3-70b-versatile": P("0.59", "0.79"),
    "llama-3.1-8b-instant": P("0.05", "0.08"),
    "openai/gpt-oss-120b": P("0.15", "0.60", "0.075"),
    "openai/gpt-oss-20b": P("0.075", "0.30", "0.0375"),
    "meta-llama/llama-4-scout-17b-16e-instruct": P("0.11", "0.34"),
    "meta-llama/llama-4-maverick-17b-128e-instruct": P("0.20", "0.60"),
    "qwen/qwen3-32b": P("0.29", "0.59"),
}

DEEPSEEK: dict[str, Price] = {
    "deepseek-chat": P("0.28", "0.42", "0.028"),
    "deepseek-reasoner": P("0.28", "0.42", "0.028"),
}

TABLE: dict[str, dict[str, Price]] = {
    "openai": OPENAI,
    "azure": OPENAI,  # Global deployments; Data Zone: ``price: {scale: 1.1}`` on the deployment
    "anthropic": ANTHROPIC,
    "gemini": GEMINI,
    "bedrock": BEDROCK,
    "mistral": MISTRAL,
    "cohere": COHERE,
    "groq": GROQ,
    "deepseek": DEEPSEEK,
    "mock": {"*": P("0", "0")},
}

# OpenAI-compatible services reached with ``type: openai`` (or a preset), known by their host.
HOSTS: dict[str, str] = {
    "api.openai.com": "openai",
    "api.groq.com": "groq",
    "api.deepseek.com": "deepseek",
    "api.mistral.ai": "mistral",
}

# --- lookup ------------------------------------------------------------------------------------

_SUFFIX = re.compile(r"(\d{4}(-?\d{2}(-?\d{2})?)?|\d{2}-\d{4}|\d{3}|v\d+(:\d+)?|latest|preview(-.*)?|exp(-.*)?)")
_BEDROCK_GEO = re.compile(r"^(global|us|eu|apac|jp|au|ca|us-gov)\.")
_BEDROCK_VENDOR = re.compile(r"^(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen)\.")
_BEDROCK_VERSION = re.compile(r"-v\d+(:\d+)?$")


def _match(rows: dict[str, Price], model: str) -> Price | None:
    if "*" in rows:
        return rows["*"]
    model = model.lower().removeprefix("models/")
    found = rows.get(model)
    if found is not None:
        return found
    best: tuple[int, Price] | None = None
    for pattern, price in rows.items():
        for sep in ("-", "@"):
            if (model.startswith(pattern + sep) and _SUFFIX.fullmatch(model[len(pattern) + 1:])
                    and (best is None or len(pattern) > best[0])):
                best = (len(pattern), price)
    return best[1] if best else None


def bedrock_price(model: str) -> Price | None:
    """``[global.|us.|...]vendor.name[-date]-vN:M`` -> the table's price, 10% more off the global profile."""
    geo = _BEDROCK_GEO.match(model)
    bare = _BEDROCK_VERSION.sub("", _BEDROCK_VENDOR.sub("", _BEDROCK_GEO.sub("", model)))
    price = _match(BEDROCK, bare)
    if price is None:
        return None
    family = next((p for p in sorted(BEDROCK_REGIONAL_PREMIUM, key=len, reverse=True)
                   if bare == p or (bare.startswith(p + "-") and _SUFFIX.fullmatch(bare[len(p) + 1:]))), None)
    if family is not None and (geo is None or geo.group(1) != "global"):
        return price.scaled(REGIONAL_FACTOR)
    return price


@functools.lru_cache(maxsize=1024)
def lookup(vendor: str | None, model: str) -> Price | None:
    """The table's price of ``model`` at ``vendor`` (a key of :data:`TABLE`), or None.

    Cached: every priced request asks, the table is a constant and prices are immutable, and a
    dated model name (``claude-sonnet-4-5-20250929``) is matched against every prefix of its
    vendor's rows (10-15 us of CPU each time on the development machine).
    """
    if vendor is None:
        return None
    if vendor == "bedrock":
        return bedrock_price(model)
    rows = TABLE.get(vendor)
    return _match(rows, model) if rows is not None else None


__all__ = ["HOSTS", "TABLE", "Price", "Tier", "bedrock_price", "lookup"]
