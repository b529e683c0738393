"""What the Lambda entry points in functions/ share: handler wrapping, request ids, payload limit, SnapStart hooks.

The function modules stay a few lines each (DESIGN.md: "a thin entry module each"); everything
that is Lambda-specific but not endpoint-specific lives here, so it is typed, linted and tested
with the package.

Init does everything the first request would otherwise pay for, because init is where Lambda's
CPU is cheapest to spend (it runs before the first request is waited on) and what SnapStart
snapshots: the app, the telemetry objects, the upstream HTTP client with its imports and TLS
context (:func:`lambdagate.upstream_http.prepare`), and the configuration store's client (the SSM
store's boto3 client). No connection is opened and no AWS call is made.

SnapStart: Lambda runs a function's init once, snapshots the memory and resumes every new
environment from that snapshot. :func:`after_restore` drops what may be stale there (an upstream
pool, the store's client and cached config) and reseeds ``random`` (used for weighted routing and
retry jitter), which would otherwise replay the same sequence in every restored environment; the
imports and the TLS context stay, so the first request after a restore builds only small objects.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable, Collection
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from lambdagate.observability import powertools

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("lambdagate.api")

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

LAMBDA_CONTEXT_HEADER = b"x-amzn-lambda-context"
"""JSON of the invocation's context that the Lambda Web Adapter adds to each forwarded request."""
RESTORE_PATH_ENV = "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"
"""Set on the streaming function: the adapter POSTs to this path after a SnapStart restore."""

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Lambda's limit on a synchronous invocation's request and response payloads (6 MB each way)."""

_apps: list[Any] = []


REQUEST_PATH_MODULES = ("lambdagate.cost.prices",)
"""Modules their importers load on first use (building an app does not need them) that every
request reaches: imported at init so that the first request imports nothing
(``tests/test_init_first_request.py`` names any other)."""


def prepare(upstream: bool = True) -> None:
    """Init-time setup of an entry point: telemetry objects, the upstream client, the SnapStart hook.

    ``upstream``: whether the entry point calls providers (the models function never does, and
    skips the client stack: about a third of a second of CPU at init on the development machine).
    """
    from importlib import import_module

    from lambdagate import upstream_http

    powertools.setup()
    if upstream:
        upstream_http.prepare()
    for name in REQUEST_PATH_MODULES:
        try:
            import_module(name)
        except ModuleNotFoundError as exc:  # moved or gone: the first request imports what it needs
            logger.debug("request-path module %s not imported at init: %s", name, exc)
    register_snapstart_hooks()


def api_handler(endpoints: Collection[str]) -> LambdaHandler:
    """The buffered API Gateway / function URL handler of one endpoint (called at module scope).

    Mangum runs the ASGI lifespan on every invocation unless told not to; the app has no lifespan
    work, and building it once here keeps the per-request cost to routing the event. The app is
    the undocumented flavour (plain Starlette, ``api/app.py``): API Gateway routes only the
    endpoint here, never ``/docs``, and FastAPI's import was the largest part of this init.
    """
    from mangum import Mangum

    from lambdagate.api import create_app
    from lambdagate.lambda_events import OneScopeHTTPGateway

    calls_providers = any(endpoint != "models" for endpoint in endpoints)
    prepare(upstream=calls_providers)
    app = create_app(endpoints=endpoints, documented=False)
    _adopt(app, providers=calls_providers)
    mangum = Mangum(ReadPendingEvents(app), lifespan="off", custom_handlers=[OneScopeHTTPGateway])

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        _set_correlation_id(getattr(context, "aws_request_id", None))
        return fit_payload(mangum(event, context))

    if powertools.logging_enabled():
        # Every log line of the invocation gets the function's name, version and cold_start flag.
        # Each invocation sets every key the gateway logs (the context's, cold_start, the correlation
        # id), so none outlives its invocation without clear_state, which rebuilt the logger's keys
        # from scratch: measured, about 20 us of CPU an invocation, 3% of a buffered request.
        wrapped: LambdaHandler = powertools.logger().inject_lambda_context(handler, clear_state=False)
        return wrapped
    return handler


class ReadPendingEvents:
    """ASGI middleware of the buffered handlers: one turn of the event loop before each request.

    Mangum runs the event loop only during an invocation, and its request task runs before the
    loop has handled what its sockets received meanwhile. An upstream that ended an idle
    keep-alive connection between two invocations (servers do after 5 to 60 seconds) has its close
    still unread then, so the pool would hand that dead connection to the request: it fails and is
    retried after a backoff (measured: 300 ms more, a second attempt), or answered 502 when no
    retry is left. Yielding once first lets the loop mark such connections closed; the pool then
    opens a new one. A server's loop (uvicorn) handles them as they come, and needs none of this.

    Only after a pause: the turn costs about 3% of a buffered request's CPU, and a connection used
    less than ``IDLE_GAP`` seconds ago was not closed for being idle (servers wait seconds).
    """

    IDLE_GAP = 0.25

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._last = -math.inf

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if time.monotonic() - self._last > self.IDLE_GAP:
            await asyncio.sleep(0)
        try:
            await self.app(scope, receive, send)
        finally:
            self._last = time.monotonic()


def fit_payload(result: dict[str, Any], limit: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """``result``, or an OpenAI-shaped 502 in its place when Lambda could not return it.

    A synchronous invocation returns at most 6 MB of JSON (the whole document: status, headers and
    the JSON-escaped body). Past it, Lambda fails the invocation and the client gets the platform's
    bare 502 (API Gateway: ``{"message": "Internal Server Error"}``), which no SDK can explain; here
    it gets an error saying what happened and what to do (the streaming URL has no such limit).
    """
    body = result.get("body")
    if not isinstance(body, str) or len(body) < limit // 7:  # JSON escaping grows a string at most 6x
        return result
    size = len(json.dumps(result).encode("utf-8"))
    if size <= limit:
        return result
    logger.warning("response of %d bytes is over Lambda's %d-byte payload limit: answered 502", size, limit)
    from lambdagate.errors import GatewayError

    error = GatewayError(
        f"The response ({size} bytes) is larger than the {limit // (1024 * 1024)} MB a buffered Lambda response "
        "may hold. Ask for less (max_tokens, n), or use the streaming URL, which has no such limit.",
        status=502, type="api_error", code="response_too_large")
    for container in ("headers", "multiValueHeaders"):
        headers = result.get(container)
        if isinstance(headers, dict):
            for name in [n for n in headers if n.lower() in ("content-type", "content-length", "content-encoding")]:
                del headers[name]
            headers["content-type"] = ["application/json"] if container == "multiValueHeaders" else "application/json"
    result.update(statusCode=error.status, body=json.dumps(error.body()), isBase64Encoded=False)
    return result


def streaming_app() -> ASGIApp:
    """The whole API for uvicorn behind the Lambda Web Adapter (functions/stream).

    Undocumented, as the buffered functions' apps (plain Starlette, ``api/app.py``): the same API
    without ``/docs`` and the OpenAPI document, which a public function URL has no need to serve
    (``lambdagate serve`` serves them locally), and without FastAPI's import at init.
    """
    from lambdagate.api import create_app

    prepare()
    app = create_app(documented=False)
    _adopt(app)
    return LambdaContext(app, restore_path=os.environ.get(RESTORE_PATH_ENV) or None)


def _adopt(app: Any, providers: bool = True) -> None:
    """Remember the app for :func:`after_restore` and warm its configuration store's client.

    Lambda's init phase is where imports are cheapest (it runs before the first request is
    waited on, and SnapStart snapshots it), so a store that can build its client ahead of the
    first request (``prepare``, the SSM store: boto3 and Powertools Parameters) does it here. A
    client must not be frozen into a SnapStart snapshot unless the store can drop it on restore
    (``reset``); ``AWS_LAMBDA_INITIALIZATION_TYPE`` tells a snapshot init from an on-demand one.
    """
    _apps.append(app)
    store = getattr(getattr(app.state, "gateway", None), "store", None)
    if providers:
        load_configured_providers(store)
    prepare_store = getattr(store, "prepare", None)
    if not callable(prepare_store):
        return
    snapshotting = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start"
    if snapshotting and not callable(getattr(store, "reset", None)):
        return
    try:
        prepare_store()
    except Exception as exc:  # the first request builds it again and reports what is wrong
        logger.warning("configuration store not prepared at init: %s", type(exc).__name__)


PROVIDER_REQUEST_MODULES: dict[str, tuple[str, ...]] = {
    "openai": ("lambdagate.providers.openai.responses_api.bridge",),
}
"""Modules an adapter imports inside every request rather than with itself (imported with it here)."""


def load_configured_providers(store: Any) -> list[str]:
    """Import the adapters of the provider types a file configuration names; the types loaded.

    A file store knows its providers without a call, so their adapters are imported at init and
    the first request imports nothing. A remote store (SSM) is not asked at init: its providers'
    adapters load on the first request that routes to them (a few milliseconds each), and types
    no configuration names are never loaded (DESIGN.md: provider modules stay lazy).
    """
    from lambdagate.config.file_store import FileConfigStore

    if not isinstance(store, FileConfigStore):
        return []
    from importlib import import_module

    from lambdagate.providers.presets import PRESETS
    from lambdagate.providers.registry import PROVIDER_MODULES, get_provider

    config = store.config
    names = set(config.providers) | {d.provider for ds in config.models.values() for d in ds if d.provider}
    loaded = []
    for name in sorted(names):
        provider = config.providers.get(name)
        kind = (provider.type if provider is not None else None) or name
        kind = PRESETS[kind].adapter if kind in PRESETS else kind
        if kind in PROVIDER_MODULES and kind not in loaded:
            try:
                get_provider(kind)
                for module in PROVIDER_REQUEST_MODULES.get(kind, ()):
                    import_module(module)
            except Exception as exc:  # the request that needs it reports the problem
                logger.warning("provider type %s not loaded at init: %s", kind, type(exc).__name__)
                continue
            loaded.append(kind)
    return loaded


class LambdaContext:
    """ASGI middleware: gives each request the Lambda request id the adapter forwards.

    Behind the adapter the app sees plain HTTP; the invocation's id arrives as the
    ``x-amzn-lambda-context`` header. Putting it where Mangum puts the context
    (``scope["aws.context"]``) makes responses, logs and metrics carry the same id on both paths.

    It also answers the adapter's SnapStart after-restore POST. That request comes from the adapter
    itself, never from a client: the adapter refuses external requests to the hook path, and as a
    second guard a request that carries a forwarded Lambda context is passed on (and gets 404).
    """

    def __init__(self, app: ASGIApp, restore_path: str | None = None) -> None:
        self.app = app
        self.restore_path = restore_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = _header(scope, LAMBDA_CONTEXT_HEADER)
            if raw is not None:
                request_id = _request_id(raw)
                if request_id:
                    scope["aws.context"] = SimpleNamespace(aws_request_id=request_id)
                    _set_correlation_id(request_id)
            elif self.restore_path and scope["method"] == "POST" and scope["path"] == self.restore_path:
                after_restore()
                await send({"type": "http.response.start", "status": 204, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def _request_id(raw: bytes) -> str | None:
    try:
        context = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(context, dict):
        return None
    value = context.get("request_id") or context.get("aws_request_id")
    return value if isinstance(value, str) and value else None


def _set_correlation_id(request_id: str | None) -> None:
    if request_id and powertools.logging_enabled():
        powertools.logger().set_correlation_id(request_id)


def after_restore() -> None:
    """Drop everything a snapshot may have frozen: connections, credentials, cached config, seeds."""
    from lambdagate import upstream_http

    upstream_http.reset_client()
    random.seed()
    for app in _apps:
        gateway = getattr(app.state, "gateway", None)
        # Stores holding clients or cached values (SSM, the limits table, cached teams) drop them; a
        # file store has nothing to drop.
        for part in (getattr(gateway, "store", None), getattr(gateway, "limits", None)):
            reset = getattr(part, "reset", None)
            if callable(reset):
                reset()
    logger.info("restored from a SnapStart snapshot: upstream pool, config caches and seeds reset")


def register_snapstart_hooks() -> bool:
    """Register :func:`after_restore` with the runtime's SnapStart hooks; False outside Lambda.

    ``snapshot_restore_py`` ships inside the managed Python runtimes (3.12+), not on PyPI installs
    of this package, so local runs and tests simply skip it. Registering twice is avoided because
    each function module calls :func:`prepare` once.
    """
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:
        return False
    register_after_restore(after_restore)
    return True
