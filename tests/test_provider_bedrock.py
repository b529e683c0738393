"""The ``bedrock`` provider: Converse / ConverseStream through the real boto3 client.

Two fakes, both without network beyond loopback:

- a loopback server speaking the Bedrock Runtime HTTP API (``endpoint_url`` option): JSON for
  Converse and the binary ``application/vnd.amazon.eventstream`` framing for ConverseStream,
  encoded below from the AWS event stream format. boto3 signs, sends and parses for real, so the
  tests see the exact wire request and botocore's own stream and error parsing;
- botocore's Stubber for the exact ``converse`` keyword arguments (image bytes included).

Bodies (fixtures/bedrock) are written from the Converse / ConverseStream API reference.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import struct
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from botocore.stub import Stubber
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from conftest import DEV_KEY, FakeUpstream, free_port, make_config
from lambdagate.config.schema import GatewayConfig, ProviderConfig
from lambdagate.errors import InvalidRequest, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from lambdagate.providers.base import CallContext, Target
from lambdagate.providers.bedrock import PROVIDER
from lambdagate.providers.bedrock.client import client_for
from lambdagate.types import ChatCompletionRequest
from openai_schema import assert_valid

FIXTURES = Path(__file__).parent / "fixtures" / "bedrock"
MODEL = "anthropic.claude-sonnet-4-5-v1:0"
CONVERSE = f"/model/{MODEL}/converse"
CONVERSE_STREAM = f"/model/{MODEL}/converse-stream"
PNG = b"\x89PNG\r\n\x1a\n fake image bytes"
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}

Serve = Callable[[GatewayConfig], str]


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake static credentials, and nothing from the machine's AWS configuration or metadata."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


# --- the AWS event stream encoding (prelude, headers, payload, CRC32s) ---------------------


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack("!B", len(raw_name)) + raw_name + struct.pack("!BH", 7, len(raw_value)) + raw_value


def eventstream_message(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = b"".join(_header(k, v) for k, v in headers.items())
    prelude = struct.pack("!II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    prelude += struct.pack("!I", binascii.crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack("!I", binascii.crc32(message))


def event_frame(event: dict[str, Any]) -> bytes:
    ((name, body),) = event.items()
    headers = {":event-type": name, ":content-type": "application/json", ":message-type": "event"}
    return eventstream_message(headers, json.dumps(body).encode())


def exception_frame(name: str, message: str) -> bytes:
    headers = {":exception-type": name, ":content-type": "application/json", ":message-type": "exception"}
    return eventstream_message(headers, json.dumps({"message": message}).encode())


def stream_handler(frames: Callable[[], AsyncIterator[bytes]]) -> Any:
    def handler(request: Request, body: bytes) -> Response:
        return StreamingResponse(frames(), media_type="application/vnd.amazon.eventstream")

    return handler


def events_handler(events: list[dict[str, Any]], tail: list[bytes] | None = None) -> Any:
    async def frames() -> AsyncIterator[bytes]:
        for event in events:
            yield event_frame(event)
        for frame in tail or []:
            yield frame

    return stream_handler(frames)


def json_handler(body: Any, status: int = 200, error_type: str | None = None) -> Any:
    headers = {"x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"} \
        if error_type else None

    def handler(request: Request, raw: bytes) -> Response:
        return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)

    return handler


# --- targets and gateways ------------------------------------------------------------------


def target(endpoint_url: str, timeout: float = 10.0, **options: Any) -> Target:
    return Target(alias="claude", provider_name="aws", provider_type="bedrock", config=ProviderConfig(type="bedrock"),
                  model=MODEL, options={"region": "us-east-1", "endpoint_url": endpoint_url, **options},
                  timeout=timeout)


def chat_request(**fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "claude", **fields})


def gateway(serve: Serve, fake: FakeUpstream, **settings: Any) -> openai.OpenAI:
    providers = {"aws": {"type": "bedrock", "region": "eu-west-1", "endpoint_url": fake.url}}
    models = {"claude": {"provider": "aws", "model": MODEL}}
    base_url = serve(make_config(providers, models, **{"num_retries": 0, **settings}))
    return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=15)


async def collect(stream: AsyncIterator[Any]) -> list[dict[str, Any]]:
    return [chunk async for chunk in stream]


# --- the exact Converse request --------------------------------------------------------------


def test_converse_parameters_are_exact() -> None:
    """Every translated field, checked by botocore's Stubber against ``converse``'s arguments."""
    bedrock = target("http://127.0.0.1:9", guardrail_config={"guardrailIdentifier": "gr-1", "guardrailVersion": "3"})
    request = chat_request(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
            {"role": "user", "content": [{"type": "text", "text": "Weather here and in Lisbon?"},
                                         {"type": "image_url", "image_url": {"url": PNG_URL}}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "tooluse_a", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city": "Madrid"}'}},
                {"id": "tooluse_b", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city": "Lisbon"}'}},
            ]},
            {"role": "tool", "tool_call_id": "tooluse_a", "content": "31C, sunny"},
            {"role": "tool", "tool_call_id": "tooluse_b", "content": [{"type": "text", "text": "24C, windy"}]},
            {"role": "user", "content": "Which is warmer?"},
        ],
        tools=[WEATHER_TOOL], tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=200, temperature=1.5, top_p=0.9, stop="END", top_k=40, metadata={"team": "a"},
    )
    expected = {
        "modelId": MODEL,
        "system": [{"text": "Be brief."}, {"text": "Use metric units."}],
        "messages": [
            {"role": "user", "content": [{"text": "Weather here and in Lisbon?"},
                                         {"image": {"format": "png", "source": {"bytes": PNG}}}]},
            {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "tooluse_a", "name": "get_weather", "input": {"city": "Madrid"}}},
                {"toolUse": {"toolUseId": "tooluse_b", "name": "get_weather", "input": {"city": "Lisbon"}}},
            ]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "tooluse_a", "content": [{"text": "31C, sunny"}]}},
                {"toolResult": {"toolUseId": "tooluse_b", "content": [{"text": "24C, windy"}]}},
                {"text": "Which is warmer?"},
            ]},
        ],
        "inferenceConfig": {"maxTokens": 200, "temperature": 1.0, "topP": 0.9, "stopSequences": ["END"]},
        "additionalModelRequestFields": {"top_k": 40},
        "requestMetadata": {"team": "a"},
        "toolConfig": {
            "tools": [{"toolSpec": {"name": "get_weather", "description": "Current weather for a city.",
                                    "inputSchema": {"json": WEATHER_TOOL["function"]["parameters"]}}}],
            "toolChoice": {"tool": {"name": "get_weather"}},
        },
        "guardrailConfig": {"guardrailIdentifier": "gr-1", "guardrailVersion": "3"},
    }
    client = client_for(bedrock)
    with Stubber(client) as stub:
        stub.add_response("converse", fixture("converse_text.json"), expected)
        result = asyncio.run(PROVIDER.chat(request, bedrock, CallContext("r1")))
        stub.assert_no_pending_responses()
    assert_valid(result, "CreateChatCompletionResponse")
    assert result["choices"][0]["message"]["content"] == "Paris is the capital of France."


@pytest.mark.parametrize(("choice", "expected"), [
    ("auto", {"auto": {}}),
    ("required", {"any": {}}),
    (None, None),
])
def test_tool_choice_maps_to_converse(choice: str | None, expected: dict[str, Any] | None) -> None:
    fields: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER_TOOL]}
    if choice:
        fields["tool_choice"] = choice
    params = PROVIDER.prepare(chat_request(**fields), target("http://127.0.0.1:9"), CallContext("r"))
    assert params["toolConfig"].get("toolChoice") == expected


def test_tool_choice_none_drops_tools_unless_history_uses_them() -> None:
    plain = chat_request(messages=[{"role": "user", "content": "hi"}], tools=[WEATHER_TOOL], tool_choice="none")
    assert "toolConfig" not in PROVIDER.prepare(plain, target("http://127.0.0.1:9"), CallContext("r"))
    history = chat_request(messages=[
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "t1", "type": "function",
                                              "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
    ], tools=[WEATHER_TOOL], tool_choice="none")
    params = PROVIDER.prepare(history, target("http://127.0.0.1:9"), CallContext("r"))
    assert params["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert "toolChoice" not in params["toolConfig"]


def test_response_format_json_schema_uses_structured_output() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    request = chat_request(messages=[{"role": "user", "content": "hi"}], response_format={
        "type": "json_schema", "json_schema": {"name": "place", "schema": schema}})
    params = PROVIDER.prepare(request, target("http://127.0.0.1:9"), CallContext("r"))
    assert params["outputConfig"] == {"textFormat": {"type": "json_schema", "structure": {
        "jsonSchema": {"schema": json.dumps(schema), "name": "place"}}}}


def test_unsupported_parameters_are_listed() -> None:
    ctx = CallContext("r")
    request = chat_request(messages=[{"role": "user", "content": "hi"}], seed=3, presence_penalty=0.5,
                           response_format={"type": "json_object"}, parallel_tool_calls=False)
    params = PROVIDER.prepare(request, target("http://127.0.0.1:9"), ctx)
    assert sorted(ctx.dropped) == ["parallel_tool_calls", "presence_penalty", "response_format", "seed"]
    assert "outputConfig" not in params and "seed" not in json.dumps(params, default=str)


def test_invalid_tool_arguments_and_images_are_400() -> None:
    bad_args = chat_request(messages=[
        {"role": "assistant", "tool_calls": [{"id": "t", "type": "function",
                                              "function": {"name": "f", "arguments": "not json"}}]}])
    with pytest.raises(InvalidRequest):
        PROVIDER.prepare(bad_args, target("http://127.0.0.1:9"), CallContext("r"))
    bad_image = chat_request(messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}]}])
    with pytest.raises(InvalidRequest, match="png, jpeg, gif or webp"):
        PROVIDER.prepare(bad_image, target("http://127.0.0.1:9"), CallContext("r"))


# --- over HTTP with boto3 ------------------------------------------------------------------


def test_converse_wire_request_and_answer(fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(CONVERSE, json_handler(fixture("converse_text.json")))
    request = chat_request(messages=[{"role": "system", "content": "Be brief."},
                                     {"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG_URL}},
                                                                  {"type": "text", "text": "Capital?"}]}],
                           max_completion_tokens=50)
    result = asyncio.run(PROVIDER.chat(request, target(fake_upstream.url), CallContext("r")))

    sent = fake_upstream.requests[-1]
    assert (sent.method, sent.path) == ("POST", CONVERSE)
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDFAKEFAKEFAKE/")
    assert "/us-east-1/bedrock/aws4_request" in sent.headers["authorization"]
    assert sent.json() == {
        "system": [{"text": "Be brief."}],
        "messages": [{"role": "user", "content": [
            {"image": {"format": "png", "source": {"bytes": base64.b64encode(PNG).decode()}}}, {"text": "Capital?"}]}],
        "inferenceConfig": {"maxTokens": 50},
    }
    assert_valid(result, "CreateChatCompletionResponse")
    assert result["model"] == MODEL
    assert result["choices"][0]["finish_reason"] == "stop"
    # Bedrock reports cache reads apart from inputTokens; OpenAI's prompt_tokens includes them.
    assert result["usage"] == {"prompt_tokens": 25, "completion_tokens": 9, "total_tokens": 34,
                               "prompt_tokens_details": {"cached_tokens": 4, "cache_creation_tokens": 0}}


def test_converse_tool_calls_out(fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(CONVERSE, json_handler(fixture("converse_tool_use.json")))
    request = chat_request(messages=[{"role": "user", "content": "Weather in Madrid and Lisbon?"}],
                           tools=[WEATHER_TOOL])
    result = asyncio.run(PROVIDER.chat(request, target(fake_upstream.url), CallContext("r")))
    assert_valid(result, "CreateChatCompletionResponse")
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me look up the weather in both cities."
    assert [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in choice["message"]["tool_calls"]] == [
        ("tooluse_madrid01", "get_weather", {"city": "Madrid"}),
        ("tooluse_lisbon02", "get_weather", {"city": "Lisbon", "unit": "celsius"}),
    ]
    assert fake_upstream.requests[-1].json()["toolConfig"] == {"tools": [{"toolSpec": {
        "name": "get_weather", "description": "Current weather for a city.",
        "inputSchema": {"json": WEATHER_TOOL["function"]["parameters"]}}}]}


@pytest.mark.parametrize("stop_reason,finish", [
    ("max_tokens", "length"), ("stop_sequence", "stop"), ("guardrail_intervened", "content_filter"),
    ("content_filtered", "content_filter"), ("model_context_window_exceeded", "length"),
])
def test_stop_reasons(fake_upstream: FakeUpstream, stop_reason: str, finish: str) -> None:
    fake_upstream.on(CONVERSE, json_handler({**fixture("converse_text.json"), "stopReason": stop_reason}))
    result = asyncio.run(PROVIDER.chat(chat_request(messages=[{"role": "user", "content": "hi"}]),
                                       target(fake_upstream.url), CallContext("r")))
    assert result["choices"][0]["finish_reason"] == finish


ERRORS = fixture("errors.json")
EXPECTED_ERRORS = {
    "ThrottlingException": (429, "rate_limit_error", "ThrottlingException"),
    "ValidationException": (400, "invalid_request_error", "context_length_exceeded"),
    "AccessDeniedException": (502, "api_error", "upstream_permission_denied"),
    "ResourceNotFoundException": (404, "invalid_request_error", "ResourceNotFoundException"),
    "ModelTimeoutException": (504, "timeout_error", "ModelTimeoutException"),
    "ServiceUnavailableException": (503, "api_error", "ServiceUnavailableException"),
    "ModelNotReadyException": (503, "api_error", "ModelNotReadyException"),
}


@pytest.mark.parametrize("error_type", sorted(EXPECTED_ERRORS))
def test_client_errors_are_mapped(fake_upstream: FakeUpstream, error_type: str) -> None:
    spec = ERRORS[error_type]
    fake_upstream.on(CONVERSE, json_handler(spec["body"], spec["status"], error_type))
    with pytest.raises(UpstreamError) as caught:
        asyncio.run(PROVIDER.chat(chat_request(messages=[{"role": "user", "content": "hi"}]),
                                  target(fake_upstream.url), CallContext("r")))
    error = caught.value
    assert (error.status, error.type, error.code) == EXPECTED_ERRORS[error_type]
    assert spec["body"]["message"] in error.message
    assert_valid(error.body(), "ErrorResponse")


def test_unreachable_endpoint_and_read_timeout(fake_upstream: FakeUpstream) -> None:
    request = chat_request(messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(UpstreamUnavailable) as unreachable:
        asyncio.run(PROVIDER.chat(request, target(f"http://127.0.0.1:{free_port()}"), CallContext("r")))
    assert "127.0.0.1" not in unreachable.value.message

    async def slow(request: Request, body: bytes) -> Response:
        await asyncio.sleep(3)
        return Response("{}", media_type="application/json")

    fake_upstream.on(CONVERSE, slow)
    with pytest.raises(UpstreamTimeout):
        asyncio.run(PROVIDER.chat(request, target(fake_upstream.url, timeout=0.5), CallContext("r")))


# --- ConverseStream --------------------------------------------------------------------------


def test_stream_text_chunks_and_usage(fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(CONVERSE_STREAM, events_handler(fixture("stream_text.json")))
    request = chat_request(messages=[{"role": "user", "content": "Capital?"}], stream=True,
                           stream_options={"include_usage": True})
    chunks = asyncio.run(collect(PROVIDER.chat_stream(request, target(fake_upstream.url), CallContext("r"))))
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Paris is the capital of France."
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 30
    assert len({c["id"] for c in chunks}) == 1
    assert fake_upstream.requests[-1].path == CONVERSE_STREAM


def test_stream_tool_calls(fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(CONVERSE_STREAM, events_handler(fixture("stream_tool_use.json")))
    request = chat_request(messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER_TOOL], stream=True)
    chunks = asyncio.run(collect(PROVIDER.chat_stream(request, target(fake_upstream.url), CallContext("r"))))
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
        for call in chunk["choices"][0]["delta"].get("tool_calls") or []:
            entry = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.get("id", "")
            entry["name"] += call["function"].get("name", "")
            entry["arguments"] += call["function"].get("arguments", "")
    assert calls == {
        0: {"id": "tooluse_madrid01", "name": "get_weather", "arguments": '{"city": "Madrid"}'},
        1: {"id": "tooluse_lisbon02", "name": "get_weather", "arguments": '{"city": "Lisbon"}'},
    }
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert not any(c.get("usage") for c in chunks)  # include_usage was not asked for


def test_stream_chunks_leave_as_they_arrive(fake_upstream: FakeUpstream) -> None:
    """The upstream holds the rest of its stream until the test has seen the first chunk."""
    release = threading.Event()

    async def frames() -> AsyncIterator[bytes]:
        yield event_frame({"messageStart": {"role": "assistant"}})
        yield event_frame({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "first"}}})
        await asyncio.to_thread(release.wait, 5)
        yield event_frame({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": " second"}}})
        yield event_frame({"messageStop": {"stopReason": "end_turn"}})

    fake_upstream.on(CONVERSE_STREAM, stream_handler(frames))

    async def run() -> list[str]:
        seen: list[str] = []
        stream = PROVIDER.chat_stream(chat_request(messages=[{"role": "user", "content": "hi"}], stream=True),
                                      target(fake_upstream.url), CallContext("r"))
        async with asyncio.timeout(4):
            async for chunk in stream:
                if text := chunk["choices"][0]["delta"].get("content"):
                    seen.append(text)
                    release.set()
        return seen

    assert asyncio.run(run()) == ["first", " second"]


def test_closing_the_stream_closes_the_upstream(fake_upstream: FakeUpstream) -> None:
    upstream_closed = threading.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            yield event_frame({"messageStart": {"role": "assistant"}})
            while True:
                yield event_frame({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "la "}}})
                await asyncio.sleep(30)  # a slow model: no new bytes to wake a blocked reader
        finally:
            upstream_closed.set()

    fake_upstream.on(CONVERSE_STREAM, stream_handler(endless))

    async def run() -> None:
        stream = PROVIDER.chat_stream(chat_request(messages=[{"role": "user", "content": "sing"}], stream=True),
                                      target(fake_upstream.url), CallContext("r"))
        await anext(stream)
        await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(run())
    assert upstream_closed.wait(5), "the upstream request was not closed"
    readers = [t for t in threading.enumerate() if t.name == "bedrock-converse-stream"]
    for reader in readers:
        reader.join(5)
    assert not any(reader.is_alive() for reader in readers), "the stream reader thread is still blocked"


def test_stream_exception_event_is_mapped(fake_upstream: FakeUpstream) -> None:
    events = [{"messageStart": {"role": "assistant"}},
              {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Par"}}}]
    fake_upstream.on(CONVERSE_STREAM, events_handler(events, [exception_frame("throttlingException", "Slow down.")]))
    received: list[dict[str, Any]] = []

    async def run() -> None:
        async for chunk in PROVIDER.chat_stream(chat_request(messages=[{"role": "user", "content": "hi"}], stream=True),
                                                target(fake_upstream.url), CallContext("r")):
            received.append(chunk)

    with pytest.raises(UpstreamError) as caught:
        asyncio.run(run())
    assert len(received) == 2
    assert (caught.value.status, caught.value.type) == (429, "rate_limit_error")
    assert "Slow down." in caught.value.message


def test_stream_error_before_first_event_is_raised_before_any_chunk(fake_upstream: FakeUpstream) -> None:
    spec = ERRORS["AccessDeniedException"]
    fake_upstream.on(CONVERSE_STREAM, json_handler(spec["body"], spec["status"], "AccessDeniedException"))
    stream = PROVIDER.chat_stream(chat_request(messages=[{"role": "user", "content": "hi"}], stream=True),
                                  target(fake_upstream.url), CallContext("r"))
    with pytest.raises(UpstreamError) as caught:
        asyncio.run(anext(stream))  # type: ignore[arg-type]
    assert (caught.value.status, caught.value.code) == (502, "upstream_permission_denied")


def test_stream_that_ends_before_message_stop_is_an_error(fake_upstream: FakeUpstream) -> None:
    events = [{"messageStart": {"role": "assistant"}},
              {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Par"}}}]
    fake_upstream.on(CONVERSE_STREAM, events_handler(events))
    received: list[dict[str, Any]] = []

    async def run() -> None:
        async for chunk in PROVIDER.chat_stream(chat_request(messages=[{"role": "user", "content": "hi"}], stream=True),
                                                target(fake_upstream.url), CallContext("r")):
            received.append(chunk)

    with pytest.raises(UpstreamError) as caught:
        asyncio.run(run())
    assert len(received) == 2
    assert (caught.value.status, caught.value.retryable) == (502, True)


# --- boto3 stays lazy, clients are cached -----------------------------------------------------


def test_importing_the_adapter_does_not_import_boto3() -> None:
    code = ("import sys, lambdagate.providers.bedrock; "
            "assert not {'boto3', 'botocore'} & set(sys.modules), sorted(m for m in sys.modules if 'boto' in m)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_clients_are_cached_per_region_and_endpoint() -> None:
    first = client_for(target("http://127.0.0.1:9"))
    assert client_for(target("http://127.0.0.1:9")) is first
    assert client_for(target("http://127.0.0.1:9", region="eu-central-1")) is not first
    assert client_for(target("http://127.0.0.1:10")) is not first
    assert first.meta.region_name == "us-east-1"


# --- end to end with the official SDK -----------------------------------------------------------


def test_sdk_chat_stream_and_tools(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CONVERSE, json_handler(fixture("converse_tool_use.json")))
    fake_upstream.on(CONVERSE_STREAM, events_handler(fixture("stream_text.json")))
    sdk = gateway(serve_gateway, fake_upstream)

    raw = sdk.chat.completions.with_raw_response.create(
        model="claude", messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice="required", seed=7)
    completion = raw.parse()
    assert_valid(completion.model_dump(exclude_unset=True), "CreateChatCompletionResponse")
    assert raw.headers["x-lambdagate-dropped-params"] == "seed"
    assert completion.choices[0].finish_reason == "tool_calls"
    calls = completion.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_weather"]  # type: ignore[union-attr]
    sent = fake_upstream.requests[-1].json()
    assert sent["toolConfig"]["toolChoice"] == {"any": {}}
    assert fake_upstream.requests[-1].headers["authorization"].split("/")[2] == "eu-west-1"

    stream = sdk.chat.completions.create(model="claude", messages=[{"role": "user", "content": "Capital?"}],
                                         stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Paris is the capital of France."
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 21


def test_sdk_errors(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    spec = ERRORS["ThrottlingException"]
    fake_upstream.on(CONVERSE, json_handler(spec["body"], spec["status"], "ThrottlingException"))
    sdk = gateway(serve_gateway, fake_upstream)
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(model="claude", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}])
    assert "data URL" in bad.value.message
    assert len(fake_upstream.requests) == 1  # the bad image never reached Bedrock


def test_sdk_refuses_unsupported_params_when_drop_is_off(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    sdk = gateway(serve_gateway, fake_upstream, drop_params=False)
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}],
                                    response_format={"type": "json_object"})
    assert refused.value.body["param"] == "response_format"  # type: ignore[index]
    assert fake_upstream.requests == []


def test_sdk_text_completions_through_chat(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CONVERSE, json_handler(fixture("converse_text.json")))
    fake_upstream.on(CONVERSE_STREAM, events_handler(fixture("stream_text.json")))
    sdk = gateway(serve_gateway, fake_upstream)

    completion = sdk.completions.create(model="claude", prompt=["Capital of France?", "Again?"], n=2, echo=True,
                                        max_tokens=20, stop=["\n"])
    assert_valid(completion.model_dump(exclude_unset=True), "CreateCompletionResponse")
    assert [c.index for c in completion.choices] == [0, 1, 2, 3]
    assert completion.choices[2].text == "Again?Paris is the capital of France."
    assert completion.usage is not None and completion.usage.prompt_tokens == 4 * 25
    bodies = [r.json() for r in fake_upstream.requests]
    assert len(bodies) == 4  # n=2 per prompt as parallel calls, each prompt its own conversation
    assert sorted(b["messages"][0]["content"][0]["text"] for b in bodies) == ["Again?", "Again?",
                                                                                "Capital of France?",
                                                                                "Capital of France?"]
    assert all(b["inferenceConfig"] == {"maxTokens": 20, "stopSequences": ["\n"]} for b in bodies)

    chunks = list(sdk.completions.create(model="claude", prompt="Capital?", stream=True))
    # OpenAI streams text_completion chunks with finish_reason null until the last one, which
    # its schema (written for whole responses) does not allow; the last chunk is checked whole.
    assert_valid(chunks[-1].model_dump(exclude_unset=True), "CreateCompletionResponse")
    assert all(c.object == "text_completion" and c.id == chunks[0].id for c in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Paris is the capital of France."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


# --- a prompt over the context window: OpenAI's code, through the SDK ---------------------------

CONTEXT_MESSAGES = [
    "Input is too long for requested model.",
    "The model returned the following errors: prompt is too long: 227255 tokens > 200000 maximum",
    "The model returned the following errors: input length and `max_tokens` exceed context limit: "
    "198981 + 21333 > 200000, decrease input length or max_tokens and try again",
    "The model returned the following errors: too many total text bytes: 9000000 > 8000000",
]


@pytest.mark.parametrize("message", CONTEXT_MESSAGES)
@pytest.mark.parametrize("stream", [False, True])
def test_sdk_too_long_input_is_context_length_exceeded(fake_upstream: FakeUpstream, serve_gateway: Serve,
                                                       message: str, stream: bool) -> None:
    handler = json_handler({"message": message}, 400, "ValidationException")
    fake_upstream.on(CONVERSE, handler)
    fake_upstream.on(CONVERSE_STREAM, handler)
    sdk = gateway(serve_gateway, fake_upstream, num_retries=2)
    with pytest.raises(openai.BadRequestError) as caught:
        result = sdk.chat.completions.create(model="claude", messages=[{"role": "user", "content": "long"}],
                                             stream=stream)
        if stream:
            list(result)  # type: ignore[arg-type]
    error = caught.value
    assert (error.status_code, error.code, error.type) == (400, "context_length_exceeded", "invalid_request_error")
    assert message in error.message
    assert_valid(error.response.json(), "ErrorResponse")
    assert len(fake_upstream.requests) == 1  # the client's fault: not retried


def test_sdk_too_long_input_reported_inside_the_stream(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    events = [{"messageStart": {"role": "assistant"}},
              {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Par"}}}]
    fake_upstream.on(CONVERSE_STREAM, events_handler(
        events, [exception_frame("validationException", "Input is too long for requested model.")]))
    stream = gateway(serve_gateway, fake_upstream).chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "long"}], stream=True)
    received = ""
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received += "".join(choice.delta.content or "" for choice in chunk.choices)
    assert received == "Par"
    assert caught.value.code == "context_length_exceeded"


def test_other_validation_errors_keep_their_code(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    message = "The text field in the ContentBlock object at messages.0.content.0 is blank."
    fake_upstream.on(CONVERSE, json_handler({"message": message}, 400, "ValidationException"))
    with pytest.raises(openai.BadRequestError) as caught:
        gateway(serve_gateway, fake_upstream).chat.completions.create(
            model="claude", messages=[{"role": "user", "content": "x"}])
    assert caught.value.code == "ValidationException"


# --- answers botocore cannot parse, or that are no Converse answer ----------------------------------

BROKEN_BODIES = {
    "not_json": (b"this is not JSON {", "application/json", {}),
    "html": (b"<!DOCTYPE html><html><body><h1>Bad Gateway</h1></body></html>", "text/html", {}),
    "json_list": (b'[{"output": {}}, 2]', "application/json", {}),
    "json_string": (b'"a JSON string"', "application/json", {}),
    "bad_gzip": (b"\x1f\x8b\x08\x00 not a gzip stream at all", "application/json", {"content-encoding": "gzip"}),
    "error_object": (b'{"message": "boom"}', "application/json", {}),
    "no_message": (b'{"output": {}, "stopReason": "end_turn"}', "application/json", {}),
    "unknown_output": (b'{"output": {"somethingNew": {}}, "stopReason": "end_turn"}', "application/json", {}),
}


def raw_handler(content: bytes, media_type: str, headers: dict[str, str]) -> Any:
    def handler(request: Request, raw: bytes) -> Response:
        return Response(content, media_type=media_type, headers=headers)

    return handler


@pytest.mark.parametrize("name", sorted(BROKEN_BODIES))
def test_converse_answer_that_is_not_one_is_a_retryable_502(fake_upstream: FakeUpstream, name: str) -> None:
    """Whatever botocore makes of a broken 200 (an exception, or ``{"message": <body>}``), it is a bad answer."""
    fake_upstream.on(CONVERSE, raw_handler(*BROKEN_BODIES[name]))
    with pytest.raises(UpstreamError) as caught:
        asyncio.run(PROVIDER.chat(chat_request(messages=[{"role": "user", "content": "hi"}]),
                                  target(fake_upstream.url), CallContext("r")))
    assert (caught.value.status, caught.value.retryable) == (502, True)
    assert "127.0.0.1" not in caught.value.message and "not JSON" not in caught.value.message
    assert_valid(caught.value.body(), "ErrorResponse")


@pytest.mark.parametrize("name", ["not_json", "html", "json_list", "bad_gzip", "error_object"])
def test_stream_answer_that_is_not_an_event_stream_is_a_retryable_502(fake_upstream: FakeUpstream, name: str) -> None:
    fake_upstream.on(CONVERSE_STREAM, raw_handler(*BROKEN_BODIES[name]))
    stream = PROVIDER.chat_stream(chat_request(messages=[{"role": "user", "content": "hi"}], stream=True),
                                  target(fake_upstream.url), CallContext("r"))
    with pytest.raises(UpstreamError) as caught:
        asyncio.run(collect(stream))
    assert (caught.value.status, caught.value.retryable) == (502, True)


def test_stream_frame_with_a_bad_checksum_is_a_retryable_502(fake_upstream: FakeUpstream) -> None:
    good = event_frame({"messageStart": {"role": "assistant"}})
    corrupt = bytearray(event_frame({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Par"}}}))
    corrupt[-1] ^= 0xFF  # the message CRC no longer matches
    fake_upstream.on(CONVERSE_STREAM, raw_handler(good + bytes(corrupt), "application/vnd.amazon.eventstream", {}))
    received: list[dict[str, Any]] = []

    async def run() -> None:
        async for chunk in PROVIDER.chat_stream(chat_request(messages=[{"role": "user", "content": "hi"}], stream=True),
                                                target(fake_upstream.url), CallContext("r")):
            received.append(chunk)

    with pytest.raises(UpstreamError) as caught:
        asyncio.run(run())
    assert len(received) == 1  # the role chunk of the good frame
    assert (caught.value.status, caught.value.retryable) == (502, True)
    assert "could not be parsed" in caught.value.message


def test_only_botocore_parse_failures_are_mapped() -> None:
    """A plain exception of the gateway's own code is a bug, not a bad answer: it stays unmapped."""
    from lambdagate.providers.bedrock.client import map_exception
    from lambdagate.providers.bedrock.response import parse_error

    own = AttributeError("'list' object has no attribute 'get'")
    try:
        raise own
    except AttributeError as exc:
        assert map_exception(exc, target("http://127.0.0.1:9"), parse_error) is own

    from botocore.parsers import RestJSONParser

    shape = client_for(target("http://127.0.0.1:9")).meta.service_model.operation_model("Converse").output_shape
    try:
        RestJSONParser().parse({"status_code": 200, "headers": {}, "body": b"[1, 2]"}, shape)
    except AttributeError as exc:
        mapped = map_exception(exc, target("http://127.0.0.1:9"), parse_error)
    assert isinstance(mapped, UpstreamError) and (mapped.status, mapped.retryable) == (502, True)


def test_sdk_broken_answer_is_retried_and_a_502(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CONVERSE, raw_handler(*BROKEN_BODIES["json_list"]))
    with pytest.raises(openai.InternalServerError) as caught:
        gateway(serve_gateway, fake_upstream, num_retries=1).chat.completions.create(
            model="claude", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert_valid(caught.value.response.json(), "ErrorResponse")
    assert len(fake_upstream.requests) == 2  # retried
