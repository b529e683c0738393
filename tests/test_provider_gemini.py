"""The ``gemini`` provider: the official openai SDK -> lambdagate -> a fake Gemini API on loopback.

Fixtures under fixtures/gemini/ are written from the Gemini API v1beta reference (responses,
SSE streams, error bodies). Each test asserts on the exact upstream request and on the
OpenAI-shaped result, validated against the official OpenAI schema.
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
from lambdagate.config.schema import ProviderConfig
from lambdagate.errors import InvalidRequest
from lambdagate.providers.base import CallContext, Target
from lambdagate.providers.gemini import PROVIDER
from lambdagate.providers.gemini.request import SKIP_SIGNATURE, build_body, clean_schema
from lambdagate.types import ChatCompletionRequest
from openai_schema import assert_valid

UPSTREAM_KEY = "AIzaSyTEST-gemini-upstream-key-0123"
FLASH = "/v1beta/models/gemini-2.5-flash:generateContent"
FLASH_STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
TIME_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"tz": {"type": "string"}}}}}


def fixture(name: str) -> bytes:
    return fixture_bytes("gemini", name)


def answer(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    return fixture_answer("gemini", name, status, headers)


@pytest.fixture
def gateway(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> Callable[..., openai.OpenAI]:
    """An SDK client whose ``gem`` alias reaches the fake Gemini API as ``model``."""

    def start(model: str = "gemini-2.5-flash", **settings: Any) -> openai.OpenAI:
        providers = {"google": {"type": "gemini", "api_base": fake_upstream.url + "/v1beta", "api_key": UPSTREAM_KEY}}
        base_url = serve_gateway(make_config(providers, {"gem": {"provider": "google", "model": model}}, **settings))
        return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20)

    return start


def sse_chunks(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


# --- chat, JSON ----------------------------------------------------------------------------


def test_chat_request_and_response(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(FLASH, answer("text_response.json"))
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
              "properties": {"greeting": {"type": "string"}}, "required": ["greeting"], "additionalProperties": False}
    response = gateway().chat.completions.with_raw_response.create(
        model="gem",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
            {"role": "user", "content": "Hi"},
            {"role": "user", "content": "there"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "How are you?"},
        ],
        temperature=0.3, top_p=0.9, max_tokens=50, max_completion_tokens=100, stop="END", seed=7,
        presence_penalty=0.5, frequency_penalty=0.25,
        response_format={"type": "json_schema", "json_schema": {"name": "g", "schema": schema, "strict": True}},
        extra_body={"top_k": 40, "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT",
                                                      "threshold": "BLOCK_NONE"}]},
    )
    sent = fake_upstream.requests[-1]
    assert sent.method == "POST" and sent.path == FLASH
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY
    assert sent.query == "" and "authorization" not in sent.headers
    assert sent.json() == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}, {"text": "there"}]},
            {"role": "model", "parts": [{"text": "Hello."}]},
            {"role": "user", "parts": [{"text": "How are you?"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief.\n\nAnswer in English."}]},
        "generationConfig": {
            "temperature": 0.3, "topP": 0.9, "topK": 40, "maxOutputTokens": 100, "stopSequences": ["END"],
            "seed": 7, "presencePenalty": 0.5, "frequencyPenalty": 0.25,
            "responseMimeType": "application/json",
            "responseJsonSchema": {"type": "object", "properties": {"greeting": {"type": "string"}},
                                   "required": ["greeting"], "additionalProperties": False},
        },
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    }
    assert_valid(json.loads(response.text), "CreateChatCompletionResponse")
    completion = response.parse()
    assert "x-lambdagate-dropped-params" not in response.headers
    assert completion.id == "chatcmpl-mAitaLmkHPPlz7IPvtfUqQ4"
    assert completion.model == "gemini-2.5-flash"
    choice = completion.choices[0]
    assert choice.message.content == "Hello! How can I help?"
    assert choice.message.model_extra["reasoning_content"] == "The user greets me; answer briefly."
    assert choice.finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (12, 15, 27)
    assert usage.completion_tokens_details is not None and usage.completion_tokens_details.reasoning_tokens == 9
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 4


def test_unsupported_parameters_dropped_or_refused(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    fake_upstream.on(FLASH, answer("text_response.json"))
    response = gateway().chat.completions.with_raw_response.create(
        model="gem", messages=[{"role": "user", "content": "hi"}], user="u1", logit_bias={"1": 2})
    assert set(response.headers["x-lambdagate-dropped-params"].split(",")) == {"user", "logit_bias"}
    body = fake_upstream.requests[-1].json()
    assert "u1" not in json.dumps(body) and "logit" not in json.dumps(body)

    strict = gateway(drop_params=False)
    with pytest.raises(openai.BadRequestError) as caught:
        strict.chat.completions.create(model="gem", messages=[{"role": "user", "content": "hi"}], user="u1")
    assert caught.value.status_code == 400
    assert caught.value.body["param"] == "user"  # type: ignore[index]
    assert_valid({"error": caught.value.body}, "ErrorResponse")
    assert len(fake_upstream.requests) == 1


def test_images(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(FLASH, answer("text_response.json"))
    client = gateway()
    client.chat.completions.create(model="gem", messages=[{"role": "user", "content": [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp?size=2", "detail": "high"}},
    ]}])
    assert fake_upstream.requests[-1].json()["contents"] == [{"role": "user", "parts": [
        {"text": "Compare"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp?size=2"}},
    ]}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gem", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "ftp://example.com/cat.png"}}]}])
    assert "data URLs or http(s) URLs" in caught.value.message
    assert len(fake_upstream.requests) == 1


def test_safety_finish_is_content_filter(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(FLASH, answer("safety_finish.json"))
    response = gateway().chat.completions.with_raw_response.create(
        model="gem", messages=[{"role": "user", "content": "something dangerous"}])
    assert_valid(json.loads(response.text), "CreateChatCompletionResponse")
    choice = response.parse().choices[0]
    assert choice.finish_reason == "content_filter"
    assert choice.message.content is None


def test_blocked_prompt_is_content_filter(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(FLASH, answer("prompt_blocked.json"))
    client = gateway()
    response = client.chat.completions.with_raw_response.create(
        model="gem", messages=[{"role": "user", "content": "blocked prompt"}])
    assert response.status_code == 200
    assert_valid(json.loads(response.text), "CreateChatCompletionResponse")
    completion = response.parse()
    assert [c.finish_reason for c in completion.choices] == ["content_filter"]
    assert completion.choices[0].message.content is None
    assert completion.usage is not None and completion.usage.prompt_tokens == 7

    fake_upstream.on(FLASH_STREAM, answer("stream_blocked.sse"))
    chunks = list(client.chat.completions.create(
        model="gem", messages=[{"role": "user", "content": "blocked prompt"}], stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "content_filter"


def test_n_and_max_tokens(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(FLASH, answer("max_tokens.json"))
    completion = gateway().chat.completions.create(
        model="gem", messages=[{"role": "user", "content": "tell a story"}], n=2, max_tokens=3)
    assert fake_upstream.requests[-1].json()["generationConfig"] == {"candidateCount": 2, "maxOutputTokens": 3}
    assert [(c.index, c.message.content, c.finish_reason) for c in completion.choices] == [
        (0, "Once upon a", "length"), (1, "In a land", "length")]


# --- tools ---------------------------------------------------------------------------------


def test_tools_round_trip(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    """Tool calls out with ids and thought signatures; results back in as function responses."""
    path = "/v1beta/models/gemini-3-flash:generateContent"

    def handler(request: Request, body: bytes) -> Response:
        answered = "functionResponse" in body.decode()
        return Response(fixture("text_response.json" if answered else "tool_call_response.json"),
                        media_type="application/json")

    fake_upstream.on(path, handler)
    client = gateway(model="gemini-3-flash")
    messages: list[Any] = [{"role": "user", "content": "Weather and time in Paris?"}]
    response = client.chat.completions.with_raw_response.create(
        model="gem", messages=messages, tools=[WEATHER_TOOL, TIME_TOOL], tool_choice="required")
    first = fake_upstream.requests[-1].json()
    assert first["tools"] == [{"functionDeclarations": [
        {"name": "get_weather", "description": "Weather for a city", "parametersJsonSchema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"], "additionalProperties": False}},
        {"name": "get_time", "parametersJsonSchema": {"type": "object", "properties": {"tz": {"type": "string"}}}},
    ]}]
    assert first["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert_valid(json.loads(response.text), "CreateChatCompletionResponse")
    choice = response.parse().choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"}), ("get_time", {"tz": "Europe/Paris"})]
    assert len({c.id for c in calls}) == 2 and all(c.id.startswith("call_") for c in calls)
    assert calls[0].model_extra["extra_content"] == {"google": {"thought_signature": "CiQB0e2Kb3Rx5bCkVzQm8sig=="}}

    # The SDK user appends the message as returned, then one result per call.
    messages.append(choice.message)
    messages += [{"role": "tool", "tool_call_id": calls[0].id, "content": '{"temp": 21}'},
                 {"role": "tool", "tool_call_id": calls[1].id, "content": "14:05"}]
    final = client.chat.completions.create(model="gem", messages=messages, tools=[WEATHER_TOOL, TIME_TOOL],
                                           tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert final.choices[0].message.content == "Hello! How can I help?"
    second = fake_upstream.requests[-1].json()
    assert second["contents"][1:] == [
        {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "celsius"}},
             "thoughtSignature": "CiQB0e2Kb3Rx5bCkVzQm8sig=="},
            {"functionCall": {"name": "get_time", "args": {"tz": "Europe/Paris"}}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
            {"functionResponse": {"name": "get_time", "response": {"output": "14:05"}}},
        ]},
    ]
    assert second["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}}


def test_tool_result_without_call_is_a_clear_400(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        gateway().chat.completions.create(model="gem", messages=[
            {"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "nope", "content": "x"}])
    assert "tool_call_id 'nope'" in caught.value.message
    assert fake_upstream.requests == []


# --- streaming -----------------------------------------------------------------------------


def test_stream_text_with_usage(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(FLASH_STREAM, answer("stream_text.sse"))
    with gateway().chat.completions.with_streaming_response.create(
        model="gem", messages=[{"role": "user", "content": "hello"}], stream=True,
        stream_options={"include_usage": True}, reasoning_effort="low",
    ) as response:
        raw = sse_chunks(response.read().decode())
    sent = fake_upstream.requests[-1]
    assert sent.path == FLASH_STREAM and sent.query == "alt=sse"
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY
    assert sent.json()["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}}
    for chunk in raw:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    assert len({c["id"] for c in raw}) == 1
    assert raw[0]["choices"][0]["delta"]["role"] == "assistant"
    deltas = [c["choices"][0]["delta"] for c in raw if c["choices"]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "Thinking about greetings."
    assert "".join(d.get("content") or "" for d in deltas) == "Hello there, friend."
    assert [c["choices"][0]["finish_reason"] for c in raw if c["choices"]][-1] == "stop"
    assert raw[-1]["choices"] == [] and raw[-1]["usage"]["completion_tokens"] == 9
    assert raw[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 5}


def test_stream_tool_call(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(FLASH_STREAM, answer("stream_tool_call.sse"))
    stream = gateway().chat.completions.create(
        model="gem", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER_TOOL], stream=True)
    chunks = list(stream)
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert len(calls) == 1
    assert calls[0].index == 0 and calls[0].id and calls[0].type == "function"
    assert calls[0].function is not None and calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments or "") == {"city": "Paris"}
    assert calls[0].model_extra["extra_content"] == {"google": {"thought_signature": "c2lnbmF0dXJl"}}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].usage is None  # include_usage was not asked for


def test_stream_error_mid_stream(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(FLASH_STREAM, answer("stream_error.sse"))
    stream = gateway().chat.completions.create(
        model="gem", messages=[{"role": "user", "content": "hi"}], stream=True)
    texts = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            texts.append(chunk.choices[0].delta.content or "")
    assert "".join(texts) == "Partial"
    assert "overloaded" in caught.value.message


# --- errors --------------------------------------------------------------------------------


def test_rate_limit_with_retry_info(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(FLASH, answer("error_429.json", 429))
    with pytest.raises(openai.RateLimitError) as caught:
        gateway().chat.completions.create(model="gem", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.response.headers["retry-after"] == "37"
    assert caught.value.code == "rate_limit_exceeded"
    assert "exceeded your current quota" in caught.value.message
    assert_valid(caught.value.response.json(), "ErrorResponse")
    # 37 s is longer than the longest wait between retries: no retry.
    assert len(fake_upstream.requests) == 1


@pytest.mark.parametrize(
    ("name", "status", "exception", "code"),
    [
        ("error_400.json", 400, openai.BadRequestError, "invalid_argument"),
        ("error_404.json", 404, openai.NotFoundError, "not_found"),
        ("error_key_invalid.json", 400, openai.InternalServerError, "upstream_authentication_failed"),
        ("error_503.json", 503, openai.InternalServerError, "unavailable"),
    ],
)
def test_errors_are_mapped(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream,
    name: str, status: int, exception: type[openai.APIStatusError], code: str,
) -> None:
    fake_upstream.on(FLASH, answer(name, status))
    with pytest.raises(exception) as caught:
        gateway(num_retries=1).chat.completions.create(model="gem", messages=[{"role": "user", "content": "hi"}])
    error = caught.value
    assert error.code == code
    assert_valid(error.response.json(), "ErrorResponse")
    assert UPSTREAM_KEY not in error.response.text and fake_upstream.url not in error.response.text
    if name == "error_key_invalid.json":
        assert error.status_code == 502
    retried = name == "error_503.json"
    assert len(fake_upstream.requests) == (2 if retried else 1)


# --- text completions through chat -----------------------------------------------------------


def test_completions_through_chat(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(FLASH, answer("max_tokens.json"))
    client = gateway()
    response = client.completions.with_raw_response.create(
        model="gem", prompt=["Tell me", "Write"], n=2, max_tokens=3, echo=True, stop=["\n"], temperature=0)
    assert_valid(json.loads(response.text), "CreateCompletionResponse")
    completion = response.parse()
    # One upstream call per prompt, each asking Gemini for both candidates.
    bodies = sorted((r.json() for r in fake_upstream.requests), key=lambda b: b["contents"][0]["parts"][0]["text"])
    assert [b["contents"] for b in bodies] == [[{"role": "user", "parts": [{"text": "Tell me"}]}],
                                               [{"role": "user", "parts": [{"text": "Write"}]}]]
    assert all(b["generationConfig"] == {"candidateCount": 2, "maxOutputTokens": 3, "stopSequences": ["\n"],
                                         "temperature": 0} for b in bodies)
    assert [(c.index, c.text, c.finish_reason) for c in completion.choices] == [
        (0, "Tell meOnce upon a", "length"), (1, "Tell meIn a land", "length"),
        (2, "WriteOnce upon a", "length"), (3, "WriteIn a land", "length")]
    assert completion.usage is not None and completion.usage.prompt_tokens == 10

    fake_upstream.on(FLASH_STREAM, answer("stream_text.sse"))
    with client.completions.with_streaming_response.create(
        model="gem", prompt="Say hello", stream=True, stream_options={"include_usage": True},
    ) as streamed:
        raw = sse_chunks(streamed.read().decode())
    # OpenAI's schema has no text-completion chunk; streamed text chunks have a null finish_reason.
    for chunk in raw:
        if not chunk["choices"] or chunk["choices"][0]["finish_reason"] is not None:
            assert_valid(chunk, "CreateCompletionResponse")
    assert raw[-2]["choices"][0]["finish_reason"] == "stop"
    assert "".join(c["choices"][0]["text"] for c in raw if c["choices"]) == "Hello there, friend."
    assert raw[-1]["usage"]["total_tokens"] == 21
    assert fake_upstream.requests[-1].json()["contents"] == [{"role": "user", "parts": [{"text": "Say hello"}]}]


# --- focused unit tests of the request translation ------------------------------------------


def _target(model: str, **options: Any) -> Target:
    config = ProviderConfig(type="gemini", api_key=UPSTREAM_KEY, **options)
    return Target("gem", "google", "gemini", config, model, config.options, 30.0)


def _body(model: str, **request: Any) -> dict[str, Any]:
    chat = ChatCompletionRequest.model_validate({"model": "gem", **request})
    return build_body(chat, model, CallContext(request_id="t"))


def test_reasoning_effort_by_model_generation() -> None:
    messages = [{"role": "user", "content": "think"}]
    assert _body("gemini-3-pro", messages=messages, reasoning_effort="medium")["generationConfig"] == {
        "thinkingConfig": {"thinkingLevel": "medium", "includeThoughts": True}}
    assert _body("gemini-2.5-flash", messages=messages, reasoning_effort="none")["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 0, "includeThoughts": False}}
    with pytest.raises(InvalidRequest):
        _body("gemini-3-pro", messages=messages, reasoning_effort="extreme")


def test_rebuilt_tool_call_gets_the_documented_signature_bypass() -> None:
    """A client that rebuilt the assistant turn without extra_content still gets past Gemini 3."""
    messages = [
        {"role": "user", "content": "two calls"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{\"x\": 1}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "1"},
        {"role": "tool", "tool_call_id": "b", "content": "[2]"},
    ]
    parts = _body("gemini-3-flash", messages=messages)["contents"][1]["parts"]
    assert parts == [{"functionCall": {"name": "f", "args": {}}, "thoughtSignature": SKIP_SIGNATURE},
                     {"functionCall": {"name": "g", "args": {"x": 1}}}]
    # Gemini 2.x checks no signatures: none is invented.
    parts = _body("gemini-2.5-pro", messages=messages)["contents"][1]["parts"]
    assert all("thoughtSignature" not in part for part in parts)
    results = _body("gemini-2.5-pro", messages=messages)["contents"][2]["parts"]
    assert results == [{"functionResponse": {"name": "f", "response": {"output": 1}}},
                       {"functionResponse": {"name": "g", "response": {"output": [2]}}}]


def test_clean_schema_is_recursive() -> None:
    schema = {"$schema": "x", "type": "object", "properties": {"a": {"type": "array", "$comment": "c",
                                                                     "items": [{"$schema": "y", "type": "string"}]}}}
    assert clean_schema(schema) == {"type": "object", "properties": {"a": {"type": "array",
                                                                           "items": [{"type": "string"}]}}}


def test_url_version_and_model_prefix() -> None:
    assert PROVIDER.url(_target("models/gemini-2.5-flash"), "generateContent") == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent")
    assert PROVIDER.url(_target("gemini-2.5-flash", api_version="v1"), "streamGenerateContent") == (
        "https://generativelanguage.googleapis.com/v1/models/gemini-2.5-flash:streamGenerateContent")
    assert PROVIDER.headers(_target("gemini-2.5-flash")) == {"x-goog-api-key": UPSTREAM_KEY}


# --- n natively (candidateCount), context length, cut-off streams ----------------------------


def test_n_is_one_upstream_call(gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream) -> None:
    """n=3 is one request for three candidates, not three requests: the prompt is paid once."""
    fake_upstream.on(FLASH, answer("three_candidates.json"))
    fake_upstream.on(FLASH_STREAM, answer("stream_three_candidates.sse"))
    client = gateway()
    response = client.chat.completions.with_raw_response.create(
        model="gem", messages=[{"role": "user", "content": "A colour?"}], n=3)
    assert len(fake_upstream.requests) == 1
    assert fake_upstream.requests[0].json()["generationConfig"] == {"candidateCount": 3}
    assert_valid(json.loads(response.text), "CreateChatCompletionResponse")
    completion = response.parse()
    assert [(c.index, c.message.content, c.finish_reason) for c in completion.choices] == [
        (0, "Red", "stop"), (1, "Green", "stop"), (2, "Blue and", "length")]
    assert completion.usage is not None and completion.usage.total_tokens == 11

    with client.chat.completions.with_streaming_response.create(
        model="gem", messages=[{"role": "user", "content": "A colour?"}], n=3, stream=True,
        stream_options={"include_usage": True},
    ) as streamed:
        raw = sse_chunks(streamed.read().decode())
    assert len(fake_upstream.requests) == 2
    assert fake_upstream.requests[1].json()["generationConfig"] == {"candidateCount": 3}
    texts: dict[int, str] = {}
    finishes: dict[int, str] = {}
    for chunk in raw:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
        for choice in chunk["choices"]:
            texts[choice["index"]] = texts.get(choice["index"], "") + (choice["delta"].get("content") or "")
            if choice["finish_reason"]:
                finishes[choice["index"]] = choice["finish_reason"]
    assert texts == {0: "Red", 1: "Green", 2: "Blue and"}
    assert finishes == {0: "stop", 1: "stop", 2: "length"}
    assert raw[-1]["choices"] == [] and raw[-1]["usage"]["total_tokens"] == 11


def test_n_on_a_single_candidate_model_is_parallel_calls(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    """Gemini 3 refuses candidateCount > 1, so its n choices come from n calls."""
    fake_upstream.on("/v1beta/models/gemini-3-flash:generateContent", answer("text_response.json"))
    completion = gateway(model="gemini-3-flash").chat.completions.create(
        model="gem", messages=[{"role": "user", "content": "hi"}], n=2)
    assert len(fake_upstream.requests) == 2
    assert all("candidateCount" not in r.json().get("generationConfig", {}) for r in fake_upstream.requests)
    assert [(c.index, c.message.content) for c in completion.choices] == [
        (0, "Hello! How can I help?"), (1, "Hello! How can I help?")]
    assert completion.usage is not None and completion.usage.prompt_tokens == 24


@pytest.mark.parametrize("stream", [False, True])
def test_prompt_too_long_is_context_length_exceeded(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream, stream: bool
) -> None:
    fake_upstream.on(FLASH_STREAM if stream else FLASH, answer("error_context_length.json", 400))
    with pytest.raises(openai.BadRequestError) as caught:
        gateway(num_retries=2).chat.completions.create(
            model="gem", messages=[{"role": "user", "content": "a very long prompt"}], stream=stream)
    error = caught.value
    assert (error.status_code, error.code, error.type) == (400, "context_length_exceeded", "invalid_request_error")
    assert error.param == "messages"
    assert "exceeds the maximum number of tokens allowed" in error.message
    assert_valid(error.response.json(), "ErrorResponse")
    assert len(fake_upstream.requests) == 1  # the client's to fix: never retried


def test_stream_cut_off_before_the_finish_is_an_error(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    fake_upstream.on(FLASH_STREAM, answer("stream_cut_off.sse"))
    texts = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in gateway().chat.completions.create(
                model="gem", messages=[{"role": "user", "content": "hi"}], stream=True):
            texts.append(chunk.choices[0].delta.content or "")
    assert "".join(texts) == "Partial"
    assert "ended before every candidate had finished" in caught.value.message


def test_error_bodies_are_read_without_state() -> None:
    """One parser for error statuses and stream error events: status, code and RetryInfo in ErrorInfo."""
    from lambdagate.providers.gemini.response import gemini_error

    limited = gemini_error(json.loads(fixture("error_429.json")))
    assert (limited.status, limited.code, limited.retry_after) == (429, "rate_limit_exceeded", 37.0)
    key = gemini_error(json.loads(fixture("error_key_invalid.json")))
    assert key.status == 401 and UPSTREAM_KEY not in (key.message or "")
    unwrapped = gemini_error([json.loads(fixture("error_503.json"))])
    assert (unwrapped.status, unwrapped.code) == (503, "unavailable")
    wording = "The input token count exceeds the maximum number of tokens allowed 1048576."  # no parentheses
    long_prompt = gemini_error({"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": wording}})
    assert (long_prompt.status, long_prompt.code) == (400, "context_length_exceeded")


def _json(body: Any) -> Handler:
    def handler(request: Request, raw: bytes) -> Response:
        return Response(json.dumps(body), media_type="application/json")

    return handler


def test_error_object_under_a_200_is_mapped_like_an_error_status(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    """Google's ``{"error": ...}`` with a 200 is never answered as an empty completion: a 500 inside is a 502."""
    error = {"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}}
    fake_upstream.on(FLASH, _json(error))
    with pytest.raises(openai.InternalServerError) as caught:
        gateway(num_retries=1).chat.completions.create(model="gem", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert "Internal error encountered." in caught.value.message
    assert_valid(caught.value.response.json(), "ErrorResponse")
    assert len(fake_upstream.requests) == 2  # retried

    fake_upstream.on(FLASH, _json(json.loads(fixture("error_429.json"))))
    with pytest.raises(openai.RateLimitError):
        gateway().chat.completions.create(model="gem", messages=[{"role": "user", "content": "hi"}])


@pytest.mark.parametrize("body", [
    {},
    {"modelVersion": "gemini-2.5-flash", "usageMetadata": {"promptTokenCount": 3}},
    {"candidates": {"content": {"parts": [{"text": "Hi"}]}}},
    {"candidates": ["Hi"]},
    {"candidates": [{"content": ["Hi"], "finishReason": "STOP"}]},
    {"candidates": [{"content": {"parts": "Hi"}, "finishReason": "STOP"}]},
    {"candidates": [{"content": {"parts": [{"text": 42}]}, "finishReason": "STOP"}]},
    {"candidates": [{"content": {"parts": [{"functionCall": "get_weather"}]}, "finishReason": "STOP"}]},
    {"candidates": [{"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP", "index": "0"}]},
    {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}], "usageMetadata": {"promptTokenCount": None}},
    {"candidates": [], "promptFeedback": "blocked"},
])
def test_answer_of_the_wrong_shape_is_a_retryable_502(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream, body: dict[str, Any]
) -> None:
    """The transform checks what it reads: no candidates (nor a blocked prompt), or the wrong types: a bad answer."""
    fake_upstream.on(FLASH, _json(body))
    with pytest.raises(openai.InternalServerError) as caught:
        gateway(num_retries=1).chat.completions.create(model="gem", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert "not a Gemini answer" in caught.value.message
    assert_valid(caught.value.response.json(), "ErrorResponse")
    assert len(fake_upstream.requests) == 2  # retried


def test_stream_event_of_the_wrong_shape_is_an_error(
    gateway: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    first = fixture("stream_text.sse").split(b"\n\n")[1] + b"\n\n"  # "Hello"
    broken = b'data: {"candidates": [{"content": {"parts": "there"}, "index": 0}]}\n\n'
    fake_upstream.on(FLASH_STREAM, lambda request, raw: Response(first + broken, media_type="text/event-stream"))
    texts = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in gateway().chat.completions.create(
                model="gem", messages=[{"role": "user", "content": "hi"}], stream=True):
            texts.append(chunk.choices[0].delta.content or "")
    assert "".join(texts) == "Hello"
    assert "not a Gemini answer" in caught.value.message
