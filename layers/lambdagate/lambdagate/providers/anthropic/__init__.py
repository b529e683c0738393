"""``anthropic``: Claude through Anthropic's Messages API."""

from lambdagate.providers.anthropic.adapter import AnthropicProvider

PROVIDER = AnthropicProvider()

__all__ = ["PROVIDER", "AnthropicProvider"]
