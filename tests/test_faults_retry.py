"""Retry-After in all its forms, and not multiplying retries with the SDK's (issue 8, "What upstreams can do").

The router's sleep is replaced by a recorder, so the waits it chose are checked exactly and the
tests never sleep them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from typing import Any

import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response

from conftest import DEV_KEY, FakeUpstream, ServerThread, make_config
from fake_openai import chat, error
from lambdagate.api import create_app
from lambdagate.config.file_store import FileConfigStore

MESSAGES = [{"role": "user", "content": "x"}]


class Gateway:
    def __init__(self, url: str, waits: list[float]) -> None:
        self.url = url
        self.waits = waits

    def client(self, **options: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url, api_key=DEV_KEY, **{"max_retries": 0, "timeout": 20, **options})


@pytest.fixture
def start(fake_upstream: FakeUpstream) -> Iterator[Callable[..., Gateway]]:
    """A gateway on loopback whose router records its backoff waits instead of sleeping them."""
    servers: list[ServerThread] = []

    def run(**settings: Any) -> Gateway:
        providers = {"up": {"type": "openai", "api_base": fake_upstream.url + "/v1"}, "mock": {}}
        models = {"gpt": {"provider": "up", "model": "upstream-model"},
                  "backup": {"provider": "mock", "model": "mock-backup"}}
        app = create_app(FileConfigStore(make_config(providers, models, **settings)))
        waits: list[float] = []

        async def record(seconds: float) -> None:
            waits.append(seconds)

        app.state.gateway.router.sleep = record
        server = ServerThread(app).__enter__()
        servers.append(server)
        return Gateway(server.url + "/v1", waits)

    yield run
    for server in servers:
        server.__exit__()


def limited_then_ok(headers: dict[str, str] | Callable[[], dict[str, str]], times: int = 1) -> Callable[..., Response]:
    calls = {"n": 0}

    def handler(request: Request, raw: bytes) -> Response:
        calls["n"] += 1
        if calls["n"] <= times:
            return error(429, "slow down", type="rate_limit_error", headers=headers() if callable(headers) else headers)
        return chat(request, raw)

    return handler


@pytest.mark.parametrize(
    ("headers", "low", "high"),
    [
        ({"retry-after": "2"}, 2.0, 2.0),
        ({"retry-after-ms": "1500"}, 1.5, 1.5),
        ({"retry-after": "1", "retry-after-ms": "250"}, 0.25, 0.25),  # the exact one first, as the OpenAI SDK reads it
        (lambda: {"retry-after": formatdate(time.time() + 3, usegmt=True)}, 1.0, 3.0),  # an HTTP date, 3 s ahead
    ],
    ids=["seconds", "milliseconds", "both", "http-date"],
)
def test_backoff_honours_retry_after(start: Callable[..., Gateway], fake_upstream: FakeUpstream,
                                     headers: Any, low: float, high: float) -> None:
    fake_upstream.on("/v1/chat/completions", limited_then_ok(headers))
    gateway = start(num_retries=1)
    response = gateway.client().chat.completions.with_raw_response.create(model="gpt", messages=MESSAGES)  # type: ignore[arg-type]
    assert response.parse().choices[0].message.content == "echo: x"
    assert len(gateway.waits) == 1 and low <= gateway.waits[0] <= high, gateway.waits
    assert response.headers["x-lambdagate-attempts"] == "2"


def test_retry_after_beyond_max_retry_wait_is_passed_to_the_client(
    start: Callable[..., Gateway], fake_upstream: FakeUpstream,
) -> None:
    when = formatdate(time.time() + 120, usegmt=True)
    fake_upstream.on("/v1/chat/completions", limited_then_ok({"retry-after": when}, times=99))
    gateway = start(num_retries=2, max_retry_wait=20)
    with pytest.raises(openai.RateLimitError) as caught:
        gateway.client().chat.completions.create(model="gpt", messages=MESSAGES)  # type: ignore[arg-type]
    assert gateway.waits == [] and len(fake_upstream.requests) == 1  # not retried: the wait is too long
    headers = caught.value.response.headers
    assert 100 <= int(headers["retry-after"]) <= 120  # the HTTP date, passed on as seconds
    assert 100_000 <= int(headers["retry-after-ms"]) <= 120_000
    assert "x-should-retry" not in headers  # the gateway did not retry: the SDK's policy decides


def test_after_gateway_retries_the_sdk_is_told_not_to_retry(
    start: Callable[..., Gateway], fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.on("/v1/chat/completions", lambda request, raw: error(503, "busy", type="server_error"))
    gateway = start(num_retries=2)
    with pytest.raises(openai.InternalServerError) as caught:
        gateway.client(max_retries=3).chat.completions.create(model="gpt", messages=MESSAGES)  # type: ignore[arg-type]
    headers = caught.value.response.headers
    assert headers["x-should-retry"] == "false" and headers["x-lambdagate-attempts"] == "3"
    # 3 upstream calls in all: the SDK's 3 retries did not multiply the gateway's into 12.
    assert len(fake_upstream.requests) == 3 and len(gateway.waits) == 2


def test_a_429_after_retries_keeps_retry_after_and_stops_the_sdk(
    start: Callable[..., Gateway], fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.on("/v1/chat/completions", limited_then_ok({"retry-after": "1"}, times=99))
    gateway = start(num_retries=1)
    with pytest.raises(openai.RateLimitError) as caught:
        gateway.client(max_retries=2).chat.completions.create(model="gpt", messages=MESSAGES)  # type: ignore[arg-type]
    headers = caught.value.response.headers
    assert (headers["retry-after"], headers["x-should-retry"]) == ("1", "false")
    assert len(fake_upstream.requests) == 2 and gateway.waits == [1.0]


def test_without_gateway_retries_the_sdk_may_retry(start: Callable[..., Gateway], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/chat/completions", lambda request, raw: error(503, "busy", type="server_error"))
    gateway = start(num_retries=0)
    with pytest.raises(openai.InternalServerError) as caught:
        gateway.client(max_retries=1).chat.completions.create(model="gpt", messages=MESSAGES)  # type: ignore[arg-type]
    assert "x-should-retry" not in caught.value.response.headers
    assert len(fake_upstream.requests) == 2  # the SDK's one retry, the gateway's none
