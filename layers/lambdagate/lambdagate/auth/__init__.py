"""Client authentication: a Bearer key, looked up by its sha256, with a model allow-list."""

from lambdagate.auth.keys import (
    authenticate,
    bearer_hash,
    ensure_model_allowed,
    generate_key,
    hash_key,
    model_allowed,
)

__all__ = ["authenticate", "bearer_hash", "ensure_model_allowed", "generate_key", "hash_key", "model_allowed"]
