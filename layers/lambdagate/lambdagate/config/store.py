"""What the rest of the gateway asks of configuration, whatever holds it.

The request path asks for exactly what one request needs (one key record, one alias, one
provider), so a store backed by SSM Parameter Store can fetch those leaves lazily by name and a
request costs O(1) look-ups however many keys and models exist.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from lambdagate.config.schema import Deployment, KeyRecord, ProviderConfig, Settings


@runtime_checkable
class ConfigStore(Protocol):
    def settings(self) -> Settings:
        """Gateway-wide settings."""
        ...

    def key(self, sha256: str) -> KeyRecord | None:
        """The client key record with this hash, or None."""
        ...

    def deployments(self, alias: str) -> list[Deployment] | None:
        """The deployments behind a model alias, or None if the alias does not exist."""
        ...

    def provider(self, name: str) -> ProviderConfig | None:
        """A named provider with its secrets resolved, or None if it does not exist.

        Raises ``SecretUnavailable`` when the provider exists but its secret cannot be resolved.
        """
        ...

    def aliases(self) -> list[str]:
        """Every model alias, for ``/v1/models``."""
        ...

    def prefetch(self, sha256: str | None = None, model: str | None = None) -> None:
        """Load, in as few round trips as the store can, all a request with this key and model reads.

        Called once per request before the getters; a store without remote reads does nothing.
        """
        ...
