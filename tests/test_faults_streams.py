"""What an upstream stream can do to a client, and what the client gets (issue 8, "What upstreams can do").

A loopback fake upstream misbehaves (comments only after the first chunk, a long pause, a late
429); the gateway runs on loopback and the official openai SDK (or raw httpx, to see SSE comments)
is the client. Tests gate the upstream on what the client has seen (threading events) and check
the order and content of what arrives, never how long it took.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from conftest import DEV_KEY, FakeUpstream, make_config
from fake_openai import chat, error
from lambdagate.api.responses import KEEPALIVE, StreamLimits, relay
from lambdagate.observability import RequestRecord

KEEPALIVE_LINE = ": keep-alive"
MESSAGES = [{"role": "user", "content": "x"}]


def sse_chunk(content: str) -> bytes:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "upstream-model",
             "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


async def wait_for(event: threading.Event, limit: float = 10.0) -> bool:
    """Wait (without blocking the fake's loop) until the test thread sets ``event``."""
    for _ in range(int(limit / 0.01)):
        if event.is_set():
            return True
        await asyncio.sleep(0.01)
    return False


@pytest.fixture
def start(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> Callable[..., str]:
    """A gateway whose `gpt` alias reaches the fake upstream; returns its base URL."""

    def run(models: dict[str, Any] | None = None, **settings: Any) -> str:
        providers = {"up": {"type": "openai", "api_base": fake_upstream.url + "/v1"}, "mock": {}}
        return serve_gateway(make_config(providers, {"gpt": {"provider": "up", "model": "upstream-model"},
                                                     **(models or {})}, **settings))

    return run


def raw_stream(base_url: str, **body: Any) -> Iterator[tuple[httpx.Response, Iterator[str]]]:
    with httpx.stream("POST", base_url + "/chat/completions", headers={"authorization": f"Bearer {DEV_KEY}"},
                      json={"model": "gpt", "stream": True, "messages": MESSAGES, **body}, timeout=20) as response:
        yield response, (line for line in response.iter_lines() if line)


def data_lines(lines: list[str]) -> list[Any]:
    return [line[len("data: "):] if line == "data: [DONE]" else json.loads(line[len("data: "):])
            for line in lines if line.startswith("data: ")]


# --- 1. comments only after the first chunk -----------------------------------------------------


def comments_after_first_chunk(request: Request, raw: bytes) -> Response:
    async def events() -> AsyncIterator[bytes]:
        yield sse_chunk("first")
        for _ in range(400):  # a comment every 50 ms for 20 s: the connection never goes quiet
            yield b": ping\n\n"
            await asyncio.sleep(0.05)

    return StreamingResponse(events(), media_type="text/event-stream")


def test_stream_of_comments_ends_at_the_idle_limit_with_an_error_event(
    start: Callable[..., str], fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.on("/v1/chat/completions", comments_after_first_chunk)
    base_url = start(stream_idle_timeout=0.5, stream_keepalive=0.1)
    for response, lines in raw_stream(base_url):
        assert response.status_code == 200
        received = list(lines)
    events = data_lines(received)
    assert events[0]["choices"][0]["delta"]["content"] == "first"
    assert events[1]["error"]["type"] == "timeout_error" and "0.5 seconds" in events[1]["error"]["message"]
    assert events[2:] == ["[DONE]"] and received[-1] == "data: [DONE]"
    # Between the chunk and the error the client kept hearing from the gateway.
    first, failure = received.index(next(line for line in received if line.startswith("data: "))), len(received) - 2
    assert KEEPALIVE_LINE in received[first + 1:failure]
    assert ": ping" not in received  # upstream comments are not relayed: they say nothing about the answer

    # The SDK raises (instead of hanging) after the first chunk.
    client = openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20)
    chunks = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(model="gpt", messages=MESSAGES, stream=True):  # type: ignore[arg-type]
            chunks.append(chunk)
    assert [c.choices[0].delta.content for c in chunks] == ["first"]
    assert caught.value.type == "timeout_error"


def test_idle_limit_defaults_to_the_attempt_timeout(start: Callable[..., str], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/chat/completions", comments_after_first_chunk)
    base_url = start(models={"slowpoke": {"provider": "up", "model": "upstream-model", "timeout": 0.5}})
    client = openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20)
    with pytest.raises(openai.APIError) as caught:
        for _ in client.chat.completions.create(model="slowpoke", messages=MESSAGES, stream=True):  # type: ignore[arg-type]
            pass
    assert caught.value.type == "timeout_error"


# --- keep-alives between chunks -----------------------------------------------------------------


def test_keepalives_flow_between_chunks(start: Callable[..., str], fake_upstream: FakeUpstream) -> None:
    seen_keepalive = threading.Event()

    def pausing(request: Request, raw: bytes) -> Response:
        async def events() -> AsyncIterator[bytes]:
            yield sse_chunk("before ")
            assert await wait_for(seen_keepalive)  # the pause lasts until the client heard a keep-alive
            yield sse_chunk("after")
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    fake_upstream.on("/v1/chat/completions", pausing)
    received = []
    for _, lines in raw_stream(start(stream_keepalive=0.1)):
        for line in lines:
            received.append(line)
            if line == KEEPALIVE_LINE and len(received) > 1:
                seen_keepalive.set()
    assert seen_keepalive.is_set()
    text = "".join(e["choices"][0]["delta"]["content"] for e in data_lines(received)[:-1])
    assert text == "before after" and received[-1] == "data: [DONE]"
    first_data = next(i for i, line in enumerate(received) if line.startswith("data: "))
    assert received[first_data + 1] == KEEPALIVE_LINE


# --- 2. the first keep-alive comes at stream_keepalive, not twice that --------------------------


def test_relay_writes_its_first_keepalive_at_once() -> None:
    """The gateway hands the relay a pending stream after waiting one keep-alive interval itself,
    so the relay must write a keep-alive immediately, not wait a second interval (an hour here)."""
    asyncio.run(_first_keepalive_at_once())


async def _first_keepalive_at_once() -> None:
    opening: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    record = RequestRecord(request_id="r", endpoint="chat")
    body = relay(opening, record, 0.0, StreamLimits(keepalive=3600))
    assert await asyncio.wait_for(anext(body), 5) == KEEPALIVE

    async def rest() -> AsyncIterator[Any]:
        yield {"choices": [], "n": 2}

    opening.set_result(({"choices": [], "n": 1}, rest()))
    assert [await asyncio.wait_for(anext(body), 5) for _ in range(3)] == [
        b'data: {"choices":[],"n":1}\n\n', b'data: {"choices":[],"n":2}\n\n', b"data: [DONE]\n\n"]
    await body.aclose()


def test_keepalive_comes_before_a_late_first_chunk(start: Callable[..., str], fake_upstream: FakeUpstream) -> None:
    seen_keepalive = threading.Event()

    async def late(request: Request, raw: bytes) -> Response:
        assert await wait_for(seen_keepalive)  # answers only once the client heard a keep-alive
        return chat(request, raw)

    fake_upstream.on("/v1/chat/completions", late)
    received = []
    for response, lines in raw_stream(start(stream_keepalive=0.2)):
        # The response started before the upstream answered: who answers is not known yet.
        assert "x-lambdagate-provider" not in response.headers
        for line in lines:
            received.append(line)
            if line == KEEPALIVE_LINE:
                seen_keepalive.set()
    assert received[0] == KEEPALIVE_LINE and received[-1] == "data: [DONE]"
    # ... so it is said in one SSE comment before the first chunk (SDKs ignore comments).
    first_data = next(i for i, line in enumerate(received) if line.startswith("data: "))
    assert received[first_data - 3:first_data] == [
        ": x-lambdagate-provider: up", ": x-lambdagate-model: upstream-model", ": x-lambdagate-attempts: 1"]


# --- 3. a streamed 429 -------------------------------------------------------------------------


def test_streamed_429_within_the_keepalive_window_keeps_its_status(
    start: Callable[..., str], fake_upstream: FakeUpstream,
) -> None:
    limited = error(429, "slow down", type="rate_limit_error", headers={"retry-after": "7"})
    fake_upstream.on("/v1/chat/completions", lambda request, raw: limited)
    client = openai.OpenAI(base_url=start(num_retries=0, stream_keepalive=5), api_key=DEV_KEY, max_retries=0)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    headers = caught.value.response.headers
    assert headers["retry-after"] == "7" and headers["retry-after-ms"] == "7000"
    assert headers["x-lambdagate-attempts"] == "1" and headers["x-lambdagate-provider"] == "up"


def test_streamed_429_after_the_keepalive_window_is_a_rate_limit_error_event(
    start: Callable[..., str], fake_upstream: FakeUpstream,
) -> None:
    seen_keepalive = threading.Event()

    async def late_429(request: Request, raw: bytes) -> Response:
        await wait_for(seen_keepalive, limit=1.0)  # the SDK hides comments: then it is simply 1 s late
        return error(429, "slow down", type="rate_limit_error", headers={"retry-after": "7"})

    fake_upstream.on("/v1/chat/completions", late_429)
    base_url = start(num_retries=0, stream_keepalive=0.1)
    received = []
    for response, lines in raw_stream(base_url):
        assert response.status_code == 200  # already sent when the 429 came
        for line in lines:
            received.append(line)
            seen_keepalive.set()
    assert received[0] == KEEPALIVE_LINE
    failure, done = data_lines(received)
    assert failure["error"]["type"] == "rate_limit_error" and "retry after 7 seconds" in failure["error"]["message"]
    assert done == "[DONE]"

    seen_keepalive.clear()
    client = openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20)
    with pytest.raises(openai.APIError) as caught:
        list(client.chat.completions.create(model="gpt", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    # The SDK raises APIError for any error event (openai/_streaming.py); the type says it is a rate limit.
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.type == "rate_limit_error" and "retry after 7 seconds" in caught.value.message
