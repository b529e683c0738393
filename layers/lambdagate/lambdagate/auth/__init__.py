"""Client authentication: a Bearer key, looked up by its sha256, with a model allow-list."""

from lambdagate.auth.keys import authenticate, ensure_model_allowed, generate_key, hash_key, model_allowed

__all__ = ["authenticate", "ensure_model_allowed", "generate_key", "hash_key", "model_allowed"]
