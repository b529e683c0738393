"""``POST /v1/messages`` translated through the chat contract: the Anthropic SDK against the mock and an OpenAI fake.

The mock provider answers locally (``You said: ...``, a tool call when one is required); the
OpenAI-type fake (tests/fake_openai.py, or handlers of the test's own) records the chat request
the gateway sent, so the translation is asserted field by field. Answers are validated by the
SDK's own models, streams event by event (tests/messages_support.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

import fake_openai
from conftest import DEV_KEY, FakeUpstream, ServerThread, make_config
from lambdagate.api import create_app
from lambdagate.config import load_store
from lambdagate.frontdoors.messages import count
from lambdagate.frontdoors.messages.types import MessageCountTokensParams
from messages_support import CLAUDE_CODE_HEADERS, assert_stream, claude_code_body, client, parse_sse, text_of

UPSTREAM_KEY = "sk-openai-upstream-secret-77"
WEATHER = {"name": "get_weather", "description": "Current weather for a city.",
           "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                            "required": ["location"]}}
DROPPED = "x-lambdagate-dropped-params"


@pytest.fixture
def start(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> Callable[..., str]:
    def run(models: dict[str, Any] | None = None, key_models: list[str] | None = None, **settings: Any) -> str:
        providers = {"mock": {}, "openai": {"api_base": fake_upstream.url + "/v1", "api_key": UPSTREAM_KEY}}
        all_models = {"claude-sonnet-4-5": {"provider": "mock", "model": "mock-gpt"},
                      "claude-haiku-4-5": {"provider": "mock", "model": "mock-gpt"},
                      "gpt": {"provider": "openai", "model": "gpt-4.1"}, **(models or {})}
        config = make_config(providers, all_models, **{"num_retries": 0, **settings})
        if key_models is not None:
            config.keys[0] = config.keys[0].model_copy(update={"models": key_models})
        return serve_gateway(config)

    return run


@pytest.fixture
def base_url(start: Callable[..., str]) -> str:
    return start()


@pytest.fixture
def sdk(base_url: str) -> anthropic.Anthropic:
    return client(base_url)


def chat_requests(fake: FakeUpstream) -> list[dict[str, Any]]:
    return [r.json() for r in fake.requests if r.path == "/v1/chat/completions"]


def post(base_url: str, body: dict[str, Any], headers: dict[str, str] | None = None,
         path: str = "/messages") -> httpx.Response:
    with httpx.Client(timeout=20) as http:
        return http.post(base_url + path, json=body, headers=headers or {"x-api-key": DEV_KEY})


# --- the mock provider -------------------------------------------------------------------------------


def test_create_plain_and_with_system(sdk: anthropic.Anthropic) -> None:
    raw = sdk.messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=100,
                                                messages=[{"role": "user", "content": "Hello there"}])
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
    assert [(b.type, b.text) for b in message.content] == [("text", "You said: Hello there")]  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.output_tokens == 4 and message.usage.input_tokens == 2
    assert message.usage.cache_read_input_tokens == 0 and message.usage.cache_creation_input_tokens == 0
    assert raw.headers["request-id"] == raw.headers["x-request-id"] and raw.headers["x-lambdagate-provider"] == "mock"

    with_system = sdk.messages.create(
        model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "Hi"}],
        system=[{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}])
    assert with_system.content[0].text == "You said: Hi"  # type: ignore[union-attr]


def test_max_tokens_and_stop_sequences(sdk: anthropic.Anthropic) -> None:
    cut = sdk.messages.create(model="claude-sonnet-4-5", max_tokens=2,
                              messages=[{"role": "user", "content": "one two three"}])
    assert cut.stop_reason == "max_tokens" and cut.content[0].text == "You said:"  # type: ignore[union-attr]
    stopped = sdk.messages.create(model="claude-sonnet-4-5", max_tokens=50, stop_sequences=["two"],
                                  messages=[{"role": "user", "content": "one two three"}])
    assert stopped.stop_reason == "end_turn"
    assert stopped.content[0].text.rstrip() == "You said: one"  # type: ignore[union-attr]


def test_tools_and_a_tool_result_round_trip(sdk: anthropic.Anthropic) -> None:
    first = sdk.messages.create(model="claude-sonnet-4-5", max_tokens=100, tools=[WEATHER],  # type: ignore[list-item]
                                tool_choice={"type": "any"}, messages=[{"role": "user", "content": "Paris"}])
    assert first.stop_reason == "tool_use"
    (call,) = first.content
    assert call.type == "tool_use" and call.name == "get_weather" and call.input == {"input": "Paris"}
    second = sdk.messages.create(
        model="claude-sonnet-4-5", max_tokens=100, tools=[WEATHER],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Paris"},
                  {"role": "assistant", "content": [call.model_dump()]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18°C"}]}])
    assert second.content[0].text == "The tool returned: 18°C"  # type: ignore[union-attr]


def test_stream_true_and_messages_stream(sdk: anthropic.Anthropic, base_url: str) -> None:
    events = list(sdk.messages.create(model="claude-sonnet-4-5", max_tokens=100, stream=True,
                                      messages=[{"role": "user", "content": "Stream this please"}]))
    assert [e.type for e in events[:2]] == ["message_start", "content_block_start"]
    assert events[-2].type == "message_delta" and events[-1].type == "message_stop"
    assert events[-2].usage.output_tokens == 5 and events[-2].delta.stop_reason == "end_turn"  # type: ignore[union-attr]

    with sdk.messages.stream(model="claude-sonnet-4-5", max_tokens=100,
                             messages=[{"role": "user", "content": "Stream this please"}]) as stream:
        assert "".join(stream.text_stream) == "You said: Stream this please"
        final = stream.get_final_message()
    assert final.usage.input_tokens == 3 and final.usage.output_tokens == 5 and final.stop_reason == "end_turn"

    raw = post(base_url, {"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": True,
                          "messages": [{"role": "user", "content": "Stream this please"}]})
    datas = assert_stream(parse_sse(raw.text))
    assert [d["type"] for d in datas[:2]] == ["message_start", "ping"]
    assert text_of(datas) == "You said: Stream this please"


def test_a_streamed_tool_call(sdk: anthropic.Anthropic, base_url: str) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": True, "tools": [WEATHER],
            "tool_choice": {"type": "tool", "name": "get_weather"}, "messages": [{"role": "user", "content": "Oslo"}]}
    datas = assert_stream(parse_sse(post(base_url, body).text))
    (start,) = [d for d in datas if d["type"] == "content_block_start"]
    assert start["content_block"]["type"] == "tool_use" and start["content_block"]["name"] == "get_weather"
    assert "".join(d["delta"]["partial_json"] for d in datas if d["type"] == "content_block_delta") == (
        '{"input": "Oslo"}')
    assert datas[-2]["delta"]["stop_reason"] == "tool_use"
    with sdk.messages.stream(**{k: v for k, v in body.items() if k != "stream"}) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    assert final.content[0].input == {"input": "Oslo"}  # type: ignore[union-attr]


def test_count_tokens_is_an_estimate_that_says_so(sdk: anthropic.Anthropic) -> None:
    request: dict[str, Any] = {
        "model": "claude-sonnet-4-5", "system": "Be terse.", "tools": [WEATHER],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo" * 5000}}]}]}
    raw = sdk.messages.with_raw_response.count_tokens(**request)
    assert raw.headers[count.ESTIMATE_HEADER] == "true"
    tokens = raw.parse().input_tokens
    assert tokens == count.estimate(MessageCountTokensParams.model_validate(request))
    assert count.BINARY_BLOCK_TOKENS < tokens < count.BINARY_BLOCK_TOKENS + 200  # the image's base64 is not text


def test_the_claude_code_request_on_the_mock(base_url: str) -> None:
    body = claude_code_body("claude-sonnet-4-5")
    answer = post(base_url, body, {**CLAUDE_CODE_HEADERS, "x-api-key": DEV_KEY}, path="/messages?beta=true")
    assert answer.status_code == 200, answer.text
    assert text_of(assert_stream(parse_sse(answer.text))).endswith("</system-reminder>\nList the files in the "
                                                                   "repository")
    counted = post(base_url, {k: body[k] for k in ("model", "system", "messages", "tools")},
                   {**CLAUDE_CODE_HEADERS, "authorization": f"Bearer {DEV_KEY}"}, path="/messages/count_tokens")
    assert counted.status_code == 200 and counted.json()["input_tokens"] > 100
    small = post(base_url, {"model": "claude-haiku-4-5", "max_tokens": 512, "messages": [
        {"role": "user", "content": "Please write a 5-10 word title for this conversation"}]},
        {**CLAUDE_CODE_HEADERS, "x-api-key": DEV_KEY})
    assert small.status_code == 200 and small.json()["content"][0]["text"].startswith("You said:")


# --- an OpenAI-type upstream: the chat request, field by field ----------------------------------------


def test_the_chat_request_sent_upstream(fake_upstream: FakeUpstream, sdk: anthropic.Anthropic) -> None:
    fake_upstream.on("/v1/chat/completions", fake_openai.chat)
    image = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    sdk.messages.create(
        model="gpt", max_tokens=300, stop_sequences=["END"],
        extra_body={"temperature": 0.5, "top_p": 0.9, "top_k": 40},  # the SDK's 2026-10-21 API has none of them
        system=[{"type": "text", "text": "Rule one."}, {"type": "text", "text": "Rule two.",
                                                         "cache_control": {"type": "ephemeral"}}],
        metadata={"user_id": "user-42"}, tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        thinking={"type": "enabled", "budget_tokens": 8000},
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "Look:"}, {"type": "image", "source": image},
                                         {"type": "image", "source": {"type": "url",
                                                                      "url": "https://example.com/a.png"}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"}, {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                    {"type": "text", "text": "18°C"}, {"type": "image", "source": image}]},
                {"type": "text", "text": "And tomorrow?"}]},
        ])
    (sent,) = chat_requests(fake_upstream)
    assert sent == {
        "model": "gpt-4.1", "max_completion_tokens": 300, "temperature": 0.5, "top_p": 0.9, "top_k": 40,
        "stop": ["END"], "user": "user-42", "reasoning_effort": "medium", "parallel_tool_calls": False,
        "tool_choice": "auto",
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER["input_schema"],
                                                    "description": "Current weather for a city."}}],
        "messages": [
            {"role": "system", "content": "Rule one.\n\nRule two."},
            {"role": "user", "content": [{"type": "text", "text": "Look:"},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,"
                                                                                    "iVBORw0KGgo="}},
                                         {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "toolu_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'}}]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18°C"},
            {"role": "user", "content": [{"type": "text", "text": "Images returned by the tools:"},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,"
                                                                                    "iVBORw0KGgo="}}]},
            {"role": "user", "content": "And tomorrow?"},
        ],
    }


def test_tool_round_trip_and_stream_through_openai(fake_upstream: FakeUpstream, sdk: anthropic.Anthropic) -> None:
    fake_upstream.on("/v1/chat/completions", fake_openai.chat)
    first = sdk.messages.create(model="gpt", max_tokens=100, tools=[WEATHER],  # type: ignore[list-item]
                                tool_choice={"type": "any"}, messages=[{"role": "user", "content": "Rome"}])
    (call,) = first.content
    assert call.type == "tool_use" and call.id == "call_1" and call.input == {"q": "Rome"}
    with sdk.messages.stream(
            model="gpt", max_tokens=100, tools=[WEATHER],  # type: ignore[list-item]
            messages=[{"role": "user", "content": "Rome"}, {"role": "assistant", "content": [call.model_dump()]},
                      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1",
                                                    "content": "sunny"}]}]) as stream:
        assert "".join(stream.text_stream) == "tool said: sunny"
    sent = chat_requests(fake_upstream)[-1]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


def reasoning_upstream(request: Request, raw: bytes) -> Response:
    """A reasoning model: thinking, then text, then two tool calls (the Bash one streamed in pieces)."""
    body = json.loads(raw)
    calls = [{"id": "call_a", "type": "function", "function": {"name": "Bash", "arguments": '{"command": "ls"}'}},
             {"id": "call_b", "type": "function", "function": {"name": "Read", "arguments": '{"file_path": "x"}'}}]
    usage = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
             "prompt_tokens_details": {"cached_tokens": 100}}
    if not body.get("stream"):
        return JSONResponse({"id": "chatcmpl-r", "object": "chat.completion", "created": 1, "model": "o-reasoner",
                             "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                                 "role": "assistant", "content": "Let me look.", "reasoning_content": "Think first.",
                                 "tool_calls": calls}}], "usage": usage})

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish}] if delta or finish else []
        data = {"id": "chatcmpl-r", "object": "chat.completion.chunk", "created": 1, "model": "o-reasoner",
                "choices": choices, **extra}
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    async def events() -> AsyncIterator[bytes]:
        yield chunk({"role": "assistant", "reasoning_content": "Think "})
        yield chunk({"reasoning_content": "first."})
        yield chunk({"content": "Let me look."})
        yield chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                     "function": {"name": "Bash", "arguments": ""}}]})
        yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"command": '}}]})
        yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"ls"}'}}]})
        yield chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                     "function": {"name": "Read", "arguments": '{"file_path": "x"}'}}]})
        yield chunk({}, "tool_calls")
        yield chunk({}, usage=usage)
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def test_thinking_text_and_tool_calls_come_back_as_blocks(fake_upstream: FakeUpstream, sdk: anthropic.Anthropic,
                                                          base_url: str) -> None:
    fake_upstream.on("/v1/chat/completions", reasoning_upstream)
    request: dict[str, Any] = {"model": "gpt", "max_tokens": 2000, "messages": [{"role": "user", "content": "Go"}],
                               "thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}
    message = sdk.messages.create(**request)
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert message.content[0].thinking == "Think first." and message.content[0].signature == ""  # type: ignore[union-attr]
    assert message.content[2].input == {"command": "ls"} and message.stop_reason == "tool_use"  # type: ignore[union-attr]
    assert message.usage.input_tokens == 20 and message.usage.cache_read_input_tokens == 100
    assert chat_requests(fake_upstream)[-1]["reasoning_effort"] == "xhigh"

    datas = assert_stream(parse_sse(post(base_url, {**request, "stream": True}).text))
    starts = [d["content_block"] for d in datas if d["type"] == "content_block_start"]
    assert [b["type"] for b in starts] == ["thinking", "text", "tool_use", "tool_use"]
    deltas = [d["delta"]["type"] for d in datas if d["type"] == "content_block_delta"]
    assert deltas == ["thinking_delta", "thinking_delta", "signature_delta", "text_delta", "input_json_delta",
                      "input_json_delta", "input_json_delta"]
    final = datas[-2]
    assert final["delta"]["stop_reason"] == "tool_use"
    assert final["usage"] == {"input_tokens": 20, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 100,
                              "output_tokens": 30}
    with sdk.messages.stream(**request) as stream:
        streamed = stream.get_final_message()
    assert [block.model_dump(exclude_none=True) for block in streamed.content] == [
        block.model_dump(exclude_none=True) for block in message.content]
    assert streamed.usage.input_tokens == 20 and streamed.usage.cache_read_input_tokens == 100


@pytest.mark.parametrize("message, finish, extra, expected", [
    ({"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_x", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
     "stop", {}, ("tool_use", None)),  # a provider that ends a tool call with "stop"
    ({"role": "assistant", "content": "one two"}, "stop", {"stop_reason": "END"}, ("stop_sequence", "END")),  # vLLM
    ({"role": "assistant", "content": "one two"}, "stop", {"stop_reason": 128001}, ("end_turn", None)),
    ({"role": "assistant", "content": "no"}, "content_filter", {}, ("refusal", None)),
])
def test_stop_reasons(fake_upstream: FakeUpstream, sdk: anthropic.Anthropic, message: dict[str, Any], finish: str,
                      extra: dict[str, Any], expected: tuple[str, str | None]) -> None:
    answer = {"id": "chatcmpl-s", "object": "chat.completion", "created": 1, "model": "m",
              "choices": [{"index": 0, "message": message, "finish_reason": finish, **extra}],
              "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}
    fake_upstream.on("/v1/chat/completions", lambda r, b: JSONResponse(answer))
    result = sdk.messages.create(model="gpt", max_tokens=10, stop_sequences=["END"],
                                 messages=[{"role": "user", "content": "x"}])
    assert (result.stop_reason, result.stop_sequence) == expected


def test_thinking_is_left_out_where_the_deployment_says_so(fake_upstream: FakeUpstream,
                                                           start: Callable[..., str]) -> None:
    fake_upstream.on("/v1/chat/completions", fake_openai.chat)
    models = {"gpt-4o": {"provider": "openai", "model": "gpt-4o", "messages_thinking": False}}
    sdk = client(start(models))
    for model in ("gpt-4o", "gpt"):
        sdk.messages.create(model=model, max_tokens=100, thinking={"type": "enabled", "budget_tokens": 1024},
                            messages=[{"role": "user", "content": "x"}])
    without, with_thinking = chat_requests(fake_upstream)
    assert "reasoning_effort" not in without and with_thinking["reasoning_effort"] == "low"


def test_the_claude_code_request_through_openai(fake_upstream: FakeUpstream, base_url: str) -> None:
    fake_upstream.on("/v1/chat/completions", fake_openai.chat)
    answer = post(base_url, claude_code_body("gpt"), {**CLAUDE_CODE_HEADERS, "x-api-key": DEV_KEY},
                  path="/messages?beta=true")
    assert answer.status_code == 200, answer.text
    assert DROPPED not in answer.headers
    assert text_of(assert_stream(parse_sse(answer.text))).endswith("</system-reminder>\nList the files in the "
                                                                   "repository")
    sent = chat_requests(fake_upstream)[-1]
    assert sent["messages"][0] == {"role": "system", "content": "You are Claude Code, Anthropic's official CLI for "
                                   "Claude.\n\nYou are an interactive CLI tool that helps users with software "
                                   "engineering tasks."}
    assert sent["messages"][1] == {"role": "user", "content": "<system-reminder>Context: a Python repository."
                                   "</system-reminder>\nList the files in the repository"}
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["Bash", "Read"]
    assert sent["user"].startswith("user_3f2a") and sent["reasoning_effort"] == "medium"
    assert "cache_control" not in json.dumps(sent) and "anthropic" not in json.dumps(fake_upstream.requests[-1]
                                                                                       .headers).lower()


def test_unsupported_fields_are_dropped_or_refused(fake_upstream: FakeUpstream, start: Callable[..., str]) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
            "service_tier": "auto", "container": "cont_1", "inference_geo": "us", "top_k": 5}
    base_url = start()
    answer = post(base_url, body)
    assert answer.status_code == 200 and answer.headers[DROPPED] == "container,service_tier,top_k"
    refused = post(start(drop_params=False), body)
    assert refused.status_code == 400 and refused.json()["error"]["type"] == "invalid_request_error"
    assert "container" in refused.json()["error"]["message"]
    server_tool = post(base_url, {**body, "tools": [{"type": "web_search_20250305", "name": "web_search"}]})
    assert server_tool.status_code == 400 and "web_search_20250305" in server_tool.json()["error"]["message"]


# --- errors as the SDK's classes ---------------------------------------------------------------------


def test_gateway_errors_are_the_sdks_classes(start: Callable[..., str]) -> None:
    base_url = start(key_models=["claude-sonnet-4-5"], max_body_bytes=4096)
    sdk = client(base_url)
    message: dict[str, Any] = {"max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    with pytest.raises(anthropic.AuthenticationError) as unauthenticated:
        client(base_url, api_key="sk-wrong").messages.create(model="claude-sonnet-4-5", **message)
    assert unauthenticated.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    with pytest.raises(anthropic.PermissionDeniedError) as denied:
        sdk.messages.create(model="claude-haiku-4-5", **message)
    assert denied.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError) as missing:
        sdk.messages.create(model="claude-nope", **message)
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as bad:
        sdk.messages.create(model="claude-sonnet-4-5", max_tokens=10,
                            messages=[{"role": "system", "content": "x"}])  # type: ignore[typeddict-item]
    assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "messages[0].role" in bad.value.message
    with pytest.raises(anthropic.ContentTooLargeError) as large:
        sdk.messages.create(model="claude-sonnet-4-5", max_tokens=10,
                            messages=[{"role": "user", "content": "x" * 5000}])
    assert large.value.body["error"]["type"] == "request_too_large"  # type: ignore[index]
    missing_max = post(base_url, {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "x"}]})
    assert missing_max.status_code == 400 and "max_tokens" in missing_max.json()["error"]["message"]
    assert missing_max.json()["request_id"] == missing_max.headers["x-request-id"]


def test_upstream_errors_are_the_sdks_classes(fake_upstream: FakeUpstream, sdk: anthropic.Anthropic) -> None:
    message: dict[str, Any] = {"model": "gpt", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    fake_upstream.on("/v1/chat/completions", lambda r, b: fake_openai.error(
        429, "Rate limit reached.", type="requests", code="rate_limit_exceeded", headers={"retry-after": "7"}))
    with pytest.raises(anthropic.RateLimitError) as limited:
        sdk.messages.create(**message)
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.body["error"] == {"type": "rate_limit_error",  # type: ignore[index]
                                           "message": "openai error: Rate limit reached."}
    fake_upstream.on("/v1/chat/completions", lambda r, b: fake_openai.error(500, "boom", type="server_error"))
    with pytest.raises(anthropic.InternalServerError) as failed:
        sdk.messages.create(**message)
    assert failed.value.status_code == 502 and failed.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    fake_upstream.on("/v1/chat/completions", lambda r, b: fake_openai.error(503, "The engine is overloaded.",
                                                                            type="server_error"))
    with pytest.raises(anthropic.ServiceUnavailableError) as overloaded:
        sdk.messages.create(**message)
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_a_failure_mid_stream_ends_with_an_error_event(fake_upstream: FakeUpstream, base_url: str,
                                                       sdk: anthropic.Anthropic) -> None:
    fake_upstream.on("/v1/chat/completions", lambda r, b: fake_openai.chat(r, b, fail_after=1))
    body = {"model": "gpt", "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "a b c"}]}
    events = parse_sse(post(base_url, body).text)
    assert_stream(events, complete=False)
    name, data = events[-1]
    assert name == "error" and data["type"] == "error" and data["error"]["type"] == "api_error"
    assert "overloaded mid-stream" in data["error"]["message"]
    with pytest.raises(anthropic.APIStatusError):
        list(sdk.messages.create(**body))  # type: ignore[call-overload]


def test_x_api_key_authenticates_every_endpoint(base_url: str) -> None:
    with httpx.Client(timeout=20) as http:
        chat = http.post(base_url + "/chat/completions", headers={"x-api-key": DEV_KEY},
                         json={"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]})
        assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["content"] == "You said: hi"
        wrong = http.get(base_url + "/models", headers={"x-api-key": "sk-wrong"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        both = http.get(base_url + "/models", headers={"x-api-key": "sk-wrong", "authorization": f"Bearer {DEV_KEY}"})
        assert both.status_code == 200  # a Bearer key wins


def test_the_readme_example_works_on_the_example_config(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[1]
    blocks = re.findall(r"```python\n(.*?)```", (root / "README.md").read_text(), flags=re.S)
    code = next(block for block in blocks if "anthropic.Anthropic(" in block)
    with ServerThread(create_app(load_store(str(root / "gateway.example.yaml")))) as server:
        exec(compile(code.replace("http://127.0.0.1:8000", server.url), "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["You said: Hello", "You said: Stream this"] and int(out[2]) > 0
