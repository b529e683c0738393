"""SSM parameters read through a TTL cache that remembers misses and outlives SSM outages.

Parameters are read with plain boto3: by name with GetParameters (decrypted, 10 names a call, the
API's limit) and, for ``/v1/models``, one level of a path with the paginated GetParametersByPath.
The cache keeps each value ``$LAMBDAGATE_SSM_TTL`` seconds (default 300) and does two things a
generic parameter cache does not: it remembers that a name is missing (an unknown key is answered
from memory for the TTL, so retrying a wrong key does not reach SSM), and when SSM fails
(throttling, outage) it keeps serving the last good values; with no value at all the caller gets
:class:`ConfigUnavailable` (a 503), never a 500 and never a miss.

Why not Powertools Parameters: its GetParameters path reports ``InternalServerError`` and
``InvalidKeyId`` as if the names did not exist (cached as misses, an outage would turn every key
into a 401), and working around that meant overriding its private methods. boto3 alone is also
cheaper to import (see the README's cold-start table).

boto3 is imported on first use, not at import: it costs a few hundred milliseconds.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

from lambdagate.config.errors import ConfigUnavailable, SecretUnavailable

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

logger = logging.getLogger("lambdagate.config.ssm")

TTL_ENV = "LAMBDAGATE_SSM_TTL"
DEFAULT_TTL = 300.0
ERROR_RETRY_SECONDS = 10.0
"""After a failed read, the last good values serve this long (at most the TTL) before SSM is tried again."""
MAX_ENTRIES = 10_000
"""Cached names kept at most; beyond it expired entries, then misses, are dropped (random keys add misses)."""
GET_PARAMETERS_BATCH = 10
"""The most names one GetParameters call takes."""

_UNPARSED: Any = object()


class Entry:
    """One cached parameter: its value (None: it does not exist), expiry, and parsed form."""

    __slots__ = ("expires", "parsed", "raw")

    def __init__(self, raw: str | None, expires: float) -> None:
        self.raw = raw
        self.expires = expires
        self.parsed: Any = _UNPARSED

    @property
    def is_parsed(self) -> bool:
        return self.parsed is not _UNPARSED


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


def ssm_client(region: str | None = None, *, retries: int = 2, timeout: float = 5.0) -> SSMClient:
    """A boto3 SSM client that fails fast: on the request path a cached value beats a long retry."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=timeout, read_timeout=timeout,
                    retries={"mode": "standard", "total_max_attempts": retries})
    return boto3.session.Session(region_name=region).client("ssm", config=config)


def get_parameters(client: SSMClient, names: list[str]) -> dict[str, str]:
    """Decrypted values of the ``names`` that exist, in batches of :data:`GET_PARAMETERS_BATCH`.

    Names SSM reports as invalid (it does not have them) are simply absent; any error of a call
    propagates, so an outage is never mistaken for missing parameters.
    """
    found: dict[str, str] = {}
    for start in range(0, len(names), GET_PARAMETERS_BATCH):
        response = client.get_parameters(Names=names[start:start + GET_PARAMETERS_BATCH], WithDecryption=True)
        for parameter in response.get("Parameters", []):
            found[parameter["Name"]] = parameter["Value"]
    return found


def get_children(client: SSMClient, path: str) -> dict[str, str]:
    """Decrypted values of the parameters directly under ``path``, by their name relative to it."""
    found: dict[str, str] = {}
    pages = client.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=False, WithDecryption=True)
    for page in pages:
        for parameter in page.get("Parameters", []):
            found[parameter["Name"][len(path):].lstrip("/")] = parameter["Value"]
    return found


class ParameterCache:
    """Parameters by name and by path, cached for ``ttl`` seconds, misses included.

    When SSM fails, names that were read before keep their last value (re-armed for a few
    seconds, so an outage costs one call per name every :data:`ERROR_RETRY_SECONDS`); a name
    never read raises :class:`ConfigUnavailable`. The boto3 client is ``client``, or made by
    ``connect`` (default: :func:`ssm_client` for ``region``) on first use.
    """

    def __init__(self, *, ttl: float | None = None, client: Any = None, region: str | None = None,
                 clock: Callable[[], float] = time.monotonic, connect: Callable[[], Any] | None = None) -> None:
        self.ttl = ttl_from_env() if ttl is None else ttl
        self._given_client = client
        self._connect = connect if connect is not None else (lambda: ssm_client(region))
        self._clock = clock
        self._client: Any = None
        self._entries: dict[str, Entry] = {}
        self._paths: dict[str, tuple[list[str], float]] = {}

    def client(self) -> SSMClient:
        """The SSM client, built on first use (this is where boto3 gets imported)."""
        if self._client is None:
            self._client = self._given_client if self._given_client is not None else self._connect()
        return self._client

    def get(self, names: Iterable[str]) -> dict[str, Entry]:
        """The entries of ``names``; the ones not fresh are fetched together (one call per 10)."""
        wanted = list(dict.fromkeys(names))
        now = self._clock()
        stale = [name for name in wanted if not (name in self._entries and self._entries[name].expires > now)]
        if stale:
            self._refresh(stale, now)
        return {name: self._entries[name] for name in wanted}

    def _refresh(self, names: list[str], now: float) -> None:
        try:
            found = get_parameters(self.client(), names)
        except Exception as exc:  # throttling, outage, credentials: all mean "serve what we have"
            self._serve_stale(names, now, exc)
            return
        self._make_room(len(names))
        for name in names:
            self._store(name, found.get(name), now + self.ttl)

    def _store(self, name: str, raw: str | None, expires: float) -> None:
        entry = self._entries.get(name)
        if entry is not None and entry.raw == raw:
            entry.expires = expires  # unchanged: keep the parsed form
        else:
            self._entries[name] = Entry(raw, expires)

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
            values = get_children(self.client(), path)
        except Exception as exc:
            logger.warning("SSM listing failed (%s)", type(exc).__name__)
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
        self._client = None
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
    """The process-wide cache behind ``ssm:/path`` secret references outside an SSM store's prefix."""
    return ParameterCache()


def read_secure_parameter(name: str) -> str:
    """The decrypted value of an ``ssm:/path`` secret reference, cached for the TTL."""
    return _default_cache().secure_string(name)


__all__ = [
    "DEFAULT_TTL",
    "ERROR_RETRY_SECONDS",
    "GET_PARAMETERS_BATCH",
    "MAX_ENTRIES",
    "TTL_ENV",
    "Entry",
    "ParameterCache",
    "get_children",
    "get_parameters",
    "read_secure_parameter",
    "ssm_client",
    "ttl_from_env",
]
