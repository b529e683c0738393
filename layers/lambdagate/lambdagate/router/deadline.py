"""One deadline per request, and where it comes from.

A request's deadline is the earliest of:

- its own ``timeout`` field and ``settings.request_timeout``, counted from when it arrived;
- the Lambda invocation's end minus ``settings.deadline_margin``: under Mangum from the context
  object's ``get_remaining_time_in_millis()``; behind the Lambda Web Adapter from the ``deadline``
  (Unix epoch milliseconds) of the ``x-amzn-lambda-context`` header it adds to every request; and
  when neither says, from ``$AWS_LAMBDA_FUNCTION_TIMEOUT`` (seconds) if the deployment sets it;
- behind API Gateway (the buffered functions), ``settings.api_gateway_timeout`` minus the margin,
  counted from when API Gateway received the request (``requestContext.timeEpoch`` /
  ``requestTimeEpoch``, so a cold start's init counts too), because past it API Gateway answers
  the client with its own error and the gateway's answer is lost.

Every attempt, backoff and fallback of the router, and every stream, ends by it; what passes it is
answered with the gateway's own OpenAI-shaped 504 (:class:`~lambdagate.errors.DeadlineExceeded`).
Clocks: ``time.monotonic`` (the event loop's clock) for the deadline itself, ``time.time`` only to
read the wall-clock instants the platform gives.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdagate import environment
from lambdagate.config.schema import Settings
from lambdagate.errors import DeadlineExceeded, GatewayError

LAMBDA_CONTEXT_HEADER = b"x-amzn-lambda-context"
FUNCTION_TIMEOUT_ENV = "AWS_LAMBDA_FUNCTION_TIMEOUT"

CLIENT_TIMEOUT = "the request's timeout"
REQUEST_TIMEOUT = "settings.request_timeout"
LAMBDA_TIME = "the Lambda function's remaining time"
API_GATEWAY = "API Gateway's integration timeout"

EXPIRED = 0.001
"""Seconds left below which a deadline counts as passed (timers fire a hair early or late)."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """When a request must be answered by, on the ``time.monotonic`` clock, and why then."""

    at: float
    budget: float
    """Seconds the request had in all, from its arrival."""
    source: str
    """What set it: one of the module's ``*_TIMEOUT`` / ``LAMBDA_TIME`` / ``API_GATEWAY`` names."""

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= EXPIRED

    def exceeded(self, attempts: int = 0, last: GatewayError | None = None) -> DeadlineExceeded:
        """The 504 the client gets; it names the limit and, when there was one, the last failure."""
        message = f"The request did not complete within its deadline of {self.budget:.3g} seconds ({self.source})"
        if attempts:
            message += f" after {attempts} attempt{'s' if attempts > 1 else ''}"
        if last is not None:
            message += f"; the last one failed: {last.message}"
        return DeadlineExceeded(message.rstrip(".") + ".")

    @classmethod
    def unlimited(cls) -> Deadline:
        """No deadline at all (direct use of the router, tests)."""
        return cls(at=float("inf"), budget=float("inf"), source=REQUEST_TIMEOUT)


def request_deadline(
    scope: Mapping[str, Any], settings: Settings, client_timeout: float | None, arrived: float | None = None,
) -> Deadline:
    """The deadline of the request of ASGI ``scope``; ``arrived`` is its ``time.monotonic()`` arrival."""
    now = time.monotonic()
    wall = time.time()
    start = now if arrived is None else arrived
    limits: list[tuple[float, str]] = [(start + settings.request_timeout, REQUEST_TIMEOUT)]
    if client_timeout:
        limits.append((start + client_timeout, CLIENT_TIMEOUT))
    margin = settings.deadline_margin
    lambda_left = lambda_remaining(scope, wall)
    if lambda_left is not None:
        limits.append((now + lambda_left - margin, LAMBDA_TIME))
    elif (function_timeout := _function_timeout()) is not None:
        limits.append((start + function_timeout - margin, LAMBDA_TIME))
    event = scope.get("aws.event")
    if isinstance(event, Mapping) and is_api_gateway_event(event):
        received = _received_at(event, wall, settings.api_gateway_timeout)
        begun = start if received is None else now - (wall - received)
        limits.append((begun + settings.api_gateway_timeout - margin, API_GATEWAY))
    at, source = min(limits)
    return Deadline(at=at, budget=max(0.0, at - start), source=source)


def lambda_remaining(scope: Mapping[str, Any], wall: float | None = None) -> float | None:
    """Seconds left in the Lambda invocation serving ``scope``, or None when nothing says.

    Mangum puts the real context object in ``scope["aws.context"]``. Behind the Web Adapter the
    app sees plain HTTP: :class:`lambdagate.lambda_runtime.LambdaContext` marks such requests with
    an ``aws.context`` of their own, and the adapter's ``x-amzn-lambda-context`` header (the Rust
    runtime's ``Context`` as JSON) carries ``deadline`` in Unix epoch milliseconds. The header is
    only read on such marked requests, and a deadline can only shorten a request, never extend it.
    """
    context = scope.get("aws.context")
    if context is None:
        return None
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        try:
            return float(remaining()) / 1000
        except (TypeError, ValueError):
            return None
    raw = _header(scope, LAMBDA_CONTEXT_HEADER)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    deadline_ms = data.get("deadline", data.get("deadline_ms")) if isinstance(data, dict) else None
    if not isinstance(deadline_ms, int | float) or isinstance(deadline_ms, bool) or deadline_ms <= 0:
        return None
    return float(deadline_ms) / 1000 - (time.time() if wall is None else wall)


def is_api_gateway_event(event: Any) -> bool:
    """An API Gateway REST (v1) or HTTP API (v2) event, not a function URL's or a load balancer's."""
    if not isinstance(event, Mapping):
        return False
    context = event.get("requestContext")
    if not isinstance(context, Mapping) or "elb" in context:
        return False
    domain = context.get("domainName")
    return not (isinstance(domain, str) and ".lambda-url." in domain)


def _received_at(event: Mapping[str, Any], wall: float, limit: float) -> float | None:
    """When API Gateway received the request (wall clock), if the event says so plausibly.

    A time in the future or older than the limit itself cannot be API Gateway's for a request
    still being served (recorded test events, skewed clocks): the function's own start counts then.
    """
    context = event.get("requestContext") or {}
    epoch_ms = context.get("timeEpoch", context.get("requestTimeEpoch"))
    if not isinstance(epoch_ms, int | float) or isinstance(epoch_ms, bool):
        return None
    received = float(epoch_ms) / 1000
    return received if 0 <= wall - received <= limit else None


def _function_timeout() -> float | None:
    value = environment.read(FUNCTION_TIMEOUT_ENV)
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds > 0 else None


def _header(scope: Mapping[str, Any], name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None
