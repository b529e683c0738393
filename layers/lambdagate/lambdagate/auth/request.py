"""The one authentication step of a request: IAM principal or screened Bearer key, then the record.

The gateway calls :func:`authenticate_request` before it reads anything else from the store, so
a request that cannot be authenticated costs no store look-up beyond what the key's shape allows:
a malformed or random key is refused before ``prefetch`` (which on SSM would fetch its hash, the
settings and the model's alias), and SigV4's ``Authorization`` header is never taken for a key. A key
may come as ``Authorization: Bearer <key>`` or as ``x-api-key: <key>`` (Anthropic's clients).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdagate.auth.iam import authenticate_principal, iam_mode
from lambdagate.auth.keys import authenticate, bearer_key, screened_hash

if TYPE_CHECKING:
    from starlette.requests import Request

    from lambdagate.config.schema import KeyRecord
    from lambdagate.config.store import ConfigStore


def authenticate_request(request: Request, store: ConfigStore, model: str | None) -> KeyRecord:
    """The key record of ``request`` (401/403 otherwise), with the store warmed for ``model``."""
    if iam_mode():
        store.prefetch(None, model)
        return authenticate_principal(request.scope, store)
    authorization = client_authorization(request)
    sha256 = screened_hash(authorization, store)
    if sha256 is None:
        # No key, or one the store must not be asked about: the 401 comes with nothing fetched,
        # not even the model's alias (random model names would cost look-ups too).
        return authenticate(authorization, store)
    store.prefetch(sha256, model)
    return authenticate(authorization, store, sha256)


API_KEY_HEADER = "x-api-key"


def client_authorization(request: Request) -> str | None:
    """The client's ``Authorization`` header, or its ``x-api-key`` (as Anthropic's SDKs send a key) as a Bearer key.

    Every endpoint takes either, the same keys either way; a Bearer key wins when a client sends both.
    """
    authorization = request.headers.get("authorization")
    if bearer_key(authorization) is None and (api_key := (request.headers.get(API_KEY_HEADER) or "").strip()):
        return f"Bearer {api_key}"
    return authorization
