"""The ``anthropic`` provider: the official openai SDK -> lambdagate -> a loopback Anthropic Messages fake.

The fake answers with recorded-shape bodies and SSE streams from tests/fixtures/anthropic/ (written
from the Claude API reference); the tests assert the exact upstream request and the OpenAI-shaped
result, validated against the official OpenAI schemas.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from conftest import DEV_KEY, FakeUpstream, Recorded, make_config
from lambdagate import upstream_http
from lambdagate.config.schema import ProviderConfig
from lambdagate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from lambdagate.providers import http
from lambdagate.providers.anthropic import request as anthropic_request
from lambdagate.providers.anthropic.adapter import AnthropicProvider
from lambdagate.providers.anthropic.params import VERSIONS, api_version
from lambdagate.providers.anthropic.response import is_error_event as response_is_error_event
from lambdagate.providers.anthropic.response import parse_error
from lambdagate.providers.base import CallContext, Target
from lambdagate.types import ChatCompletionRequest
from openai_schema import assert_valid

FIXTURES = Path(__file__).parent / "fixtures" / "anthropic"
UPSTREAM_KEY = "sk-ant-api03-upstream-secret-42"
MODEL = "claude-sonnet-4-5"
DROPPED = "x-lambdagate-dropped-params"

Reply = Callable[[], Response]


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def fixture_json(name: str) -> Any:
    return json.loads(fixture_text(name))


def reply_json(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return lambda: Response(fixture_text(name), status_code=status, media_type="application/json",
                            headers=headers)


def reply_sse(name: str) -> Reply:
    return lambda: Response(fixture_text(name), media_type="text/event-stream")


def reply_sse_events(name: str) -> Reply:
    """The fixture as a chunked stream, one write per event, its end a little later in a write of its own."""

    async def events() -> Any:
        for block in fixture_text(name).split("\n\n"):
            if block.strip():
                yield (block + "\n\n").encode()
        await asyncio.sleep(0.02)

    return lambda: StreamingResponse(events(), media_type="text/event-stream")


class Upstream:
    """The fake's /v1/messages: answers with the given replies in turn (the last one repeats)."""

    def __init__(self, fake: FakeUpstream) -> None:
        self.fake = fake
        self.replies: list[Reply] = []
        fake.on("/v1/messages", self._answer)

    def answer(self, *replies: Reply) -> None:
        self.replies = list(replies)

    def _answer(self, request: Request, body: bytes) -> Response:
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return reply()

    @property
    def requests(self) -> list[Recorded]:
        return [r for r in self.fake.requests if r.path == "/v1/messages"]

    @property
    def last(self) -> Recorded:
        return self.requests[-1]


class Gateway:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.client = openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20)

    def raw_stream(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Every SSE data payload of a streamed request, as sent by the gateway (``[DONE]`` checked)."""
        with httpx.Client(timeout=20) as http:
            response = http.post(self.base_url + "/chat/completions", json={**body, "stream": True},
                                 headers={"authorization": f"Bearer {DEV_KEY}"})
        assert response.status_code == 200, response.text
        data = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
        assert data[-1] == "[DONE]"
        return [json.loads(item) for item in data[:-1]]


@pytest.fixture
def upstream(fake_upstream: FakeUpstream) -> Upstream:
    return Upstream(fake_upstream)


@pytest.fixture
def gateway(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> Callable[..., Gateway]:
    """A gateway whose ``claude`` alias reaches the fake as ``claude-sonnet-4-5``; kwargs are provider options."""

    def start(settings: dict[str, Any] | None = None, **options: Any) -> Gateway:
        providers = {"anthropic": {"api_base": fake_upstream.url, "api_key": UPSTREAM_KEY, **options}}
        models = {"claude": {"provider": "anthropic", "model": MODEL}}
        return Gateway(serve_gateway(make_config(providers, models, **{"num_retries": 0, **(settings or {})})))

    return start


WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"},
                       "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location"]},
    },
}


# --- chat, JSON ---------------------------------------------------------------------------------


def test_system_and_multi_turn_request_and_response(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("message_text.json"))
    response = gateway().client.chat.completions.with_raw_response.create(model="claude", messages=[
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": "Answer in English."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Tell me a joke."},
        {"role": "user", "content": [{"type": "text", "text": "About cats."}]},
    ])
    sent = upstream.last
    assert sent.method == "POST" and sent.path == "/v1/messages"
    assert sent.headers["anthropic-version"] == "2026-10-21"
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert "x-api-key" not in sent.headers
    assert sent.headers["content-type"] == "application/json"
    assert sent.json() == fixture_json("request_multiturn.json")

    body = json.loads(response.text)
    assert_valid(body, "CreateChatCompletionResponse")
    assert DROPPED not in response.headers
    choice = body["choices"][0]
    assert choice["message"]["content"] == "Hello! How can I help?"
    assert choice["finish_reason"] == "stop"
    assert body["id"] == "chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL"
    assert body["model"] == "claude-sonnet-4-5-20250929"
    # OpenAI's prompt_tokens count every input token, cached or not.
    assert body["usage"]["prompt_tokens"] == 12 + 100 + 2000
    assert body["usage"]["completion_tokens"] == 7
    assert body["usage"]["total_tokens"] == 2112 + 7
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 2000, "cache_creation_tokens": 100}


def test_images_as_base64_and_url_sources(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("message_text.json"))
    gateway().client.chat.completions.create(model="claude", messages=[{"role": "user", "content": [
        {"type": "text", "text": "Compare these."},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjQ=", "filename": "a.pdf"}},
    ]}])
    assert upstream.last.json()["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "Compare these."},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="},
         "title": "a.pdf"},
    ]}]


def test_unusable_image_is_a_400_without_upstream_call(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("message_text.json"))
    with pytest.raises(openai.BadRequestError) as caught:
        gateway().client.chat.completions.create(model="claude", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}]}])
    assert "image/tiff" in caught.value.message
    assert upstream.requests == []


def test_tool_calls_round_trip(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("message_tool_use.json"), reply_json("message_text.json"))
    client = gateway().client
    question = {"role": "user", "content": "What's the weather in Paris and Tokyo?"}
    raw = client.chat.completions.with_raw_response.create(
        model="claude", messages=[question], tools=[WEATHER_TOOL], tool_choice="required", parallel_tool_calls=False,
    )
    first = upstream.last.json()
    assert first["tools"] == fixture_json("request_tool_results.json")["tools"]
    assert first["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}

    body = json.loads(raw.text)
    assert_valid(body, "CreateChatCompletionResponse")
    completion = raw.parse()
    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "tool_calls"
    assert message.content == "I'll check both cities."
    assert message.tool_calls is not None
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [
        ("toolu_01A09q90qw90lq917835lq9", "get_weather", {"location": "Paris", "unit": "celsius"}),
        ("toolu_01B18r81rx81mr826724mr8", "get_weather", {"location": "Tokyo", "unit": "celsius"}),
    ]

    # The SDK sends the calls back with one tool message per result: they become one user turn.
    results = ["18 degrees, sunny", "22 degrees, rain"]
    second = client.chat.completions.create(model="claude", tools=[WEATHER_TOOL], tool_choice="auto", messages=[
        question,
        {"role": "assistant", "content": message.content,
         "tool_calls": [call.model_dump(exclude_none=True) for call in message.tool_calls]},
        *[{"role": "tool", "tool_call_id": call.id, "content": result}
          for call, result in zip(message.tool_calls, results, strict=True)],
    ])
    assert upstream.last.json() == fixture_json("request_tool_results.json")
    assert second.choices[0].message.content == "Hello! How can I help?"


@pytest.mark.parametrize(("tool_choice", "expected"), [
    ({"type": "function", "function": {"name": "get_weather"}}, {"type": "tool", "name": "get_weather"}),
    ("none", {"type": "none"}),
    ("auto", {"type": "auto"}),
])
def test_tool_choice_forms(gateway: Callable[..., Gateway], upstream: Upstream, tool_choice: Any,
                           expected: dict[str, Any]) -> None:
    upstream.answer(reply_json("message_text.json"))
    gateway().client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}],
                                             tools=[WEATHER_TOOL], tool_choice=tool_choice)
    assert upstream.last.json()["tool_choice"] == expected


def test_json_schema_uses_native_structured_output(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("message_structured.json"))
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["city", "population"], "additionalProperties": False}
    completion = gateway().client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "Largest city in France?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema, "strict": True}},
    )
    sent = upstream.last.json()
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "tools" not in sent and "tool_choice" not in sent
    assert json.loads(completion.choices[0].message.content or "") == {"city": "Paris", "population": 2102650}


def test_json_schema_through_forced_tool(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("message_json_tool.json"))
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    raw = gateway(json_schema_mode="tool").client.chat.completions.with_raw_response.create(
        model="claude", messages=[{"role": "user", "content": "Largest city in France?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
    )
    sent = upstream.last.json()
    assert sent["tools"] == [{"name": "json_response", "description": "Answer with a JSON object.",
                              "input_schema": schema}]
    assert sent["tool_choice"] == {"type": "tool", "name": "json_response"}
    assert "output_config" not in sent
    body = json.loads(raw.text)
    assert_valid(body, "CreateChatCompletionResponse")
    message = body["choices"][0]["message"]
    assert json.loads(message["content"]) == {"city": "Paris", "population": 2102650}
    assert "tool_calls" not in message
    assert body["choices"][0]["finish_reason"] == "stop"


def test_json_object_streamed_through_forced_tool(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_sse("stream_json_tool.sse"))
    chunks = gateway().raw_stream({"model": "claude", "messages": [{"role": "user", "content": "JSON please"}],
                                   "response_format": {"type": "json_object"}})
    assert upstream.last.json()["tools"][0]["input_schema"] == {"type": "object"}
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert json.loads(text) == {"city": "Paris"}
    assert not any(c["choices"][0]["delta"].get("tool_calls") for c in chunks if c["choices"])
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_stop_user_and_token_limits(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("message_stop_sequence.json"), reply_json("message_max_tokens.json"))
    client = gateway(default_max_tokens=1000).client
    first = client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "Count"}],
                                           stop=["three", "four"], user="user-7")
    sent = upstream.last.json()
    assert sent["stop_sequences"] == ["three", "four"]
    assert sent["metadata"] == {"user_id": "user-7"}
    assert sent["max_tokens"] == 1000  # the provider's default_max_tokens, as the client sent none
    assert first.choices[0].finish_reason == "stop"

    second = client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "Story"}],
                                            stop="END", max_tokens=50, max_completion_tokens=3)
    sent = upstream.last.json()
    assert sent["stop_sequences"] == ["END"]
    assert sent["max_tokens"] == 3  # max_completion_tokens supersedes max_tokens
    assert second.choices[0].finish_reason == "length"


def test_refusal_is_content_filter(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("message_refusal.json"))
    completion = gateway().client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "x"}])
    assert completion.choices[0].finish_reason == "content_filter"


# --- API versions -------------------------------------------------------------------------------


def test_current_version_drops_sampling_parameters(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("message_text.json"))
    raw = gateway().client.chat.completions.with_raw_response.create(
        model="claude", messages=[{"role": "user", "content": "hi"}], temperature=1.0, top_p=1.0, seed=3,
        extra_body={"top_k": 5},
    )
    assert raw.headers[DROPPED].split(",") == ["temperature", "top_p", "seed", "top_k"]
    sent = upstream.last.json()
    assert not {"temperature", "top_p", "top_k", "seed"} & set(sent)
    assert_valid(json.loads(raw.text), "CreateChatCompletionResponse")


def test_current_version_refuses_sampling_without_drop_params(gateway: Callable[..., Gateway],
                                                              upstream: Upstream) -> None:
    upstream.answer(reply_json("message_text.json"))
    client = gateway(settings={"drop_params": False}).client
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}], temperature=0.5)
    assert caught.value.status_code == 400
    body = caught.value.response.json()
    assert_valid(body, "ErrorResponse")
    assert body["error"]["param"] == "temperature"
    assert body["error"]["code"] == "unsupported_parameter"
    assert upstream.requests == []


def test_version_2023_06_01_takes_sampling_and_x_api_key(gateway: Callable[..., Gateway],
                                                          upstream: Upstream) -> None:
    upstream.answer(reply_json("message_text.json"))
    raw = gateway(api_version="2023-06-01").client.chat.completions.with_raw_response.create(
        model="claude", messages=[{"role": "user", "content": "hi"}], temperature=1.5, top_p=0.9,
        extra_body={"top_k": 40},
    )
    sent = upstream.last
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["x-api-key"] == UPSTREAM_KEY
    assert "authorization" not in sent.headers
    body = sent.json()
    assert (body["temperature"], body["top_p"], body["top_k"]) == (1.0, 0.9, 40)  # clamped to Anthropic's 0..1
    assert DROPPED not in raw.headers


def test_document_in_assistant_message_depends_on_version(gateway: Callable[..., Gateway],
                                                          upstream: Upstream) -> None:
    upstream.answer(reply_json("message_text.json"))
    pdf = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjQ="}}
    conversation = [
        {"role": "user", "content": "Write me a report."},
        {"role": "assistant", "content": [{"type": "text", "text": "Here it is."}, pdf]},
        {"role": "user", "content": "Summarise it."},
    ]
    raw = gateway().client.chat.completions.with_raw_response.create(model="claude", messages=conversation)  # type: ignore[arg-type]
    assert raw.headers[DROPPED] == "messages.assistant.content.file"
    assert upstream.last.json()["messages"][1] == {"role": "assistant", "content": "Here it is."}

    gateway(api_version="2023-06-01").client.chat.completions.create(model="claude", messages=conversation)  # type: ignore[arg-type]
    assert upstream.last.json()["messages"][1]["content"][1]["type"] == "document"

    strict = gateway(settings={"drop_params": False}).client
    with pytest.raises(openai.BadRequestError):
        strict.chat.completions.create(model="claude", messages=conversation)  # type: ignore[arg-type]


def test_version_table_rules() -> None:
    assert {"temperature", "top_p", "top_k"} <= set(VERSIONS["2023-06-01"].params)
    assert not {"temperature", "top_p", "top_k"} & set(VERSIONS["2026-10-21"].params)
    # An unknown version gets the rules of the newest known one before it, and keeps its name.
    later = api_version("2027-03-01")
    assert later.name == "2027-03-01" and later.params == VERSIONS["2026-10-21"].params
    assert api_version("2024-01-01").params == VERSIONS["2023-06-01"].params
    assert api_version(None).name == "2026-10-21"


# --- reasoning ----------------------------------------------------------------------------------


def test_reasoning_effort_and_thinking_content(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("message_thinking.json"))
    raw = gateway().client.chat.completions.with_raw_response.create(
        model="claude", messages=[{"role": "user", "content": "Why is 2a+2b even?"}], reasoning_effort="high")
    sent = upstream.last.json()
    assert sent["thinking"] == {"type": "adaptive"}
    assert sent["output_config"] == {"effort": "high"}
    body = json.loads(raw.text)
    assert_valid(body, "CreateChatCompletionResponse")
    message = body["choices"][0]["message"]
    assert message["reasoning_content"] == "Two even numbers are 2a and 2b; their sum is 2(a+b)."
    assert message["content"] == "Because 2a + 2b = 2(a + b), which is even."


def test_reasoning_effort_as_thinking_budget(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("message_thinking.json"))
    client = gateway(thinking_mode="budget").client
    client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "q"}],
                                   reasoning_effort="medium", max_completion_tokens=20000)
    assert upstream.last.json()["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "q"}],
                                   reasoning_effort="high", max_completion_tokens=5000)
    assert upstream.last.json()["thinking"] == {"type": "enabled", "budget_tokens": 4999}


def test_streamed_thinking_is_reasoning_content(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_sse("stream_thinking.sse"))
    chunks = gateway().raw_stream({"model": "claude", "messages": [{"role": "user", "content": "q"}],
                                   "reasoning_effort": "low"})
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("reasoning_content") or "" for d in deltas) == "Let a = 2m, b = 2n. Then a + b = 2(m + n)."
    assert "".join(d.get("content") or "" for d in deltas) == "It is even."


# --- streaming ----------------------------------------------------------------------------------


def test_a_stream_gives_its_upstream_connection_back(gateway: Callable[..., Gateway], upstream: Upstream,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader stops at ``message_stop``, before the chunked body's last chunk; the connection
    still goes back to the pool, so each stream does not open another (a TLS handshake on the API)."""
    monkeypatch.setattr(upstream_http, "DRAIN_LIMITS", (30.0, 64 * 1024))  # no race with the fake's pause
    upstream.answer(reply_sse_events("stream_text.sse"))
    gw = gateway()
    for _ in range(4):
        stream = gw.client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}],
                                                   stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Hello, world"
    assert len(upstream.requests) == 4
    assert len({request.peer for request in upstream.requests}) == 1


def test_stream_text_with_usage(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_sse("stream_text.sse"))
    gw = gateway()
    chunks = gw.raw_stream({"model": "claude", "messages": [{"role": "user", "content": "hi"}],
                            "stream_options": {"include_usage": True}})
    sent = upstream.last
    assert sent.json()["stream"] is True
    assert sent.headers["accept"] == "text/event-stream"
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
        assert chunk["id"] == "chatcmpl-msg_01StreamText"
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "Hello, world"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 325
    assert chunks[-1]["usage"]["completion_tokens"] == 15
    assert chunks[-1]["usage"]["prompt_tokens_details"]["cached_tokens"] == 300

    # The same through the SDK, without the usage chunk.
    upstream.answer(reply_sse("stream_text.sse"))
    stream = gw.client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}],
                                               stream=True)
    parsed = list(stream)
    assert all(chunk.usage is None for chunk in parsed)
    assert "".join(c.choices[0].delta.content or "" for c in parsed if c.choices) == "Hello, world"


def test_stream_tool_call_deltas(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_sse("stream_tool_use.sse"))
    client = gateway().client
    stream = client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "weather?"}],
                                            tools=[WEATHER_TOOL], stream=True)
    calls: dict[int, dict[str, str]] = {}
    text, finish = "", None
    for chunk in stream:
        assert_valid(chunk.to_dict(), "CreateChatCompletionStreamResponse")
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] += call.id or ""
                entry["name"] += (call.function.name if call.function else None) or ""
                entry["arguments"] += (call.function.arguments if call.function else None) or ""
    assert text == "Checking."
    assert finish == "tool_calls"
    assert calls == {
        0: {"id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "arguments": '{"location": "Paris"}'},
        1: {"id": "toolu_02U2y2gK45rBnl3uOUsO8Vq7", "name": "get_time", "arguments": '{"zone": "Europe/Paris"}'},
    }


def test_error_event_mid_stream(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_sse("stream_error.sse"))
    stream = gateway().client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}],
                                                      stream=True)
    received = ""
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received += "".join(choice.delta.content or "" for choice in chunk.choices)
    assert received == "Partial"
    assert "Overloaded" in caught.value.message


def test_overloaded_error_event_mid_stream_keeps_its_type(gateway: Callable[..., Gateway],
                                                          upstream: Upstream) -> None:
    """After the first chunk the stream cannot be retried: the SDK raises with Anthropic's error type."""
    upstream.answer(reply_sse("stream_error.sse"))
    stream = gateway(settings={"num_retries": 2}).client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "hi"}], stream=True)
    received = ""
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received += "".join(choice.delta.content or "" for choice in chunk.choices)
    assert received == "Partial"
    assert (caught.value.type, caught.value.code) == ("overloaded_error", "overloaded_error")
    assert "Overloaded" in caught.value.message
    assert len(upstream.requests) == 1


def test_overloaded_error_event_before_any_chunk_is_retried(gateway: Callable[..., Gateway],
                                                            upstream: Upstream) -> None:
    """An error event that comes first is the 529 it names: retryable, so the next attempt answers."""
    upstream.answer(reply_sse("stream_overloaded_first.sse"), reply_sse("stream_text.sse"))
    stream = gateway(settings={"num_retries": 1}).client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Hello, world"
    assert len(upstream.requests) == 2

    upstream.answer(reply_sse("stream_overloaded_first.sse"))
    with pytest.raises(openai.InternalServerError) as caught:
        list(gateway().client.chat.completions.create(
            model="claude", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert caught.value.status_code == 503
    assert_valid(caught.value.response.json(), "ErrorResponse")
    assert caught.value.type == "overloaded_error"


def test_stream_error_event_maps_by_type() -> None:
    """An error event carries only its type: the parser gives the type's status, as the reader maps it."""
    target = _target()
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert response_is_error_event("error", overloaded)
    caught = http.event_failure(overloaded, target, parse_error)
    assert isinstance(caught, UpstreamError)
    assert (caught.status, caught.type, caught.retryable) == (503, "overloaded_error", True)
    limited = http.event_failure({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
                                 target, parse_error)
    assert limited.status == 429


def test_stream_that_ends_early_is_an_error(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    truncated = fixture_text("stream_text.sse").split("event: message_delta")[0]
    upstream.answer(lambda: Response(truncated, media_type="text/event-stream"))
    stream = gateway().client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}],
                                                      stream=True)
    with pytest.raises(openai.APIError):
        list(stream)


# --- text completions through chat --------------------------------------------------------------


def test_completions_through_messages(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("message_text.json"))
    raw = gateway().client.completions.with_raw_response.create(
        model="claude", prompt=["First prompt", "Second prompt"], n=2, max_tokens=30, stop=["\n"], echo=True,
    )
    body = json.loads(raw.text)
    assert_valid(body, "CreateCompletionResponse")
    # One upstream call per prompt and choice (Anthropic has no n), each a single user turn.
    bodies = [r.json() for r in upstream.requests]
    assert len(bodies) == 4
    assert sorted(b["messages"][0]["content"] for b in bodies) == ["First prompt"] * 2 + ["Second prompt"] * 2
    for sent in bodies:
        assert len(sent["messages"]) == 1
        assert sent["max_tokens"] == 30 and sent["stop_sequences"] == ["\n"]
        assert "stream" not in sent
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    assert body["choices"][0]["text"] == "First promptHello! How can I help?"
    assert body["choices"][3]["text"] == "Second promptHello! How can I help?"
    assert body["usage"]["prompt_tokens"] == 4 * 2112
    assert body["usage"]["completion_tokens"] == 4 * 7


def test_completions_streamed_through_messages(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_sse("stream_text.sse"))
    stream = gateway().client.completions.create(model="claude", prompt="Say hello", stream=True,
                                                 stream_options={"include_usage": True})
    chunks = list(stream)
    # OpenAI publishes no schema for completion chunks; the one that finishes is a full response shape.
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finishing) == 1
    assert_valid(finishing[0].to_dict(), "CreateCompletionResponse")
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Hello, world"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 325
    assert upstream.last.json()["stream"] is True


# --- errors -------------------------------------------------------------------------------------


def test_rate_limit_keeps_429_and_retry_after(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("error_429.json", 429, {"retry-after": "7"}))
    with pytest.raises(openai.RateLimitError) as caught:
        gateway().client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    error = caught.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "7"
    body = error.response.json()
    assert_valid(body, "ErrorResponse")
    assert "exceed your organization's rate limit" in body["error"]["message"]
    assert "https://" not in body["error"]["message"]  # upstream URLs are scrubbed
    assert body["error"]["code"] == "rate_limit_error"


def test_overloaded_529_is_503(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("error_529.json", 529))
    with pytest.raises(openai.InternalServerError) as caught:
        gateway().client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 503
    body = caught.value.response.json()
    assert_valid(body, "ErrorResponse")
    assert body["error"]["type"] == "overloaded_error"
    assert "Overloaded" in body["error"]["message"]


def test_overloaded_before_stream_is_503(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("error_529.json", 529))
    with pytest.raises(openai.InternalServerError) as caught:
        list(gateway().client.chat.completions.create(
            model="claude", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert caught.value.status_code == 503


def test_upstream_auth_failure_is_not_the_clients(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("error_401.json", 401))
    with pytest.raises(openai.APIStatusError) as caught:
        gateway().client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    body = caught.value.response.json()
    assert_valid(body, "ErrorResponse")
    assert body["error"]["code"] == "upstream_authentication_failed"
    assert "invalid x-api-key" in body["error"]["message"]
    assert UPSTREAM_KEY not in caught.value.response.text


CONTEXT_MESSAGES = [
    "prompt is too long: 215432 tokens > 200000 maximum",
    "input length and `max_tokens` exceed context limit: 198981 + 21333 > 200000, decrease input length or "
    "max_tokens and try again",
]


@pytest.mark.parametrize("message", CONTEXT_MESSAGES)
@pytest.mark.parametrize("stream", [False, True])
def test_prompt_too_long_is_context_length_exceeded(gateway: Callable[..., Gateway], upstream: Upstream,
                                                    message: str, stream: bool) -> None:
    """OpenAI's code for a prompt over the context window, so clients and fallbacks can rely on it."""
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    upstream.answer(lambda: Response(json.dumps(body), status_code=400, media_type="application/json"))
    client = gateway(settings={"num_retries": 2}).client
    with pytest.raises(openai.BadRequestError) as caught:
        result = client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "long"}],
                                                stream=stream)
        if stream:
            list(result)  # type: ignore[arg-type]
    error = caught.value
    assert (error.status_code, error.code, error.type) == (400, "context_length_exceeded", "invalid_request_error")
    assert message.split(":")[0] in error.message
    assert_valid(error.response.json(), "ErrorResponse")
    assert len(upstream.requests) == 1  # the client's fault: not retried


def test_prompt_too_long_fixture(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("error_prompt_too_long.json", 400))
    with pytest.raises(openai.BadRequestError) as caught:
        gateway().client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "long"}])
    assert caught.value.code == "context_length_exceeded"
    assert "215432 tokens > 200000 maximum" in caught.value.message


def test_other_invalid_requests_keep_their_type_as_code() -> None:
    info = parse_error({"type": "error", "error": {"type": "invalid_request_error",
                                                   "message": "max_tokens: 300000 > 64000, which is the maximum"}})
    assert (info.code, info.status) == ("invalid_request_error", 400)
    assert parse_error({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}).status == 529
    assert parse_error("<html>") == http.ErrorInfo(None)


def test_invalid_request_keeps_provider_message(gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    upstream.answer(reply_json("error_400.json", 400))
    with pytest.raises(openai.BadRequestError) as caught:
        gateway().client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    assert "Extra inputs are not permitted" in caught.value.message


# --- focused units ------------------------------------------------------------------------------


def _target(**options: Any) -> Target:
    config = ProviderConfig.model_validate({"type": "anthropic", "api_key": "k-123456", **options})
    return Target(alias="claude", provider_name="anthropic", provider_type="anthropic", config=config,
                  model=MODEL, options=config.options, timeout=30)


def _request(**fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "claude", **fields})


def test_url_accepts_a_base_with_or_without_v1() -> None:
    provider = AnthropicProvider()
    assert provider.url(_target()) == "https://api.anthropic.com/v1/messages"
    assert provider.url(_target(api_base="https://proxy.internal/anthropic/v1/")) == \
        "https://proxy.internal/anthropic/v1/messages"


def test_parallel_tool_calls_alone_and_tool_choice_without_tools() -> None:
    provider = AnthropicProvider()
    ctx = CallContext("r1")
    user = [{"role": "user", "content": "hi"}]
    body = provider.prepare(_request(messages=user, tools=[WEATHER_TOOL], parallel_tool_calls=False),
                            _target(), ctx, stream=False).body
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    body = provider.prepare(_request(messages=user).model_copy(update={"tool_choice": "auto"}), _target(), ctx,
                            stream=False).body
    assert "tool_choice" not in body and "tools" not in body


def test_tool_results_lead_a_merged_user_turn() -> None:
    request = _request(messages=[
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "user", "content": "also this"},
        {"role": "tool", "tool_call_id": "t1", "content": [{"type": "text", "text": "done"}]},
    ])
    system, turns = anthropic_request.convert(request.messages, VERSIONS["2026-10-21"], CallContext("r"))
    assert system is None
    assert turns[1] == {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]}
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "done"}]},
        {"type": "text", "text": "also this"},
    ]


def test_unsupported_parameter_error_names_the_parameter() -> None:
    with pytest.raises(UnsupportedParameter) as caught:
        AnthropicProvider().prepare(_request(messages=[{"role": "user", "content": "x"}], top_p=0.5), _target(),
                                    CallContext("r", drop_params=False), stream=False)
    assert caught.value.param == "top_p"


def test_bad_tool_arguments_are_a_400() -> None:
    request = _request(messages=[
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]},
    ])
    with pytest.raises(InvalidRequest) as caught:
        anthropic_request.convert(request.messages, VERSIONS["2026-10-21"], CallContext("r"))
    assert caught.value.status == 400 and caught.value.param == "messages"


@pytest.mark.parametrize(("effort", "level"), [("minimal", "low"), ("medium", "medium"), ("xhigh", "xhigh"),
                                               ("max", "max")])
def test_reasoning_effort_levels(effort: str, level: str) -> None:
    body = AnthropicProvider().prepare(_request(messages=[{"role": "user", "content": "q"}], reasoning_effort=effort),
                                       _target(), CallContext("r"), stream=False).body
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": level}


def test_reasoning_effort_none_and_invalid() -> None:
    provider = AnthropicProvider()
    body = provider.prepare(_request(messages=[{"role": "user", "content": "q"}], reasoning_effort="none"),
                            _target(), CallContext("r"), stream=False).body
    assert "thinking" not in body and "output_config" not in body
    with pytest.raises(InvalidRequest) as caught:
        provider.prepare(_request(messages=[{"role": "user", "content": "q"}], reasoning_effort="extreme"),
                         _target(), CallContext("r"), stream=False)
    assert caught.value.param == "reasoning_effort"


def test_function_without_parameters_gets_an_object_schema() -> None:
    tool = {"type": "function", "function": {"name": "ping", "strict": True}}
    body = AnthropicProvider().prepare(_request(messages=[{"role": "user", "content": "q"}], tools=[tool]),
                                       _target(), CallContext("r"), stream=False).body
    assert body["tools"] == [{"name": "ping", "input_schema": {"type": "object", "properties": {}}, "strict": True}]
