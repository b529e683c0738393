"""SigV4 signatures for Bedrock's HTTP endpoints, with the function's role, computed per request.

botocore signs (``botocore.auth.SigV4Auth``) over the exact body bytes that are then sent; the
request goes out through :mod:`lambdagate.providers.http` like every other provider's, so its
timeouts, error mapping and stream reading are the shared ones. Credentials come from botocore's
default chain (on Lambda: the role's variables; a SnapStart restore gets refreshing container
credentials) and are resolved, or refreshed when due, in a worker thread (:func:`ready`), so the
event loop never waits on a credentials endpoint. Signing service names, per the AWS SDKs
(openai-java ``bedrock.md``, 2026): ``bedrock`` for ``bedrock-runtime`` hosts, ``bedrock-mantle``
for ``bedrock-mantle`` hosts.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from urllib.parse import urlsplit

from lambdagate.errors import upstream_error
from lambdagate.providers.base import Target

RUNTIME_SERVICE = "bedrock"
MANTLE_SERVICE = "bedrock-mantle"

_credentials: Any = None
_lock = threading.Lock()


def service_for(url: str, target: Target) -> str:
    """The signing service: the ``signing_service`` option, else the one of the endpoint's host."""
    if option := target.option("signing_service"):
        return str(option)
    host = urlsplit(url).hostname or ""
    return MANTLE_SERVICE if host.startswith("bedrock-mantle.") else RUNTIME_SERVICE


def _resolve() -> Any:
    """The role's credentials as a frozen set (blocking: call from a thread unless :func:`ready` ran)."""
    global _credentials
    with _lock:
        if _credentials is None:
            import botocore.session

            _credentials = botocore.session.get_session().get_credentials()
        credentials = _credentials
    return credentials.get_frozen_credentials() if credentials is not None else None


def _due(credentials: Any) -> bool:
    refresh_needed = getattr(credentials, "refresh_needed", None)
    return bool(refresh_needed()) if callable(refresh_needed) else False


async def ready() -> None:
    """Resolve the credentials, or refresh them when they are about to expire, off the event loop."""
    credentials = _credentials
    if credentials is None or _due(credentials):
        await asyncio.to_thread(_resolve)


def reset() -> None:
    """Resolve the credentials again on next use (tests; the chain is read once per instance otherwise)."""
    global _credentials
    with _lock:
        _credentials = None


def headers(target: Target, url: str, body: bytes, region: str, *, service: str) -> dict[str, str]:
    """``Authorization``, ``X-Amz-Date`` (and ``X-Amz-Security-Token``) for a JSON POST of ``body`` to ``url``."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    frozen = _resolve()
    if frozen is None or not frozen.access_key:
        raise upstream_error(target.provider_name, 401, "No usable AWS credentials for Bedrock.")
    request = AWSRequest(method="POST", url=url, data=body, headers={"content-type": "application/json"})
    SigV4Auth(frozen, service, region).add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


__all__ = ["MANTLE_SERVICE", "RUNTIME_SERVICE", "headers", "ready", "reset", "service_for"]
