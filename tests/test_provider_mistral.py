"""The ``mistral`` provider: the official openai SDK -> lambdagate -> a fake Mistral API on loopback.

Fixtures under fixtures/mistral/ follow Mistral's chat completion API as its reference and SDK
models describe it: OpenAI-like, but without ``refusal``/``logprobs``, with ``tool_calls: null``,
chunked content from reasoning models, ``model_length``, and usage inside the last stream chunk.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response

from conftest import DEV_KEY, FakeUpstream, Handler, fixture_answer, fixture_bytes, make_config
from lambdagate.providers.base import CallContext
from lambdagate.providers.mistral.request import build_body, tool_call_id
from lambdagate.types import ChatCompletionRequest
from openai_schema import assert_valid

UPSTREAM_KEY = "mistral-upstream-secret-0123456789"
CHAT = "/v1/chat/completions"

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def fixture(name: str) -> bytes:
    return fixture_bytes("mistral", name)


def answer(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    return fixture_answer("mistral", name, status, headers)


@pytest.fixture
def gateway(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> Callable[..., openai.OpenAI]:
    def start(model: str = "mistral-small-latest", **settings: Any) -> openai.OpenAI:
        providers = {"mistral": {"api_base": fake_upstream.url + "/v1", "api_key": UPSTREAM_KEY}}
        base_url = serve_gateway(make_config(providers, {"mis": {"provider": "mistral", "model": model}}, **settings))
        return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20)

    return start


def sse_chunks(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


# --- chat, JSON ----------------------------------------------------------------------------


def test_chat_request_and_response(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(CHAT, answer("chat_response.json"))
    response = gateway().chat.completions.with_raw_response.create(
        model="mis",
        messages=[
            {"role": "developer", "content": "Réponds en français."},
            {"role": "user", "content": "Salut", "name": "alice"},
            {"role": "user", "content": [
                {"type": "text", "text": "Et ça ?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}]},
        ],
        temperature=0.2, top_p=0.8, max_completion_tokens=64, stop=["\n\n"], seed=42, n=1,
        presence_penalty=0.1, frequency_penalty=0.2, response_format={"type": "json_object"},
        reasoning_effort="medium", user="u1", logit_bias={"5": 1}, logprobs=True,
        extra_body={"safe_prompt": True},
    )
    sent = fake_upstream.requests[-1]
    assert sent.method == "POST" and sent.path == CHAT
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert sent.json() == {
        "model": "mistral-small-latest",
        "messages": [
            {"role": "system", "content": "Réponds en français."},
            {"role": "user", "content": "Salut"},
            {"role": "user", "content": [
                {"type": "text", "text": "Et ça ?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}]},
        ],
        "temperature": 0.2, "top_p": 0.8, "max_tokens": 64, "stop": ["\n\n"], "random_seed": 42, "n": 1,
        "presence_penalty": 0.1, "frequency_penalty": 0.2, "response_format": {"type": "json_object"},
        "reasoning_effort": "high", "safe_prompt": True,
    }
    assert set(response.headers["x-lambdagate-dropped-params"].split(",")) == {"user", "logit_bias", "logprobs"}
    body = json.loads(response.text)
    assert_valid(body, "CreateChatCompletionResponse")
    message = body["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "Bonjour ! Comment puis-je aider ?", "refusal": None}
    completion = response.parse()
    assert completion.id == "cmpl-e5cc70bb28c444948073e77776eb30ef"
    assert completion.usage is not None and completion.usage.total_tokens == 23


def test_drop_params_off_refuses(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(CHAT, answer("chat_response.json"))
    with pytest.raises(openai.BadRequestError) as caught:
        gateway(drop_params=False).chat.completions.create(
            model="mis", messages=[{"role": "user", "content": "hi"}], logit_bias={"5": 1})
    assert caught.value.body["param"] == "logit_bias"  # type: ignore[index]
    assert fake_upstream.requests == []


def test_conformant_answer_is_forwarded_untouched(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    fake_upstream.on(CHAT, answer("conformant_response.json"))
    response = gateway().chat.completions.with_raw_response.create(
        model="mis", messages=[{"role": "user", "content": "hi"}])
    assert response.content == fixture("conformant_response.json")


def test_reasoning_content_and_model_length(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(CHAT, answer("reasoning_response.json"))
    response = gateway(model="magistral-medium-latest").chat.completions.with_raw_response.create(
        model="mis", messages=[{"role": "user", "content": "2+2?"}])
    body = json.loads(response.text)
    assert_valid(body, "CreateChatCompletionResponse")
    choice = body["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"] == "The answer is 4."
    assert choice["message"]["reasoning_content"] == "2 and 2 make 4."


# --- tools ---------------------------------------------------------------------------------


def test_tools_round_trip(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    def handler(request: Request, body: bytes) -> Response:
        answered = json.loads(body)["messages"][-1]["role"] == "tool"
        return Response(fixture("chat_response.json" if answered else "tool_call_response.json"),
                        media_type="application/json")

    fake_upstream.on(CHAT, handler)
    client = gateway(model="mistral-large-latest")
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    response = client.chat.completions.with_raw_response.create(
        model="mis", messages=messages, tools=[WEATHER_TOOL], tool_choice="required", parallel_tool_calls=False)
    first = fake_upstream.requests[-1].json()
    assert first["tools"] == [WEATHER_TOOL]
    assert first["tool_choice"] == "any" and first["parallel_tool_calls"] is False
    body = json.loads(response.text)
    assert_valid(body, "CreateChatCompletionResponse")
    choice = response.parse().choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [(c.id, c.type, c.function.name, c.function.arguments) for c in calls] == [
        ("D681PevKs", "function", "get_weather", '{"city": "Paris"}')]

    messages.append(choice.message)
    messages.append({"role": "tool", "tool_call_id": "D681PevKs", "content": "21°C"})
    final = client.chat.completions.create(model="mis", messages=messages, tools=[WEATHER_TOOL])
    assert final.choices[0].message.content == "Bonjour ! Comment puis-je aider ?"
    sent = fake_upstream.requests[-1].json()["messages"]
    assert sent[1:] == [
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "D681PevKs", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "content": "21°C", "tool_call_id": "D681PevKs", "name": "get_weather"},
    ]


def test_foreign_tool_call_ids_are_mapped_consistently(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    """A history whose ids came from another provider still pairs calls and results on Mistral."""
    fake_upstream.on(CHAT, answer("chat_response.json"))
    gateway().chat.completions.create(model="mis", tools=[WEATHER_TOOL], tool_choice={
        "type": "function", "function": {"name": "get_weather"}}, messages=[
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_abc123XYZ_openai", "type": "function",
             "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_abc123XYZ_openai", "content": "sunny"},
    ])
    sent = fake_upstream.requests[-1].json()
    mapped = sent["messages"][1]["tool_calls"][0]["id"]
    assert len(mapped) == 9 and mapped.isalnum()
    assert sent["messages"][2]["tool_call_id"] == mapped
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


# --- streaming -----------------------------------------------------------------------------


def test_stream_text_with_usage(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(CHAT, answer("stream_text.sse"))
    with gateway().chat.completions.with_streaming_response.create(
        model="mis", messages=[{"role": "user", "content": "hello"}], stream=True,
        stream_options={"include_usage": True},
    ) as response:
        raw = sse_chunks(response.read().decode())
    sent = fake_upstream.requests[-1].json()
    assert sent["stream"] is True and "stream_options" not in sent
    for chunk in raw:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    assert raw[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in raw if c["choices"]) == "Bonjour le monde"
    # Usage moved out of the finishing chunk into OpenAI's separate, choice-less usage chunk.
    assert raw[-2]["choices"][0]["finish_reason"] == "stop" and "usage" not in raw[-2]
    assert raw[-1]["choices"] == [] and raw[-1]["usage"] == {"prompt_tokens": 9, "total_tokens": 12,
                                                              "completion_tokens": 3}


def test_stream_without_usage_request(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(CHAT, answer("stream_text.sse"))
    chunks = list(gateway().chat.completions.create(
        model="mis", messages=[{"role": "user", "content": "hello"}], stream=True))
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stream_tool_call(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(CHAT, answer("stream_tool_call.sse"))
    with gateway().chat.completions.with_streaming_response.create(
        model="mis", messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER_TOOL], stream=True,
    ) as response:
        raw = sse_chunks(response.read().decode())
    for chunk in raw:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    calls = [call for c in raw for call in c["choices"][0]["delta"].get("tool_calls") or []]
    assert calls == [{"id": "Xy7Kp2Qa9", "type": "function", "index": 0,
                      "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    assert raw[-1]["choices"][0]["finish_reason"] == "tool_calls"


# --- errors --------------------------------------------------------------------------------


def test_rate_limit(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(CHAT, answer("error_429.json", 429, {"retry-after": "30"}))
    with pytest.raises(openai.RateLimitError) as caught:
        gateway().chat.completions.create(model="mis", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.response.headers["retry-after"] == "30"
    assert "rate limit exceeded" in caught.value.message
    assert_valid(caught.value.response.json(), "ErrorResponse")
    assert len(fake_upstream.requests) == 1  # 30 s is past the longest retry wait


def test_validation_error_and_auth_failure(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(CHAT, answer("error_422.json", 422))
    client = gateway()
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="mis", messages=[{"role": "user", "content": "hi"}])
    assert "Extra inputs are not permitted" in bad.value.message
    assert_valid(bad.value.response.json(), "ErrorResponse")

    fake_upstream.on(CHAT, answer("error_401.json", 401))
    with pytest.raises(openai.InternalServerError) as auth:
        client.chat.completions.create(model="mis", messages=[{"role": "user", "content": "hi"}])
    assert auth.value.status_code == 502 and auth.value.code == "upstream_authentication_failed"
    assert UPSTREAM_KEY not in auth.value.response.text


# --- text completions through chat -----------------------------------------------------------


def test_completions_through_chat(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(CHAT, answer("chat_response.json"))
    client = gateway()
    response = client.completions.with_raw_response.create(
        model="mis", prompt="Dis bonjour", max_tokens=10, seed=3, stop="\n", user="u1", n=2)
    assert_valid(json.loads(response.text), "CreateCompletionResponse")
    completion = response.parse()
    sent = fake_upstream.requests[-1].json()
    assert sent == {"model": "mistral-small-latest", "messages": [{"role": "user", "content": "Dis bonjour"}],
                    "max_tokens": 10, "random_seed": 3, "stop": "\n", "n": 2}
    assert response.headers["x-lambdagate-dropped-params"] == "user"
    assert [c.text for c in completion.choices] == ["Bonjour ! Comment puis-je aider ?"]
    assert completion.choices[0].finish_reason == "stop"

    fake_upstream.on(CHAT, answer("stream_text.sse"))
    with client.completions.with_streaming_response.create(
        model="mis", prompt="Dis bonjour", stream=True, stream_options={"include_usage": True},
    ) as streamed:
        raw = sse_chunks(streamed.read().decode())
    assert "".join(c["choices"][0]["text"] for c in raw if c["choices"]) == "Bonjour le monde"
    assert raw[-1]["choices"] == [] and raw[-1]["usage"]["total_tokens"] == 12
    assert_valid(raw[-1], "CreateCompletionResponse")


# --- focused unit tests --------------------------------------------------------------------


def test_tool_call_ids() -> None:
    assert tool_call_id("D681PevKs") == "D681PevKs"
    mapped = tool_call_id("call_0123456789")
    assert len(mapped) == 9 and mapped.isalnum() and mapped == tool_call_id("call_0123456789")
    assert tool_call_id("call_0123456789") != tool_call_id("call_0123456788")


def test_trailing_assistant_message_becomes_a_prefix() -> None:
    chat = ChatCompletionRequest.model_validate({"model": "m", "messages": [
        {"role": "user", "content": "Write a haiku"}, {"role": "assistant", "content": "Autumn"}]})
    body = build_body(chat, "mistral-small-latest", CallContext(request_id="t"), stream=False)
    assert body["messages"][-1] == {"role": "assistant", "content": "Autumn", "prefix": True}


def test_finish_reason_error_is_an_upstream_error() -> None:
    from lambdagate.config.schema import ProviderConfig
    from lambdagate.errors import UpstreamError
    from lambdagate.providers.base import Target
    from lambdagate.providers.mistral.response import normalize_chunk, normalize_completion

    config = ProviderConfig(type="mistral", api_key=UPSTREAM_KEY)
    target = Target("mis", "mistral", "mistral", config, "mistral-small-latest", {}, 30.0)
    body = json.loads(fixture("chat_response.json"))
    body["choices"][0]["finish_reason"] = "error"
    with pytest.raises(UpstreamError) as caught:
        normalize_completion(body, target)
    assert caught.value.status == 502 and caught.value.retryable
    chunk = {"choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]}
    with pytest.raises(UpstreamError):
        normalize_chunk(chunk, target)


# --- the order of turns, n natively, context length, cut-off streams ---------------------------


def order_violation(messages: list[dict[str, Any]]) -> str | None:
    """The turn-order rules Mistral's validator applies (mistral-common's MistralRequestValidator)."""
    previous = None
    for message in messages:
        role = message["role"]
        if previous == "tool" and role not in ("tool", "assistant"):
            return f"Unexpected role '{role}' after role '{previous}'"
        if role == "assistant" and not message.get("content") and not message.get("tool_calls"):
            return "Assistant message must have either content or tool_calls, but not both."
        previous = role
    return None


def strict_mistral(request: Request, body: bytes) -> Response:
    """A fake Mistral that refuses the orders of turns the real one refuses, with its error body."""
    violation = order_violation(json.loads(body)["messages"])
    if violation is None:
        return Response(fixture("chat_response.json"), media_type="application/json")
    error = {**json.loads(fixture("error_message_order.json")), "message": violation}
    return Response(json.dumps(error), status_code=400, media_type="application/json")


WEATHER_CALL = {"id": "D681PevKs", "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


def test_the_fake_refuses_user_after_tool_like_mistral() -> None:
    assert order_violation([{"role": "user", "content": "Weather?"},
                            {"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]},
                            {"role": "tool", "content": "21°C", "tool_call_id": "D681PevKs"},
                            {"role": "user", "content": "Tomorrow?"}]) == "Unexpected role 'user' after role 'tool'"


@pytest.mark.parametrize("stream", [False, True])
def test_user_turn_after_tool_results_is_bridged(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream, stream: bool
) -> None:
    """An ordinary OpenAI conversation (tool result, then the user speaks) that Mistral would refuse."""
    from lambdagate.providers.mistral.request import TOOL_RESULTS_BRIDGE

    fake_upstream.on(CHAT, strict_mistral if not stream else answer("stream_text.sse"))
    messages: list[Any] = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [WEATHER_CALL]},
        {"role": "tool", "tool_call_id": "D681PevKs", "content": "21°C"},
        {"role": "user", "content": "And in Lyon?"},
        {"role": "assistant", "content": None, "tool_calls": [{**WEATHER_CALL, "id": "Lyon00001"}]},
        {"role": "tool", "tool_call_id": "Lyon00001", "content": "19°C"},
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": "Compare."},
    ]
    client = gateway()
    if stream:
        chunks = list(client.chat.completions.create(model="mis", messages=messages, tools=[WEATHER_TOOL],
                                                     stream=True))
        assert chunks[-1].choices[0].finish_reason == "stop"
    else:
        completion = client.chat.completions.create(model="mis", messages=messages, tools=[WEATHER_TOOL])
        assert completion.choices[0].message.content == "Bonjour ! Comment puis-je aider ?"
    sent = fake_upstream.requests[-1].json()["messages"]
    assert order_violation(sent) is None
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "assistant", "user", "assistant", "tool",
                                         "assistant", "system", "user"]
    assert sent[3] == sent[7] == TOOL_RESULTS_BRIDGE
    assert sent[4] == {"role": "user", "content": "And in Lyon?"}
    assert len(fake_upstream.requests) == 1


def test_n_is_one_upstream_call(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    """Mistral has n: three choices are one request (input tokens billed once), not three."""
    fake_upstream.on(CHAT, answer("three_choices.json"))
    client = gateway()
    response = client.chat.completions.with_raw_response.create(
        model="mis", messages=[{"role": "user", "content": "Une couleur ?"}], n=3)
    assert len(fake_upstream.requests) == 1 and fake_upstream.requests[0].json()["n"] == 3
    assert_valid(json.loads(response.text), "CreateChatCompletionResponse")
    assert [(c.index, c.message.content, c.finish_reason) for c in response.parse().choices] == [
        (0, "Rouge", "stop"), (1, "Vert", "stop"), (2, "Bleu et", "length")]

    fake_upstream.on(CHAT, answer("stream_three_choices.sse"))
    with client.chat.completions.with_streaming_response.create(
        model="mis", messages=[{"role": "user", "content": "Une couleur ?"}], n=3, stream=True,
        stream_options={"include_usage": True},
    ) as streamed:
        raw = sse_chunks(streamed.read().decode())
    assert len(fake_upstream.requests) == 2 and fake_upstream.requests[1].json()["n"] == 3
    texts: dict[int, str] = {}
    for chunk in raw:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
        for choice in chunk["choices"]:
            texts[choice["index"]] = texts.get(choice["index"], "") + (choice["delta"].get("content") or "")
    assert texts == {0: "Rouge", 1: "Vert", 2: "Bleu et"}
    assert raw[-1]["choices"] == [] and raw[-1]["usage"]["total_tokens"] == 14


@pytest.mark.parametrize("stream", [False, True])
def test_prompt_too_long_is_context_length_exceeded(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream, stream: bool
) -> None:
    fake_upstream.on(CHAT, answer("error_context_length.json", 400))
    with pytest.raises(openai.BadRequestError) as caught:
        gateway(num_retries=2).chat.completions.create(
            model="mis", messages=[{"role": "user", "content": "a very long prompt"}], stream=stream)
    error = caught.value
    assert (error.status_code, error.code, error.param) == (400, "context_length_exceeded", "messages")
    assert "too large for model with 131072 maximum context length" in error.message
    assert_valid(error.response.json(), "ErrorResponse")
    assert len(fake_upstream.requests) == 1


def test_stream_cut_off_before_the_finish_is_an_error(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    cut = b"\n\n".join(fixture("stream_text.sse").split(b"\n\n")[:3]) + b"\n\n"  # no finish, no [DONE]
    fake_upstream.on(CHAT, lambda request, body: Response(cut, media_type="text/event-stream"))
    texts = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in gateway().chat.completions.create(
                model="mis", messages=[{"role": "user", "content": "hi"}], stream=True):
            texts.append(chunk.choices[0].delta.content or "")
    assert "".join(texts) == "Bonjour le monde"
    assert "ended before every choice had finished" in caught.value.message
