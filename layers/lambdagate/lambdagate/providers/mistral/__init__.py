"""``mistral``: Mistral AI chat completions (OpenAI-like, with its own differences)."""

from lambdagate.providers.mistral.adapter import MistralProvider

PROVIDER = MistralProvider()

__all__ = ["PROVIDER", "MistralProvider"]
