"""Callers signed with SigV4 (function URL with ``AuthType: AWS_IAM``), mapped to key records.

With AWS_IAM, Lambda checks the signature and the caller's ``lambda:InvokeFunctionUrl`` right
before invoking, and puts the verified identity in the event's request context
(``requestContext.authorizer.iam``: ``userArn``, ``accountId``, ...). The ``Authorization``
header then holds the SigV4 signature, so it is never read as a Bearer key. The gateway maps the
caller's ARN to the key records whose ``principals`` patterns (``fnmatch``) match it.

Where the context comes from:

- Mangum (the buffered functions): ``scope["aws.event"]["requestContext"]``, the event itself.
- Lambda Web Adapter (the streaming function): the ``x-amzn-request-context`` header, JSON of the
  event's request context. The adapter *sets* that header on every forwarded request, replacing
  whatever the client sent (aws-lambda-web-adapter ``fetch_response``: ``headers.insert``).

Either is trusted only when the deployment says IAM auth is on (``LAMBDAGATE_AUTH=iam``, set by the
template when ``StreamAuthType=AWS_IAM``): on a NONE URL, or under ``lambdagate serve``, a client
could write that header itself, and it is ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from lambdagate import environment
from lambdagate.config.file_store import FileConfigStore
from lambdagate.config.schema import KeyRecord
from lambdagate.config.store import ConfigStore
from lambdagate.errors import AuthenticationFailed, GatewayError

AUTH_ENV = "LAMBDAGATE_AUTH"
"""``iam``: identify callers by their IAM principal; anything else (default ``key``): Bearer keys."""
REQUEST_CONTEXT_HEADER = b"x-amzn-request-context"

# arn:aws:sts::123456789012:assumed-role/app-role/session -> arn:aws:iam::123456789012:role/app-role
_ASSUMED_ROLE = re.compile(r"^arn:(?P<partition>[^:]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/.+$")


class PrincipalNotAllowed(GatewayError):
    """A verified AWS caller that no key record's ``principals`` names."""

    status = 403
    type = "invalid_request_error"
    code = "principal_not_allowed"


def iam_mode() -> bool:
    """``LAMBDAGATE_AUTH=iam``, the template's value when the streaming URL takes SigV4 (read once: environment.py)."""
    return (environment.read(AUTH_ENV) or "").strip().lower() == "iam"


def request_context(scope: Mapping[str, Any]) -> dict[str, Any] | None:
    """The invocation's request context: Mangum's event first, else the Web Adapter's header."""
    event = scope.get("aws.event")
    if isinstance(event, Mapping):
        context = event.get("requestContext")
        return dict(context) if isinstance(context, Mapping) else None
    values = [bytes(v) for k, v in scope.get("headers", ()) if k.lower() == REQUEST_CONTEXT_HEADER]
    if len(values) != 1:  # the adapter sets exactly one
        return None
    try:
        context = json.loads(values[0])
    except ValueError:
        return None
    return context if isinstance(context, dict) else None


def caller_arn(context: Mapping[str, Any] | None) -> str | None:
    """``requestContext.authorizer.iam.userArn``: the ARN Lambda verified the signature for."""
    authorizer = (context or {}).get("authorizer")
    iam = authorizer.get("iam") if isinstance(authorizer, Mapping) else None
    arn = iam.get("userArn") if isinstance(iam, Mapping) else None
    return arn if isinstance(arn, str) and arn.startswith("arn:") else None


def principal_names(arn: str) -> list[str]:
    """The names a pattern may match: the ARN itself and, for an assumed role, the role's IAM ARN.

    Role sessions are what Lambda sees for almost every workload (ECS tasks, EC2, other Lambdas,
    SSO users), and their session names vary; ``arn:aws:iam::123456789012:role/app-*`` is what an
    operator writes. (The role's path is not in a session ARN, so patterns name the role without it.)
    """
    names = [arn]
    match = _ASSUMED_ROLE.match(arn)
    if match:
        names.append(f"arn:{match['partition']}:iam::{match['account']}:role/{match['role']}")
    return names


def principal_records(store: ConfigStore) -> list[KeyRecord]:
    """Every key record with ``principals``, ordered by name (the first match wins).

    A principal cannot be found by hash like a key, so the records are listed: a file store holds
    them in memory; the SSM store lists ``{prefix}/keys`` (GetParametersByPath, cached for the TTL,
    values included, so the records themselves cost no further call). Only reached in IAM mode,
    where every caller has already been authenticated by AWS.
    """
    lister = getattr(store, "key_records", None)
    if callable(lister):
        records: Iterable[KeyRecord] = lister()
    elif isinstance(store, FileConfigStore):
        records = store.config.keys
    else:
        records = _ssm_records(store)
    return sorted((r for r in records if r.principals), key=lambda r: r.name)


def _ssm_records(store: ConfigStore) -> list[KeyRecord]:
    cache, layout = getattr(store, "cache", None), getattr(store, "layout", None)
    if cache is None or layout is None:
        return []
    found = []
    for leaf in cache.children(layout.keys_path):
        record = store.key(leaf)
        if record is not None:
            found.append(record)
    return found


def authenticate_principal(scope: Mapping[str, Any], store: ConfigStore) -> KeyRecord:
    """The key record for the verified caller of this request, a 401 without one, a 403 if unmapped."""
    arn = caller_arn(request_context(scope))
    if arn is None:
        raise AuthenticationFailed(
            "This gateway authenticates callers with AWS IAM (SigV4); the request carries no IAM identity.",
            code="iam_identity_missing")
    names = principal_names(arn)
    for record in principal_records(store):
        if any(fnmatchcase(name, pattern) for pattern in record.principals or () for name in names):
            return record
    raise PrincipalNotAllowed(f"The IAM principal '{arn}' is not allowed to use this gateway.")
