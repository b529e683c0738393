"""``replicate``: language models run as Replicate predictions (sync wait, polling, SSE stream URL)."""

from lambdagate.providers.replicate.adapter import ReplicateProvider

PROVIDER = ReplicateProvider()

__all__ = ["PROVIDER", "ReplicateProvider"]
