"""``mock``: a built-in provider with no network and no key, for demos, smoke tests and benchmarks."""

from lambdagate.providers.mock.adapter import MockProvider

PROVIDER = MockProvider()

__all__ = ["PROVIDER", "MockProvider"]
