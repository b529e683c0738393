"""Configuration from SSM Parameter Store (``LAMBDAGATE_CONFIG=ssm:/prefix``): the store.

The parameter layout and its name encoding are :mod:`lambdagate.config.ssm_layout`'s; reading,
caching and outage handling are :mod:`lambdagate.config.ssm_cache`'s; writing a config file into
the layout (``lambdagate config push``/``pull``) is the CLI's, :mod:`lambdagate.cli.documents`.
This module turns cached parameters into the schema's objects for the request path.

Round trips. Each getter fetches what it needs in one call: ``key()`` brings ``settings`` along
when it is cold, ``provider()`` its ``api_key``. ``prefetch(sha256, model)`` lets a caller that
already knows the key and the model warm everything a request needs in at most two calls: key,
settings and alias first, then every provider of the alias with its ``api_key``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from lambdagate.config.errors import ConfigUnavailable
from lambdagate.config.schema import Deployment, KeyRecord, ProviderConfig, Settings
from lambdagate.config.secrets import resolve_secret

# Re-exported: callers (and tests that replace ``ssm_client``) know them by this module's name.
from lambdagate.config.ssm_cache import (
    DEFAULT_TTL,
    ERROR_RETRY_SECONDS,
    MAX_ENTRIES,
    TTL_ENV,
    Entry,
    ParameterCache,
    _default_cache,
    read_secure_parameter,
    ssm_client,
)
from lambdagate.config.ssm_layout import (
    MAX_NAME_LENGTH,
    SHA256_RE,
    SsmLayout,
    decode_name,
    encode_name,
    normalize_prefix,
)

logger = logging.getLogger("lambdagate.config.ssm")


class SsmConfigStore:
    """A :class:`~lambdagate.config.store.ConfigStore` over the SSM layout under ``prefix``."""

    def __init__(self, prefix: str, *, ttl: float | None = None, client: Any = None, region: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.layout = SsmLayout.of(prefix)
        # The client is made through this module's ``ssm_client`` (looked up when it is needed).
        self.cache = ParameterCache(ttl=ttl, client=client, clock=clock, connect=lambda: ssm_client(region))
        # name -> (the parsed provider, its key, the copy carrying the key): made once per pair.
        self._resolved: dict[str, tuple[ProviderConfig, str | None, ProviderConfig]] = {}

    @property
    def prefix(self) -> str:
        return self.layout.prefix

    def prepare(self) -> None:
        """Import boto3 and build the client now, without a call (for the Lambda init phase)."""
        self.cache.client()
        # The socket module encodes a host name with the idna codec, imported on its first use:
        # the first GetParameters call would otherwise import it inside the first request.
        import encodings.idna  # noqa: F401

    def reset(self) -> None:
        """Drop the client and cached parameters, secret references included (SnapStart restore)."""
        self.cache.reset()
        self._resolved.clear()
        _default_cache().reset()

    # --- ConfigStore ---------------------------------------------------------------------

    def settings(self) -> Settings:
        entry = self.cache.get([self.layout.settings])[self.layout.settings]
        return self._parse(self.layout.settings, entry, Settings.model_validate_json, Settings())

    def key(self, sha256: str) -> KeyRecord | None:
        if not SHA256_RE.fullmatch(sha256):
            return None
        name = self.layout.key(sha256)
        # Settings ride along when cold: the request asks for them right after the key.
        entry = self.cache.get([name, self.layout.settings])[name]
        record: KeyRecord | None = self._parse(name, entry, KeyRecord.model_validate_json, None)
        return record

    def deployments(self, alias: str) -> list[Deployment] | None:
        name = self._model_name(alias)
        if name is None:
            return None
        entry = self.cache.get([name])[name]
        deployments: list[Deployment] | None = self._parse(name, entry, _parse_deployments, None)
        return deployments

    def provider(self, name: str) -> ProviderConfig | None:
        if not name:
            return None
        config_name, key_name = self.layout.provider(name), self.layout.api_key(name)
        entries = self.cache.get([config_name, key_name])
        config: ProviderConfig | None = self._parse(config_name, entries[config_name],
                                                    ProviderConfig.model_validate_json, None)
        if config is None:
            return None
        secret = entries[key_name].raw
        if secret is None and config.api_key is not None:
            # A reference kept in the provider itself (env:NAME set on the function, or ssm:/path).
            secret = resolve_secret(config.api_key, ssm_reader=self.cache.secure_string)
        # Every request asks more than once; the copy changes only with the parsed entry or the key.
        resolved = self._resolved.get(name)
        if resolved is not None and resolved[0] is config and resolved[1] == secret:
            return resolved[2]
        copy = config.model_copy(update={"api_key": secret})
        self._resolved[name] = (config, secret, copy)
        return copy

    def aliases(self) -> list[str]:
        aliases = []
        for leaf in self.cache.children(self.layout.models_path):
            try:
                aliases.append(decode_name(leaf))
            except (UnicodeDecodeError, ValueError):
                logger.warning("skipping a model parameter whose name is not an encoded alias")
        return aliases

    # --- warming ---------------------------------------------------------------------------

    def prefetch(self, sha256: str | None = None, model: str | None = None) -> None:
        """Warm everything a request for ``model`` with key ``sha256`` reads, in at most two calls.

        First the key, settings and the model's alias (and, for a ``provider/model`` name, that
        provider), then the providers of the alias's deployments with their api_keys. Only names
        not cached are fetched; warm, this costs no call. Raises :class:`ConfigUnavailable` as
        the getters would; a malformed parameter is left for the getter to report.
        """
        first = [self.layout.settings]
        if sha256 and SHA256_RE.fullmatch(sha256):
            first.append(self.layout.key(sha256))
        model_name = self._model_name(model) if model else None
        if model_name is not None and model is not None:
            first.append(model_name)
            provider_name, sep, _ = model.partition("/")
            if sep and provider_name:
                first += [self.layout.provider(provider_name), self.layout.api_key(provider_name)]
        entries = self.cache.get(first)
        if model_name is None:
            return
        try:
            deployments = self._parse(model_name, entries[model_name], _parse_deployments, None)
        except ConfigUnavailable:
            return
        second = []
        for provider in dict.fromkeys(d.provider for d in deployments or []):
            if provider:
                second += [self.layout.provider(provider), self.layout.api_key(provider)]
        if second:
            self.cache.get(second)

    # --- helpers ---------------------------------------------------------------------------

    def _model_name(self, alias: str) -> str | None:
        if not alias:
            return None
        name = self.layout.model(alias)
        return name if len(name) <= MAX_NAME_LENGTH else None

    @staticmethod
    def _parse(name: str, entry: Entry, parse: Callable[[str], Any], missing: Any) -> Any:
        if entry.raw is None:
            return missing
        if not entry.is_parsed:
            try:
                entry.parsed = parse(entry.raw)
            except (ValidationError, ValueError):
                # The name, never the value (a misplaced secret must not reach the log).
                logger.error("SSM parameter %s is not valid configuration", name)
                raise ConfigUnavailable("The gateway configuration is invalid; the operator has been told.") from None
        return entry.parsed


@cache
def _deployments_adapter() -> TypeAdapter[list[Deployment]]:
    return TypeAdapter(list[Deployment])  # built on first use: a few ms at import otherwise


def _parse_deployments(raw: str) -> list[Deployment]:
    data = json.loads(raw)
    return _deployments_adapter().validate_python(data if isinstance(data, list) else [data])


__all__ = [
    "DEFAULT_TTL",
    "ERROR_RETRY_SECONDS",
    "MAX_ENTRIES",
    "MAX_NAME_LENGTH",
    "SHA256_RE",
    "TTL_ENV",
    "ConfigUnavailable",
    "ParameterCache",
    "SsmConfigStore",
    "SsmLayout",
    "decode_name",
    "encode_name",
    "normalize_prefix",
    "read_secure_parameter",
    "ssm_client",
]
