"""Configuration: one schema (``schema``), two stores (a local file, SSM Parameter Store)."""

from __future__ import annotations

import os

from lambdagate.config.store import ConfigStore

CONFIG_ENV = "LAMBDAGATE_CONFIG"


def load_store(source: str | None = None) -> ConfigStore:
    """The store named by ``source`` or ``$LAMBDAGATE_CONFIG``: a file path or ``ssm:/prefix``."""
    source = source or os.environ.get(CONFIG_ENV)
    if not source:
        raise RuntimeError(f"no configuration: set {CONFIG_ENV} to a YAML/JSON file or to ssm:/prefix")
    if source.startswith("ssm:"):
        from lambdagate.config.ssm import SsmConfigStore

        return SsmConfigStore(source[4:])
    from lambdagate.config.file_store import FileConfigStore

    return FileConfigStore.from_path(source)


__all__ = ["CONFIG_ENV", "ConfigStore", "load_store"]
