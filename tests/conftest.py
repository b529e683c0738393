"""Shared fixtures: a programmable fake upstream and the gateway, both on loopback under uvicorn.

Nothing here reaches the internet. Each server runs in its own thread with its own event loop,
so tests drive them with ordinary blocking clients (the official ``openai`` SDK).
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdagate.api import create_app
from lambdagate.config.file_store import FileConfigStore
from lambdagate.config.schema import GatewayConfig

DEV_KEY = "sk-test-key"
DEV_KEY_SHA = hashlib.sha256(DEV_KEY.encode()).hexdigest()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: str = ""

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

    async def _dispatch(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append(Recorded(request.method, request.url.path, dict(request.headers), body,
                                      request.url.query))
        handler = self.routes.get(request.url.path)
        if handler is None:
            return Response('{"error": {"message": "no such route in fake"}}', status_code=404)
        result = handler(request, body)
        if hasattr(result, "__await__"):
            result = await result
        return result  # type: ignore[no-any-return]

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._dispatch, methods=["GET", "POST", "PUT", "DELETE"])])


@pytest.fixture
def fake_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    with ServerThread(fake.app()) as server:
        fake.url = server.url
        yield fake


def make_config(providers: dict[str, Any], models: dict[str, Any], **settings: Any) -> GatewayConfig:
    return GatewayConfig.model_validate({
        "settings": {"retry_backoff": 0.01, **settings},
        "providers": providers,
        "models": models,
        "keys": [{"name": "test", "sha256": DEV_KEY_SHA}],
    })


@pytest.fixture
def serve_gateway() -> Iterator[Callable[[GatewayConfig], str]]:
    """Start the real app on loopback for a config; returns its base URL (with ``/v1``)."""
    servers: list[ServerThread] = []

    def start(config: GatewayConfig) -> str:
        server = ServerThread(create_app(FileConfigStore(config))).__enter__()
        servers.append(server)
        return server.url + "/v1"

    yield start
    for server in servers:
        server.__exit__()


FIXTURES = Path(__file__).parent / "fixtures"


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
