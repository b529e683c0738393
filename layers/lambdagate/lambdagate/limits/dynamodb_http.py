"""DynamoDB's JSON API, signed with botocore's SigV4 and sent over kept-alive connections.

The request path makes one or two DynamoDB calls per limited request, so what each costs matters:
through a boto3 client a call took 3.5-3.7 ms of CPU on the development machine (the client's
event hooks, user-agent, validation and parsing; measured in ``bench/limits_overhead.py``), the
same signed request sent here about 1 ms. The low-level boto3 arguments *are* DynamoDB's
wire format (``TableName``, ``Key``, ``UpdateExpression``... in the ``x-amz-json-1.0`` protocol), and
its answers are the low-level boto3 results, so nothing is translated. boto3 still resolves the
region and the credentials, once (refreshable credentials stay refreshable).

Failures: DynamoDB's error ``__type`` becomes :class:`DynamoError` (``response["Error"]["Code"]``,
and ``response["Item"]`` for a refused condition, as botocore shapes it); throttling, 5xx and a
dropped connection are retried once after a short pause; anything else is raised to the store.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

RETRYABLE = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                       "InternalServerError", "ServiceUnavailable", "TransactionInProgressException"})
API_VERSION = "DynamoDB_20120810"


class DynamoError(Exception):
    """An error DynamoDB answered, shaped like botocore's ``ClientError.response``."""

    def __init__(self, code: str, message: str, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status
        self.response: dict[str, Any] = {"Error": {"Code": code, "Message": message}, **body}


class SignedJsonClient:
    """One DynamoDB endpoint, one kept-alive connection per thread."""

    def __init__(self, endpoint_url: str, region: str, credentials: Any, *, connect_timeout: float = 1.0,
                 read_timeout: float = 2.0, attempts: int = 2) -> None:
        parts = urlsplit(endpoint_url)
        self.url = endpoint_url.rstrip("/") + "/"
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.region = region
        self.credentials = credentials
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.attempts = attempts
        self._local = threading.local()
        self._ssl = ssl.create_default_context() if self.https else None
        self.on_call: Callable[[str, dict[str, Any]], None] | None = None
        """Called with each operation and its parameters (benchmarks count calls with it)."""

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            if self.https:
                connection = http.client.HTTPSConnection(self.host, self.port, timeout=self.connect_timeout,
                                                         context=self._ssl)
            else:
                connection = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)
            connection.connect()
            # http.client writes the headers and the body apart: without NODELAY, Nagle's algorithm
            # holds the body until the server's delayed ACK of the headers (40 ms on Linux).
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.connection = connection
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _headers(self, target: str, body: bytes) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method="POST", url=self.url, data=body, headers={
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"{API_VERSION}.{target}"})
        SigV4Auth(self.credentials.get_frozen_credentials(), "dynamodb", self.region).add_auth(request)
        return dict(request.headers.items())

    def call(self, target: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.on_call is not None:
            self.on_call(target, params)
        body = json.dumps(params, separators=(",", ":")).encode()
        for attempt in range(self.attempts):
            last = attempt == self.attempts - 1
            try:
                connection = self._connection()
                connection.request("POST", "/", body, self._headers(target, body))
                if connection.sock is not None:
                    connection.sock.settimeout(self.read_timeout)
                response = connection.getresponse()
                data = response.read()
                if response.getheader("connection", "").lower() == "close" or response.version == 10:
                    self._drop()
            except (OSError, http.client.HTTPException):
                self._drop()
                if last:
                    raise
                time.sleep(0.01 + random.random() * 0.02)
                continue
            decoded = json.loads(data) if data else {}
            if response.status == 200:
                return decoded if isinstance(decoded, dict) else {}
            code = str(decoded.get("__type", "")).rpartition("#")[2] or f"HTTP{response.status}"
            message = str(decoded.get("message") or decoded.get("Message") or "")
            error = DynamoError(code, message, response.status, {k: v for k, v in decoded.items()
                                                                 if k not in ("__type", "message", "Message")})
            if last or not (code in RETRYABLE or response.status >= 500):
                raise error
            time.sleep(0.02 + random.random() * 0.03)
        raise AssertionError("unreachable")  # pragma: no cover


def from_boto3(region: str | None = None, *, connect_timeout: float = 1.0,
               read_timeout: float = 2.0) -> SignedJsonClient:
    """A client for the region and credentials boto3 resolves (``AWS_REGION``, the function's role...),
    resolved once, at ``AWS_ENDPOINT_URL_DYNAMODB`` (or ``AWS_ENDPOINT_URL``) or the Region's endpoint.

    No boto3 client is built: loading DynamoDB's service model and endpoint rules would cost tens of
    milliseconds of a Lambda's init for a URL that is ``https://dynamodb.<region>.amazonaws.com``.
    """
    import os

    import boto3

    session = boto3.session.Session(region_name=region)
    credentials = session.get_credentials()  # refreshable where the provider is (roles, SnapStart, SSO)
    if credentials is None:
        raise ValueError("no AWS credentials")
    region = session.region_name or os.environ.get("AWS_REGION")  # Lambda sets both; botocore reads only the other
    if not region:
        raise ValueError("no AWS region (set AWS_REGION)")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        endpoint = f"https://dynamodb.{region}.{'amazonaws.com.cn' if region.startswith('cn-') else 'amazonaws.com'}"
    return SignedJsonClient(endpoint, region, credentials, connect_timeout=connect_timeout, read_timeout=read_timeout)


__all__ = ["DynamoError", "SignedJsonClient", "from_boto3"]
