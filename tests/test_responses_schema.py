"""The Responses front door against the official schemas: the typed request, and the stream translator's events.

- ``CreateResponse`` (the official schema, read through :mod:`request_schema`): every property is a
  field of the typed request; every bound is accepted at the bound and refused just past it with a
  400 naming the property; the item and tool types OpenAI knows but the gateway does not translate
  are accepted (forwarded to OpenAI) rather than refused as unknown.
- :class:`ChatToResponses` on chat chunks of every shape (reasoning, text, refusal, parallel tool
  calls interleaved, logprobs, a usage-only chunk, bytes, a failure): every event valid, numbered,
  and the final ``Response`` valid.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import request_schema
from conftest import DEV_KEY, make_config
from lambdagate.errors import UpstreamTimeout
from lambdagate.frontdoors.base import DoorEvent
from lambdagate.frontdoors.responses.request import to_chat
from lambdagate.frontdoors.responses.stream import ChatToResponses
from lambdagate.frontdoors.responses.types import CreateResponse
from lambdagate.providers.shapes import ChatChunks
from lambdagate.wire import RawJSON
from openai_schema import assert_valid
from responses_support import assert_events, final_response

SCHEMA = "CreateResponse"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    from conftest import ServerThread
    from lambdagate.api import create_app
    from lambdagate.config.file_store import FileConfigStore

    config = make_config({"mock": {}}, {"mock-gpt": {"provider": "mock", "model": "mock-gpt"}}, drop_params=True)
    with ServerThread(create_app(FileConfigStore(config))) as server:
        yield server.url + "/v1"


def post(base_url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(base_url + "/responses", json=body, headers={"authorization": f"Bearer {DEV_KEY}"}, timeout=20)


# --- the typed request ------------------------------------------------------------------------------


def test_every_property_of_the_schema_is_typed() -> None:
    assert set(request_schema.properties(SCHEMA)) <= set(CreateResponse.model_fields)


def _bound_cases() -> Iterator[Any]:
    for bound in request_schema.bounds(SCHEMA):
        for side, value in bound.candidates():
            yield pytest.param(bound, side, value, id=f"{bound.prop}-{bound.keyword}-{side}")


@pytest.mark.parametrize(("bound", "side", "value"), list(_bound_cases()))
def test_schema_bounds(base_url: str, bound: request_schema.Bound, side: str, value: Any) -> None:
    body = {"model": "mock-gpt", "input": "hi", bound.prop: value}
    assert request_schema.is_valid(body, SCHEMA) is (side == "at")
    response = post(base_url, body)
    if side == "at":
        # Accepted: answered, or (context_management, which chat cannot carry) dropped and named.
        assert response.status_code == 200, response.text
        assert_valid(response.json(), "Response")
    else:
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["param"] == bound.prop, error


@pytest.mark.parametrize("item", [
    {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "q"}},
    {"type": "computer_call_output", "call_id": "c", "output": {"type": "computer_screenshot", "image_url": "x"}},
    {"type": "compaction_trigger"},
    {"type": "mcp_list_tools", "id": "m", "server_label": "s", "tools": []},
])
def test_item_types_the_gateway_does_not_translate_are_typed_as_openai_items(item: dict[str, Any]) -> None:
    body = {"model": "m", "input": [item]}
    CreateResponse.model_validate_json(json.dumps(body))  # accepted: forwarded as is to OpenAI and Azure
    with pytest.raises(Exception) as refused:
        to_chat(CreateResponse.model_validate(body))  # refused where it would be translated
    assert getattr(refused.value, "param", None) == "input[0].type"


def test_translation_of_every_mapped_parameter() -> None:
    request = CreateResponse.model_validate({
        "model": "m", "instructions": "sys", "input": [
            {"role": "developer", "content": "dev"},
            {"role": "user", "content": [{"type": "input_text", "text": "look"},
                                         {"type": "input_image", "image_url": "https://x/y.png", "detail": "original"},
                                         {"type": "input_file", "file_data": "data:application/pdf;base64,AA",
                                          "filename": "a.pdf"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thought"}]},
            {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
             "content": [{"type": "output_text", "text": "Calling.", "annotations": []}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{\"a\":1}"},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {"type": "function_call_output", "call_id": "c2",
             "output": [{"type": "input_text", "text": "two"}]},
        ],
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}],
        "tool_choice": {"type": "function", "name": "f"}, "parallel_tool_calls": False,
        "text": {"format": {"type": "json_object"}, "verbosity": "low"}, "reasoning": {"effort": "low"},
        "max_output_tokens": 64, "temperature": 0.2, "top_p": 0.9, "top_logprobs": 3, "user": "u",
        "safety_identifier": "s", "prompt_cache_key": "k", "service_tier": "flex", "metadata": {"a": "b"},
        "seed": 7, "stream": True,
    })
    translation = to_chat(request)
    chat = translation.request.model_dump(exclude_unset=True, exclude_none=True)
    assert chat["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "developer", "content": "dev"},
        {"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "high"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,AA", "filename": "a.pdf"}}]},
        {"role": "assistant", "content": "Calling.", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "c2", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "one"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "two"}]},
    ]
    assert chat["tools"] == [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"},
                                                               "strict": True}}]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    expected = {"parallel_tool_calls": False, "response_format": {"type": "json_object"}, "verbosity": "low",
                "reasoning_effort": "low", "max_completion_tokens": 64, "temperature": 0.2, "top_p": 0.9,
                "logprobs": True, "top_logprobs": 3, "user": "u", "safety_identifier": "s", "prompt_cache_key": "k",
                "service_tier": "flex", "seed": 7, "stream": True, "stream_options": {"include_usage": True}}
    assert {name: chat[name] for name in expected} == expected
    assert "metadata" not in chat  # attached to the response, not sent
    assert translation.names["max_tokens"] == "max_output_tokens"
    assert translation.names["response_format"] == "text.format"


# --- the stream translator ----------------------------------------------------------------------------


def _run(chunks: list[Any], request: dict[str, Any] | None = None, *, error: Exception | None = None
         ) -> list[dict[str, Any]]:
    stream = ChatToResponses(CreateResponse.model_validate({"model": "m", "input": "x", **(request or {})}))
    events: list[DoorEvent] = []
    for chunk in chunks:
        events += stream.on_chunk(chunk)
    events += stream.on_error(error) if error is not None else stream.on_end()  # type: ignore[arg-type]
    pairs = [(event.name, event.body) for event in events]
    return assert_events(pairs, terminal="response.failed" if error else None)  # type: ignore[arg-type]


def test_reasoning_text_then_parallel_tool_calls_interleaved() -> None:
    c = ChatChunks("m")
    datas = _run([
        c.role(), c.reasoning("Think"), c.reasoning("ing."), c.content("Calling "), c.content("both."),
        c.tool_call(0, id="call_a", name="f"), c.tool_call(1, id="call_b", name="g"),
        c.tool_call(0, arguments="{\"x\":"), c.tool_call(1, arguments="{\"y\":2}"), c.tool_call(0, arguments="1}"),
        c.finish("tool_calls"), c.usage({"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12,
                                         "completion_tokens_details": {"reasoning_tokens": 4}}),
    ])
    final = final_response(datas)
    assert final["status"] == "completed"
    assert [item["type"] for item in final["output"]] == ["reasoning", "message", "function_call", "function_call"]
    assert final["output"][0]["summary"] == [{"type": "summary_text", "text": "Thinking."}]
    assert final["output"][1]["content"][0]["text"] == "Calling both."
    assert [(i["call_id"], i["name"], i["arguments"]) for i in final["output"][2:]] == [
        ("call_a", "f", "{\"x\":1}"), ("call_b", "g", "{\"y\":2}")]
    assert final["usage"]["output_tokens_details"] == {"reasoning_tokens": 4}
    # The reasoning and the message are done before the first call is added.
    kinds = [d["type"] for d in datas]
    first_call = next(i for i, d in enumerate(datas) if d["type"] == "response.output_item.added"
                      and d["item"]["type"] == "function_call")
    assert kinds[:first_call].count("response.output_item.done") == 2


def test_refusal_logprobs_and_bytes_chunks() -> None:
    c = ChatChunks("m")
    text = c.content("Hi")
    text["choices"][0]["logprobs"] = {"content": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105],
                                                   "top_logprobs": [{"token": "Hi", "logprob": -0.1, "bytes": [72]}]}]}
    refusal = c.delta({"refusal": "I can't help with that."})
    datas = _run([RawJSON(json.dumps(c.role()).encode()), text, refusal, c.finish("stop")])
    final = final_response(datas)
    assert [part["type"] for part in final["output"][0]["content"]] == ["output_text", "refusal"]
    assert final["output"][0]["content"][0]["logprobs"][0]["token"] == "Hi"
    assert [d["type"] for d in datas if "refusal" in d["type"]] == ["response.refusal.delta", "response.refusal.done"]


def test_length_and_content_filter_are_incomplete() -> None:
    c = ChatChunks("m")
    for reason, detail in (("length", "max_output_tokens"), ("content_filter", "content_filter")):
        datas = _run([c.role(), c.content("cut"), c.finish(reason)])
        assert datas[-1]["type"] == "response.incomplete"
        assert final_response(datas)["incomplete_details"] == {"reason": detail}


def test_an_empty_stream_still_completes() -> None:
    final = final_response(_run([]))
    assert final["output"] == [] and final["status"] == "completed"


def test_failure_before_and_after_output() -> None:
    c = ChatChunks("m")
    error = UpstreamTimeout("anthropic did not answer within 5 seconds.")
    before = _run([], error=error)
    assert [d["type"] for d in before] == ["response.created", "response.in_progress", "error", "response.failed"]
    assert before[2]["code"] == "upstream_timeout"
    after = _run([c.role(), c.content("Part"), c.tool_call(0, id="call_1", name="f", arguments="{")], error=error)
    failed = final_response(after)
    assert failed["error"] == {"code": "server_error", "message": "anthropic did not answer within 5 seconds."}
    assert [item["status"] for item in failed["output"]] == ["completed", "incomplete"]


def test_request_echo_in_stream_snapshots() -> None:
    datas = _run([ChatChunks("m").content("x")], {
        "instructions": "sys", "tools": [{"type": "function", "name": "f"}], "tool_choice": "none",
        "text": {"format": {"type": "json_schema", "name": "n", "schema": {"type": "object"}}},
        "reasoning": {"effort": "high"}, "metadata": {"k": "v"}, "max_output_tokens": 100})
    created = datas[0]["response"]
    assert created["status"] == "in_progress" and created["instructions"] == "sys"
    assert created["tools"] == [{"type": "function", "name": "f", "parameters": None, "strict": None}]
    assert created["text"]["format"]["schema"] == {"type": "object"} and created["metadata"] == {"k": "v"}
    assert created["reasoning"] == {"effort": "high", "summary": None} and created["max_output_tokens"] == 100


def test_openapi_documents_the_route(base_url: str) -> None:
    document = httpx.get(base_url.removesuffix("/v1") + "/openapi.json").json()
    operation = document["paths"]["/v1/responses"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreateResponse"}
    assert "input" in document["components"]["schemas"]["CreateResponse"]["properties"]
    assert "/responses" not in document["paths"]  # the bare route answers but is not listed twice

