"""Cooldowns, refusal fallbacks and saying who answered (issue 8, "Deadlines and routing").

The cooldown clock is injected (``router.cooldowns.clock``), so "30 seconds later" is one
assignment, and the upstream's request log says which deployment was tried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response

from conftest import DEV_KEY, FakeUpstream, ServerThread, make_config
from fake_openai import chat, error
from lambdagate.api import create_app
from lambdagate.config import load_store
from lambdagate.config.file_store import FileConfigStore

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = [{"role": "user", "content": "hello"}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Served:
    def __init__(self, url: str, clock: Clock) -> None:
        self.client = openai.OpenAI(base_url=url, api_key=DEV_KEY, max_retries=0, timeout=20)
        self.clock = clock


@pytest.fixture
def start(fake_upstream: FakeUpstream) -> Iterator[Callable[..., Served]]:
    """`gpt` -> the fake upstream, `backup` -> the mock; the router's cooldown clock is the test's."""
    servers: list[ServerThread] = []

    def run(models: dict[str, Any] | None = None, **settings: Any) -> Served:
        providers = {"up": {"type": "openai", "api_base": fake_upstream.url + "/v1"}, "mock": {}}
        all_models = {"gpt": {"provider": "up", "model": "upstream-model"},
                      "big": {"provider": "up", "model": "big-model"},
                      "backup": {"provider": "mock", "model": "mock-backup"}, **(models or {})}
        app = create_app(FileConfigStore(make_config(providers, all_models, **{"retry_backoff": 0, **settings})))
        clock = Clock()
        app.state.gateway.router.cooldowns.clock = clock
        server = ServerThread(app).__enter__()
        servers.append(server)
        return Served(server.url + "/v1", clock)

    yield run
    for server in servers:
        server.__exit__()


class Switch:
    """An upstream that fails with 500 until told otherwise."""

    def __init__(self) -> None:
        self.healthy = False

    def __call__(self, request: Request, raw: bytes) -> Response:
        return chat(request, raw) if self.healthy else error(500, "down", type="server_error")


def ask(served: Served, model: str = "gpt") -> httpx.Headers:
    response = served.client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
    return response.headers


# --- cooldown ------------------------------------------------------------------------------------


def test_a_failing_deployment_cools_down_then_is_tried_again(start: Callable[..., Served],
                                                             fake_upstream: FakeUpstream) -> None:
    upstream = Switch()
    fake_upstream.on("/v1/chat/completions", upstream)
    served = start(num_retries=0, fallbacks={"gpt": ["backup"]}, cooldown_failures=2, cooldown_seconds=30)

    def tried() -> int:
        return len(fake_upstream.requests)

    assert ask(served)["x-lambdagate-fallback"] == "backup" and tried() == 1
    assert ask(served)["x-lambdagate-fallback"] == "backup" and tried() == 2  # 2 in a row: cooling down now
    headers = ask(served)
    assert tried() == 2, "a deployment in cooldown was called"
    assert (headers["x-lambdagate-fallback"], headers["x-lambdagate-attempts"]) == ("backup", "1")

    served.clock.now += 29
    ask(served)
    assert tried() == 2
    served.clock.now += 2  # the cooldown is over: tried again; one more failure cools it again at once
    ask(served)
    assert tried() == 3
    ask(served)
    assert tried() == 3

    upstream.healthy = True
    served.clock.now += 31
    headers = ask(served)
    assert tried() == 4 and "x-lambdagate-fallback" not in headers and headers["x-lambdagate-provider"] == "up"
    upstream.healthy = False  # a success ended the streak: one failure does not cool it down
    ask(served)
    ask(served)
    assert tried() == 6


def test_cooldown_never_refuses_a_request(start: Callable[..., Served], fake_upstream: FakeUpstream) -> None:
    """When every option is cooling down, they are tried anyway rather than failing untried."""
    fake_upstream.on("/v1/chat/completions", Switch())
    served = start(num_retries=0, cooldown_failures=1)
    for expected_calls in (1, 2, 3):
        with pytest.raises(openai.InternalServerError):
            ask(served)
        assert len(fake_upstream.requests) == expected_calls


def test_cooldown_off(start: Callable[..., Served], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/chat/completions", Switch())
    served = start(num_retries=0, fallbacks={"gpt": ["backup"]}, cooldown_failures=0)
    for expected_calls in (1, 2, 3, 4):
        ask(served)
        assert len(fake_upstream.requests) == expected_calls


def test_weighted_alias_skips_its_cooling_deployment(start: Callable[..., Served], fake_upstream: FakeUpstream) -> None:
    def by_model(request: Request, raw: bytes) -> Response:
        if b'"broken-model"' in raw:
            return error(503, "down", type="server_error")
        return chat(request, raw)

    fake_upstream.on("/v1/chat/completions", by_model)
    pool = [{"provider": "up", "model": "broken-model", "weight": 1000},
            {"provider": "up", "model": "fine", "weight": 1}]
    served = start(models={"pool": pool}, num_retries=3, cooldown_failures=1)
    for _ in range(5):
        assert ask(served, "pool")["x-lambdagate-model"] == "fine"
    models = [r.json()["model"] for r in fake_upstream.requests]
    # The heavy broken one was tried at most once (then cooled down), whatever the weights say.
    assert models.count("broken-model") <= 1 and models.count("fine") == 5


# --- refusal fallbacks --------------------------------------------------------------------------


def refusing(code: str) -> Callable[[Request, bytes], Response]:
    def handler(request: Request, raw: bytes) -> Response:
        if b'"upstream-model"' in raw:
            return error(400, f"refused: {code}", code=code)
        return chat(request, raw)

    return handler


def test_context_window_fallbacks(start: Callable[..., Served], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/chat/completions", refusing("context_length_exceeded"))
    served = start(fallbacks={"gpt": ["backup"]}, context_window_fallbacks={"gpt": ["big"]})
    response = served.client.chat.completions.with_raw_response.create(model="gpt", messages=MESSAGES)  # type: ignore[arg-type]
    assert response.parse().choices[0].message.content == "echo: hello"
    assert response.headers["x-lambdagate-fallback"] == "big" and response.headers["x-lambdagate-model"] == "big-model"
    assert [r.json()["model"] for r in fake_upstream.requests] == ["upstream-model", "big-model"]  # no retry of a 400

    # Without context-window fallbacks the refusal is the answer: general fallbacks do not apply to it.
    plain = start(fallbacks={"gpt": ["backup"]})
    with pytest.raises(openai.BadRequestError) as caught:
        ask(plain)
    assert caught.value.code == "context_length_exceeded"


def test_content_policy_fallbacks(start: Callable[..., Served], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/chat/completions", refusing("content_filter"))
    served = start(content_policy_fallbacks={"gpt": ["backup"]}, context_window_fallbacks={"gpt": ["big"]})
    headers = ask(served)
    assert (headers["x-lambdagate-fallback"], headers["x-lambdagate-provider"]) == ("backup", "mock")
    assert [r.json()["model"] for r in fake_upstream.requests] == ["upstream-model"]


def test_refusal_fallbacks_respect_the_keys_models(fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/chat/completions", refusing("context_length_exceeded"))
    config = make_config({"up": {"type": "openai", "api_base": fake_upstream.url + "/v1"}},
                         {"gpt": {"provider": "up", "model": "upstream-model"},
                          "big": {"provider": "up", "model": "big-model"}},
                         context_window_fallbacks={"gpt": ["big"]})
    config.keys[0] = config.keys[0].model_copy(update={"models": ["gpt"]})
    with ServerThread(create_app(FileConfigStore(config))) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=DEV_KEY, max_retries=0)
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="gpt", messages=MESSAGES)  # type: ignore[arg-type]
    assert len(fake_upstream.requests) == 1


# --- the example config says what answers --------------------------------------------------------


def test_example_config_says_when_the_mock_answers_for_gpt_4o_mini(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with ServerThread(create_app(load_store(str(ROOT / "gateway.example.yaml")))) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-lambdagate-dev", max_retries=0)
        response = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
        assert response.parse().choices[0].message.content == "You said: hello"
        assert response.headers["x-lambdagate-fallback"] == "mock-gpt"
        assert response.headers["x-lambdagate-provider"] == "mock"
        # An alias without a fallback gets the 503 the example's comment promises.
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="claude", messages=MESSAGES)  # type: ignore[arg-type]
        assert caught.value.status_code == 503 and caught.value.code == "provider_not_configured"
        assert "gpt-4o-mini" in (ROOT / "gateway.example.yaml").read_text().split("settings:")[0]
