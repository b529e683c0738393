"""Client authentication: a screened Bearer key looked up by its sha256, or an IAM principal; model allow-lists."""

from lambdagate.auth.keys import (
    authenticate,
    bearer_hash,
    ensure_model_allowed,
    generate_key,
    hash_key,
    key_shape,
    model_allowed,
)
from lambdagate.auth.request import authenticate_request

__all__ = ["authenticate", "authenticate_request", "bearer_hash", "ensure_model_allowed", "generate_key",
           "hash_key", "key_shape", "model_allowed"]
