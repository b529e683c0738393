"""``/v1/messages`` and ``/v1/messages/count_tokens`` to Anthropic: the client's bytes forwarded, Anthropic's answered.

The official Anthropic SDK (and raw HTTP, for exact bytes) -> lambdagate -> the strict Anthropic
fake of tests/messages_support.py, answering with the recorded-shape fixtures of
tests/fixtures/anthropic/. The tests assert the forwarded request byte for byte (only ``model``
routed), the client's ``anthropic-version``/``anthropic-beta`` forwarded and its key replaced by
the provider's, the answer's bytes unchanged, and errors as the SDK's exception classes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import pytest

from conftest import DEV_KEY, FakeUpstream, make_config
from lambdagate.frontdoors.messages.passthrough import NativeMessages, betas_of
from messages_support import (
    CLAUDE_CODE_HEADERS,
    UPSTREAM_KEY,
    AnthropicAPI,
    assert_stream,
    claude_code_body,
    client,
    fixture,
    parse_sse,
    text_of,
)

MODEL = "claude-sonnet-4-5-20250929"
WEATHER = {"name": "get_weather", "description": "Current weather for a city.",
           "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                            "required": ["location"]}}


@pytest.fixture
def upstream(fake_upstream: FakeUpstream) -> AnthropicAPI:
    return AnthropicAPI(fake_upstream)


@pytest.fixture
def start(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> Callable[..., str]:
    def run(providers: dict[str, Any] | None = None, models: dict[str, Any] | None = None, **settings: Any) -> str:
        all_providers = {"anthropic": {"api_base": fake_upstream.url, "api_key": UPSTREAM_KEY}, "mock": {},
                         **(providers or {})}
        all_models = {"claude": {"provider": "anthropic", "model": MODEL},
                      MODEL: {"provider": "anthropic", "model": MODEL},
                      "mock-gpt": {"provider": "mock", "model": "mock-gpt"}, **(models or {})}
        return serve_gateway(make_config(all_providers, all_models, **{"num_retries": 0, **settings}))

    return run


@pytest.fixture
def base_url(start: Callable[..., str]) -> str:
    return start()


def post(base_url: str, path: str, raw: bytes, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(timeout=20) as http:
        return http.post(base_url + path, content=raw, headers={"content-type": "application/json", **headers})


def assert_forwarded_headers(headers: dict[str, str], *, version: str, betas: str | None) -> None:
    assert headers["anthropic-version"] == version
    assert headers.get("anthropic-beta") == betas
    assert DEV_KEY not in json.dumps(headers)  # the client's key is never forwarded
    if version == "2023-06-01":
        assert headers["x-api-key"] == UPSTREAM_KEY and "authorization" not in headers
    else:
        assert headers["authorization"] == f"Bearer {UPSTREAM_KEY}" and "x-api-key" not in headers


# --- the request, forwarded ------------------------------------------------------------------------


def test_the_clients_bytes_are_forwarded_with_only_the_model_routed(upstream: AnthropicAPI, base_url: str) -> None:
    body = {
        "model": "claude", "max_tokens": 1024,
        "system": [{"type": "text", "text": "Be terse — très terse.", "cache_control": {"type": "ephemeral",
                                                                                        "ttl": "1h"}}],
        "messages": [
            {"role": "user", "content": [
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "A report."},
                 "citations": {"enabled": True}, "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Is 2+2 even?"}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "2+2=4.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjr"},
                {"type": "text", "text": "Yes."}]},
            {"role": "user", "content": "And 3+3?"},
        ],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
    }
    raw = json.dumps(body, indent=1).encode()  # formatting no encoder of the gateway would produce
    answer = post(base_url, "/messages", raw, {"x-api-key": DEV_KEY, "anthropic-version": "2023-06-01",
                                               "anthropic-beta": "context-management-2025-06-27"})
    assert answer.status_code == 200, answer.text
    assert answer.content == fixture("message_text.json")  # Anthropic's bytes, untouched
    assert answer.headers["x-lambdagate-provider"] == "anthropic" and answer.headers["x-lambdagate-model"] == MODEL
    assert answer.headers["request-id"] == answer.headers["x-request-id"]
    forwarded = upstream.last
    assert forwarded.path == "/v1/messages"
    assert forwarded.body == raw.replace(b'"model": "claude"', f'"model": "{MODEL}"'.encode())
    assert_forwarded_headers(forwarded.headers, version="2023-06-01", betas="context-management-2025-06-27")


def test_a_model_named_as_deployed_goes_untouched_and_the_sdk_parses_the_answer(upstream: AnthropicAPI,
                                                                                 base_url: str) -> None:
    sdk = client(base_url)
    message = sdk.messages.create(model=MODEL, max_tokens=256, system="You are terse.",
                                  messages=[{"role": "user", "content": "Hello"}],
                                  extra_headers={"anthropic-beta": "a-beta-2025-01-01, another-beta-2025-02-02"})
    assert [block.text for block in message.content if block.type == "text"] == ["Hello! ", "How can I help?"]
    assert message.usage.cache_read_input_tokens == 2000 and message.usage.cache_creation_input_tokens == 100
    assert message.stop_reason == "end_turn"
    forwarded = upstream.last
    assert forwarded.json() == {"model": MODEL, "max_tokens": 256, "system": "You are terse.",
                                "messages": [{"role": "user", "content": "Hello"}]}
    # The current SDK sends anthropic-version 2026-10-21 and its key as a Bearer token; the provider's replaces it.
    assert_forwarded_headers(forwarded.headers, version="2026-10-21",
                             betas="a-beta-2025-01-01,another-beta-2025-02-02")


def test_the_providers_own_betas_come_first(upstream: AnthropicAPI, start: Callable[..., str],
                                            fake_upstream: FakeUpstream) -> None:
    providers = {"anthropic": {"api_base": fake_upstream.url, "api_key": UPSTREAM_KEY,
                               "anthropic_beta": ["operator-beta-2025-01-01", "shared-beta"]}}
    sdk = client(start(providers))
    sdk.messages.create(model="claude", max_tokens=5, messages=[{"role": "user", "content": "x"}],
                        extra_headers={"anthropic-beta": "shared-beta,client-beta"})
    assert upstream.last.headers["anthropic-beta"] == "operator-beta-2025-01-01,shared-beta,client-beta"


def test_the_gateways_timeout_field_is_not_forwarded(upstream: AnthropicAPI, base_url: str) -> None:
    raw = json.dumps({"model": "claude", "max_tokens": 5, "timeout": 9,
                      "messages": [{"role": "user", "content": "x"}]}).encode()
    answer = post(base_url, "/messages", raw, {"authorization": f"Bearer {DEV_KEY}"})
    assert answer.status_code == 200, answer.text  # the strict fake refuses unknown fields
    assert upstream.last.json() == {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}


def test_tools_and_a_tool_result_round_trip(upstream: AnthropicAPI, base_url: str) -> None:
    sdk = client(base_url)
    upstream.answer("message_tool_use.json")
    first = sdk.messages.create(model="claude", max_tokens=512, tools=[WEATHER],  # type: ignore[list-item]
                                tool_choice={"type": "auto", "disable_parallel_tool_use": False},
                                messages=[{"role": "user", "content": "Weather in Paris and Tokyo?"}])
    assert first.stop_reason == "tool_use"
    calls = [block for block in first.content if block.type == "tool_use"]
    assert [(c.name, c.input) for c in calls] == [("get_weather", {"location": "Paris", "unit": "celsius"}),
                                                   ("get_weather", {"location": "Tokyo", "unit": "celsius"})]
    upstream.answer("message_text.json")
    history: list[Any] = [{"role": "user", "content": "Weather in Paris and Tokyo?"},
                          {"role": "assistant", "content": [block.model_dump(exclude_none=True)
                                                            for block in first.content]},
                          {"role": "user", "content": [
                              {"type": "tool_result", "tool_use_id": calls[0].id, "content": "18°C"},
                              {"type": "tool_result", "tool_use_id": calls[1].id, "content": [
                                  {"type": "text", "text": "22°C"}], "is_error": False}]}]
    second = sdk.messages.create(model="claude", max_tokens=512, tools=[WEATHER],  # type: ignore[list-item]
                                 messages=history)
    assert second.stop_reason == "end_turn"
    assert upstream.last.json()["messages"] == history


# --- streams ---------------------------------------------------------------------------------------


def events_only(body: bytes) -> bytes:
    """A stream's events without SSE comments (keep-alives, the cost trailer)."""
    return b"".join(block + b"\n\n" for block in body.split(b"\n\n") if block and not block.startswith(b":"))


def test_stream_forwarded_event_by_event(upstream: AnthropicAPI, base_url: str) -> None:
    raw = json.dumps({"model": "claude", "max_tokens": 64, "stream": True,
                      "messages": [{"role": "user", "content": "Hello"}]}).encode()
    answer = post(base_url, "/messages", raw, {"x-api-key": DEV_KEY, "anthropic-version": "2023-06-01"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    assert events_only(answer.content) == fixture("stream_text.sse")  # each event's name and bytes, as they came
    datas = assert_stream(parse_sse(answer.text))
    assert text_of(datas) == "Hello, world"
    assert upstream.last.json()["stream"] is True

    sdk = client(base_url)
    with sdk.messages.stream(model="claude", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]) as stream:
        assert "".join(stream.text_stream) == "Hello, world"
        final = stream.get_final_message()
    assert final.usage.output_tokens == 15 and final.usage.cache_read_input_tokens == 300


def test_thinking_and_its_signature_stream_through(upstream: AnthropicAPI, base_url: str) -> None:
    upstream.answer("stream_thinking.sse")
    sdk = client(base_url)
    events = list(sdk.messages.create(model="claude", max_tokens=2048, stream=True,
                                      thinking={"type": "enabled", "budget_tokens": 1024},
                                      messages=[{"role": "user", "content": "Is the sum of two evens even?"}]))
    kinds = [event.type for event in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    deltas = [event.delta for event in events if event.type == "content_block_delta"]
    assert [d.type for d in deltas] == ["thinking_delta", "thinking_delta", "signature_delta", "text_delta"]
    assert deltas[2].signature == "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"  # type: ignore[union-attr]
    assert upstream.last.json()["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_usage_reaches_the_request_record(upstream: AnthropicAPI, base_url: str,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lambdagate.request")
    sdk = client(base_url)
    sdk.messages.create(model="claude", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    with sdk.messages.stream(model="claude", max_tokens=5, messages=[{"role": "user", "content": "x"}]) as stream:
        stream.until_done()
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "lambdagate.request"]
    assert [(r["endpoint"], r["stream"], r["prompt_tokens"], r["completion_tokens"]) for r in records] == [
        ("messages", False, 12 + 100 + 2000, 7), ("messages", True, 25 + 300, 15)]
    assert records[0]["cached_tokens"] == 2000 and records[0]["cache_write_tokens"] == 100
    assert records[1]["cached_tokens"] == 300


# --- count_tokens ----------------------------------------------------------------------------------


def test_count_tokens_is_anthropics_own(upstream: AnthropicAPI, base_url: str) -> None:
    sdk = client(base_url)
    raw = sdk.messages.with_raw_response.count_tokens(
        model="claude", system=[{"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Hello"}], tools=[WEATHER])  # type: ignore[list-item]
    assert raw.parse().input_tokens == 2095
    assert "x-lambdagate-token-estimate" not in raw.headers
    forwarded = upstream.last
    assert forwarded.path == "/v1/messages/count_tokens"
    assert forwarded.json()["model"] == MODEL and forwarded.json()["system"][0]["cache_control"] == {
        "type": "ephemeral"}
    assert_forwarded_headers(forwarded.headers, version="2026-10-21", betas=None)


# --- errors ----------------------------------------------------------------------------------------


def test_upstream_errors_are_the_sdks_classes(upstream: AnthropicAPI, base_url: str) -> None:
    sdk = client(base_url)
    request: dict[str, Any] = {"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}

    upstream.answer("error_429.json", status=429, headers={"retry-after": "7"})
    with pytest.raises(anthropic.RateLimitError) as limited:
        sdk.messages.create(**request)
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert "rate limit" in limited.value.message

    upstream.answer("error_529.json", status=529, headers={"retry-after": "3"})
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        sdk.messages.create(**request)
    assert overloaded.value.status_code == 529 and overloaded.value.response.headers["retry-after"] == "3"

    upstream.answer("error_prompt_too_long.json", status=400)
    with pytest.raises(anthropic.BadRequestError) as refused:
        sdk.messages.create(**request)
    assert "prompt is too long" in refused.value.message
    assert refused.value.body["request_id"] == refused.value.response.headers["x-request-id"]  # type: ignore[index]

    # The provider refusing the gateway's own key is the operator's problem, not the client's: a 5xx.
    upstream.answer("error_401.json", status=401)
    with pytest.raises(anthropic.InternalServerError) as broken:
        sdk.messages.create(**request)
    assert broken.value.status_code == 502 and UPSTREAM_KEY not in broken.value.message


def test_a_failure_mid_stream_is_an_error_event(upstream: AnthropicAPI, base_url: str) -> None:
    upstream.answer("stream_error.sse")
    raw = json.dumps({"model": "claude", "max_tokens": 5, "stream": True,
                      "messages": [{"role": "user", "content": "x"}]}).encode()
    answer = post(base_url, "/messages", raw, {"x-api-key": DEV_KEY})
    events = parse_sse(answer.text)
    assert_stream(events, complete=False)
    assert events[-1] == ("error", {"type": "error", "error": {"type": "overloaded_error",
                                                               "message": "anthropic error: Overloaded"}})
    sdk = client(base_url)
    with pytest.raises(anthropic.APIStatusError) as caught:
        list(sdk.messages.create(model="claude", max_tokens=5, stream=True,
                                 messages=[{"role": "user", "content": "x"}]))
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_an_overloaded_first_event_is_a_529(upstream: AnthropicAPI, base_url: str) -> None:
    upstream.answer("stream_overloaded_first.sse")
    with pytest.raises(anthropic.OverloadedError):
        list(client(base_url).messages.create(model="claude", max_tokens=5, stream=True,
                                              messages=[{"role": "user", "content": "x"}]))


def test_a_failing_anthropic_falls_back_to_a_translated_model(upstream: AnthropicAPI,
                                                              start: Callable[..., str]) -> None:
    upstream.answer("error_529.json", status=529)
    sdk = client(start(fallbacks={"claude": ["mock-gpt"]}))
    raw = sdk.messages.with_raw_response.create(model="claude", max_tokens=50,
                                                messages=[{"role": "user", "content": "Hello there"}])
    assert raw.headers["x-lambdagate-fallback"] == "mock-gpt" and raw.headers["x-lambdagate-provider"] == "mock"
    assert raw.parse().content[0].text == "You said: Hello there"  # type: ignore[union-attr]


# --- Claude Code ------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["x-api-key", "bearer"])
def test_a_claude_code_request(upstream: AnthropicAPI, base_url: str, auth: str) -> None:
    body = claude_code_body()
    raw = json.dumps(body).encode()
    key = {"x-api-key": DEV_KEY} if auth == "x-api-key" else {"authorization": f"Bearer {DEV_KEY}"}
    answer = post(base_url, "/messages?beta=true", raw, {**CLAUDE_CODE_HEADERS, **key})
    assert answer.status_code == 200, answer.text
    assert text_of(assert_stream(parse_sse(answer.text))) == "Hello, world"
    forwarded = upstream.last
    assert forwarded.body == raw  # the model is the deployment's own name: nothing to change
    assert_forwarded_headers(forwarded.headers, version="2023-06-01", betas=CLAUDE_CODE_HEADERS["anthropic-beta"])
    assert "x-claude-code-session-id" not in forwarded.headers and "x-app" not in forwarded.headers

    upstream.answer_count('{"input_tokens": 3120}')
    count_body = {name: body[name] for name in ("model", "system", "messages", "tools", "thinking")}
    counted = post(base_url, "/messages/count_tokens?beta=true", json.dumps(count_body).encode(),
                   {**CLAUDE_CODE_HEADERS, **key})
    assert counted.status_code == 200 and counted.json() == {"input_tokens": 3120}


# --- the model, replaced in the bytes ----------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    (b'{"model":"claude","max_tokens":1}', b'{"model":"m-2","max_tokens":1}'),
    (b'{ "max_tokens" : 1 ,\n "model" :\t"claude" }', b'{ "max_tokens" : 1 ,\n "model" :\t"m-2" }'),
    # a quote inside a string is escaped: "model" there is no key
    (b'{"messages":[{"role":"user","content":"say \\"model\\": \\"claude\\""}],"model":"claude"}',
     b'{"messages":[{"role":"user","content":"say \\"model\\": \\"claude\\""}],"model":"m-2"}'),
])
def test_the_model_is_replaced_in_place(raw: bytes, expected: bytes) -> None:
    assert NativeMessages(raw, "claude").body("m-2") == expected


def test_a_nested_model_key_makes_the_body_re_encoded() -> None:
    raw = (b'{"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Task", '
           b'"input": {"model": "claude"}}]}], "model": "claude"}')
    body = json.loads(NativeMessages(raw, "claude").body("m-2"))
    assert body["model"] == "m-2" and body["messages"][0]["content"][0]["input"] == {"model": "claude"}
    assert NativeMessages(raw, "claude").body("claude") == raw


def test_beta_header_values_are_split_and_kept_in_order() -> None:
    assert betas_of(["a, b", "b,c", " "]) == ("a", "b", "c")
