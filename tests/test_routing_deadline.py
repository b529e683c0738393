"""One deadline per request (issue 8, "Deadlines and routing").

The deadline is the least of the request's ``timeout``, ``request_timeout``, the Lambda's remaining
time minus ``deadline_margin`` (Mangum's context object; the Web Adapter's ``x-amzn-lambda-context``
header) and, behind API Gateway, its integration timeout minus the margin. Nothing runs past it, and
the client gets the gateway's OpenAI-shaped 504. Through the real Mangum handler with the events/
files and a fake Lambda context, and on the app behind the adapter's middleware.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from conftest import DEV_KEY, FakeUpstream, ServerThread, make_config
from fake_openai import error
from lambdagate import lambda_runtime
from lambdagate.api import create_app
from lambdagate.config.file_store import FileConfigStore
from lambdagate.config.schema import Settings
from lambdagate.observability import powertools
from lambdagate.router.deadline import (
    API_GATEWAY,
    CLIENT_TIMEOUT,
    FUNCTION_TIMEOUT_ENV,
    LAMBDA_TIME,
    REQUEST_TIMEOUT,
    request_deadline,
)
from openai_schema import assert_valid

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
EVENT_KEY = "sk-lambdagate-dev"
MESSAGES = [{"role": "user", "content": "x"}]


def load_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


@dataclass
class FakeContext:
    """A Lambda context whose remaining time the test chooses."""

    remaining_ms: int
    aws_request_id: str = "req-deadline"
    function_name: str = "lambdagate-test"
    function_version: str = "1"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:lambdagate-test:live"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


# --- where the deadline comes from -------------------------------------------------------------


def scope(**entries: Any) -> dict[str, Any]:
    return {"type": "http", "headers": [], **entries}


def test_deadline_is_the_least_of_its_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FUNCTION_TIMEOUT_ENV, raising=False)
    settings = Settings(request_timeout=600, deadline_margin=1.5, api_gateway_timeout=29)
    plain = request_deadline(scope(), settings, None)
    assert (plain.source, plain.budget) == (REQUEST_TIMEOUT, pytest.approx(600, abs=0.1))
    assert request_deadline(scope(), settings, 12).source == CLIENT_TIMEOUT

    mangum = request_deadline(scope(**{"aws.context": FakeContext(10_000)}), settings, None)
    assert (mangum.source, mangum.budget) == (LAMBDA_TIME, pytest.approx(8.5, abs=0.1))
    assert request_deadline(scope(**{"aws.context": FakeContext(10_000)}), settings, 3).source == CLIENT_TIMEOUT

    # Mangum behind API Gateway: its integration timeout caps a longer function timeout.
    rest = scope(**{"aws.context": FakeContext(900_000), "aws.event": load_event("chat-rest.json")})
    http_api = scope(**{"aws.context": FakeContext(900_000), "aws.event": load_event("chat-http.json")})
    url = scope(**{"aws.context": FakeContext(900_000), "aws.event": load_event("chat-url.json")})
    for gateway_scope in (rest, http_api):
        capped = request_deadline(gateway_scope, settings, None)
        assert (capped.source, capped.budget) == (API_GATEWAY, pytest.approx(27.5, abs=0.1))
    uncapped = request_deadline(url, settings, None)  # a function URL has no such limit
    assert (uncapped.source, uncapped.budget) == (REQUEST_TIMEOUT, pytest.approx(600, abs=0.1))
    assert request_deadline(url, settings.model_copy(update={"request_timeout": 1000}), None).budget == \
        pytest.approx(898.5, abs=0.1)


def test_api_gateway_clock_starts_when_it_received_the_request() -> None:
    """A cold start's init runs on API Gateway's clock: the event's timeEpoch counts, when plausible."""
    settings = Settings(deadline_margin=1.5, api_gateway_timeout=29)
    event = load_event("chat-http.json")
    event["requestContext"]["timeEpoch"] = int((time.time() - 4) * 1000)  # received 4 s ago
    fresh = request_deadline(scope(**{"aws.context": FakeContext(900_000), "aws.event": event}), settings, None)
    assert (fresh.source, fresh.budget) == (API_GATEWAY, pytest.approx(23.5, abs=0.2))
    # A recorded event's stale time (the events/ files are from 2026-11-23) is not believed.
    stale = request_deadline(scope(**{"aws.context": FakeContext(900_000), "aws.event": load_event("chat-http.json")}),
                             settings, None)
    assert stale.budget == pytest.approx(27.5, abs=0.1)


def test_deadline_behind_the_web_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FUNCTION_TIMEOUT_ENV, raising=False)
    settings = Settings(deadline_margin=1.5, request_timeout=1000)
    context = json.dumps({"request_id": "r1", "deadline": int((time.time() + 10) * 1000),
                          "invoked_function_arn": "arn:aws:lambda:us-east-1:1:function:f", "env_config": {}})
    adapter = scope(**{"aws.context": SimpleNamespace(aws_request_id="r1")},
                    headers=[(b"x-amzn-lambda-context", context.encode())])
    found = request_deadline(adapter, settings, None)
    assert (found.source, found.budget) == (LAMBDA_TIME, pytest.approx(8.5, abs=0.2))
    # The header is only believed on requests the adapter's middleware marked (scope["aws.context"]).
    assert request_deadline(scope(headers=adapter["headers"]), settings, None).source == REQUEST_TIMEOUT
    # Without a deadline in it, the function timeout from the environment (if the deployment sets it).
    no_deadline = scope(**{"aws.context": SimpleNamespace(aws_request_id="r1")})
    assert request_deadline(no_deadline, settings, None).source == REQUEST_TIMEOUT
    monkeypatch.setenv(FUNCTION_TIMEOUT_ENV, "900")
    fallback = request_deadline(no_deadline, settings, None)
    assert (fallback.source, fallback.budget) == (LAMBDA_TIME, pytest.approx(898.5, abs=0.1))


# --- through the real Mangum handler ------------------------------------------------------------


@pytest.fixture
def mangum_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """``lambda_runtime.api_handler(["chat"])`` over a config of mock models (``latency`` seconds)."""
    for name in (powertools.SERVICE_ENV, powertools.NAMESPACE_ENV, "POWERTOOLS_LOG_LEVEL", FUNCTION_TIMEOUT_ENV):
        monkeypatch.delenv(name, raising=False)
    powertools.reset()

    def build(latency: float, **settings: Any) -> Any:
        config = make_config({"mock": {}}, {"mock-gpt": {"provider": "mock", "model": "mock-gpt", "latency": latency}},
                             **settings).model_dump(mode="json", exclude_none=True)
        config["keys"] = [{"name": "local-dev", "sha256": hashlib.sha256(EVENT_KEY.encode()).hexdigest()}]
        path = tmp_path / f"gateway-{latency}.json"
        path.write_text(json.dumps(config))
        monkeypatch.setenv("LAMBDAGATE_CONFIG", str(path))
        return lambda_runtime.api_handler(["chat"])

    yield build
    powertools.reset()
    lambda_runtime._apps.clear()


def headers_of(result: dict[str, Any]) -> dict[str, str]:
    merged = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        merged[key.lower()] = values[-1]
    return merged


def assert_gateway_504(result: dict[str, Any], source: str) -> dict[str, Any]:
    assert result["statusCode"] == 504, result["body"]
    body = json.loads(result["body"])
    assert_valid(body, "ErrorResponse")
    assert (body["error"]["type"], body["error"]["code"]) == ("timeout_error", "deadline_exceeded")
    assert source in body["error"]["message"]
    return body


@pytest.mark.parametrize("event_file", ["chat-http.json", "chat-rest.json", "chat-url.json", "chat-stream-http.json",
                                        "chat-stream-url.json"])
def test_mangum_answers_the_gateway_504_before_the_lambda_ends(mangum_handler: Callable[..., Any],
                                                                event_file: str) -> None:
    handler = mangum_handler(latency=5, deadline_margin=1.5)
    result = handler(load_event(event_file), FakeContext(remaining_ms=2_500))  # 1 s of deadline
    assert_gateway_504(result, LAMBDA_TIME)
    headers = headers_of(result)
    assert headers["x-request-id"] == "req-deadline" and headers["x-lambdagate-attempts"] == "1"


def test_mangum_streams_within_the_deadline(mangum_handler: Callable[..., Any]) -> None:
    handler = mangum_handler(latency=0, deadline_margin=1.5)
    result = handler(load_event("chat-stream-http.json"), FakeContext(remaining_ms=10_000))
    assert result["statusCode"] == 200, result["body"]
    assert result["body"].endswith("data: [DONE]\n\n") and '"error"' not in result["body"]
    assert headers_of(result)["x-lambdagate-provider"] == "mock"


def test_mangum_with_no_time_left_makes_no_attempt(mangum_handler: Callable[..., Any]) -> None:
    handler = mangum_handler(latency=0, deadline_margin=1.5)
    result = handler(load_event("chat-http.json"), FakeContext(remaining_ms=1_000))  # less than the margin
    assert_gateway_504(result, LAMBDA_TIME)
    assert "x-lambdagate-attempts" not in headers_of(result)


def test_api_gateway_cap_applies_to_api_gateway_events_only(mangum_handler: Callable[..., Any]) -> None:
    # api_gateway_timeout lowered so the test does not wait 29 s: the cap is 2.5 - 1.5 = 1 s.
    handler = mangum_handler(latency=1.5, deadline_margin=1.5, api_gateway_timeout=2.5)
    for event_file in ("chat-http.json", "chat-rest.json"):
        assert_gateway_504(handler(load_event(event_file), FakeContext(remaining_ms=900_000)), API_GATEWAY)
    # The function URL (15 min, no API Gateway in front) is not capped: the slow answer arrives.
    result = handler(load_event("chat-url.json"), FakeContext(remaining_ms=900_000))
    assert result["statusCode"] == 200, result["body"]
    assert json.loads(result["body"])["choices"][0]["message"]["content"].startswith("You said:")


# --- on the app, behind the Web Adapter's middleware ------------------------------------------------


@pytest.fixture
def adapter_gateway(fake_upstream: FakeUpstream) -> Iterator[Callable[..., tuple[str, list[float]]]]:
    """The app as the streaming function serves it (``LambdaContext`` middleware) on loopback."""
    servers: list[ServerThread] = []

    def run(**settings: Any) -> tuple[str, list[float]]:
        providers = {"up": {"type": "openai", "api_base": fake_upstream.url + "/v1"},
                     "up2": {"type": "openai", "api_base": fake_upstream.url + "/v2"}, "mock": {}}
        models = {"gpt": {"provider": "up", "model": "upstream-model"},
                  "second": {"provider": "up2", "model": "second-model"},
                  "backup": {"provider": "mock", "model": "mock-backup"}}
        app = create_app(FileConfigStore(make_config(providers, models, **settings)))
        waits: list[float] = []

        async def record(seconds: float) -> None:
            waits.append(seconds)

        app.state.gateway.router.sleep = record
        server = ServerThread(lambda_runtime.LambdaContext(app)).__enter__()
        servers.append(server)
        return server.url + "/v1", waits

    yield run
    for server in servers:
        server.__exit__()


def lambda_context_header(seconds_left: float) -> dict[str, str]:
    return {"x-amzn-lambda-context": json.dumps({
        "request_id": "lwa-req-1", "deadline": int((time.time() + seconds_left) * 1000),
        "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:stream", "xray_trace_id": None,
        "client_context": None, "identity": None, "env_config": {"function_name": "stream", "memory": 256}})}


def test_no_retry_or_fallback_runs_past_the_lambda_deadline(
    adapter_gateway: Callable[..., tuple[str, list[float]]], fake_upstream: FakeUpstream,
) -> None:
    async def hang(request: Request, raw: bytes) -> Response:
        await asyncio.sleep(3)
        return error(503, "too late")

    fake_upstream.on("/v1/chat/completions", hang)
    fake_upstream.on("/v2/chat/completions", hang)
    base_url, waits = adapter_gateway(num_retries=5, fallbacks={"gpt": ["second"]}, deadline_margin=1.5)
    client = openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20,
                           default_headers=lambda_context_header(2.5))  # 1 s of deadline
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="gpt", messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.status_code == 504
    body = caught.value.response.json()
    assert body["error"]["code"] == "deadline_exceeded" and LAMBDA_TIME in body["error"]["message"]
    assert caught.value.response.headers["x-request-id"] == "lwa-req-1"
    # One attempt, cut at the deadline: no backoff, no retry, no fallback after it.
    assert [r.path for r in fake_upstream.requests] == ["/v1/chat/completions"] and waits == []


def test_a_backoff_that_would_outlive_the_deadline_goes_to_the_fallback_at_once(
    adapter_gateway: Callable[..., tuple[str, list[float]]], fake_upstream: FakeUpstream,
) -> None:
    limited = error(429, "slow down", type="rate_limit_error", headers={"retry-after": "8"})
    fake_upstream.on("/v1/chat/completions", lambda request, raw: limited)
    base_url, waits = adapter_gateway(num_retries=3, fallbacks={"gpt": ["backup"]})
    client = openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20)
    response = client.chat.completions.with_raw_response.create(
        model="gpt", messages=MESSAGES, extra_body={"timeout": 5})  # type: ignore[arg-type]
    assert response.parse().model == "mock-backup"
    assert waits == [] and len(fake_upstream.requests) == 1  # 8 s of Retry-After do not fit in 5
    assert response.headers["x-lambdagate-fallback"] == "backup"
    # Without a fallback, the client gets the 429 itself, Retry-After included.
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="up/any", messages=MESSAGES, extra_body={"timeout": 5})  # type: ignore[arg-type]
    assert caught.value.response.headers["retry-after"] == "8" and waits == []


def test_a_stream_ends_at_the_deadline_with_an_error_event(
    adapter_gateway: Callable[..., tuple[str, list[float]]], fake_upstream: FakeUpstream,
) -> None:
    def endless(request: Request, raw: bytes) -> Response:
        async def events() -> AsyncIterator[bytes]:
            for i in range(100):  # a chunk every 0.1 s for 10 s: never idle, never done
                chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                         "choices": [{"index": 0, "delta": {"content": f"{i} "}, "finish_reason": None}]}
                yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
                await asyncio.sleep(0.1)

        return StreamingResponse(events(), media_type="text/event-stream")

    fake_upstream.on("/v1/chat/completions", endless)
    base_url, _ = adapter_gateway()
    with httpx.stream("POST", base_url + "/chat/completions", timeout=20,
                      headers={"authorization": f"Bearer {DEV_KEY}", **lambda_context_header(2.5)},
                      json={"model": "gpt", "stream": True, "messages": MESSAGES}) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    failure = json.loads(lines[-2][len("data: "):])["error"]
    assert (failure["type"], failure["code"]) == ("timeout_error", "deadline_exceeded")
    assert LAMBDA_TIME in failure["message"]
    chunks = [json.loads(line[len("data: "):]) for line in lines[:-2]]
    assert chunks and all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
