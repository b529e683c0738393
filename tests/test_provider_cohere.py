"""The ``cohere`` provider: OpenAI chat <-> Cohere v2 chat, JSON and SSE.

A loopback fake answers ``/v2/chat`` with bodies and streams written from Cohere's v2 Chat
reference (fixtures/cohere); each test asserts the exact upstream request and the OpenAI-shaped
result, through the adapter and through the real app with the official SDK.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response

from conftest import DEV_KEY, FakeUpstream, make_config
from lambdagate.config.schema import GatewayConfig, ProviderConfig
from lambdagate.errors import InvalidRequest, UpstreamError, UpstreamTimeout
from lambdagate.providers.base import CallContext, Target
from lambdagate.providers.cohere import PROVIDER
from lambdagate.types import ChatCompletionRequest
from lambdagate.upstream_http import close_client
from openai_schema import assert_valid

FIXTURES = Path(__file__).parent / "fixtures" / "cohere"
API_KEY = "co-key-0123456789abcdef"
MODEL = "command-a-03-2025"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CLOCK_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}

Serve = Callable[[GatewayConfig], str]
T = TypeVar("T")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def json_handler(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()

    def handler(request: Request, raw: bytes) -> Response:
        return Response(content, status_code=status, media_type="application/json", headers=headers)

    return handler


def sse_handler(content: bytes) -> Any:
    def handler(request: Request, raw: bytes) -> Response:
        return Response(content, media_type="text/event-stream")

    return handler


def sse(*events: dict[str, Any]) -> bytes:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def target(api_base: str) -> Target:
    return Target(alias="command", provider_name="cohere", provider_type="cohere",
                  config=ProviderConfig(type="cohere", api_key=API_KEY, api_base=api_base),
                  model=MODEL, options={}, timeout=10.0)


def chat_request(**fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "command", **fields})


def upstream_body(request: ChatCompletionRequest, ctx: CallContext) -> Any:
    """The body the adapter would send, without sending it."""
    return PROVIDER.prepare(request, target("http://unused"), ctx, stream=False).body


def gateway(serve: Serve, fake: FakeUpstream, **settings: Any) -> openai.OpenAI:
    providers = {"cohere": {"api_key": API_KEY, "api_base": fake.url}}
    models = {"command": {"provider": "cohere", "model": MODEL}}
    base_url = serve(make_config(providers, models, **{"num_retries": 0, **settings}))
    return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=15)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one adapter call on a fresh loop, closing the shared upstream client it opened."""

    async def main() -> T:
        try:
            return await coroutine
        finally:
            await close_client()

    return asyncio.run(main())


async def collect(stream: AsyncIterator[Any]) -> list[dict[str, Any]]:
    return [chunk async for chunk in stream]


# --- the exact upstream request ------------------------------------------------------------------


def test_request_body_is_exact(fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v2/chat", json_handler(fixture("chat_text.json")))
    request = chat_request(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "What is in this picture?"},
                                         {"type": "image_url", "image_url": {"url": "https://example.com/a.png",
                                                                             "detail": "low"}}]},
            {"role": "assistant", "content": "Let me check.", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
            {"role": "assistant", "content": "It is 21C in Paris."},
            {"role": "user", "content": "Thanks. And now?"},
        ],
        tools=[WEATHER_TOOL], max_tokens=300, temperature=0.4, top_p=1.0, top_k=900, stop=["END", "STOP"],
        seed=42, frequency_penalty=-1.0, presence_penalty=0.3,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
    )
    run(PROVIDER.chat(request, target(fake_upstream.url), CallContext("r")))

    sent = fake_upstream.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v2/chat")
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.json() == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "What is in this picture?"},
                                         {"type": "image_url", "image_url": {"url": "https://example.com/a.png",
                                                                             "detail": "low"}}]},
            {"role": "assistant", "tool_plan": "Let me check.", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
            {"role": "assistant", "content": "It is 21C in Paris."},
            {"role": "user", "content": "Thanks. And now?"},
        ],
        "tools": [WEATHER_TOOL],
        "max_tokens": 300,
        "temperature": 0.4,
        "p": 0.99,
        "k": 500,
        "stop_sequences": ["END", "STOP"],
        "seed": 42,
        "frequency_penalty": 0.0,
        "presence_penalty": 0.3,
        "response_format": {"type": "json_object", "json_schema": {"type": "object"}},
        "stream": False,
    }


@pytest.mark.parametrize(("choice", "tools", "expected"), [
    ("required", ["get_weather", "get_time"], "REQUIRED"),
    ("none", ["get_weather", "get_time"], "NONE"),
    ("auto", ["get_weather", "get_time"], None),
    ({"type": "function", "function": {"name": "get_time"}}, ["get_time"], "REQUIRED"),
])
def test_tool_choice(choice: Any, tools: list[str], expected: str | None) -> None:
    request = chat_request(messages=[{"role": "user", "content": "hi"}], tools=[WEATHER_TOOL, CLOCK_TOOL],
                           tool_choice=choice)
    body = upstream_body(request, CallContext("r"))
    assert [t["function"]["name"] for t in body["tools"]] == tools
    assert body.get("tool_choice") == expected


def test_unsupported_and_invalid_requests() -> None:
    ctx = CallContext("r")
    request = chat_request(messages=[{"role": "user", "content": "hi"}], n=2, logit_bias={"1": 2}, user="u1",
                           parallel_tool_calls=True)
    upstream_body(request, ctx)
    assert sorted(ctx.dropped) == ["logit_bias", "n", "parallel_tool_calls", "user"]
    strict_off = CallContext("r", drop_params=False)
    with pytest.raises(InvalidRequest, match="'n'"):
        upstream_body(request, strict_off)
    audio = chat_request(messages=[{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}])
    with pytest.raises(InvalidRequest, match="input_audio"):
        upstream_body(audio, CallContext("r"))
    unknown_tool = chat_request(messages=[{"role": "user", "content": "hi"}], tools=[WEATHER_TOOL],
                                tool_choice={"type": "function", "function": {"name": "nope"}})
    with pytest.raises(InvalidRequest, match="nope"):
        upstream_body(unknown_tool, CallContext("r"))


# --- responses ----------------------------------------------------------------------------------------


def test_text_answer(fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v2/chat", json_handler(fixture("chat_text.json")))
    result = run(PROVIDER.chat(chat_request(messages=[{"role": "user", "content": "Capital?"}]),
                                       target(fake_upstream.url), CallContext("r")))
    assert_valid(result, "CreateChatCompletionResponse")
    assert result["model"] == MODEL
    assert result["choices"][0]["message"]["content"] == "Paris is the capital of France."
    assert result["choices"][0]["finish_reason"] == "stop"
    assert result["usage"] == {"prompt_tokens": 208, "completion_tokens": 8, "total_tokens": 216}


def test_tool_calls_answer(fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v2/chat", json_handler(fixture("chat_tool_calls.json")))
    result = run(PROVIDER.chat(chat_request(messages=[{"role": "user", "content": "Weather?"}],
                                                    tools=[WEATHER_TOOL]), target(fake_upstream.url), CallContext("r")))
    assert_valid(result, "CreateChatCompletionResponse")
    message = result["choices"][0]["message"]
    assert result["choices"][0]["finish_reason"] == "tool_calls"
    assert message["content"] is None
    assert message["reasoning_content"] == "I will look up the weather in Madrid and Lisbon."
    calls = [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message["tool_calls"]]
    assert calls == [
        ("get_weather_1byjy32y4hvq", "get_weather", {"city": "Madrid"}),
        ("get_weather_p0dage9q1nv4", "get_weather", {"city": "Lisbon"}),
    ]


@pytest.mark.parametrize(("reason", "finish"), [("STOP_SEQUENCE", "stop"), ("MAX_TOKENS", "length")])
def test_finish_reasons(fake_upstream: FakeUpstream, reason: str, finish: str) -> None:
    body = {**json.loads(fixture("chat_text.json")), "finish_reason": reason}
    fake_upstream.on("/v2/chat", json_handler(body))
    result = run(PROVIDER.chat(chat_request(messages=[{"role": "user", "content": "hi"}]),
                                       target(fake_upstream.url), CallContext("r")))
    assert result["choices"][0]["finish_reason"] == finish


def test_failed_generations_are_errors(fake_upstream: FakeUpstream) -> None:
    body = {**json.loads(fixture("chat_text.json")), "finish_reason": "ERROR"}
    fake_upstream.on("/v2/chat", json_handler(body))
    with pytest.raises(UpstreamError) as caught:
        run(PROVIDER.chat(chat_request(messages=[{"role": "user", "content": "hi"}]),
                                  target(fake_upstream.url), CallContext("r")))
    assert caught.value.status == 502
    fake_upstream.on("/v2/chat", json_handler({**body, "finish_reason": "TIMEOUT"}))
    with pytest.raises(UpstreamTimeout):
        run(PROVIDER.chat(chat_request(messages=[{"role": "user", "content": "hi"}]),
                                  target(fake_upstream.url), CallContext("r")))


ERRORS = json.loads(fixture("errors.json"))
EXPECTED_ERRORS = {
    "400": (400, "invalid_request_error", None),
    "401": (502, "api_error", "upstream_authentication_failed"),
    "404": (404, "invalid_request_error", None),
    "422": (400, "invalid_request_error", None),
    "429": (429, "rate_limit_error", None),
    "500": (502, "api_error", None),
    "503": (503, "api_error", None),
}


@pytest.mark.parametrize("status", sorted(EXPECTED_ERRORS))
def test_error_statuses_are_mapped(fake_upstream: FakeUpstream, status: str) -> None:
    fake_upstream.on("/v2/chat", json_handler(ERRORS[status], int(status), {"retry-after": "7"}))
    for stream in (False, True):
        request = chat_request(messages=[{"role": "user", "content": "hi"}], stream=stream)
        call = (collect(PROVIDER.chat_stream(request, target(fake_upstream.url), CallContext("r"))) if stream
                else PROVIDER.chat(request, target(fake_upstream.url), CallContext("r")))
        with pytest.raises(UpstreamError) as caught:
            run(call)  # type: ignore[arg-type]
        error = caught.value
        assert (error.status, error.type, error.code) == EXPECTED_ERRORS[status]
        assert ERRORS[status]["message"] in error.message
        assert API_KEY not in error.message and fake_upstream.url not in error.message
        assert_valid(error.body(), "ErrorResponse")
        if status == "429":
            assert error.headers["retry-after"] == "7"


# --- streaming -----------------------------------------------------------------------------------------


def test_stream_text(fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v2/chat", sse_handler(fixture("stream_text.sse")))
    request = chat_request(messages=[{"role": "user", "content": "Capital?"}], stream=True,
                           stream_options={"include_usage": True})
    chunks = run(collect(PROVIDER.chat_stream(request, target(fake_upstream.url), CallContext("r"))))
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    assert fake_upstream.requests[-1].json()["stream"] is True
    assert fake_upstream.requests[-1].headers["accept"] == "text/event-stream"
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == \
        "Paris is the capital of France."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == {"prompt_tokens": 208, "completion_tokens": 8, "total_tokens": 216}


def test_stream_tool_calls(fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v2/chat", sse_handler(fixture("stream_tool_calls.sse")))
    request = chat_request(messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER_TOOL], stream=True)
    chunks = run(collect(PROVIDER.chat_stream(request, target(fake_upstream.url), CallContext("r"))))
    calls: dict[int, dict[str, str]] = {}
    reasoning = ""
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
        delta = chunk["choices"][0]["delta"]
        reasoning += delta.get("reasoning_content") or ""
        for call in delta.get("tool_calls") or []:
            entry = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.get("id", "")
            entry["name"] += call["function"].get("name", "")
            entry["arguments"] += call["function"].get("arguments", "")
    assert reasoning == "I will check both cities."
    assert {i: (c["id"], c["name"], json.loads(c["arguments"])) for i, c in calls.items()} == {
        0: ("get_weather_nsz5zm3w56q3", "get_weather", {"city": "Madrid"}),
        1: ("get_weather_j3xdjpkj3v6m", "get_weather", {"city": "Lisbon"}),
    }
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_error_at_the_end_is_raised(fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v2/chat", sse_handler(sse(
        {"type": "message-start", "id": "x", "delta": {"message": {"role": "assistant"}}},
        {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Par"}}}},
        {"type": "message-end", "delta": {"finish_reason": "ERROR", "error": "model crashed"}},
    )))
    received: list[dict[str, Any]] = []

    async def consume() -> None:
        request = chat_request(messages=[{"role": "user", "content": "hi"}], stream=True)
        async for chunk in PROVIDER.chat_stream(request, target(fake_upstream.url), CallContext("r")):
            received.append(chunk)

    with pytest.raises(UpstreamError, match="model crashed"):
        run(consume())
    assert [c["choices"][0]["delta"].get("content") for c in received] == ["", "Par"]


# --- end to end with the official SDK ---------------------------------------------------------------


def test_sdk_chat_streamed_and_not_with_tools(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    def answer(request: Request, raw: bytes) -> Response:
        body = json.loads(raw)
        if body["stream"]:
            return Response(fixture("stream_tool_calls.sse" if body.get("tools") else "stream_text.sse"),
                            media_type="text/event-stream")
        return Response(fixture("chat_tool_calls.json" if body.get("tools") else "chat_text.json"),
                        media_type="application/json")

    fake_upstream.on("/v2/chat", answer)
    sdk = gateway(serve_gateway, fake_upstream)

    raw = sdk.chat.completions.with_raw_response.create(
        model="command", messages=[{"role": "user", "content": "Capital?"}], logit_bias={"12": 1})
    completion = raw.parse()
    assert_valid(completion.model_dump(exclude_unset=True), "CreateChatCompletionResponse")
    assert completion.choices[0].message.content == "Paris is the capital of France."
    assert raw.headers["x-lambdagate-dropped-params"] == "logit_bias"

    tools = sdk.chat.completions.create(model="command", messages=[{"role": "user", "content": "Weather?"}],
                                        tools=[WEATHER_TOOL], tool_choice="required")  # type: ignore[list-item]
    assert tools.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in tools.choices[0].message.tool_calls or []] == ["get_weather"] * 2  # type: ignore[union-attr]
    assert fake_upstream.requests[-1].json()["tool_choice"] == "REQUIRED"

    streamed = list(sdk.chat.completions.create(model="command", messages=[{"role": "user", "content": "Capital?"}],
                                                stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == \
        "Paris is the capital of France."
    assert streamed[-1].usage is not None and streamed[-1].usage.total_tokens == 216

    streamed_tools = list(sdk.chat.completions.create(
        model="command", messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER_TOOL],  # type: ignore[list-item]
        stream=True))
    arguments = "".join(call.function.arguments or "" for c in streamed_tools if c.choices
                        for call in c.choices[0].delta.tool_calls or [] if call.index == 1 and call.function)
    assert json.loads(arguments) == {"city": "Lisbon"}
    assert streamed_tools[-1].choices[0].finish_reason == "tool_calls"


def test_sdk_errors(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on("/v2/chat", json_handler(ERRORS["429"], 429))
    sdk = gateway(serve_gateway, fake_upstream)
    with pytest.raises(openai.RateLimitError) as limited:
        sdk.chat.completions.create(model="command", messages=[{"role": "user", "content": "hi"}])
    assert "Trial key" in limited.value.message
    fake_upstream.on("/v2/chat", json_handler(ERRORS["401"], 401))
    with pytest.raises(openai.InternalServerError) as denied:  # 502: the operator's key, not the client's
        sdk.chat.completions.create(model="command", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert denied.value.status_code == 502


def test_sdk_text_completions_through_chat(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    def answer(request: Request, raw: bytes) -> Response:
        if json.loads(raw)["stream"]:
            return Response(fixture("stream_text.sse"), media_type="text/event-stream")
        return Response(fixture("chat_text.json"), media_type="application/json")

    fake_upstream.on("/v2/chat", answer)
    sdk = gateway(serve_gateway, fake_upstream)

    completion = sdk.completions.create(model="command", prompt=["One?", "Two?"], n=2, max_tokens=16,
                                        stop="\n\n", temperature=0.2, seed=5)
    assert_valid(completion.model_dump(exclude_unset=True), "CreateCompletionResponse")
    assert [(c.index, c.text) for c in completion.choices] == [(i, "Paris is the capital of France.") for i in range(4)]
    assert completion.usage is not None and completion.usage.completion_tokens == 4 * 8
    bodies = [r.json() for r in fake_upstream.requests]
    assert sorted(b["messages"][0]["content"] for b in bodies) == ["One?", "One?", "Two?", "Two?"]
    assert all(len(b["messages"]) == 1 and b["messages"][0]["role"] == "user" for b in bodies)
    assert all({k: b[k] for k in ("max_tokens", "stop_sequences", "temperature", "seed")} ==
               {"max_tokens": 16, "stop_sequences": ["\n\n"], "temperature": 0.2, "seed": 5} for b in bodies)

    chunks = list(sdk.completions.create(model="command", prompt="Capital?", echo=True, stream=True,
                                         stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Capital?Paris is the capital of France."
    finished = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert_valid(finished[-1].model_dump(exclude_unset=True), "CreateCompletionResponse")
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 208


# --- prompt too long, broken answers ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["400_prompt_too_long", "400_prompt_over_limit"])
@pytest.mark.parametrize("stream", [False, True])
def test_sdk_prompt_too_long_is_context_length_exceeded(
    fake_upstream: FakeUpstream, serve_gateway: Serve, name: str, stream: bool
) -> None:
    fake_upstream.on("/v2/chat", json_handler(ERRORS[name], 400))
    sdk = gateway(serve_gateway, fake_upstream, num_retries=2)
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="command", messages=[{"role": "user", "content": "long"}], stream=stream)
    error = caught.value
    assert (error.status_code, error.code, error.param) == (400, "context_length_exceeded", "messages")
    assert ERRORS[name]["message"] in error.message
    assert_valid(error.response.json(), "ErrorResponse")
    assert len(fake_upstream.requests) == 1


def test_sdk_output_limit_is_not_context_length(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    """Cohere's "too many tokens: max tokens must be ..." is about max_tokens, not the prompt."""
    fake_upstream.on("/v2/chat", json_handler(ERRORS["400_max_tokens"], 400))
    with pytest.raises(openai.BadRequestError) as caught:
        gateway(serve_gateway, fake_upstream).chat.completions.create(
            model="command", messages=[{"role": "user", "content": "hi"}], max_tokens=8192)
    assert caught.value.code is None and "max tokens must be" in caught.value.message


@pytest.mark.parametrize("content", [b"<html><body>502 Bad Gateway</body></html>", b'["not", "an", "object"]', b""])
def test_sdk_reply_that_is_not_a_json_object_is_a_retryable_502(
    fake_upstream: FakeUpstream, serve_gateway: Serve, content: bytes
) -> None:
    """Once a 500 without a request id (json.loads in the adapter); now the shared reader's 502."""
    fake_upstream.on("/v2/chat", lambda request, raw: Response(content, media_type="text/html"))
    sdk = gateway(serve_gateway, fake_upstream, num_retries=1)
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="command", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert caught.value.response.headers.get("x-request-id")
    assert_valid(caught.value.response.json(), "ErrorResponse")
    assert len(fake_upstream.requests) == 2  # retried


def test_stream_cut_off_before_message_end_is_an_error(fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v2/chat", sse_handler(sse(
        {"type": "message-start", "id": "x", "delta": {"message": {"role": "assistant"}}},
        {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Par"}}}},
    )))
    request = chat_request(messages=[{"role": "user", "content": "hi"}], stream=True)
    with pytest.raises(UpstreamError) as caught:
        run(collect(PROVIDER.chat_stream(request, target(fake_upstream.url), CallContext("r"))))
    assert caught.value.status == 502 and caught.value.retryable
    assert "message-end" in caught.value.message


def test_sdk_error_object_under_a_200_is_a_retryable_502(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    """Cohere's ``{"message": ...}`` error body sent with a 200 is mapped like an error status, never answered."""
    fake_upstream.on("/v2/chat", json_handler({"id": "e1", "message": "internal error, please retry"}))
    with pytest.raises(openai.InternalServerError) as caught:
        gateway(serve_gateway, fake_upstream, num_retries=1).chat.completions.create(
            model="command", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert "internal error, please retry" in caught.value.message
    assert_valid(caught.value.response.json(), "ErrorResponse")
    assert len(fake_upstream.requests) == 2  # retried


def test_sdk_error_object_under_a_200_keeps_its_mapping(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    """The error parser reads it as it reads an error status: a long prompt is still the client's 400."""
    fake_upstream.on("/v2/chat", json_handler(ERRORS["400_prompt_too_long"]))
    with pytest.raises(openai.BadRequestError) as caught:
        gateway(serve_gateway, fake_upstream).chat.completions.create(
            model="command", messages=[{"role": "user", "content": "a very long prompt"}])
    assert caught.value.code == "context_length_exceeded"
    assert len(fake_upstream.requests) == 1


@pytest.mark.parametrize("body", [
    {"id": "x", "finish_reason": "COMPLETE"},
    {"id": "x", "finish_reason": "COMPLETE", "message": ["not", "an", "object"]},
    {"id": "x", "finish_reason": "COMPLETE", "message": {"role": "assistant", "content": "Paris"}},
    {"id": "x", "finish_reason": "COMPLETE", "message": {"role": "assistant", "content": ["Paris"]}},
    {"id": "x", "finish_reason": "COMPLETE", "message": {"content": [{"type": "text", "text": 42}]}},
    {"id": "x", "finish_reason": "TOOL_CALL", "message": {"tool_calls": [{"id": "c1", "function": "get_weather"}]}},
    {"id": "x", "finish_reason": ["COMPLETE"], "message": {"content": []}},
    {**json.loads(fixture("chat_text.json")), "usage": {"tokens": "many"}},
])
def test_sdk_answer_of_the_wrong_shape_is_a_retryable_502(
    fake_upstream: FakeUpstream, serve_gateway: Serve, body: dict[str, Any]
) -> None:
    """The transform checks what it reads: a body without a usable ``message`` is a bad answer, not a 500."""
    fake_upstream.on("/v2/chat", json_handler(body))
    with pytest.raises(openai.InternalServerError) as caught:
        gateway(serve_gateway, fake_upstream, num_retries=1).chat.completions.create(
            model="command", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert "not a Cohere chat answer" in caught.value.message
    assert_valid(caught.value.response.json(), "ErrorResponse")
    assert len(fake_upstream.requests) == 2  # retried
