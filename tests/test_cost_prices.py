"""Cost per request from each provider's recorded usage shape, against dollars computed by hand.

Every expected value below is written out from the provider's published price per million tokens
(``lambdagate/cost/prices.py`` names the pages, read 2026-12-02), not from the code under test:
cached input at the cache-read rate, cache writes at the write rate, Gemini's cached tokens taken
out of the prompt once, reasoning tokens as output, Bedrock's in-Region premium, Azure Data Zone.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from conftest import FIXTURES
from lambdagate.config.file_store import FileConfigStore
from lambdagate.config.schema import GatewayConfig, PriceOverride
from lambdagate.cost import Tokens, cost_of, format_usd, resolve_price, vendor_of
from lambdagate.cost.prices import bedrock_price, lookup
from lambdagate.limits import Limits
from lambdagate.observability import RequestRecord
from lambdagate.providers.anthropic import response as anthropic
from lambdagate.providers.bedrock import response as bedrock
from lambdagate.providers.cohere import response as cohere
from lambdagate.providers.gemini import response as gemini

M = Decimal(1_000_000)


def usd(*terms: tuple[int, str]) -> Decimal:
    """Sum of tokens x price-per-million, by hand."""
    return sum((Decimal(tokens) * Decimal(price) for tokens, price in terms), Decimal(0)) / M


def fixture(provider: str, name: str) -> Any:
    return json.loads((FIXTURES / provider / name).read_text())


def limits_for(providers: dict[str, Any], models: dict[str, Any]) -> Limits:
    config = GatewayConfig.model_validate({"providers": providers, "models": models})
    return Limits(FileConfigStore(config))


def cost(limits: Limits, alias: str, provider: str, model: str, usage: dict[str, Any] | None) -> Decimal | None:
    record = RequestRecord(request_id="r", endpoint="chat", model=alias, provider=provider, upstream_model=model)
    record.add_usage(usage)
    return limits.cost(record)


# --- OpenAI (and Azure): cached input inside prompt_tokens, reasoning inside completion_tokens ---------


def test_openai_cached_and_reasoning_tokens() -> None:
    limits = limits_for({"openai": {}}, {"mini": {"provider": "openai", "model": "gpt-4o-mini-2024-07-18"},
                                          "o4": {"provider": "openai", "model": "o4-mini"}})
    usage = {"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
             "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
             "completion_tokens_details": {"reasoning_tokens": 0}}
    # gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output
    assert cost(limits, "mini", "openai", "gpt-4o-mini-2024-07-18", usage) == usd(
        (86, "0.15"), (1920, "0.075"), (300, "0.60")) == Decimal("0.0003369")
    # o4-mini: 1,200 of the 1,500 completion tokens are reasoning, billed as output ($4.40), once.
    reasoning = {"prompt_tokens": 1000, "completion_tokens": 1500,
                 "completion_tokens_details": {"reasoning_tokens": 1200}}
    assert cost(limits, "o4", "openai", "o4-mini", reasoning) == usd((1000, "1.10"), (1500, "4.40"))


def test_openai_audio_tokens_at_audio_rates() -> None:
    limits = limits_for({"openai": {}}, {"voice": {"provider": "openai", "model": "gpt-audio"}})
    usage = {"prompt_tokens": 1100, "completion_tokens": 600,
             "prompt_tokens_details": {"audio_tokens": 1000}, "completion_tokens_details": {"audio_tokens": 500}}
    # gpt-audio: text $2.50 / $10, audio $32 / $64
    assert cost(limits, "voice", "openai", "gpt-audio", usage) == usd(
        (100, "2.50"), (1000, "32"), (100, "10"), (500, "64"))


def test_azure_global_price_and_data_zone_override() -> None:
    body = fixture("azure", "chat_completion.json")
    limits = limits_for({"az": {"type": "azure", "api_base": "https://x.openai.azure.com"}},
                        {"global": {"provider": "az", "model": "gpt-4o"},
                         "zone": {"provider": "az", "model": "gpt-4o-mini", "price": {"scale": 1.1}}})
    assert cost(limits, "global", "az", "gpt-4o", body["usage"]) == usd((12, "2.50"), (5, "10"))
    # A Data Zone deployment is 10% over the Global price: $0.165 / $0.66 for gpt-4o-mini.
    assert cost(limits, "zone", "az", "gpt-4o-mini", body["usage"]) == usd((12, "0.165"), (5, "0.66"))


# --- Anthropic and Bedrock: cache reads and writes reported apart from input_tokens ------------------


def test_anthropic_cache_reads_at_read_rate_and_writes_at_write_rate() -> None:
    usage = anthropic.usage(fixture("anthropic", "message_text.json")["usage"])
    limits = limits_for({"anthropic": {}}, {"claude": {"provider": "anthropic", "model": "claude-sonnet-4-5"}})
    # 12 fresh x $3, 2,000 read x $0.30, 100 written x $3.75, 7 out x $15
    expected = usd((12, "3"), (2000, "0.30"), (100, "3.75"), (7, "15"))
    assert cost(limits, "claude", "anthropic", "claude-sonnet-4-5-20250929", usage) == expected == Decimal("0.001116")
    # Billing every prompt token at the input price would overstate this request 5.8 times.
    assert usd((2112, "3"), (7, "15")) / expected > 5


def test_anthropic_long_context_prices_the_whole_request() -> None:
    raw = {"input_tokens": 150_000, "cache_read_input_tokens": 60_000, "cache_creation_input_tokens": 0,
           "output_tokens": 1000}
    limits = limits_for({"anthropic": {}}, {"claude": {"provider": "anthropic", "model": "claude-sonnet-4-5"}})
    # 210,000 prompt tokens > 200,000: $6 input, $0.60 cache read, $22.50 output for all of it
    assert cost(limits, "claude", "anthropic", "claude-sonnet-4-5", anthropic.usage(raw)) == usd(
        (150_000, "6"), (60_000, "0.60"), (1000, "22.50")) == Decimal("0.9585")


def test_anthropic_thinking_tokens_are_output_tokens() -> None:
    usage = anthropic.usage(fixture("anthropic", "message_thinking.json")["usage"])
    limits = limits_for({"anthropic": {}}, {"haiku": {"provider": "anthropic", "model": "claude-haiku-4-5"}})
    assert cost(limits, "haiku", "anthropic", "claude-haiku-4-5", usage) == usd((30, "1"), (60, "5"))


def test_bedrock_cache_tokens_and_regional_premium() -> None:
    raw = {"inputTokens": 1000, "outputTokens": 200, "cacheReadInputTokens": 5000, "cacheWriteInputTokens": 800}
    usage = bedrock.usage(raw)
    limits = limits_for({"bedrock": {"region": "us-east-1"}}, {})
    global_profile = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    us_profile = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    # global: Anthropic's prices; us./in-Region: 10% more ($3.30 / $0.33 / $4.125 / $16.50)
    assert cost(limits, "x", "bedrock", global_profile, usage) == usd(
        (1000, "3"), (5000, "0.30"), (800, "3.75"), (200, "15"))
    assert cost(limits, "x", "bedrock", us_profile, usage) == usd(
        (1000, "3.30"), (5000, "0.33"), (800, "4.125"), (200, "16.50"))
    # Older models have no regional premium; Nova's cache reads are 75% off.
    assert bedrock_price("us.anthropic.claude-sonnet-4-20250514-v1:0") == lookup("bedrock", "claude-sonnet-4")
    nova = bedrock.usage(fixture("bedrock", "converse_text.json")["usage"])
    assert cost(limits, "x", "bedrock", "us.amazon.nova-lite-v1:0", nova) == usd(
        (21, "0.06"), (4, "0.015"), (9, "0.24"))


# --- Gemini: cached content is part of promptTokenCount, thoughts are output ------------------------


def test_gemini_cached_tokens_not_double_counted_and_thoughts_as_output() -> None:
    usage = gemini.usage(fixture("gemini", "text_response.json")["usageMetadata"])
    limits = limits_for({"gemini": {}}, {"flash": {"provider": "gemini", "model": "gemini-2.5-flash"}})
    # prompt 12 of which 4 cached: 8 x $0.30 + 4 x $0.03; output 6 + 9 thoughts = 15 x $2.50
    assert cost(limits, "flash", "gemini", "gemini-2.5-flash", usage) == usd(
        (8, "0.30"), (4, "0.03"), (15, "2.50"))
    big = gemini.usage({"promptTokenCount": 10_000, "cachedContentTokenCount": 8000,
                        "candidatesTokenCount": 500, "thoughtsTokenCount": 1500})
    # Counting the 8,000 cached tokens once at $0.30 and again at $0.03 would add $0.0026 (+41%).
    assert cost(limits, "flash", "gemini", "gemini-2.5-flash", big) == usd(
        (2000, "0.30"), (8000, "0.03"), (2000, "2.50")) == Decimal("0.00584")


def test_gemini_pro_long_context_tier() -> None:
    usage = gemini.usage({"promptTokenCount": 250_000, "cachedContentTokenCount": 100_000,
                          "candidatesTokenCount": 2000})
    limits = limits_for({"gemini": {}}, {"pro": {"provider": "gemini", "model": "gemini-2.5-pro"}})
    assert cost(limits, "pro", "gemini", "gemini-2.5-pro", usage) == usd(
        (150_000, "2.50"), (100_000, "0.25"), (2000, "15"))


# --- OpenAI-compatible services, Mistral, Cohere ------------------------------------------------------


def test_presets_and_hosts_pick_their_vendor() -> None:
    limits = limits_for({"groq": {"api_key": "k"}, "ds": {"type": "openai", "api_base": "https://api.deepseek.com/v1"},
                         "vllm": {"type": "openai", "api_base": "http://10.0.0.5:8000/v1"}},
                        {"llama": {"provider": "groq", "model": "llama-3.3-70b-versatile"},
                         "chat": {"provider": "ds", "model": "deepseek-chat"},
                         "own": {"provider": "vllm", "model": "my-finetune"},
                         "priced": {"provider": "vllm", "model": "my-finetune",
                                    "price": {"input": 0.2, "output": 0.4}}})
    assert cost(limits, "llama", "groq", "llama-3.3-70b-versatile", {"prompt_tokens": 1000, "completion_tokens": 500}) \
        == usd((1000, "0.59"), (500, "0.79"))
    # DeepSeek's cache hits ($0.028) and misses ($0.28); older answers carry only prompt_cache_hit_tokens.
    deepseek = {"prompt_tokens": 1000, "completion_tokens": 100, "prompt_cache_hit_tokens": 600,
                "prompt_cache_miss_tokens": 400}
    assert cost(limits, "chat", "ds", "deepseek-chat", deepseek) == usd((400, "0.28"), (600, "0.028"), (100, "0.42"))
    # Self-hosted: no price, no cost, unless the deployment sets one.
    assert cost(limits, "own", "vllm", "my-finetune", {"prompt_tokens": 10, "completion_tokens": 10}) is None
    assert cost(limits, "priced", "vllm", "my-finetune", {"prompt_tokens": 1000, "completion_tokens": 1000}) \
        == usd((1000, "0.2"), (1000, "0.4"))


def test_mistral_and_cohere_usage() -> None:
    limits = limits_for({"mistral": {}, "cohere": {}}, {})
    mistral = fixture("mistral", "chat_response.json")["usage"]
    assert cost(limits, "m", "mistral", "mistral-small-latest", mistral) == usd(
        (mistral["prompt_tokens"], "0.15"), (mistral["completion_tokens"], "0.60"))
    # The Cohere adapter reports ``tokens`` (what the model saw: 208 in, 8 out); Cohere bills
    # ``billed_units`` (12 in): the cost follows the adapter's usage (see the README's note).
    usage = cohere.usage(fixture("cohere", "chat_text.json")["usage"])
    assert cost(limits, "c", "cohere", "command-a-03-2025", usage) == usd((208, "2.50"), (8, "10"))


# --- the table and its overrides ------------------------------------------------------------------------


@pytest.mark.parametrize(("vendor", "model", "expected"), [
    ("openai", "gpt-4o-mini", "gpt-4o-mini"),
    ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
    ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("anthropic", "claude-opus-4-5-20251101", "claude-opus-4-5"),
    ("anthropic", "claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
    ("gemini", "models/gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
    ("gemini", "gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
    ("mistral", "mistral-small-2506", "mistral-small-2506"),
])
def test_names_match_their_family_only(vendor: str, model: str, expected: str) -> None:
    from lambdagate.cost.prices import TABLE

    assert lookup(vendor, model) is TABLE[vendor][expected]


@pytest.mark.parametrize(("vendor", "model"), [
    ("anthropic", "claude-opus-4-9"),  # a newer model never takes an older one's price
    ("openai", "gpt-4o-mini-transcribe"),
    ("openai", "gpt-5.9"),
    (None, "anything"),
])
def test_unknown_models_have_no_price(vendor: str | None, model: str) -> None:
    assert lookup(vendor, model) is None


def test_vendor_resolution() -> None:
    assert vendor_of("openai", None, "openai") == "openai"
    assert vendor_of("openai", "https://api.groq.com/openai/v1", "fast") == "groq"
    assert vendor_of("openai", "http://127.0.0.1:8001/v1", "local-vllm") is None
    assert vendor_of("openai", "http://proxy.internal/v1", "deepseek") == "deepseek"
    assert vendor_of("azure", "https://x.openai.azure.com", "az") == "azure"
    assert vendor_of("replicate", None, "replicate") is None  # billed by the second, not by the token


def test_override_fields_and_scale() -> None:
    base = lookup("anthropic", "claude-haiku-4-5")
    assert base is not None
    partial = resolve_price("anthropic", "claude-haiku-4-5", PriceOverride(cache_write=Decimal("2")))  # 1h writes
    assert partial is not None and partial.cache_write == Decimal("2") and partial.input == base.input
    scaled = resolve_price("anthropic", "claude-haiku-4-5", PriceOverride(scale=Decimal("0.5")))
    assert scaled is not None and scaled.output == Decimal("2.5") and scaled.cache_read == Decimal("0.05")
    assert resolve_price(None, "x", PriceOverride(scale=Decimal("2"))) is None
    assert cost_of(Tokens(prompt=100, completion=0, cached=500), base) == usd((100, "0.10"))  # clamped


def test_format() -> None:
    assert format_usd(Decimal("0.000336900")) == "0.0003369"
    assert format_usd(Decimal("0")) == "0"
    assert format_usd(Decimal("12.5")) == "12.5"
    assert format_usd(Decimal("1e-12")) == "0"


def test_table_agrees_with_genai_prices() -> None:
    """A maintenance aid: run with genai-prices installed to see where the hand-kept table and
    pydantic's data differ (known: DeepSeek, whose old prices genai-prices 0.2.3 still carries)."""
    genai = pytest.importorskip("genai_prices")
    from lambdagate.cost.prices import ANTHROPIC, GEMINI, OPENAI

    # Known and kept: Anthropic's pricing page prices Sonnet 4 over 200k prompt tokens (its 1M-context
    # beta) at the long-context rates, which genai-prices 0.2.3 leaves out.
    known = {("deepseek", "deepseek-chat"), ("anthropic", "claude-sonnet-4"), ("anthropic", "claude-sonnet-4-0")}
    differ = []
    for provider, rows in (("openai", OPENAI), ("anthropic", ANTHROPIC), ("google", GEMINI)):
        for model, price in rows.items():
            if (provider, model) in known:
                continue
            for tokens in (100_000, 1_000_000):  # under and over the long-context thresholds
                try:
                    theirs = genai.calc_price(genai.Usage(input_tokens=tokens, output_tokens=tokens), model,
                                              provider_id=provider)
                except LookupError:
                    break
                ours = cost_of(Tokens(prompt=tokens, completion=tokens), price)
                if abs(Decimal(theirs.total_price) - ours) > Decimal("0.0001"):
                    differ.append((provider, model, tokens, str(ours), str(theirs.total_price)))
    assert differ == []
