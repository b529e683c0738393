"""Errors the gateway returns, each with the OpenAI status, type and code.

Every failure anywhere in the request path is raised as a :class:`GatewayError` (or a subclass),
so the API layer has exactly one way to turn a failure into an OpenAI-shaped body, and the
official SDKs raise the matching exception class (``AuthenticationError`` for 401,
``PermissionDeniedError`` for 403, ``NotFoundError`` for 404, and so on).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any


class GatewayError(Exception):
    """An error with everything needed to answer the client the way OpenAI would."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        if code is not None:
            self.code = code
        self.param = param
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The ``{"error": {...}}`` object of the OpenAI API."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class UnsupportedParameter(InvalidRequest):
    """A parameter the chosen provider cannot take while ``drop_params`` is off."""

    code = "unsupported_parameter"

    def __init__(self, param: str, provider_type: str) -> None:
        super().__init__(
            f"Unsupported parameter: '{param}' is not supported by the '{provider_type}' provider "
            "(set settings.drop_params to true to drop it instead).",
            param=param,
        )


class AuthenticationFailed(GatewayError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class ModelNotAllowed(GatewayError):
    status = 403
    type = "invalid_request_error"
    code = "model_not_allowed"


class ModelNotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class BodyTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class UpstreamError(GatewayError):
    """The provider answered with an error; its status is mapped, its own message kept.

    ``retry_after`` (seconds) is honoured by the router's backoff and sent back to the client.
    """

    type = "api_error"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        upstream_status: int | None = None,
    ) -> None:
        super().__init__(message, status=status, type=type, code=code, param=param,
                         headers=retry_after_headers(retry_after))
        self.retry_after = retry_after
        self.upstream_status = upstream_status if upstream_status is not None else status

    @property
    def retryable(self) -> bool:
        """Worth another attempt: decided on the provider's status, not the mapped one."""
        return self.upstream_status in RETRYABLE_STATUSES


class UpstreamTimeout(GatewayError):
    status = 504
    type = "timeout_error"
    code = "upstream_timeout"


class DeadlineExceeded(UpstreamTimeout):
    """The request's one deadline passed (its ``timeout``, ``request_timeout``, the Lambda's time
    or API Gateway's limit): no attempt, retry, backoff or fallback runs past it."""

    code = "deadline_exceeded"


class UpstreamUnavailable(GatewayError):
    """The provider could not be reached at all (DNS, refused connection, TLS)."""

    status = 502
    type = "api_error"
    code = "upstream_unreachable"


class ProviderNotConfigured(GatewayError):
    status = 503
    type = "server_error"
    code = "provider_not_configured"


def retry_after_headers(retry_after: float | None) -> dict[str, str] | None:
    """``retry-after`` (whole seconds, at least 1) and ``retry-after-ms`` for a wait the upstream asked for.

    The OpenAI SDKs read ``retry-after-ms`` first, so they get the exact wait; other clients get
    the standard header.
    """
    if not retry_after or retry_after <= 0:
        return None
    return {"retry-after": str(max(1, round(retry_after))), "retry-after-ms": str(max(1, round(retry_after * 1000)))}


RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})

# The status the gateway answers with for each upstream status. 4xx that describe the client's
# request keep their status so the SDK raises the same class it would against the provider;
# the provider's own auth failure is the operator's misconfiguration, not the client's, so it
# must not look like the client's key was wrong.
_UPSTREAM_STATUS = {
    400: (400, "invalid_request_error"),
    401: (502, "api_error"),
    402: (502, "api_error"),
    403: (502, "api_error"),
    404: (404, "invalid_request_error"),
    408: (504, "timeout_error"),
    409: (409, "invalid_request_error"),
    413: (413, "invalid_request_error"),
    422: (400, "invalid_request_error"),
    429: (429, "rate_limit_error"),
    500: (502, "api_error"),
    502: (502, "api_error"),
    503: (503, "api_error"),
    504: (504, "timeout_error"),
    529: (503, "overloaded_error"),
}

_UPSTREAM_AUTH_CODES = {401: "upstream_authentication_failed", 402: "upstream_payment_required",
                        403: "upstream_permission_denied"}


def upstream_error(
    provider: str,
    status: int,
    message: str | None,
    *,
    code: str | None = None,
    param: str | None = None,
    retry_after: float | None = None,
    secrets: Iterable[str | None] = (),
) -> UpstreamError:
    """Map a provider's error status and message to the error the gateway returns.

    The provider's message is kept (it is usually the most useful thing the client can see) but
    scrubbed of URLs and of the given secrets, so no credential or internal address leaks.
    """
    mapped_status, mapped_type = _UPSTREAM_STATUS.get(
        status, (502 if status >= 500 else 400, "api_error" if status >= 500 else "invalid_request_error")
    )
    text = scrub(message or f"HTTP {status}", secrets)
    if status in _UPSTREAM_AUTH_CODES:
        code = _UPSTREAM_AUTH_CODES[status]
    return UpstreamError(
        f"{provider} error: {text}",
        status=mapped_status,
        type=mapped_type,
        code=code if isinstance(code, str) else (str(code) if code is not None else None),
        param=param if isinstance(param, str) else None,
        retry_after=retry_after,
        upstream_status=status,
    )


_URL = re.compile(r"(?:https?|wss?)://[^\s'\"<>]+")


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove secrets and URLs from a text that is about to reach a client or a log."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _URL.sub("[url]", text)


def describe_failure(exc: BaseException) -> str:
    """An unexpected exception for the log: its type and where it was raised, never its message.

    A full traceback would repeat exception messages verbatim: those of HTTP libraries quote the
    URL they failed on, others quote the value (a prompt, a key) they choked on. The type and the
    frames (file, line, function) say where to look without carrying any of it.
    """
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)[-8:]
    where = " < ".join(f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno} {frame.name}" for frame in reversed(frames))
    return f"{type(exc).__name__} at {where}"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` value: delay-seconds, or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        import time
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(0.0, seconds)
    return seconds if seconds >= 0 else None
