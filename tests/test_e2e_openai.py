"""The gateway end to end: the official openai SDK -> lambdagate -> an OpenAI-compatible fake upstream."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from conftest import DEV_KEY, FakeUpstream, make_config
from fake_openai import Gate, Pacer, chat, completions, error
from lambdagate import upstream_http
from openai_schema import assert_valid

UPSTREAM_KEY = "sk-upstream-secret-123456"


@pytest.fixture
def gateway(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> Callable[..., openai.OpenAI]:
    """An SDK client on a gateway whose `gpt` alias reaches the fake upstream as `upstream-model`."""

    def start(**settings: Any) -> openai.OpenAI:
        providers = {
            "up": {"type": "openai", "api_base": fake_upstream.url + "/v1", "api_key": UPSTREAM_KEY},
            "mock": {},
        }
        models = {"gpt": {"provider": "up", "model": "upstream-model"},
                  "backup": {"provider": "mock", "model": "mock-backup"}}
        models.update(settings.pop("models", {}))
        base_url = serve_gateway(make_config(providers, models, **settings))
        return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20)

    fake_upstream.on("/v1/chat/completions", chat)
    fake_upstream.on("/v1/completions", completions)
    return start


def test_chat_completion(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    client = gateway()
    response = client.chat.completions.with_raw_response.create(
        model="gpt", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"}],
        temperature=0.2, max_tokens=20, seed=7, user="u1", extra_body={"top_k": 5},
    )
    completion = response.parse()
    assert completion.choices[0].message.content == "echo: hi there"
    assert completion.usage is not None and completion.usage.prompt_tokens == 2
    assert_valid(json.loads(response.text), "CreateChatCompletionResponse")
    assert response.headers["x-request-id"]
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    body = sent.json()
    # The alias became the upstream model; every parameter passed through, unknown ones too.
    assert body["model"] == "upstream-model"
    assert body["temperature"] == 0.2 and body["max_tokens"] == 20 and body["seed"] == 7 and body["user"] == "u1"
    assert body["top_k"] == 5
    assert "stream" not in body


def test_upstream_gets_the_client_headers_and_no_cookie_from_another_answer(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    """Requests go to the shared aiohttp session directly: httpx's default user-agent and the
    caller's headers still go along, with aiohttp's accept-encoding (what it can decompress), and
    no cookie (through a host name, where a cookie jar would keep one: the test below)."""

    def chat_with_cookie(request: Request, body: bytes) -> Response:
        answer = chat(request, body)
        answer.headers.append("set-cookie", "session=from-an-earlier-answer; Path=/")
        return answer

    fake_upstream.on("/v1/chat/completions", chat_with_cookie)
    client = gateway()
    for _ in range(2):
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])
    first, second = fake_upstream.requests[-2:]
    for sent in (first, second):
        assert sent.headers["user-agent"].startswith("python-httpx/")
        assert "gzip" in sent.headers["accept-encoding"]
        assert sent.headers["accept"] == "application/json"
        assert sent.headers["content-type"] == "application/json"
    assert "cookie" not in second.headers


@pytest.mark.parametrize("stream", [False, True])
def test_a_cookie_an_upstream_sets_is_never_sent_back(
    fake_upstream: FakeUpstream, serve_gateway: Callable[..., str], stream: bool
) -> None:
    """Through a host name (an HTTP client's cookie jar keeps no cookie of a bare IP address): the
    shared session holds no cookie jar, so what one answer sets never rides along on the next
    request, another client's included."""

    def chat_with_cookie(request: Request, body: bytes) -> Response:
        answer = chat(request, body)
        answer.headers.append("set-cookie", "session=from-an-earlier-answer; Path=/")
        return answer

    fake_upstream.on("/v1/chat/completions", chat_with_cookie)
    named = fake_upstream.url.replace("127.0.0.1", "localhost")
    providers = {"named": {"type": "openai", "api_base": named + "/v1", "api_key": UPSTREAM_KEY}}
    base_url = serve_gateway(make_config(providers, {"gpt": {"provider": "named", "model": "upstream-model"}}))
    client = openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20)
    for _ in range(2):
        if stream:
            chunks = list(client.chat.completions.create(
                model="gpt", messages=[{"role": "user", "content": "hi"}], stream=True))
            assert chunks
        else:
            client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])
    first, second = fake_upstream.requests[-2:]
    assert first.headers["host"].startswith("localhost")
    assert "cookie" not in first.headers and "cookie" not in second.headers


def test_a_compressed_upstream_answer_is_decompressed_once(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    """Buffered calls are read by aiohttp itself (``upstream_http.fetch``): the answer is decoded per
    its content-encoding, whichever of the encodings the request offered the upstream picked."""
    import gzip
    import zlib

    encoders = {"gzip": gzip.compress, "deflate": zlib.compress}

    def compressed(request: Request, body: bytes) -> Response:
        answer = chat(request, body)
        encoding = json.loads(body)["messages"][-1]["content"]
        return Response(encoders[encoding](bytes(answer.body)), media_type="application/json",
                        headers={"content-encoding": encoding})

    fake_upstream.on("/v1/chat/completions", compressed)
    client = gateway()
    for encoding in encoders:
        completion = client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": encoding}])
        assert completion.choices[0].message.content == f"echo: {encoding}"
        assert encoding in fake_upstream.requests[-1].headers["accept-encoding"]


def test_chat_n_and_stop(gateway: Callable[..., openai.OpenAI]) -> None:
    completion = gateway().chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "one two three"}], n=3, stop=["three"])
    assert [c.index for c in completion.choices] == [0, 1, 2]
    assert all(c.message.content == "echo: one two " for c in completion.choices)


def test_chat_stream_with_usage(gateway: Callable[..., openai.OpenAI]) -> None:
    client = gateway()
    with client.chat.completions.with_streaming_response.create(
        model="gpt", messages=[{"role": "user", "content": "stream me please"}], stream=True,
        stream_options={"include_usage": True},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[len("data: "):]) for line in lines[:-1]]
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "echo: stream me please"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 3 + 4


def test_tools_round_trip(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    client = gateway()
    tools: list[Any] = [{"type": "function", "function": {
        "name": "lookup", "description": "Look a word up",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}]
    messages: list[Any] = [{"role": "user", "content": "lambda"}]
    first = client.chat.completions.create(model="gpt", messages=messages, tools=tools, tool_choice="required")
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "lookup" and json.loads(call.function.arguments) == {"q": "lambda"}
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "a Greek letter"}]
    second = client.chat.completions.create(model="gpt", messages=messages, tools=tools)
    assert second.choices[0].message.content == "tool said: a Greek letter"
    upstream = fake_upstream.requests[-1].json()
    assert upstream["messages"][1]["tool_calls"][0]["id"] == call.id
    assert upstream["messages"][2] == {"role": "tool", "tool_call_id": call.id, "content": "a Greek letter"}


def test_tool_call_stream(gateway: Callable[..., openai.OpenAI]) -> None:
    stream = gateway().chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "x"}], stream=True, tool_choice="required",
        tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])
    arguments = ""
    names = []
    for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            arguments += call.function.arguments or ""  # type: ignore[union-attr]
            if call.function and call.function.name:
                names.append(call.function.name)
    assert names == ["f"] and json.loads(arguments) == {"q": "x"}


def test_text_completion(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    client = gateway()
    response = client.completions.with_raw_response.create(
        model="gpt", prompt=["alpha", "beta"], n=2, echo=True, max_tokens=5, suffix="!", logprobs=1)
    completion = response.parse()
    assert_valid(json.loads(response.text), "CreateCompletionResponse")
    assert [c.index for c in completion.choices] == [0, 1, 2, 3]
    assert completion.choices[2].text == "beta completed: beta"
    body = fake_upstream.requests[-1].json()
    assert body["model"] == "upstream-model" and body["suffix"] == "!" and body["logprobs"] == 1


def test_text_completion_stream(gateway: Callable[..., openai.OpenAI]) -> None:
    stream = gateway().completions.create(model="gpt", prompt="go", stream=True,
                                          stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == " completed: go"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 1


def test_models(gateway: Callable[..., openai.OpenAI]) -> None:
    client = gateway()
    page = client.models.with_raw_response.list()
    assert_valid(json.loads(page.text), "ListModelsResponse")
    assert sorted(m.id for m in page.parse()) == ["backup", "gpt"]
    assert client.models.retrieve("gpt").id == "gpt"
    assert client.models.retrieve("up/any-model").id == "up/any-model"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")


def test_direct_provider_model_name(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    completion = gateway().chat.completions.create(model="up/some-model", messages=[{"role": "user", "content": "x"}])
    assert completion.choices[0].message.content == "echo: x"
    assert fake_upstream.requests[-1].json()["model"] == "some-model"


# --- errors -------------------------------------------------------------------------------


def _error_body(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.response.json()
    assert_valid(body, "ErrorResponse")
    return body["error"]  # type: ignore[no-any-return]


def test_wrong_and_missing_key(gateway: Callable[..., openai.OpenAI]) -> None:
    client = gateway()
    bad = client.with_options(api_key="sk-wrong")
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "x"}])
    assert _error_body(caught.value)["code"] == "invalid_api_key"
    assert "sk-wrong" not in caught.value.response.text
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    response = httpx.post(str(client.base_url) + "chat/completions", json={"model": "gpt", "messages": []})
    assert response.status_code == 401


def test_model_not_allowed_for_key(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> None:
    models = {"a": {"provider": "mock", "model": "a"}, "b": {"provider": "mock", "model": "b"}}
    config = make_config({"mock": {}}, models)
    config.keys[0] = config.keys[0].model_copy(update={"models": ["a"]})
    client = openai.OpenAI(base_url=serve_gateway(config), api_key=DEV_KEY, max_retries=0)
    assert client.chat.completions.create(model="a", messages=[{"role": "user", "content": "x"}]).choices
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model="b", messages=[{"role": "user", "content": "x"}])
    assert _error_body(caught.value)["code"] == "model_not_allowed"
    assert [m.id for m in client.models.list()] == ["a"]


def test_unknown_model(gateway: Callable[..., openai.OpenAI]) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        gateway().chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    error_ = _error_body(caught.value)
    assert error_["code"] == "model_not_found" and error_["param"] == "model"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": "gpt"}, "messages", "missing_required_parameter"),
        ({"model": "gpt", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "invalid_value"),
        ({"model": "gpt", "messages": [{"role": "user", "content": "x"}], "temperature": 3}, "temperature",
         "invalid_value"),
        ({"model": "gpt", "messages": [{"role": "user", "content": "x"}], "n": "many"}, "n", "invalid_type"),
        ({"model": "gpt", "messages": [{"role": "user"}]}, "messages[0].content", "missing_required_parameter"),
    ],
)
def test_invalid_requests(
    gateway: Callable[..., openai.OpenAI], body: dict[str, Any], param: str, code: str
) -> None:
    client = gateway()
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/chat/completions", body=body, cast_to=httpx.Response)
    error_ = _error_body(caught.value)
    assert (error_["param"], error_["code"], error_["type"]) == (param, code, "invalid_request_error")


def test_bad_json_and_too_large(gateway: Callable[..., openai.OpenAI]) -> None:
    client = gateway(max_body_bytes=2048)
    url = str(client.base_url) + "chat/completions"
    headers = {"authorization": f"Bearer {DEV_KEY}", "content-type": "application/json"}
    response = httpx.post(url, content=b"{not json", headers=headers)
    assert response.status_code == 400 and "JSON" in response.json()["error"]["message"]
    big = json.dumps({"model": "gpt", "messages": [{"role": "user", "content": "x" * 4096}]})
    response = httpx.post(url, content=big, headers=headers)
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    response = httpx.get(str(client.base_url) + "nowhere", headers=headers)
    assert response.status_code == 404 and response.json()["error"]["type"] == "invalid_request_error"


def test_upstream_errors_are_mapped(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    client = gateway(num_retries=0)
    message = [{"role": "user", "content": "x"}]
    cases: list[tuple[Response, type[openai.APIStatusError], int]] = [
        (error(400, "context too long"), openai.BadRequestError, 400),
        (error(429, "slow down", type="rate_limit_error", headers={"retry-after": "7"}), openai.RateLimitError, 429),
        (error(500, f"boom at {fake_upstream.url}/internal with key {UPSTREAM_KEY}"), openai.InternalServerError, 502),
        (error(401, "Incorrect API key provided"), openai.APIStatusError, 502),
        (Response("<html>bad gateway</html>", status_code=503), openai.InternalServerError, 503),
    ]
    for upstream_response, exc_class, status in cases:
        fake_upstream.on("/v1/chat/completions", lambda request, raw, r=upstream_response: r)
        with pytest.raises(exc_class) as caught:
            client.chat.completions.create(model="gpt", messages=message)  # type: ignore[arg-type]
        assert caught.value.status_code == status
        text = caught.value.response.text
        _error_body(caught.value)
        assert UPSTREAM_KEY not in text and fake_upstream.url not in text and "127.0.0.1" not in text
    assert caught.value.response.headers.get("retry-after") is None
    fake_upstream.on("/v1/chat/completions", lambda request, raw: error(429, "slow", headers={"retry-after": "7"}))
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="gpt", messages=message)  # type: ignore[arg-type]
    assert limited.value.response.headers["retry-after"] == "7"


def test_upstream_timeout_and_unreachable(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> None:
    never = Gate()  # the upstream never answers: only the gateway's timeout can end the request

    async def slow(request: Request, raw: bytes) -> Response:
        await never.wait()
        return chat(request, raw)

    fake_upstream.on("/v1/chat/completions", slow)
    config = make_config(
        {"up": {"type": "openai", "api_base": fake_upstream.url + "/v1"},
         "dead": {"type": "openai", "api_base": "http://127.0.0.1:9/v1"}},
        {"slow": {"provider": "up", "model": "m", "timeout": 0.3}, "dead": {"provider": "dead", "model": "m"}},
        num_retries=0,
    )
    client = openai.OpenAI(base_url=serve_gateway(config), api_key=DEV_KEY, max_retries=0, timeout=20)
    with pytest.raises(openai.APIStatusError) as caught:  # not the client's own timeout: the gateway's 504
        client.chat.completions.create(model="slow", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 504 and not never.is_open()
    assert _error_body(caught.value)["type"] == "timeout_error"
    # A request's own `timeout` lowers the configured one.
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="up/m", messages=[{"role": "user", "content": "x"}],
                                       extra_body={"timeout": 0.2})
    assert caught.value.status_code == 504
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="dead", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 502 and "127.0.0.1" not in caught.value.response.text


def test_retries_then_success(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    calls = {"n": 0}

    def flaky(request: Request, raw: bytes) -> Response:
        calls["n"] += 1
        return error(503, "busy") if calls["n"] < 3 else chat(request, raw)

    fake_upstream.on("/v1/chat/completions", flaky)
    client = gateway(num_retries=2)
    completion = client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "x"}])
    assert completion.choices[0].message.content == "echo: x" and calls["n"] == 3


def test_fallback_after_retries(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/chat/completions", lambda request, raw: error(500, "down"))
    client = gateway(num_retries=1, fallbacks={"gpt": ["backup"]})
    completion = client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hello"}])
    assert completion.model == "mock-backup" and completion.choices[0].message.content == "You said: hello"
    assert len(fake_upstream.requests) == 2
    # A client error is the answer: no retry, no fallback.
    fake_upstream.on("/v1/chat/completions", lambda request, raw: error(400, "bad"))
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hello"}])
    assert len(fake_upstream.requests) == 3


def test_weighted_deployments(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> None:
    fake_upstream.on("/v1/chat/completions", chat)
    config = make_config(
        {"up": {"type": "openai", "api_base": fake_upstream.url + "/v1"}},
        {"pool": [{"provider": "up", "model": "heavy", "weight": 9},
                  {"provider": "up", "model": "light", "weight": 1}]},
    )
    client = openai.OpenAI(base_url=serve_gateway(config), api_key=DEV_KEY, max_retries=0)
    for _ in range(100):
        client.chat.completions.create(model="pool", messages=[{"role": "user", "content": "x"}])
    models = [r.json()["model"] for r in fake_upstream.requests]
    # 9:1 weights: 90 expected, sd 3; both bounds are over 5 sd away (and P(no light) is 3e-5).
    assert 74 <= models.count("heavy") <= 99 and models.count("light") >= 1


# --- streaming behaviour ------------------------------------------------------------------


def test_stream_is_not_buffered(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    pace = Pacer(timeout=3)  # a word not let go in 3 s goes anyway: a buffering gateway fails below, not hangs
    pace.allow(0)
    fake_upstream.on("/v1/chat/completions", lambda request, raw: chat(request, raw, pace=pace))
    client = gateway()
    stream = client.chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "a b c d e"}], stream=True)
    received = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            received += 1
            # Each word reaches the client while the upstream still holds the next one.
            assert pace.sent == received
            pace.allow(received)
    assert received == 6


def test_upstream_error_mid_stream(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/chat/completions", lambda request, raw: chat(request, raw, fail_after=2))
    stream = gateway().chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "a b c d"}], stream=True)
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk)
    assert "overloaded" in str(caught.value.message)
    assert len(received) >= 2


def test_stream_error_before_first_chunk_keeps_status(gateway: Callable[..., openai.OpenAI],
                                                      fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/chat/completions", lambda request, raw: error(429, "slow down"))
    with pytest.raises(openai.RateLimitError):
        gateway(num_retries=0).chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": "x"}], stream=True)


def test_keepalive_while_first_token_is_slow(gateway: Callable[..., openai.OpenAI],
                                             fake_upstream: FakeUpstream) -> None:
    first_token = Gate()  # opened once the client has seen three keep-alives

    async def slow_start(request: Request, raw: bytes) -> Response:
        await first_token.wait(timeout=10)
        return chat(request, raw)

    fake_upstream.on("/v1/chat/completions", slow_start)
    client = gateway(stream_keepalive=0.05)
    lines: list[str] = []
    with httpx.stream("POST", str(client.base_url) + "chat/completions", timeout=20,
                      headers={"authorization": f"Bearer {DEV_KEY}"},
                      json={"model": "gpt", "stream": True, "messages": [{"role": "user", "content": "x"}]}) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line:
                lines.append(line)
            if lines.count(": keep-alive") == 3:
                first_token.open()
    assert lines[:3] == [": keep-alive"] * 3  # all before the upstream's first byte
    assert any(line.startswith("data: {") for line in lines) and lines[-1] == "data: [DONE]"


def ending_late(wait: Callable[[], Any]) -> Callable[[Request, bytes], Response]:
    """``chat``, with a stream's body ended only once ``wait()`` returns: after ``[DONE]``, the
    chunked body's last chunk often comes in a later packet."""

    def handler(request: Request, raw: bytes) -> Response:
        response = chat(request, raw)
        if isinstance(response, StreamingResponse):
            events = response.body_iterator

            async def then_end() -> AsyncIterator[Any]:
                async for event in events:
                    yield event
                await wait()

            response.body_iterator = then_end()
        return response

    return handler


def test_streams_give_their_upstream_connection_back(gateway: Callable[..., openai.OpenAI],
                                                    fake_upstream: FakeUpstream,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader stops at ``[DONE]``, before the body ends; the gateway still reads the end, so the
    connection goes back to the pool and the next request does not open another (on a real
    provider: a TLS handshake). The wait is made long here, so the test does not race the fake."""
    monkeypatch.setattr(upstream_http, "DRAIN_LIMITS", (30.0, 64 * 1024))
    fake_upstream.on("/v1/chat/completions", ending_late(lambda: asyncio.sleep(0.02)))
    client = gateway()
    for _ in range(4):
        stream = client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "Hi there"}],
                                                stream=True)
        assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "Hi there"}])
    assert len(fake_upstream.requests) == 5
    assert len({request.peer for request in fake_upstream.requests}) == 1


def test_a_body_left_open_after_done_ends_the_stream_anyway(gateway: Callable[..., openai.OpenAI],
                                                            fake_upstream: FakeUpstream) -> None:
    """An upstream that sends ``[DONE]`` and never ends its body: the client's stream still ends
    (after the short wait for the body's end) and that connection is closed, not pooled."""
    closed = threading.Event()
    never = Gate()

    async def hold_open() -> None:
        try:
            await never.wait()
        except (asyncio.CancelledError, GeneratorExit):
            closed.set()
            raise

    fake_upstream.on("/v1/chat/completions", ending_late(hold_open))
    client = gateway()
    for _ in range(2):
        stream = client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "Hi there"}],
                                                stream=True)
        assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == "echo: Hi there"
    assert closed.wait(30), "the connection of a body left open was not closed"
    assert len({request.peer for request in fake_upstream.requests}) == 2


def test_a_body_that_goes_on_after_done_is_read_only_up_to_the_bound(gateway: Callable[..., openai.OpenAI],
                                                                   fake_upstream: FakeUpstream,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An upstream that keeps writing after ``[DONE]``: the wait for the body's end reads at most
    ``DRAIN_LIMITS``' bytes (the time bound made long here, so only the byte bound can end it),
    then the connection is closed, and the client's stream has ended with nothing of the rest."""
    monkeypatch.setattr(upstream_http, "DRAIN_LIMITS", (30.0, 64 * 1024))
    closed = threading.Event()
    written = [0]

    def flooding(request: Request, raw: bytes) -> Response:
        response = chat(request, raw)
        assert isinstance(response, StreamingResponse)
        events = response.body_iterator

        async def then_more() -> AsyncIterator[Any]:
            async for event in events:
                yield event
            try:
                while True:
                    written[0] += 4096
                    yield b": " + b"x" * 4093 + b"\n"  # SSE comments, never ending
                    await asyncio.sleep(0)
            except (asyncio.CancelledError, GeneratorExit):
                closed.set()
                raise

        response.body_iterator = then_more()
        return response

    fake_upstream.on("/v1/chat/completions", flooding)
    client = gateway()
    with client.chat.completions.with_streaming_response.create(
        model="gpt", messages=[{"role": "user", "content": "Hi there"}], stream=True
    ) as response:
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]" and not any(line.startswith(": x") for line in lines)
    assert closed.wait(30), "the connection of an endless body was not closed"
    # Past the bound the gateway stops reading: what the upstream wrote then is what the sockets'
    # buffers hold (a few MB on loopback); a wait without the byte bound reads for the whole 30 s (GBs).
    assert 64 * 1024 < written[0] < 64 * 1024 * 1024


def test_client_disconnect_cancels_upstream(gateway: Callable[..., openai.OpenAI],
                                            fake_upstream: FakeUpstream) -> None:
    finished = threading.Event()
    cancelled = threading.Event()
    next_token = Gate()  # never opened: a slow model, the client leaves while the upstream waits

    def endless(request: Request, raw: bytes) -> Response:
        async def events() -> AsyncIterator[bytes]:
            try:
                chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                         "choices": [{"index": 0, "delta": {"content": "0 "}, "finish_reason": None}]}
                yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
                await next_token.wait()
                finished.set()
            except (asyncio.CancelledError, GeneratorExit):
                cancelled.set()
                raise

        return StreamingResponse(events(), media_type="text/event-stream")

    fake_upstream.on("/v1/chat/completions", endless)
    client = gateway()
    with client.chat.completions.with_streaming_response.create(
        model="gpt", messages=[{"role": "user", "content": "x"}], stream=True
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                break
    assert cancelled.wait(30), "the upstream request was not cancelled after the client left"
    assert not finished.is_set()


def test_drop_params_header_and_refusal(serve_gateway: Callable[..., str]) -> None:
    models = {"m": {"provider": "mock", "model": "m"}}
    lenient = openai.OpenAI(base_url=serve_gateway(make_config({"mock": {}}, models)), api_key=DEV_KEY,
                            max_retries=0)
    response = lenient.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "x"}], logprobs=True, extra_body={"top_k": 3})
    assert response.headers["x-lambdagate-dropped-params"] == "logprobs,top_k"
    strict = openai.OpenAI(base_url=serve_gateway(make_config({"mock": {}}, models, drop_params=False)),
                           api_key=DEV_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        strict.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], logprobs=True)
    assert _error_body(caught.value)["param"] == "logprobs"


def test_no_secret_url_or_prompt_in_logs(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream,
                                         caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    prompt = "my-private-prompt-text"
    client = gateway(num_retries=1, retry_backoff=0)
    client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": prompt}])
    list(client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": prompt}], stream=True))
    fake_upstream.on("/v1/chat/completions",
                     lambda request, raw: error(500, f"failed at {fake_upstream.url}/x using {UPSTREAM_KEY}"))
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": prompt}])
    with pytest.raises(openai.AuthenticationError):
        client.with_options(api_key="sk-guessed-key").models.list()
    logged = caplog.text
    assert '"status":200' in logged and '"status":502' in logged  # the request records were captured
    port = fake_upstream.url.rsplit(":", 1)[1]
    for leaked in (UPSTREAM_KEY, DEV_KEY, "sk-guessed-key", prompt, fake_upstream.url, f":{port}"):
        assert leaked not in logged, leaked


def test_a_stream_is_read_as_utf8_whatever_charset_its_header_names(
        gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    """SSE is UTF-8 by definition: a ``charset=iso-8859-1`` label does not turn "café 東京" into mojibake."""
    text = "café 東京 ✓"

    def labelled(request: Request, raw: bytes) -> Response:
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                 "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}]}
        body = b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\ndata: [DONE]\n\n"
        return Response(body, headers={"content-type": "text/event-stream; charset=iso-8859-1"})

    fake_upstream.on("/v1/chat/completions", labelled)
    stream = gateway().chat.completions.create(model="gpt", messages=[{"role": "user", "content": "x"}], stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == text
