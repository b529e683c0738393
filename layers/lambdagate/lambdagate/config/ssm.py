"""Configuration from SSM Parameter Store (``LAMBDAGATE_CONFIG=ssm:/prefix``).

Layout, one parameter per leaf, so a request reads O(1) parameters however many keys and models
exist::

    {prefix}/settings                    String        JSON of Settings
    {prefix}/models/{alias}              String        JSON of one deployment or a list of them
    {prefix}/providers/{name}            String        JSON of ProviderConfig without ``api_key``
    {prefix}/providers/{name}/api_key    SecureString  the provider's API key
    {prefix}/keys/{sha256}               String        JSON of the KeyRecord

Alias and provider names are encoded into one name segment (:func:`encode_name`): SSM names allow
only ``a-zA-Z0-9_.-/``, and ``/`` would add a level. Letters, digits, ``.`` and ``-`` stay; every
other byte of the UTF-8 name, ``_`` included, becomes ``_XX`` (two upper-case hex digits), so
``claude-sonnet-4.5`` stays as it is, ``openai/gpt-4o`` is ``openai_2Fgpt-4o`` and ``llama3.2:1b``
is ``llama3.2_3A1b``. ``_`` is the escape because it is the one allowed character aliases rarely use.

Reading. Parameters are fetched through Powertools Parameters (``SSMProvider``): by name with
GetParameters (decrypted, up to 10 a call) and, for ``/v1/models``, by path with the paginated
GetParametersByPath. The cache is this module's own, with a TTL of ``$LAMBDAGATE_SSM_TTL`` seconds
(default 300), because it must do two things Powertools' cache does not: remember that a name is
missing (an unknown key is answered from memory for the TTL, so retrying a wrong key does not
reach SSM), and keep serving the last good value when SSM fails (throttling, outage) -- with no
value at all the request gets a 503 (:class:`ConfigUnavailable`), never a 500.

Round trips. Each getter fetches what it needs in one call: ``key()`` brings ``settings`` along
when it is cold, ``provider()`` its ``api_key``. ``prefetch(sha256, model)`` lets a caller that
already knows the key and the model warm everything a request needs in at most two calls: key,
settings and alias first, then every provider of the alias with its ``api_key``.

boto3 and Powertools are imported on first use, not at import: they cost hundreds of milliseconds.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from lambdagate.config.schema import Deployment, GatewayConfig, KeyRecord, ProviderConfig, Settings
from lambdagate.config.secrets import SecretUnavailable, resolve_secret
from lambdagate.errors import ProviderNotConfigured

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

logger = logging.getLogger("lambdagate.config.ssm")

TTL_ENV = "LAMBDAGATE_SSM_TTL"
DEFAULT_TTL = 300.0
ERROR_RETRY_SECONDS = 10.0
"""After a failed read, the last good values serve this long (at most the TTL) before SSM is tried again."""
MAX_ENTRIES = 10_000
"""Cached names kept at most; beyond it expired entries, then misses, are dropped (random keys add misses)."""
MAX_NAME_LENGTH = 1011
"""The longest parameter name SSM accepts; longer model names cannot exist and are not looked up."""
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

_KEEP = re.compile(r"[A-Za-z0-9.-]")
_ESCAPE = re.compile(r"_([0-9A-F]{2})")


class ConfigUnavailable(ProviderNotConfigured):
    """SSM could not be read and no earlier value is cached: the gateway cannot answer for now.

    A 503 like :class:`ProviderNotConfigured` (whose subclass it is, so the router tries another
    deployment whose provider is cached), never a 500. The message names no parameter.
    """

    code = "config_unavailable"

    def __init__(self, message: str = "The gateway configuration could not be read; try again shortly.") -> None:
        super().__init__(message, headers={"retry-after": "1"})


# --- names ---------------------------------------------------------------------------------


def encode_name(name: str) -> str:
    """One SSM name segment for an alias or provider name (see the module docstring)."""
    if not name:
        raise ValueError("an empty name cannot be stored in SSM")
    return "".join(ch if _KEEP.fullmatch(ch) else "".join(f"_{b:02X}" for b in ch.encode()) for ch in name)


def decode_name(segment: str) -> str:
    """The name :func:`encode_name` encoded; ValueError if ``segment`` is not such an encoding."""
    out = bytearray()
    index = 0
    while index < len(segment):
        if segment[index] == "_":
            escape = _ESCAPE.match(segment, index)
            if escape is None:
                raise ValueError(f"not an encoded name: {segment!r}")
            out.append(int(escape.group(1), 16))
            index = escape.end()
        else:
            out += segment[index].encode()
            index += 1
    return out.decode("utf-8")


def normalize_prefix(prefix: str) -> str:
    """``lambdagate/`` -> ``/lambdagate``: SSM hierarchies start with ``/`` and names join with ``/``."""
    stripped = prefix.strip().strip("/")
    if not stripped:
        raise ValueError("an SSM prefix such as /lambdagate is required")
    if not re.fullmatch(r"[A-Za-z0-9_.\-/]+", stripped) or "//" in stripped:
        raise ValueError(f"invalid SSM prefix {prefix!r}: use letters, digits and _.-/")
    return "/" + stripped


@dataclass(frozen=True, slots=True)
class SsmLayout:
    """The parameter names of one configuration under ``prefix``."""

    prefix: str

    @classmethod
    def of(cls, prefix: str) -> SsmLayout:
        return cls(normalize_prefix(prefix))

    @property
    def settings(self) -> str:
        return f"{self.prefix}/settings"

    @property
    def models_path(self) -> str:
        return f"{self.prefix}/models"

    @property
    def providers_path(self) -> str:
        return f"{self.prefix}/providers"

    @property
    def keys_path(self) -> str:
        return f"{self.prefix}/keys"

    def model(self, alias: str) -> str:
        return f"{self.models_path}/{encode_name(alias)}"

    def provider(self, name: str) -> str:
        return f"{self.providers_path}/{encode_name(name)}"

    def api_key(self, provider: str) -> str:
        return f"{self.provider(provider)}/api_key"

    def key(self, sha256: str) -> str:
        return f"{self.keys_path}/{sha256}"

    def classify(self, name: str) -> tuple[str, str] | None:
        """``(kind, leaf)`` for a parameter name under the prefix, or None if it is not part of the layout.

        Kinds: ``settings``, ``model`` (leaf: alias), ``provider``, ``api_key`` (leaf: provider name),
        ``key`` (leaf: sha256).
        """
        if name == self.settings:
            return "settings", ""
        rest = name[len(self.prefix) + 1:] if name.startswith(self.prefix + "/") else None
        if rest is None:
            return None
        parts = rest.split("/")
        try:
            if len(parts) == 2 and parts[0] == "models":
                return "model", decode_name(parts[1])
            if len(parts) == 2 and parts[0] == "providers":
                return "provider", decode_name(parts[1])
            if len(parts) == 3 and parts[0] == "providers" and parts[2] == "api_key":
                return "api_key", decode_name(parts[1])
        except (UnicodeDecodeError, ValueError):
            return None
        if len(parts) == 2 and parts[0] == "keys" and SHA256_RE.fullmatch(parts[1]):
            return "key", parts[1]
        return None


# --- the layout as parameters (written by `lambdagate config push`, read by `config pull`) ----


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    value: str
    secure: bool = False


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def config_parameters(
    config: GatewayConfig, layout: SsmLayout, api_key: Callable[[str, str], str | None]
) -> dict[str, Parameter]:
    """Every parameter that stores ``config``, by name.

    ``api_key(provider_name, reference)`` resolves a provider's secret reference to the value to
    store as SecureString, or returns None to keep the one already stored.
    """
    params: dict[str, Parameter] = {}

    def add(name: str, value: str, secure: bool = False) -> None:
        params[name] = Parameter(name, value, secure)

    add(layout.settings, _json(config.settings.model_dump(mode="json", exclude_unset=True)))
    for name, provider in config.providers.items():
        add(layout.provider(name), _json(provider.model_dump(mode="json", exclude_unset=True, exclude={"api_key"})))
        if provider.api_key is not None:
            value = api_key(name, provider.api_key)
            if value is not None:
                add(layout.api_key(name), value, secure=True)
    for alias, deployments in config.models.items():
        dumped = [d.model_dump(mode="json", exclude_unset=True) for d in deployments]
        add(layout.model(alias), _json(dumped[0] if len(dumped) == 1 else dumped))
    for record in config.keys:
        add(layout.key(record.sha256), record.model_dump_json(exclude_none=True))
    return params


def parameters_config(params: Mapping[str, str], secure_names: Iterable[str], layout: SsmLayout) -> dict[str, Any]:
    """The config document that parameters hold, secrets shown as ``ssm:`` references, never values.

    ``params`` maps names to values (SecureString values are ignored); ``secure_names`` are the
    SecureString parameters present. Unknown names are skipped, and so is a literal ``api_key``
    someone wrote into a provider's JSON by hand (references such as ``env:NAME`` are shown).
    """
    doc: dict[str, Any] = {"settings": {}, "providers": {}, "models": {}, "keys": []}
    secure = set(secure_names)
    for name in sorted(set(params) | secure):
        kind_leaf = layout.classify(name)
        if kind_leaf is None:
            continue
        kind, leaf = kind_leaf
        if kind == "api_key":
            doc["providers"].setdefault(leaf, {})["api_key"] = f"ssm:{name}"
        elif name in secure:
            continue
        elif kind == "settings":
            doc["settings"] = json.loads(params[name])
        elif kind == "provider":
            provider = json.loads(params[name])
            if not str(provider.get("api_key", "")).startswith(("env:", "ssm:")):
                provider.pop("api_key", None)  # a literal key written by hand: a secret, not shown
            doc["providers"][leaf] = {**provider, **doc["providers"].get(leaf, {})}
        elif kind == "model":
            doc["models"][leaf] = json.loads(params[name])
        elif kind == "key":
            doc["keys"].append(json.loads(params[name]))
    return doc


# --- reading: a TTL cache with misses and last good values -----------------------------------


_UNPARSED: Any = object()


class _Entry:
    """One cached parameter: its value (None: it does not exist), expiry, and parsed form."""

    __slots__ = ("expires", "parsed", "raw")

    def __init__(self, raw: str | None, expires: float) -> None:
        self.raw = raw
        self.expires = expires
        self.parsed: Any = _UNPARSED


def ttl_from_env() -> float:
    raw = os.environ.get(TTL_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_TTL
    try:
        ttl = float(raw)
    except ValueError:
        raise ValueError(f"{TTL_ENV} must be a number of seconds, not {raw!r}") from None
    if ttl < 0:
        raise ValueError(f"{TTL_ENV} must not be negative")
    return ttl


@cache
def _strict_provider_class() -> type[Any]:
    """Powertools' ``SSMProvider``, except that GetParameters service errors propagate.

    Powertools reports an ``InternalServerError`` (or ``InvalidKeyId``) of GetParameters as if the
    names did not exist; cached as misses, an SSM outage would then turn every key into a 401.
    """
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    class StrictSSMProvider(SSMProvider):
        def _get_parameters_by_name(
            self, parameters: dict[str, dict[str, Any]], raise_on_error: bool = True, decrypt: bool = False
        ) -> tuple[dict[str, Any], list[str]]:
            response = self.client.get_parameters(Names=list(parameters), WithDecryption=decrypt)
            errors = self._handle_any_invalid_get_parameter_errors(response, raise_on_error)
            return self._transform_and_cache_get_parameters_response(response, parameters, raise_on_error), errors

    return StrictSSMProvider


def ssm_client(region: str | None = None, *, retries: int = 2, timeout: float = 5.0) -> SSMClient:
    """A boto3 SSM client that fails fast: on the request path a cached value beats a long retry."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=timeout, read_timeout=timeout,
                    retries={"mode": "standard", "total_max_attempts": retries})
    return boto3.session.Session(region_name=region).client("ssm", config=config)


class ParameterCache:
    """Parameters by name and by path, cached for ``ttl`` seconds, misses included.

    When SSM fails, names that were read before keep their last value (re-armed for a few
    seconds, so an outage costs one call per name every :data:`ERROR_RETRY_SECONDS`); a name
    never read raises :class:`ConfigUnavailable`.
    """

    def __init__(self, *, ttl: float | None = None, client: Any = None, region: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl_from_env() if ttl is None else ttl
        self._client = client
        self._region = region
        self._clock = clock
        self._provider: Any = None
        self._entries: dict[str, _Entry] = {}
        self._paths: dict[str, tuple[list[str], float]] = {}

    def provider(self) -> Any:
        """The Powertools provider, built on first use (this is where boto3 gets imported)."""
        if self._provider is None:
            client = self._client if self._client is not None else ssm_client(self._region)
            self._provider = _strict_provider_class()(boto3_client=client)
        return self._provider

    def get(self, names: Iterable[str]) -> dict[str, _Entry]:
        """The entries of ``names``; the ones not fresh are fetched together (one call per 10)."""
        wanted = list(dict.fromkeys(names))
        now = self._clock()
        stale = [name for name in wanted if not (name in self._entries and self._entries[name].expires > now)]
        if stale:
            self._refresh(stale, now)
        return {name: self._entries[name] for name in wanted}

    def _refresh(self, names: list[str], now: float) -> None:
        try:
            found = self.provider().get_parameters_by_name(
                {name: {} for name in names}, decrypt=True, max_age=0, raise_on_error=False)
        except Exception as exc:  # throttling, outage, credentials: all mean "serve what we have"
            self._serve_stale(names, now, exc)
            return
        found.pop("_errors", None)  # the names SSM reported as missing: absent from ``found`` too
        self._make_room(len(names))
        for name in names:
            self._store(name, found.get(name), now + self.ttl)

    def _store(self, name: str, raw: str | None, expires: float) -> None:
        entry = self._entries.get(name)
        if entry is not None and entry.raw == raw:
            entry.expires = expires  # unchanged: keep the parsed form
        else:
            self._entries[name] = _Entry(raw, expires)

    def _serve_stale(self, names: list[str], now: float, exc: Exception) -> None:
        retry = now + min(self.ttl, ERROR_RETRY_SECONDS)
        missing = 0
        for name in names:
            entry = self._entries.get(name)
            if entry is None:
                missing += 1
            else:
                entry.expires = retry
        # The exception's class only: its message may carry parameter names (key hashes).
        logger.warning("SSM read failed (%s); %d of %d parameters served from cache",
                       type(exc).__name__, len(names) - missing, len(names))
        if missing:
            raise ConfigUnavailable() from exc

    def _make_room(self, incoming: int) -> None:
        if len(self._entries) + incoming <= MAX_ENTRIES:
            return
        now = self._clock()
        for name in [n for n, e in self._entries.items() if e.expires <= now]:
            del self._entries[name]
        if len(self._entries) + incoming > MAX_ENTRIES:
            for name in [n for n, e in self._entries.items() if e.raw is None]:
                del self._entries[name]

    def children(self, path: str) -> list[str]:
        """The names directly under ``path`` (relative), cached; their values are cached too."""
        listed = self._paths.get(path)
        now = self._clock()
        if listed is not None and listed[1] > now:
            return listed[0]
        try:
            values = self.provider().get_multiple(path, max_age=0, decrypt=True, recursive=False)
        except Exception as exc:
            # Powertools wraps the listing's failure; the cause says what happened.
            logger.warning("SSM listing failed (%s)", type(exc.__context__ or exc).__name__)
            if listed is None:
                raise ConfigUnavailable() from exc
            self._paths[path] = (listed[0], now + min(self.ttl, ERROR_RETRY_SECONDS))
            return listed[0]
        self._make_room(len(values))
        for leaf, raw in values.items():
            self._store(f"{path}/{leaf}", raw, now + self.ttl)
        names = sorted(values)
        self._paths[path] = (names, now + self.ttl)
        return names

    def reset(self) -> None:
        """Forget the client and every cached value (after a SnapStart restore: credentials,
        sockets and values in the snapshot may all be stale)."""
        self._provider = None
        self._entries.clear()
        self._paths.clear()

    def secure_string(self, name: str) -> str:
        """A decrypted SecureString (or any parameter's value); :class:`SecretUnavailable` if missing."""
        raw = self.get([name])[name].raw
        if raw is None:
            raise SecretUnavailable(f"SSM parameter {name} does not exist")
        return raw


@cache
def _default_cache() -> ParameterCache:
    return ParameterCache()


def read_secure_parameter(name: str) -> str:
    """The decrypted value of an ``ssm:/path`` secret reference, cached for the TTL."""
    return _default_cache().secure_string(name)


# --- the store --------------------------------------------------------------------------------


class SsmConfigStore:
    """A :class:`~lambdagate.config.store.ConfigStore` over the SSM layout under ``prefix``."""

    def __init__(self, prefix: str, *, ttl: float | None = None, client: Any = None, region: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.layout = SsmLayout.of(prefix)
        self.cache = ParameterCache(ttl=ttl, client=client, region=region, clock=clock)

    @property
    def prefix(self) -> str:
        return self.layout.prefix

    def prepare(self) -> None:
        """Import boto3 and build the client now, without a call (for the Lambda init phase)."""
        self.cache.provider()

    def reset(self) -> None:
        """Drop the client and cached parameters, secret references included (SnapStart restore)."""
        self.cache.reset()
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
        return config.model_copy(update={"api_key": secret})

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
    def _parse(name: str, entry: _Entry, parse: Callable[[str], Any], missing: Any) -> Any:
        if entry.raw is None:
            return missing
        if entry.parsed is _UNPARSED:
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
    "ConfigUnavailable",
    "Parameter",
    "ParameterCache",
    "SsmConfigStore",
    "SsmLayout",
    "config_parameters",
    "decode_name",
    "encode_name",
    "normalize_prefix",
    "parameters_config",
    "read_secure_parameter",
]
