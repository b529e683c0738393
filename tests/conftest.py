"""Shared fixtures: a programmable fake upstream and the gateway, both on loopback under uvicorn.

Nothing here reaches the internet. The servers run on event loops in background threads, so tests
drive them with ordinary blocking clients (the official ``openai`` SDK).

Servers are started once per session and reset per test, because starting and above all stopping
a uvicorn server per test was most of the suite's time:

- ``fake_upstream`` is one session server; each test gets it with no routes, no recorded requests,
  no open connections and no handler of an earlier test still running.
- ``serve_gateway`` hands each config's app to a free server of a pool that shares one event loop
  (so the gateway's upstream connection pool, which is per loop, is one pool). When the test ends
  the server drops the app, closes its connections, cancels requests still in flight, runs the app's
  lifespan shutdown (which closes the upstream connection pool) and goes back to the pool.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from lambdagate import environment
from lambdagate.api import create_app
from lambdagate.config.file_store import FileConfigStore
from lambdagate.config.schema import GatewayConfig

DEV_KEY = "sk-test-key"
DEV_KEY_SHA = hashlib.sha256(DEV_KEY.encode()).hexdigest()

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EventLoopThread:
    """An asyncio event loop running in a daemon thread; the test thread submits coroutines to it."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        try:
            self.run(self.loop.shutdown_asyncgens(), timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self.loop.close()


class _Tracked:
    """ASGI middleware running each request in a task of its own, so a server can end it quietly.

    A request still running when its test ends (a slow handler, an abandoned stream) is cancelled
    instead of being waited for, and without uvicorn logging it as an application error.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.tasks: set[asyncio.Task[None]] = set()
        self._ended: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        task = asyncio.ensure_future(self.app(scope, receive, send))
        self.tasks.add(task)
        try:
            await task
        except asyncio.CancelledError:
            if task not in self._ended:
                raise
        finally:
            self.tasks.discard(task)
            self._ended.discard(task)

    async def end_all(self) -> None:
        running = [task for task in self.tasks if not task.done()]
        for task in running:
            self._ended.add(task)
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=10)


class ServerThread:
    """An ASGI app served by uvicorn on 127.0.0.1 from an event loop in a background thread.

    The loop is the server's own unless ``loop`` shares one. Entering returns once uvicorn has
    started; leaving closes the connections and cancels requests in flight at once rather than
    waiting for them (uvicorn's own shutdown polls and waits for every slow handler).
    """

    def __init__(self, app: Any, *, loop: EventLoopThread | None = None,
                 lifespan: Literal["auto", "on", "off"] = "on") -> None:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
        # without it every request waits ~40 ms for a delayed ACK.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        self._tracked = _Tracked(app)
        self.server = uvicorn.Server(uvicorn.Config(self._tracked, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan=lifespan))
        self._shared_loop = loop
        self._loop: EventLoopThread | None = None
        self._ticker: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self._loop = self._shared_loop or EventLoopThread(f"uvicorn-{self.port}")
        try:
            self._loop.run(self._start())
        except BaseException:
            if self._shared_loop is None:
                self._loop.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            loop.run(self._stop())
        finally:
            if self._shared_loop is None:
                loop.close()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on this server's loop (the loop its app's requests run on)."""
        assert self._loop is not None, "server not started"
        return self._loop.run(coroutine)

    async def quiesce(self) -> None:
        """Close every connection and end every request in flight: nothing of one test reaches the next."""
        for connection in list(self.server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.close()  # idle keep-alive or busy: a request in flight sees the client leave
        await asyncio.sleep(0)  # let connection_lost run before the requests are cancelled
        await self._tracked.end_all()

    async def _start(self) -> None:
        config = self.server.config
        if not config.loaded:
            config.load()
        self.server.lifespan = config.lifespan_class(config)
        try:
            await self.server.startup(sockets=[self._socket])
        except SystemExit:  # uvicorn's answer to a failed lifespan startup
            raise RuntimeError("server did not start") from None
        self._ticker = asyncio.create_task(self.server.main_loop())  # keeps the Date header current

    async def _stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for listener in getattr(self.server, "servers", []):
            listener.close()
        await self.quiesce()
        for listener in getattr(self.server, "servers", []):
            await asyncio.wait_for(listener.wait_closed(), timeout=5)
        await self.server.lifespan.shutdown()
        self._socket.close()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: str = ""
    peer: int | None = None
    """The gateway's port on the request's connection: one value per upstream connection."""

    def json(self) -> Any:
        import json

        return json.loads(self.body)


Handler = Callable[[Request, bytes], Any]


@dataclass
class FakeUpstream:
    """A loopback HTTP server whose answers tests program per path, and which records requests.

    A handler receives the request and its body and returns a Starlette ``Response`` (streaming
    responses included), or is awaited if it is a coroutine function.
    """

    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    def on(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def reset(self) -> None:
        """Forget every route and recorded request (new containers: nothing held from before sees more)."""
        self.routes = {}
        self.requests = []

    async def _dispatch(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append(Recorded(request.method, request.url.path, dict(request.headers), body,
                                      request.url.query, request.client.port if request.client else None))
        handler = self.routes.get(request.url.path)
        if handler is None:
            return Response('{"error": {"message": "no such route in fake"}}', status_code=404)
        result = handler(request, body)
        if hasattr(result, "__await__"):
            result = await result
        return result

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._dispatch, methods=["GET", "POST", "PUT", "DELETE"])])



@pytest.fixture(autouse=True)
def fresh_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Environment variables as each test sets them: ``lambdagate.environment`` keeps what it read.

    The gateway reads its switches once per process (a deployed function's environment never
    changes); here every ``monkeypatch.setenv``/``delenv`` makes it read them again.
    """
    environment.refresh()
    for name in ("setenv", "delenv"):
        change = getattr(monkeypatch, name)

        def changed(*args: Any, _change: Callable[..., None] = change, **kwargs: Any) -> None:
            _change(*args, **kwargs)
            environment.refresh()

        setattr(monkeypatch, name, changed)
    yield
    environment.refresh()

@pytest.fixture(scope="session")
def _upstream_server() -> Iterator[tuple[FakeUpstream, ServerThread]]:
    fake = FakeUpstream()
    with ServerThread(fake.app()) as server:
        fake.url = server.url
        yield fake, server


def _reset_upstream(fake: FakeUpstream, server: ServerThread) -> None:
    async def reset() -> None:
        await server.quiesce()
        fake.reset()  # on the server's loop, after the last request of before has ended

    server.run(reset())


@pytest.fixture
def fake_upstream(_upstream_server: tuple[FakeUpstream, ServerThread]) -> Iterator[FakeUpstream]:
    """The session's fake upstream, with no routes, no requests and no connection from before."""
    fake, server = _upstream_server
    _reset_upstream(fake, server)
    yield fake
    _reset_upstream(fake, server)  # let go of the test's handlers now (the next test resets again)


def make_config(providers: dict[str, Any], models: dict[str, Any], **settings: Any) -> GatewayConfig:
    return GatewayConfig.model_validate({
        "settings": {"retry_backoff": 0.01, **settings},
        "providers": providers,
        "models": models,
        "keys": [{"name": "test", "sha256": DEV_KEY_SHA}],
    })


class _Lifespan:
    """An app's ASGI lifespan, run by hand: a pooled server's uvicorn runs none (the app changes)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._to_app: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        self._task = asyncio.ensure_future(self.app(scope, self._to_app.get, self._from_app.put))
        await self._exchange("lifespan.startup")

    async def shutdown(self) -> None:
        assert self._task is not None
        await self._exchange("lifespan.shutdown")
        await asyncio.wait_for(self._task, timeout=10)

    async def _exchange(self, event: str) -> None:
        assert self._task is not None
        await self._to_app.put({"type": event})
        answer = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({answer, self._task}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            if self._task.done():
                self._task.result()  # the app's own error
            raise RuntimeError(f"the app did not answer {event}")
        if answer.result()["type"] != f"{event}.complete":
            raise RuntimeError(f"{event} failed: {answer.result()}")


class _Swappable:
    """A pooled server's app: the app of the test holding the server, swapped in one assignment."""

    def __init__(self) -> None:
        self.current: tuple[ASGIApp, dict[str, Any]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        current = self.current  # read once: a request runs on one app from start to end
        if current is None:
            await Response("no gateway on this port now", status_code=503)(scope, receive, send)
            return
        app, state = current
        await app({**scope, "state": dict(state)}, receive, send)


@dataclass
class _Pooled:
    server: ServerThread
    app: _Swappable
    lifespan: _Lifespan | None = None


class GatewayPool:
    """Gateway servers on one event loop, each serving the app of whichever test holds it."""

    def __init__(self) -> None:
        self.loop = EventLoopThread("gateways")
        self._free: list[_Pooled] = []
        self._all: list[_Pooled] = []

    def acquire(self, app: ASGIApp) -> str:
        """Serve ``app`` on a free server (a new one when none is free); returns its URL."""
        pooled = self._free.pop() if self._free else self._new()
        try:
            self.loop.run(self._assign(pooled, app))
        except BaseException:
            self._free.append(pooled)
            raise
        return pooled.server.url

    def release(self, url: str) -> None:
        pooled = next(p for p in self._all if p.server.url == url)
        try:
            self.loop.run(self._unassign(pooled))
        except BaseException:
            self._retire(pooled)  # not fit to serve another test
            raise
        self._free.append(pooled)

    def close(self) -> None:
        for pooled in list(self._all):
            self._retire(pooled)
        self.loop.close()

    def _new(self) -> _Pooled:
        app = _Swappable()
        pooled = _Pooled(ServerThread(app, loop=self.loop, lifespan="off").__enter__(), app)
        self._all.append(pooled)
        return pooled

    def _retire(self, pooled: _Pooled) -> None:
        self._all.remove(pooled)
        pooled.server.__exit__()

    @staticmethod
    async def _assign(pooled: _Pooled, app: ASGIApp) -> None:
        lifespan = _Lifespan(app)
        await lifespan.startup()
        pooled.lifespan = lifespan
        pooled.app.current = (app, lifespan.state)

    @staticmethod
    async def _unassign(pooled: _Pooled) -> None:
        pooled.app.current = None
        await pooled.server.quiesce()
        lifespan, pooled.lifespan = pooled.lifespan, None
        if lifespan is not None:
            await lifespan.shutdown()
        # The app's lifespan closes the upstream connection pool; make sure of it even if it stops doing so,
        # or the next test would reuse connections (and settings) of this one.
        from lambdagate import upstream_http

        if getattr(upstream_http, "_client_loop", None) is asyncio.get_running_loop():
            await upstream_http.close_client()


@pytest.fixture(scope="session")
def _gateway_pool() -> Iterator[GatewayPool]:
    pool = GatewayPool()
    yield pool
    pool.close()


@pytest.fixture
def serve_gateway(_gateway_pool: GatewayPool) -> Iterator[Callable[[GatewayConfig], str]]:
    """Serve the real app for a config on loopback; returns its base URL (with ``/v1``).

    Each call gets a server of its own for the rest of the test.
    """
    held: list[str] = []

    def start(config: GatewayConfig) -> str:
        url = _gateway_pool.acquire(create_app(FileConfigStore(config)))
        held.append(url)
        return url + "/v1"

    yield start
    errors: list[BaseException] = []
    for url in held:
        try:
            _gateway_pool.release(url)
        except Exception as exc:  # release every server, then report
            errors.append(exc)
    if errors:
        raise errors[0]


FIXTURES = Path(__file__).parent / "fixtures"


def emf_directive(document: dict[str, Any], metric: str) -> dict[str, Any] | None:
    """The metric directive of an EMF ``document`` that defines ``metric``: a request's document
    holds one per metric set (by model, by error type, by key)."""
    for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
        if any(m["Name"] == metric for m in directive["Metrics"]):
            return dict(directive)
    return None


def fixture_bytes(provider: str, name: str) -> bytes:
    """A recorded-shape fixture: tests/fixtures/<provider>/<name>."""
    return (FIXTURES / provider / name).read_bytes()


def fixture_answer(provider: str, name: str, status: int = 200,
                   headers: dict[str, str] | None = None) -> Handler:
    """A fake-upstream handler answering with a fixture file (SSE for ``.sse`` files, else JSON)."""
    media = "text/event-stream" if name.endswith(".sse") else "application/json"

    def handler(request: Request, body: bytes) -> Response:
        return Response(fixture_bytes(provider, name), status_code=status, media_type=media, headers=headers)

    return handler


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process AWS (moto) in us-east-1 with fake credentials, and no SSM value cached from before."""
    from moto import mock_aws

    from lambdagate.config import ssm

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv(ssm.TTL_ENV, raising=False)
    ssm._default_cache.cache_clear()
    with mock_aws():
        yield
    ssm._default_cache.cache_clear()
