"""``POST /v1/responses`` translated through chat: the official openai SDK -> lambdagate -> the mock provider.

The mock answers from the request (``You said: <last user text>``, a tool call when one is required,
``{"echo": ...}`` for JSON formats), so each translation is visible in the answer. Every response and
every stream event is validated against the official schemas (``Response``, ``ResponseStreamEvent``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

import request_schema
from conftest import DEV_KEY, make_config
from openai_schema import assert_valid
from responses_support import assert_events, final_response, output_text, parse_sse, post_stream

WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather for a city.", "strict": False,
           "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                          "required": ["location"]}}


@pytest.fixture
def base_url(serve_gateway: Callable[..., str]) -> str:
    config = make_config({"mock": {}}, {
        "mock-gpt": {"provider": "mock", "model": "mock-gpt"},
        "slow": {"provider": "mock", "model": "mock-slow", "latency": 5, "timeout": 1},
    }, num_retries=0, max_body_bytes=4096)
    return serve_gateway(config)


@pytest.fixture
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20)


def _valid_request(body: dict[str, Any]) -> None:
    """Whatever a test sends is a valid ``CreateResponse`` (the official schema, oneOf read as anyOf)."""
    assert request_schema.is_valid(body, "CreateResponse"), body


def test_string_input(client: openai.OpenAI) -> None:
    raw = client.responses.with_raw_response.create(model="mock-gpt", input="Hello, gateway")
    body = json.loads(raw.text)
    assert_valid(body, "Response")
    response = raw.parse()
    assert response.output_text == "You said: Hello, gateway"
    assert response.status == "completed" and response.object == "response"
    assert response.id.startswith("resp_") and response.store is False
    assert response.usage is not None and response.usage.input_tokens == 2 and response.usage.output_tokens == 4
    assert response.usage.total_tokens == 6
    assert raw.headers["x-request-id"] and raw.headers["x-lambdagate-provider"] == "mock"
    assert raw.headers["content-type"] == "application/json"


def test_items_with_instructions(client: openai.OpenAI) -> None:
    request: dict[str, Any] = {
        "model": "mock-gpt", "instructions": "Be terse.",
        "input": [
            {"role": "user", "content": "first question"},
            {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": "An answer.", "annotations": [], "logprobs": []}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "second question"}]},
        ],
        "temperature": 0.5, "metadata": {"ticket": "42"}, "user": "u-1",
    }
    _valid_request(request)
    raw = client.responses.with_raw_response.create(**request)
    body = json.loads(raw.text)
    assert_valid(body, "Response")
    assert body["output"][0]["content"][0]["text"] == "You said: second question"
    # The request is echoed as OpenAI echoes it; metadata is kept on the response object.
    assert body["instructions"] == "Be terse." and body["temperature"] == 0.5
    assert body["metadata"] == {"ticket": "42"} and body["user"] == "u-1"


def test_function_tools_round_trip(client: openai.OpenAI) -> None:
    first = client.responses.create(model="mock-gpt", input="Paris", tools=[WEATHER],  # type: ignore[list-item]
                                    tool_choice="required")
    assert first.status == "completed"
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"input": "Paris"}
    assert call.call_id.startswith("call_") and call.id and call.id.startswith("fc_")
    assert_valid(first.model_dump(mode="json", exclude_unset=True), "Response")

    second_input: list[Any] = [
        {"role": "user", "content": "Paris"}, *first.output,
        {"type": "function_call_output", "call_id": call.call_id, "output": "18 degrees, sunny"},
    ]
    raw = client.responses.with_raw_response.create(model="mock-gpt", input=second_input, tools=[WEATHER])  # type: ignore[list-item]
    assert_valid(json.loads(raw.text), "Response")
    assert raw.parse().output_text == "The tool returned: 18 degrees, sunny"


def test_named_function_and_allowed_tools(client: openai.OpenAI) -> None:
    other = {**WEATHER, "name": "get_time"}
    named = client.responses.create(model="mock-gpt", input="x", tools=[WEATHER, other],  # type: ignore[list-item]
                                    tool_choice={"type": "function", "name": "get_time"})
    assert [item.name for item in named.output if item.type == "function_call"] == ["get_time"]
    allowed = client.responses.create(
        model="mock-gpt", input="x", tools=[WEATHER, other],  # type: ignore[list-item]
        tool_choice={"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "get_time"}]})
    assert [item.name for item in allowed.output if item.type == "function_call"] == ["get_time"]
    assert allowed.tool_choice.type == "allowed_tools"  # type: ignore[union-attr]


def test_stream_reassembles_output_text(client: openai.OpenAI, base_url: str) -> None:
    events = list(client.responses.create(model="mock-gpt", input="Stream this please", stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "You said: Stream this please"
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage is not None and events[-1].response.usage.output_tokens == 5

    raw = post_stream(base_url, {"model": "mock-gpt", "input": "Stream this please"})
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/event-stream")
    assert "[DONE]" not in raw.text
    datas = assert_events(parse_sse(raw.text))
    assert [d["type"] for d in datas] == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        *["response.output_text.delta"] * 5, "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"]
    assert output_text(datas) == "You said: Stream this please"
    final = final_response(datas)
    assert final["output"][0]["content"][0]["text"] == "You said: Stream this please"
    assert final["usage"]["input_tokens"] == 3


def test_stream_helper_final_response(client: openai.OpenAI) -> None:
    with client.responses.stream(model="mock-gpt", input="helper stream") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "You said: helper stream"


def test_streamed_tool_call(client: openai.OpenAI, base_url: str) -> None:
    raw = post_stream(base_url, {"model": "mock-gpt", "input": "Tokyo", "tools": [WEATHER], "tool_choice": "required"})
    datas = assert_events(parse_sse(raw.text))
    done = [d for d in datas if d["type"] == "response.function_call_arguments.done"]
    assert len(done) == 1 and json.loads(done[0]["arguments"]) == {"input": "Tokyo"}
    assert done[0]["name"] == "get_weather"
    item = final_response(datas)["output"][0]
    assert item["type"] == "function_call" and item["status"] == "completed"

    with client.responses.stream(model="mock-gpt", input="Tokyo", tools=[WEATHER],  # type: ignore[list-item]
                                 tool_choice="required") as stream:
        final = stream.get_final_response()
    assert final.output[0].type == "function_call" and json.loads(final.output[0].arguments) == {"input": "Tokyo"}


def test_text_format_json_schema(client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"echo": {"type": "string"}}, "required": ["echo"],
              "additionalProperties": False}
    text = {"format": {"type": "json_schema", "name": "echo", "schema": schema, "strict": True}}
    _valid_request({"model": "mock-gpt", "input": "structured", "text": text})
    raw = client.responses.with_raw_response.create(model="mock-gpt", input="structured", text=text)  # type: ignore[arg-type]
    body = json.loads(raw.text)
    assert_valid(body, "Response")
    assert json.loads(raw.parse().output_text) == {"echo": "structured"}
    assert body["text"]["format"] == text["format"]


def test_max_output_tokens_is_incomplete(client: openai.OpenAI, base_url: str) -> None:
    words = " ".join(f"w{i}" for i in range(30))
    response = client.responses.create(model="mock-gpt", input=words, max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"  # type: ignore[union-attr]
    assert len(response.output_text.split()) == 16
    assert_valid(response.model_dump(mode="json", exclude_unset=True), "Response")

    datas = assert_events(parse_sse(post_stream(base_url, {"model": "mock-gpt", "input": words,
                                                           "max_output_tokens": 16}).text),
                          terminal="response.incomplete")
    final = final_response(datas)
    assert final["status"] == "incomplete" and final["incomplete_details"] == {"reason": "max_output_tokens"}


# --- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "param", "words"), [
    ({"previous_response_id": "resp_123"}, "previous_response_id", "keeps no responses"),
    ({"store": True}, "store", "keeps no responses"),
    ({"conversation": "conv_1"}, "conversation", "keeps no responses"),
    ({"background": True}, "background", "keeps no responses"),
    ({"prompt": {"id": "pmpt_1"}}, "prompt", "Stored prompts"),
    ({"tools": [{"type": "web_search"}]}, "tools[0].type", "'web_search' tool is built into"),
    ({"tools": [WEATHER, {"type": "file_search", "vector_store_ids": ["vs_1"]}]}, "tools[1].type", "'file_search'"),
    ({"tools": [{"type": "computer_use_preview", "display_width": 1, "display_height": 1, "environment": "linux"}]},
     "tools[0].type", "'computer_use_preview'"),
    ({"tools": [WEATHER], "tool_choice": {"type": "web_search_preview"}}, "tool_choice.type", "'web_search_preview'"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]", "keeps no responses"),
    ({"input": [{"type": "web_search_call", "id": "ws_1", "status": "completed"}]}, "input[0].type", "web_search_call"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1", "detail": "auto"}]}]},
     "input[0].content[0].file_id", "file_id"),
])
def test_what_needs_openai_is_a_clear_400(client: openai.OpenAI, fields: dict[str, Any], param: str,
                                          words: str) -> None:
    body = {"model": "mock-gpt", "input": "hi", **fields}
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(**body)
    assert caught.value.status_code == 400
    error = caught.value.body
    assert isinstance(error, dict) and error["param"] == param, error
    assert words in error["message"]
    assert_valid({"error": error}, "ErrorResponse")


def test_absent_or_false_store_is_stateless(client: openai.OpenAI) -> None:
    for extra in ({}, {"store": False}):
        response = client.responses.create(model="mock-gpt", input="no state", **extra)
        assert response.store is False and response.output_text == "You said: no state"


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "mock-gpt", "input": "x", "max_output_tokens": 15}, "max_output_tokens"),
    ({"model": "mock-gpt", "input": "x", "temperature": "0.5"}, "temperature"),
    ({"model": "mock-gpt", "input": [{"role": "bot", "content": "x"}]}, "input[0].role"),
    ({"model": "mock-gpt", "input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
    ({"model": "mock-gpt", "tools": [{"type": "function"}]}, "tools[0].name"),
    ({"model": "mock-gpt"}, "input"),
    ({"input": "x"}, "model"),
])
def test_invalid_requests_are_400s_naming_the_param(base_url: str, body: dict[str, Any], param: str) -> None:
    response = httpx.post(base_url + "/responses", json=body, headers={"authorization": f"Bearer {DEV_KEY}"})
    assert response.status_code == 400, response.text
    assert_valid(response.json(), "ErrorResponse")
    assert response.json()["error"]["param"] == param


def test_error_classes(client: openai.OpenAI, base_url: str, serve_gateway: Callable[..., str]) -> None:
    bad_key = openai.OpenAI(base_url=base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad_key.responses.create(model="mock-gpt", input="x")
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.create(model="no-such-model", input="x")
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.APIStatusError) as large:
        client.responses.create(model="mock-gpt", input="x" * 5000)
    assert large.value.status_code == 413
    with pytest.raises(openai.InternalServerError) as slow:
        client.responses.create(model="slow", input="x")
    assert slow.value.status_code == 504

    limited = make_config({"mock": {}}, {"mock-gpt": {"provider": "mock", "model": "mock-gpt"},
                                         "other": {"provider": "mock", "model": "other"}})
    limited = limited.model_copy(update={"keys": [limited.keys[0].model_copy(update={"models": ("mock-gpt",)})]})
    restricted = openai.OpenAI(base_url=serve_gateway(limited), api_key=DEV_KEY, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        restricted.responses.create(model="other", input="x")
    assert restricted.responses.create(model="mock-gpt", input="x").output_text == "You said: x"


def test_route_without_v1_and_bad_json(base_url: str) -> None:
    root = base_url.removesuffix("/v1")
    headers = {"authorization": f"Bearer {DEV_KEY}"}
    ok = httpx.post(root + "/responses", json={"model": "mock-gpt", "input": "bare"}, headers=headers)
    assert ok.status_code == 200 and ok.json()["output"][0]["content"][0]["text"] == "You said: bare"
    broken = httpx.post(root + "/responses", content=b"{not json", headers=headers)
    assert broken.status_code == 400 and "parse the JSON body" in broken.json()["error"]["message"]


def test_keepalives_while_waiting_and_the_deadline_mid_stream(serve_gateway: Callable[..., str]) -> None:
    config = make_config({"mock": {}}, {
        "late": {"provider": "mock", "model": "late", "latency": 0.6},
        "dribble": {"provider": "mock", "model": "dribble", "chunk_delay": 0.4},
    }, stream_keepalive=0.2, num_retries=0)
    base_url = serve_gateway(config)
    raw = post_stream(base_url, {"model": "late", "input": "slow start"})
    assert raw.text.startswith(": keep-alive\n\n")
    assert ": x-lambdagate-provider: mock\n" in raw.text  # too late for a header: an SSE comment
    assert output_text(assert_events(parse_sse(raw.text))) == "You said: slow start"

    cut = post_stream(base_url, {"model": "dribble", "input": "one two three four five six", "timeout": 1})
    datas = assert_events(parse_sse(cut.text), terminal="response.failed")
    error = next(d for d in datas if d["type"] == "error")
    assert error["code"] == "deadline_exceeded" and error["param"] is None
    failed = final_response(datas)
    assert failed["error"]["code"] == "server_error" and output_text(datas).startswith("You said:")
