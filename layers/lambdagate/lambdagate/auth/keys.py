"""Client keys are stored only as the sha256 of the key, so config can be read without leaking them."""

from __future__ import annotations

import hashlib
import secrets
from fnmatch import fnmatchcase

from lambdagate.config.schema import KeyRecord
from lambdagate.config.store import ConfigStore
from lambdagate.errors import AuthenticationFailed, ModelNotAllowed

KEY_PREFIX = "sk-lg-"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> str:
    """A new client key: a recognisable prefix and 256 bits of randomness."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def bearer_hash(authorization: str | None) -> str | None:
    """The sha256 of a Bearer key, or None when the header holds none."""
    scheme, _, key = (authorization or "").partition(" ")
    key = key.strip()
    return hash_key(key) if scheme.lower() == "bearer" and key else None


def authenticate(authorization: str | None, store: ConfigStore) -> KeyRecord:
    """The key record for an ``Authorization: Bearer <key>`` header, or a 401."""
    if not authorization:
        raise AuthenticationFailed(
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            code=None,
        )
    sha256 = bearer_hash(authorization)
    if sha256 is None:
        raise AuthenticationFailed("Invalid Authorization header: expected 'Bearer YOUR_KEY'.")
    record = store.key(sha256)
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

