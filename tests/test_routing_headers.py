"""Every answer says which provider and upstream model answered, after how many attempts (issue 8).

``x-lambdagate-provider``, ``x-lambdagate-model`` and ``x-lambdagate-attempts`` on JSON and SSE
answers and on errors after an attempt; ``x-lambdagate-fallback`` when a fallback answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response

from conftest import DEV_KEY, FakeUpstream, make_config
from fake_openai import chat, completions, error

MESSAGES = [{"role": "user", "content": "x"}]
HEADERS = ("x-lambdagate-provider", "x-lambdagate-model", "x-lambdagate-attempts")


@pytest.fixture
def client(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> Callable[..., openai.OpenAI]:
    def start(**settings: Any) -> openai.OpenAI:
        providers = {"up": {"type": "openai", "api_base": fake_upstream.url + "/v1"}, "mock": {}}
        models = {"gpt": {"provider": "up", "model": "upstream-model"},
                  "backup": {"provider": "mock", "model": "mock-backup"}}
        base_url = serve_gateway(make_config(providers, models, **{"retry_backoff": 0, **settings}))
        return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20)

    fake_upstream.on("/v1/chat/completions", chat)
    fake_upstream.on("/v1/completions", completions)
    return start


def described(headers: Any) -> tuple[str, ...]:
    return tuple(headers.get(name) for name in HEADERS)


def test_json_and_sse_answers_say_who_answered(client: Callable[..., openai.OpenAI]) -> None:
    gateway = client()
    chat_response = gateway.chat.completions.with_raw_response.create(model="gpt", messages=MESSAGES)  # type: ignore[arg-type]
    assert described(chat_response.headers) == ("up", "upstream-model", "1")
    assert "x-lambdagate-fallback" not in chat_response.headers
    text = gateway.completions.with_raw_response.create(model="gpt", prompt="p")
    assert described(text.headers) == ("up", "upstream-model", "1")
    with gateway.chat.completions.with_streaming_response.create(
        model="gpt", messages=MESSAGES, stream=True,  # type: ignore[arg-type]
    ) as stream:
        assert described(stream.headers) == ("up", "upstream-model", "1")
        assert stream.headers["content-type"].startswith("text/event-stream")
    direct = gateway.chat.completions.with_raw_response.create(model="up/other-model", messages=MESSAGES)  # type: ignore[arg-type]
    assert described(direct.headers) == ("up", "other-model", "1")


def test_retries_and_fallbacks_are_counted(client: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    calls = {"n": 0}

    def flaky(request: Request, raw: bytes) -> Response:
        calls["n"] += 1
        return error(503, "busy", type="server_error") if calls["n"] < 3 else chat(request, raw)

    fake_upstream.on("/v1/chat/completions", flaky)
    gateway = client(num_retries=2, fallbacks={"gpt": ["backup"]})
    assert described(gateway.chat.completions.with_raw_response.create(model="gpt", messages=MESSAGES).headers) == (  # type: ignore[arg-type]
        "up", "upstream-model", "3")
    fake_upstream.on("/v1/chat/completions", lambda request, raw: error(500, "down", type="server_error"))
    headers = gateway.chat.completions.with_raw_response.create(model="gpt", messages=MESSAGES).headers  # type: ignore[arg-type]
    assert described(headers) == ("mock", "mock-backup", "4") and headers["x-lambdagate-fallback"] == "backup"


def test_errors_after_an_attempt_say_who_failed(client: Callable[..., openai.OpenAI],
                                               fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/chat/completions", lambda request, raw: error(400, "bad"))
    gateway = client()
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.chat.completions.create(model="gpt", messages=MESSAGES)  # type: ignore[arg-type]
    headers = caught.value.response.headers
    assert described(headers) == ("up", "upstream-model", "1") and "x-lambdagate-fallback" not in headers
    with pytest.raises(openai.BadRequestError) as streamed:
        gateway.chat.completions.create(model="gpt", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    assert described(streamed.value.response.headers) == ("up", "upstream-model", "1")


def test_errors_before_any_attempt_name_no_provider(client: Callable[..., openai.OpenAI]) -> None:
    gateway = client()
    with pytest.raises(openai.NotFoundError) as caught:
        gateway.chat.completions.create(model="nope", messages=MESSAGES)  # type: ignore[arg-type]
    assert described(caught.value.response.headers) == (None, None, None)
    assert caught.value.response.headers["x-request-id"]


@pytest.mark.parametrize(("model", "header"), [("up/a\nb", "a%0Ab"), ("up/modèle", "mod%C3%A8le")])
def test_names_that_cannot_be_header_values_are_encoded(client: Callable[..., openai.OpenAI], model: str,
                                                        header: str) -> None:
    """A ``provider/model`` name is the client's: a line break in it must not break the response."""
    response = client().chat.completions.with_raw_response.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
    assert response.headers["x-lambdagate-model"] == header
    assert response.parse().choices[0].message.content == "echo: x"
