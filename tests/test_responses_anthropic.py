"""``POST /v1/responses`` translated for Anthropic: the official openai SDK -> lambdagate -> a loopback Messages fake.

The fake answers with the recorded-shape bodies and streams of tests/fixtures/anthropic/ (the chat
tests' fixtures); the tests assert the Messages request the gateway sent and the Responses answer,
every response and event validated against the official schemas.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response

import request_schema
from conftest import DEV_KEY, FakeUpstream, Recorded, make_config
from openai_schema import assert_valid
from responses_support import assert_events, final_response, output_text, parse_sse, post_stream

FIXTURES = Path(__file__).parent / "fixtures" / "anthropic"
UPSTREAM_KEY = "sk-ant-api03-upstream-secret-42"
DROPPED = "x-lambdagate-dropped-params"
WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather for a city.", "strict": False,
           "parameters": {"type": "object", "properties": {"location": {"type": "string"},
                          "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location"]}}


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


class Messages:
    """The fake's /v1/messages: answers with the given fixtures in turn (the last one repeats)."""

    def __init__(self, fake: FakeUpstream) -> None:
        self.fake = fake
        self.replies: list[tuple[str, int]] = []
        fake.on("/v1/messages", self._answer)

    def answer(self, *names: str, status: int = 200) -> None:
        self.replies = [(name, status) for name in names]

    def _answer(self, request: Request, body: bytes) -> Response:
        name, status = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        media = "text/event-stream" if name.endswith(".sse") else "application/json"
        headers = {"retry-after": "7"} if status == 429 else None
        return Response(fixture(name), status_code=status, media_type=media, headers=headers)

    @property
    def last(self) -> Recorded:
        return [r for r in self.fake.requests if r.path == "/v1/messages"][-1]


@pytest.fixture
def upstream(fake_upstream: FakeUpstream) -> Messages:
    return Messages(fake_upstream)


@pytest.fixture
def start(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> Callable[..., str]:
    """A gateway whose ``claude`` alias reaches the fake as ``claude-sonnet-4-5``; returns its base URL."""

    def run(**settings: Any) -> str:
        providers = {"anthropic": {"api_base": fake_upstream.url, "api_key": UPSTREAM_KEY}}
        models = {"claude": {"provider": "anthropic", "model": "claude-sonnet-4-5"}}
        return serve_gateway(make_config(providers, models, **{"num_retries": 0, **settings}))

    return run


@pytest.fixture
def base_url(start: Callable[..., str]) -> str:
    return start()


@pytest.fixture
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20)


def test_string_input_and_usage(client: openai.OpenAI, upstream: Messages) -> None:
    upstream.answer("message_text.json")
    raw = client.responses.with_raw_response.create(model="claude", input="Hi", instructions="You are terse.")
    sent = upstream.last.json()
    assert sent["system"] == "You are terse."
    assert sent["messages"] == [{"role": "user", "content": "Hi"}]
    assert sent["model"] == "claude-sonnet-4-5" and sent["max_tokens"] == 4096
    body = json.loads(raw.text)
    assert_valid(body, "Response")
    response = raw.parse()
    assert response.output_text == "Hello! How can I help?"
    assert response.model == "claude-sonnet-4-5-20250929"
    assert body["usage"] == {"input_tokens": 12 + 100 + 2000, "output_tokens": 7, "total_tokens": 2119,
                             "input_tokens_details": {"cached_tokens": 2000, "cache_write_tokens": 100},
                             "output_tokens_details": {"reasoning_tokens": 0}}
    assert raw.headers["x-lambdagate-provider"] == "anthropic"


def test_function_call_output_round_trip(client: openai.OpenAI, upstream: Messages) -> None:
    upstream.answer("message_tool_use.json", "message_text.json")
    question = {"role": "user", "content": "What's the weather in Paris and Tokyo?"}
    first = client.responses.create(model="claude", input=[question], tools=[WEATHER],  # type: ignore[list-item]
                                    tool_choice="required", parallel_tool_calls=False)
    assert upstream.last.json()["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert_valid(first.model_dump(mode="json", exclude_unset=True), "Response")
    assert [item.type for item in first.output] == ["message", "function_call", "function_call"]
    calls = [item for item in first.output if item.type == "function_call"]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("toolu_01A09q90qw90lq917835lq9", "get_weather", {"location": "Paris", "unit": "celsius"}),
        ("toolu_01B18r81rx81mr826724mr8", "get_weather", {"location": "Tokyo", "unit": "celsius"}),
    ]

    # The client sends the output back with one function_call_output per call: the chat tests' exact request.
    results = ["18 degrees, sunny", "22 degrees, rain"]
    second_input: list[Any] = [question, *first.output, *[
        {"type": "function_call_output", "call_id": call.call_id, "output": result}
        for call, result in zip(calls, results, strict=True)]]
    request = {"model": "claude", "input": [item if isinstance(item, dict) else item.model_dump(exclude_none=True)
                                            for item in second_input], "tools": [WEATHER], "tool_choice": "auto"}
    assert request_schema.is_valid(request, "CreateResponse")
    second = client.responses.create(**request)
    assert upstream.last.json() == json.loads(fixture("request_tool_results.json"))
    assert second.output_text == "Hello! How can I help?"


def test_stream_text(client: openai.OpenAI, upstream: Messages, base_url: str) -> None:
    upstream.answer("stream_text.sse")
    raw = post_stream(base_url, {"model": "claude", "input": "Hi"})
    assert raw.status_code == 200, raw.text
    datas = assert_events(parse_sse(raw.text))
    assert output_text(datas) == "Hello, world"
    final = final_response(datas)
    assert final["output"][0]["content"][0]["text"] == "Hello, world"
    assert final["usage"]["input_tokens"] == 325 and final["usage"]["input_tokens_details"]["cached_tokens"] == 300
    assert final["usage"]["output_tokens"] == 15
    assert upstream.last.json()["stream"] is True

    with client.responses.stream(model="claude", input="Hi") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        assert text == stream.get_final_response().output_text == "Hello, world"


def test_stream_parallel_tool_calls(client: openai.OpenAI, upstream: Messages, base_url: str) -> None:
    upstream.answer("stream_tool_use.sse")
    time_tool = {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}
    datas = assert_events(parse_sse(post_stream(base_url, {"model": "claude", "input": "Weather and time?",
                                                           "tools": [WEATHER, time_tool]}).text))
    final = final_response(datas)
    assert [item["type"] for item in final["output"]] == ["message", "function_call", "function_call"]
    assert [(i["call_id"], i["name"], json.loads(i["arguments"])) for i in final["output"][1:]] == [
        ("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", {"location": "Paris"}),
        ("toolu_02U2y2gK45rBnl3uOUsO8Vq7", "get_time", {"zone": "Europe/Paris"}),
    ]
    done = [d for d in datas if d["type"] == "response.function_call_arguments.done"]
    assert [d["name"] for d in done] == ["get_weather", "get_time"]
    deltas = "".join(d["delta"] for d in datas if d["type"] == "response.function_call_arguments.delta"
                     and d["output_index"] == 1)
    assert json.loads(deltas) == {"location": "Paris"}

    with client.responses.stream(model="claude", input="Weather and time?",
                                 tools=[WEATHER, time_tool]) as stream:  # type: ignore[list-item]
        response = stream.get_final_response()
    assert [item.type for item in response.output] == ["message", "function_call", "function_call"]


def test_text_format_json_schema(client: openai.OpenAI, upstream: Messages) -> None:
    upstream.answer("message_structured.json")
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["city", "population"], "additionalProperties": False}
    raw = client.responses.with_raw_response.create(
        model="claude", input="Largest city in France?",
        text={"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}})
    assert upstream.last.json()["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert_valid(json.loads(raw.text), "Response")
    assert json.loads(raw.parse().output_text) == {"city": "Paris", "population": 2102650}


def test_reasoning(client: openai.OpenAI, upstream: Messages, base_url: str) -> None:
    upstream.answer("message_thinking.json")
    raw = client.responses.with_raw_response.create(model="claude", input="Why is 2a+2b even?",
                                                    reasoning={"effort": "high", "summary": "auto"})
    sent = upstream.last.json()
    assert sent["thinking"] == {"type": "adaptive"} and sent["output_config"] == {"effort": "high"}
    body = json.loads(raw.text)
    assert_valid(body, "Response")
    assert [item["type"] for item in body["output"]] == ["reasoning", "message"]
    assert body["output"][0]["summary"] == [
        {"type": "summary_text", "text": "Two even numbers are 2a and 2b; their sum is 2(a+b)."}]
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}

    upstream.answer("stream_thinking.sse")
    datas = assert_events(parse_sse(post_stream(base_url, {"model": "claude", "input": "Why?",
                                                           "reasoning": {"effort": "low"}}).text))
    kinds = [d["type"] for d in datas]
    assert kinds.index("response.reasoning_summary_text.delta") < kinds.index("response.output_text.delta")
    summary = "".join(d["delta"] for d in datas if d["type"] == "response.reasoning_summary_text.delta")
    assert summary == "Let a = 2m, b = 2n. Then a + b = 2(m + n)."
    final = final_response(datas)
    assert final["output"][0]["summary"][0]["text"] == summary
    assert final["output"][1]["content"][0]["text"] == "It is even."


def test_max_output_tokens_is_incomplete(client: openai.OpenAI, upstream: Messages) -> None:
    upstream.answer("message_max_tokens.json")
    response = client.responses.create(model="claude", input="Tell a story", max_output_tokens=16)
    assert upstream.last.json()["max_tokens"] == 16
    assert response.status == "incomplete" and response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert_valid(response.model_dump(mode="json", exclude_unset=True), "Response")


def test_unsupported_parameters_are_dropped_and_named_as_sent(client: openai.OpenAI, upstream: Messages,
                                                              start: Callable[..., str]) -> None:
    upstream.answer("message_text.json")
    raw = client.responses.with_raw_response.create(model="claude", input="Hi", temperature=0.3, top_logprobs=2,
                                                    truncation="auto")
    # Anthropic's current API version refuses temperature; logprobs have no counterpart there.
    assert raw.headers[DROPPED].split(",") == ["truncation", "temperature", "top_logprobs"]
    assert "temperature" not in upstream.last.json()

    strict = openai.OpenAI(base_url=start(drop_params=False), api_key=DEV_KEY, max_retries=0)
    for fields, param in (({"top_logprobs": 2}, "top_logprobs"), ({"max_tool_calls": 3}, "max_tool_calls"),
                          ({"text": {"verbosity": "low"}}, "text.verbosity")):
        with pytest.raises(openai.BadRequestError) as caught:
            strict.responses.create(model="claude", input="Hi", **fields)
        assert isinstance(caught.value.body, dict) and caught.value.body["param"] == param
        assert caught.value.code == "unsupported_parameter"


def test_upstream_errors_keep_their_class(client: openai.OpenAI, upstream: Messages) -> None:
    upstream.answer("error_429.json", status=429)
    with pytest.raises(openai.RateLimitError) as limited:
        client.responses.create(model="claude", input="Hi")
    assert limited.value.response.headers["retry-after"] == "7"
    upstream.answer("error_529.json", status=529)
    with pytest.raises(openai.InternalServerError) as overloaded:
        client.responses.create(model="claude", input="Hi")
    assert overloaded.value.status_code == 503
    upstream.answer("error_prompt_too_long.json", status=400)
    with pytest.raises(openai.BadRequestError) as too_long:
        client.responses.create(model="claude", input="Hi")
    assert too_long.value.code == "context_length_exceeded"
    assert UPSTREAM_KEY not in str(too_long.value.body)


def test_failure_mid_stream_ends_with_error_and_failed(client: openai.OpenAI, upstream: Messages,
                                                       base_url: str) -> None:
    upstream.answer("stream_error.sse")
    raw = post_stream(base_url, {"model": "claude", "input": "Hi"})
    assert raw.status_code == 200
    datas = assert_events(parse_sse(raw.text), terminal="response.failed")
    assert output_text(datas) == "Partial"
    error = next(d for d in datas if d["type"] == "error")
    assert error["code"] == "overloaded_error" and "Overloaded" in error["message"]
    failed = final_response(datas)
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    assert failed["output"][0]["status"] == "incomplete"
    assert failed["output"][0]["content"][0]["text"] == "Partial"

    events = list(client.responses.create(model="claude", input="Hi", stream=True))
    assert [e.type for e in events][-2:] == ["error", "response.failed"]
