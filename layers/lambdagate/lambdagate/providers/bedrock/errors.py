"""botocore failures -> the gateway's errors.

Bedrock names its errors by exception type (``ThrottlingException``); inside a ConverseStream the
same errors arrive as events named in camel case (``throttlingException``), so both are looked up
case-insensitively. Each maps to the HTTP status Bedrock documents for it, and
:func:`upstream_error` then maps that status the way it does for every provider (403 -> 502: the
function's IAM role is the operator's problem, not the client's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdagate.errors import (
    GatewayError,
    ProviderNotConfigured,
    UpstreamTimeout,
    UpstreamUnavailable,
    upstream_error,
)
from lambdagate.providers.base import Target

_STATUS = {
    "throttlingexception": 429,
    "validationexception": 400,
    "accessdeniedexception": 403,
    "unrecognizedclientexception": 403,
    "resourcenotfoundexception": 404,
    "modeltimeoutexception": 408,
    "serviceunavailableexception": 503,
    "modelnotreadyexception": 503,
    "internalserverexception": 500,
    "modelerrorexception": 500,
    "modelstreamerrorexception": 500,
    "servicequotaexceededexception": 429,
}

# Phrases Bedrock uses when the prompt does not fit the model.
_CONTEXT_PHRASES = ("too long", "context window", "maximum context", "too many input tokens")


def from_client_error(response: Mapping[str, Any], target: Target) -> GatewayError:
    """The gateway error for a botocore ``ClientError.response``."""
    error = response.get("Error") or {}
    code = str(error.get("Code") or "")
    message = error.get("Message") or code or None
    status = _STATUS.get(code.lower())
    if status is None:
        status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 502)
        status = status if status >= 400 else 502
    mapped_code: str | None = code or None
    if status == 400 and message and any(p in message.lower() for p in _CONTEXT_PHRASES):
        mapped_code = "context_length_exceeded"
    return upstream_error(target.provider_name, status, message, code=mapped_code, secrets=target.secrets)


def map_exception(exc: BaseException, target: Target) -> BaseException:
    """Any failure of a boto3 call or of reading its event stream, as the gateway reports it."""
    from botocore import exceptions as bx
    from urllib3 import exceptions as ux

    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, bx.ClientError):  # EventStreamError included
        return from_client_error(exc.response, target)
    if isinstance(exc, bx.ReadTimeoutError | bx.ConnectTimeoutError | ux.ReadTimeoutError | TimeoutError):
        return UpstreamTimeout(f"{target.provider_name} did not answer within {target.timeout:g} seconds.")
    if isinstance(exc, bx.NoRegionError):
        return ProviderNotConfigured(
            f"The provider '{target.provider_name}' has no AWS region: set its 'region' option or AWS_REGION."
        )
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError | bx.CredentialRetrievalError):
        return upstream_error(target.provider_name, 401, "No usable AWS credentials for Bedrock.")
    if isinstance(exc, bx.ConnectionError | bx.HTTPClientError | ux.HTTPError | OSError):
        return UpstreamUnavailable(f"{target.provider_name} could not be reached.")
    if isinstance(exc, bx.ParamValidationError):
        # The gateway built an invalid request: a client value Bedrock's model refuses.
        return upstream_error(target.provider_name, 400, str(exc), secrets=target.secrets)
    return exc
