"""Client keys: stored only as their sha256, and screened by shape before any store look-up.

Every distinct wrong key a client sends would otherwise cost the store a read (on SSM, one
GetParameters per new hash, out of an account-wide 40 TPS), so random-key traffic on the public
URL could starve real configuration loads. A key therefore carries a checksum, as the big API
providers' keys do, and a key that cannot be one of ours is refused with a 401 before the store
is asked. The screening rule (README, "Client keys"):

- ``sk-lg-`` + 43 base62 characters + a 6-character base62 CRC32 of everything before it: the
  current format, made by :func:`generate_key`. Looked up only when the checksum holds, so a
  random or mistyped key never reaches the store (1 in 2**32 passes by chance).
- ``sk-lg-`` + exactly 43 ``token_urlsafe`` characters: the legacy format (keys created before the
  checksum). Looked up, unless ``LAMBDAGATE_LEGACY_KEYS=off`` (template ``AcceptLegacyKeys``).
- ``sk-lg-`` + anything else: malformed, refused.
- Any other string (hand-written keys such as the development key ``sk-lambdagate-dev`` or a
  test's ``sk-test-key``): looked up only in a file configuration, where a look-up is a dict read;
  refused before any call by every other store (SSM), where such keys were never issued.

The checksum screens noise, not a determined attacker (anyone can compute a CRC); what bounds
that case is the store's negative cache and the functions' reserved concurrency.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import zlib
from enum import Enum
from fnmatch import fnmatchcase

from lambdagate.config.file_store import FileConfigStore
from lambdagate.config.schema import KeyRecord
from lambdagate.config.store import ConfigStore
from lambdagate.errors import AuthenticationFailed, ModelNotAllowed

KEY_PREFIX = "sk-lg-"
LEGACY_KEYS_ENV = "LAMBDAGATE_LEGACY_KEYS"
"""``off`` (or ``false``/``0``) refuses legacy-format keys before the store; anything else accepts them."""

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_CHARS = 43
"""43 base62 characters: 256 bits, as much randomness as the legacy keys' token_urlsafe(32)."""
CHECKSUM_CHARS = 6
"""62**6 > 2**32: a CRC32 always fits."""
_CURRENT = re.compile(rf"[0-9A-Za-z]{{{RANDOM_CHARS + CHECKSUM_CHARS}}}")
_LEGACY = re.compile(r"[A-Za-z0-9_-]{43}")


class KeyShape(Enum):
    CURRENT = "current"
    LEGACY = "legacy"
    FREE_FORM = "free-form"
    MALFORMED = "malformed"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _checksum(text: str) -> str:
    value = zlib.crc32(text.encode("ascii"))
    digits = []
    for _ in range(CHECKSUM_CHARS):
        value, digit = divmod(value, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def generate_key() -> str:
    """A new client key: prefix, 256 random bits in base62, and a CRC32 checksum of both."""
    body = KEY_PREFIX + "".join(secrets.choice(BASE62) for _ in range(RANDOM_CHARS))
    return body + _checksum(body)


def key_shape(key: str) -> KeyShape:
    """Which of the accepted formats ``key`` has; decides whether the store may be asked about it."""
    if not key.startswith(KEY_PREFIX):
        return KeyShape.FREE_FORM
    rest = key[len(KEY_PREFIX):]
    if _CURRENT.fullmatch(rest):
        split = len(key) - CHECKSUM_CHARS
        return KeyShape.CURRENT if secrets.compare_digest(_checksum(key[:split]), key[split:]) else KeyShape.MALFORMED
    if _LEGACY.fullmatch(rest):
        return KeyShape.LEGACY
    return KeyShape.MALFORMED


def legacy_keys_accepted() -> bool:
    return os.environ.get(LEGACY_KEYS_ENV, "").strip().lower() not in ("off", "false", "0", "no")


def may_look_up(key: str, store: ConfigStore) -> bool:
    """Whether ``store`` may be asked for ``key``'s record at all (the rule in the module docstring)."""
    shape = key_shape(key)
    if shape is KeyShape.CURRENT:
        return True
    if shape is KeyShape.LEGACY:
        return legacy_keys_accepted()
    if shape is KeyShape.FREE_FORM:
        return isinstance(store, FileConfigStore)
    return False


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, or None when the header holds none."""
    scheme, _, key = (authorization or "").partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


def bearer_hash(authorization: str | None) -> str | None:
    """The sha256 of a Bearer key, or None when the header holds none."""
    key = bearer_key(authorization)
    return hash_key(key) if key is not None else None


def screened_hash(authorization: str | None, store: ConfigStore) -> str | None:
    """The sha256 to prefetch for this header: None for no key or one the store must not be asked about."""
    key = bearer_key(authorization)
    return hash_key(key) if key is not None and may_look_up(key, store) else None


def authenticate(authorization: str | None, store: ConfigStore, sha256: str | None = None) -> KeyRecord:
    """The key record for an ``Authorization: Bearer <key>`` header, or a 401.

    A key that fails the screening is refused without asking the store, with the same message as
    an unknown key: the answer does not tell a prober which formats exist. ``sha256``: what
    :func:`screened_hash` returned for this header (the request path asks it first, to prefetch),
    so the key is neither screened (a CRC32 checksum) nor hashed a second time.
    """
    if not authorization:
        raise AuthenticationFailed(
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            code=None,
        )
    if sha256 is None:
        key = bearer_key(authorization)
        if key is None:
            raise AuthenticationFailed("Invalid Authorization header: expected 'Bearer YOUR_KEY'.")
        sha256 = hash_key(key) if may_look_up(key, store) else None
    record = store.key(sha256) if sha256 is not None else None
    if record is None:
        # Unlike OpenAI, no part of the key is echoed: a response never carries a secret.
        raise AuthenticationFailed("Incorrect API key provided.")
    return record


def model_allowed(record: KeyRecord, model: str) -> bool:
    if record.models is None:
        return True
    return any(fnmatchcase(model, pattern) for pattern in record.models)


def ensure_model_allowed(record: KeyRecord, model: str) -> None:
    if not model_allowed(record, model):
        raise ModelNotAllowed(f"The API key '{record.name}' is not allowed to use the model '{model}'.",
                              param="model")
