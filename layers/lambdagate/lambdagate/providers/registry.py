"""Provider type -> adapter module, imported on first use so one provider never loads another."""

from __future__ import annotations

from importlib import import_module

from lambdagate.errors import ProviderNotConfigured
from lambdagate.providers.base import Provider

# Each module exposes ``PROVIDER``, the adapter instance that serves every provider of its type.
PROVIDER_MODULES: dict[str, str] = {
    "openai": "lambdagate.providers.openai",
    "mock": "lambdagate.providers.mock",
    "anthropic": "lambdagate.providers.anthropic",
    "azure": "lambdagate.providers.azure",
    "bedrock": "lambdagate.providers.bedrock",
    "cohere": "lambdagate.providers.cohere",
    "gemini": "lambdagate.providers.gemini",
    "mistral": "lambdagate.providers.mistral",
    "replicate": "lambdagate.providers.replicate",
}

_loaded: dict[str, Provider] = {}


def get_provider(provider_type: str) -> Provider:
    provider = _loaded.get(provider_type)
    if provider is None:
        module = PROVIDER_MODULES.get(provider_type)
        if module is None:
            raise ProviderNotConfigured(f"Unknown provider type '{provider_type}'.")
        provider = _loaded[provider_type] = import_module(module).PROVIDER
    return provider
