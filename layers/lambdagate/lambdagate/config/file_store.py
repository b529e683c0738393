"""Configuration from a local YAML or JSON file (development, tests, ``lambdagate serve``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lambdagate.config.schema import Deployment, GatewayConfig, KeyRecord, ProviderConfig, Settings
from lambdagate.config.secrets import resolve_secret


def parse_config_text(text: str, *, suffix: str = ".yaml") -> GatewayConfig:
    """Parse a config document; JSON is read by the JSON parser, everything else as YAML."""
    data: Any
    if suffix == ".json":
        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text)
    return GatewayConfig.model_validate(data or {})


class FileConfigStore:
    """A :class:`~lambdagate.config.store.ConfigStore` over an in-memory :class:`GatewayConfig`."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self._keys = {record.sha256: record for record in config.keys}
        self._resolved: dict[str, ProviderConfig] = {}

    @classmethod
    def from_path(cls, path: str | Path) -> FileConfigStore:
        path = Path(path)
        return cls(parse_config_text(path.read_text(encoding="utf-8"), suffix=path.suffix.lower()))

    def settings(self) -> Settings:
        return self.config.settings

    def key(self, sha256: str) -> KeyRecord | None:
        return self._keys.get(sha256)

    def deployments(self, alias: str) -> list[Deployment] | None:
        return self.config.models.get(alias)

    def provider(self, name: str) -> ProviderConfig | None:
        provider = self.config.providers.get(name)
        if provider is None or provider.api_key is None:
            return provider
        # Resolved on every call: env lookups are cheap, and a rotated variable takes effect. The
        # copy that carries the value is made once per value: every request asks more than once.
        api_key = resolve_secret(provider.api_key)
        resolved = self._resolved.get(name)
        if resolved is None or resolved.api_key != api_key:
            resolved = self._resolved[name] = provider.model_copy(update={"api_key": api_key})
        return resolved

    def aliases(self) -> list[str]:
        return list(self.config.models)

    def prefetch(self, sha256: str | None = None, model: str | None = None) -> None:
        """Everything is in memory already."""
