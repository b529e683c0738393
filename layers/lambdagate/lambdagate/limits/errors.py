"""The answers of a limit reached, as OpenAI gives them, and the store's own failure.

- Rate (rpm, tpm): 429 ``rate_limit_exceeded`` with type ``requests`` or ``tokens`` (OpenAI's types
  for RPM and TPM limits), ``Retry-After`` / ``retry-after-ms`` until the next minute. The SDKs
  wait that long and retry.
- Budget: 429 ``insufficient_quota`` (OpenAI's code for a quota used up) with ``x-should-retry:
  false``: the SDKs raise ``RateLimitError`` at once instead of retrying into the same refusal.
- A disabled or expired key (or team): 401 ``invalid_api_key``.
- The store unreachable with ``on_store_error: closed``: 503 ``limits_unavailable``.
"""

from __future__ import annotations

from lambdagate.errors import AuthenticationFailed, GatewayError, retry_after_headers


class RateLimited(GatewayError):
    status = 429
    type = "requests"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, kind: str, retry_after: float) -> None:
        super().__init__(message, type="tokens" if kind == "tpm" else "requests",
                         headers=retry_after_headers(retry_after))
        self.retry_after = retry_after


class QuotaExceeded(GatewayError):
    status = 429
    type = "insufficient_quota"
    code = "insufficient_quota"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"x-should-retry": "false"})


class KeyInactive(AuthenticationFailed):
    """A key (or its team) that is disabled or past its ``expires_at``."""


class LimitsUnavailable(GatewayError):
    status = 503
    type = "server_error"
    code = "limits_unavailable"


class StoreError(Exception):
    """The limits store could not answer (network, throttling, a missing table...)."""


__all__ = ["KeyInactive", "LimitsUnavailable", "QuotaExceeded", "RateLimited", "StoreError"]
