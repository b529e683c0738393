"""``POST /v1/messages`` and ``/v1/messages/count_tokens`` to Claude on Bedrock: InvokeModel with the Messages body.

The official Anthropic SDK -> lambdagate -> boto3 (signing, sending and parsing for real) -> the
loopback fake speaking the Bedrock Runtime HTTP API (tests/test_provider_bedrock.py's event-stream
framing): ``/model/{id}/invoke`` answers the Message JSON, ``/invoke-with-response-stream`` one
``chunk`` frame per Messages event (its ``bytes`` base64 in the frame's JSON, as botocore reads
a blob), ``/count-tokens`` CountTokens' ``{"inputTokens"}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anthropic
import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from conftest import DEV_KEY, FakeUpstream, make_config
from lambdagate.config.schema import ProviderConfig
from lambdagate.frontdoors.messages import count
from lambdagate.providers.base import Target
from lambdagate.providers.bedrock import PROVIDER
from lambdagate.providers.bedrock.messages import count_model
from messages_support import CLAUDE_CODE_HEADERS, assert_stream, claude_code_body, client, fixture, parse_sse, text_of
from test_provider_bedrock import (  # noqa: F401 (aws_env: an autouse fixture)
    ERRORS,
    aws_env,
    eventstream_message,
    exception_frame,
    json_handler,
    stream_handler,
)

PROFILE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
FOUNDATION = "anthropic.claude-sonnet-4-5-20250929-v1:0"
INVOKE = f"/model/{PROFILE}/invoke"
INVOKE_STREAM = f"/model/{PROFILE}/invoke-with-response-stream"
COUNT = f"/model/{FOUNDATION}/count-tokens"
METRICS = {"inputTokenCount": 25, "outputTokenCount": 15, "invocationLatency": 812, "firstByteLatency": 301}


def chunk_frame(event: dict[str, Any]) -> bytes:
    payload = json.dumps({"bytes": base64.b64encode(json.dumps(event).encode()).decode()}).encode()
    return eventstream_message({":event-type": "chunk", ":content-type": "application/json",
                                ":message-type": "event"}, payload)


def sse_events(name: str) -> list[dict[str, Any]]:
    """A fixture stream's events, as Bedrock sends them (its metrics added to message_stop)."""
    events = [json.loads(line[len("data: "):]) for line in fixture(name).decode().splitlines()
              if line.startswith("data: ")]
    events[-1] = {**events[-1], "amazon-bedrock-invocationMetrics": METRICS}
    return events


def chunks_handler(events: list[dict[str, Any]], tail: list[bytes] | None = None) -> Any:
    async def frames() -> AsyncIterator[bytes]:
        for event in events:
            yield chunk_frame(event)
        for frame in tail or []:
            yield frame

    return stream_handler(frames)


def invoke_handler(name: str) -> Any:
    def handler(request: Request, raw: bytes) -> Response:
        return Response(fixture(name), media_type="application/json")

    return handler


@pytest.fixture
def base_url(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> str:
    providers = {"aws": {"type": "bedrock", "region": "us-east-1", "endpoint_url": fake_upstream.url}}
    models = {"claude": {"provider": "aws", "model": PROFILE}, "claude-sonnet-4-5-20250929": {
        "provider": "aws", "model": PROFILE,
        "guardrail_config": {"guardrailIdentifier": "gr-1", "guardrailVersion": "3", "trace": "enabled"}}}
    return serve_gateway(make_config(providers, models, num_retries=0))


def invoke_body(fake: FakeUpstream, path: str) -> dict[str, Any]:
    return [r for r in fake.requests if r.path == path][-1].json()  # type: ignore[no-any-return]


def test_invoke_model_gets_the_messages_body(fake_upstream: FakeUpstream, base_url: str) -> None:
    fake_upstream.on(INVOKE, invoke_handler("message_text.json"))
    sdk = client(base_url)
    request: dict[str, Any] = {
        "max_tokens": 1024, "system": [{"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "Hello"}], "thinking": {"type": "enabled", "budget_tokens": 1024},
        "metadata": {"user_id": "u-1"}}
    raw = sdk.messages.with_raw_response.create(model="claude", **request,
                                                extra_headers={"anthropic-beta": "context-1m-2025-08-07"})
    assert raw.http_response.content == fixture("message_text.json")  # the Message as Bedrock answered it
    message = raw.parse()
    assert message.usage.cache_read_input_tokens == 2000 and message.stop_reason == "end_turn"
    assert raw.headers["x-lambdagate-provider"] == "aws" and raw.headers["x-lambdagate-model"] == PROFILE
    # No model and no stream (the operation says both), Bedrock's version, the beta header as a list.
    assert invoke_body(fake_upstream, INVOKE) == {**request, "anthropic_version": "bedrock-2023-05-31",
                                                  "anthropic_beta": ["context-1m-2025-08-07"]}


def test_the_stream_is_anthropics_events(fake_upstream: FakeUpstream, base_url: str) -> None:
    fake_upstream.on(INVOKE_STREAM, chunks_handler(sse_events("stream_text.sse")))
    sdk = client(base_url)
    with sdk.messages.stream(model="claude", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]) as stream:
        assert "".join(stream.text_stream) == "Hello, world"
        final = stream.get_final_message()
    assert final.usage.output_tokens == 15 and final.usage.cache_read_input_tokens == 300
    assert "stream" not in invoke_body(fake_upstream, INVOKE_STREAM)

    with httpx.Client(timeout=20) as http:
        answer = http.post(base_url + "/messages", headers={"x-api-key": DEV_KEY}, json={
            "model": "claude", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "Hi"}]})
    datas = assert_stream(parse_sse(answer.text))
    assert text_of(datas) == "Hello, world"
    assert datas[-1] == {"type": "message_stop"}  # Bedrock's invocation metrics taken out


def test_thinking_signatures_stream_through(fake_upstream: FakeUpstream, base_url: str) -> None:
    fake_upstream.on(INVOKE_STREAM, chunks_handler(sse_events("stream_thinking.sse")))
    events = list(client(base_url).messages.create(model="claude", max_tokens=2048, stream=True,
                                                   thinking={"type": "enabled", "budget_tokens": 1024},
                                                   messages=[{"role": "user", "content": "Even?"}]))
    signatures = [e.delta.signature for e in events  # type: ignore[union-attr]
                  if e.type == "content_block_delta" and e.delta.type == "signature_delta"]
    assert signatures == ["EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"]


def test_guardrails_apply_to_the_passthrough(fake_upstream: FakeUpstream, base_url: str) -> None:
    fake_upstream.on(INVOKE, invoke_handler("message_text.json"))
    client(base_url).messages.create(model="claude-sonnet-4-5-20250929", max_tokens=5,
                                     messages=[{"role": "user", "content": "x"}])
    headers = [r for r in fake_upstream.requests if r.path == INVOKE][-1].headers
    assert headers["x-amzn-bedrock-guardrailidentifier"] == "gr-1"
    assert headers["x-amzn-bedrock-guardrailversion"] == "3" and headers["x-amzn-bedrock-trace"] == "ENABLED"


def test_count_tokens_is_bedrocks_own(fake_upstream: FakeUpstream, base_url: str) -> None:
    fake_upstream.on(COUNT, json_handler({"inputTokens": 77}))
    sdk = client(base_url)
    raw = sdk.messages.with_raw_response.count_tokens(model="claude", messages=[{"role": "user", "content": "Hi"}],
                                                      thinking={"type": "enabled", "budget_tokens": 2048})
    assert raw.parse().input_tokens == 77 and count.ESTIMATE_HEADER not in raw.headers
    sent = invoke_body(fake_upstream, COUNT)  # counted on the profile's foundation model
    body = json.loads(base64.b64decode(sent["input"]["invokeModel"]["body"]))
    assert body == {"messages": [{"role": "user", "content": "Hi"}], "thinking": {"type": "enabled",
                                                                                  "budget_tokens": 2048},
                    "anthropic_version": "bedrock-2023-05-31", "max_tokens": 2049}


def test_count_tokens_falls_back_to_the_estimate(fake_upstream: FakeUpstream, base_url: str) -> None:
    fake_upstream.on(COUNT, json_handler({"message": "The provided model doesn't support counting tokens."}, 400,
                                         "ValidationException"))
    raw = client(base_url).messages.with_raw_response.count_tokens(
        model="claude", messages=[{"role": "user", "content": "Hi"}])
    assert raw.headers[count.ESTIMATE_HEADER] == "true" and raw.parse().input_tokens > 0
    fake_upstream.on(COUNT, json_handler(ERRORS["ThrottlingException"]["body"], 429, "ThrottlingException"))
    with pytest.raises(anthropic.RateLimitError):  # a real failure is not hidden behind an estimate
        client(base_url).messages.count_tokens(model="claude", messages=[{"role": "user", "content": "Hi"}])


def test_bedrock_errors_are_the_sdks_classes(fake_upstream: FakeUpstream, base_url: str) -> None:
    spec = ERRORS["ThrottlingException"]
    fake_upstream.on(INVOKE, json_handler(spec["body"], spec["status"], "ThrottlingException"))
    with pytest.raises(anthropic.RateLimitError) as limited:
        client(base_url).messages.create(model="claude", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert limited.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    spec = ERRORS["ValidationException"]
    fake_upstream.on(INVOKE, json_handler(spec["body"], spec["status"], "ValidationException"))
    with pytest.raises(anthropic.BadRequestError):
        client(base_url).messages.create(model="claude", max_tokens=5, messages=[{"role": "user", "content": "x"}])

    events = sse_events("stream_text.sse")[:3]
    fake_upstream.on(INVOKE_STREAM, chunks_handler(events, [exception_frame("throttlingException", "Slow down.")]))
    with httpx.Client(timeout=20) as http:
        answer = http.post(base_url + "/messages", headers={"x-api-key": DEV_KEY}, json={
            "model": "claude", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "Hi"}]})
    parsed = parse_sse(answer.text)
    assert_stream(parsed, complete=False)
    assert parsed[-1][0] == "error" and parsed[-1][1]["error"]["type"] == "rate_limit_error"
    assert "Slow down." in parsed[-1][1]["error"]["message"]


def test_a_claude_code_request(fake_upstream: FakeUpstream, base_url: str) -> None:
    fake_upstream.on(INVOKE_STREAM, chunks_handler(sse_events("stream_tool_use.sse")))
    body = claude_code_body("claude")
    with httpx.Client(timeout=20) as http:
        answer = http.post(base_url + "/messages?beta=true", json=body,
                           headers={**CLAUDE_CODE_HEADERS, "x-api-key": DEV_KEY})
    assert answer.status_code == 200, answer.text
    datas = assert_stream(parse_sse(answer.text))
    assert [d["content_block"]["type"] for d in datas if d["type"] == "content_block_start"] == ["text", "tool_use",
                                                                                             "tool_use"]
    sent = invoke_body(fake_upstream, INVOKE_STREAM)
    assert sent["anthropic_beta"] == CLAUDE_CODE_HEADERS["anthropic-beta"].split(",")
    assert sent["system"] == body["system"] and sent["tools"] == body["tools"] and sent["thinking"] == body["thinking"]
    assert "model" not in sent and "stream" not in sent


def target(model: str, **options: Any) -> Target:
    return Target(alias="a", provider_name="aws", provider_type="bedrock", config=ProviderConfig(type="bedrock"),
                  model=model, options=options, timeout=10)


def test_only_claude_deployments_speak_messages() -> None:
    assert "messages" in PROVIDER.capabilities_for(target(PROFILE)).native_doors
    assert "count_tokens" in PROVIDER.capabilities_for(target(FOUNDATION)).native_doors
    assert not PROVIDER.capabilities_for(target("us.amazon.nova-lite-v1:0")).native_doors
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
    assert not PROVIDER.capabilities_for(target(arn)).native_doors
    assert "messages" in PROVIDER.capabilities_for(target(arn, native_messages=True)).native_doors
    assert not PROVIDER.capabilities_for(target(PROFILE, native_messages=False)).native_doors


@pytest.mark.parametrize("model, options, expected", [
    (PROFILE, {}, FOUNDATION),
    ("global.anthropic.claude-haiku-4-5-20251001-v1:0", {}, "anthropic.claude-haiku-4-5-20251001-v1:0"),
    (FOUNDATION, {}, FOUNDATION),
    ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc", {}, None),
    ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc",
     {"count_tokens_model": FOUNDATION}, FOUNDATION),
])
def test_the_model_counted(model: str, options: dict[str, Any], expected: str | None) -> None:
    assert count_model(target(model, **options)) == expected
