"""The ``azure`` provider: Azure OpenAI's URL, api-version and auth around the OpenAI passthrough.

The fake upstream answers with bodies shaped like Azure OpenAI's (content filter extras
included, fixtures under fixtures/azure); every test asserts the exact upstream request and the
OpenAI-shaped answer the official SDK receives through the real app.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response

import fake_openai
from conftest import DEV_KEY, FakeUpstream, make_config
from lambdagate.config.schema import GatewayConfig
from lambdagate.providers.azure.adapter import DEFAULT_API_VERSION
from lambdagate.providers.azure.stream import StreamTranslator
from lambdagate.providers.base import SSEEvent
from lambdagate.types import ChatCompletionRequest
from lambdagate.wire import RawJSON
from openai_schema import assert_valid

FIXTURES = Path(__file__).parent / "fixtures" / "azure"
API_KEY = "azure-key-0123456789abcdef"
CHAT_PATH = "/openai/deployments/prod-4o/chat/completions"

Serve = Callable[[GatewayConfig], str]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def json_handler(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    def handler(request: Request, body: bytes) -> Response:
        return Response(fixture(name), status_code=status, media_type="application/json", headers=headers)

    return handler


def sse_handler(name: str) -> Any:
    def handler(request: Request, body: bytes) -> Response:
        return Response(fixture(name), media_type="text/event-stream")

    return handler


def gateway(serve: Serve, fake: FakeUpstream, provider: dict[str, Any] | None = None, **settings: Any) -> str:
    providers = {"azure": {"api_key": API_KEY, "api_base": fake.url, **(provider or {})}}
    models = {
        "gpt-4o": {"provider": "azure", "model": "gpt-4o", "deployment": "prod-4o"},
        "instruct": {"provider": "azure", "model": "gpt-35-turbo-instruct", "deployment": "instruct-1"},
    }
    return serve(make_config(providers, models, **settings))


def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=10)


def raw_sse(base_url: str, path: str, body: dict[str, Any]) -> list[str]:
    """The ``data`` payloads of the gateway's SSE answer, read without the SDK."""
    with httpx.Client(timeout=10) as http:
        response = http.post(base_url + path, json=body, headers={"authorization": f"Bearer {DEV_KEY}"})
    assert response.status_code == 200, response.text
    return [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]


# --- chat ----------------------------------------------------------------------------------


def test_chat_sends_deployment_path_api_version_and_api_key(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CHAT_PATH, json_handler("chat_completion.json"))
    sdk = client(gateway(serve_gateway, fake_upstream))

    raw = sdk.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        temperature=0.2, max_tokens=50, seed=7,
    )
    completion = raw.parse()

    sent = fake_upstream.requests[-1]
    assert (sent.method, sent.path, sent.query) == ("POST", CHAT_PATH, f"api-version={DEFAULT_API_VERSION}")
    assert sent.headers["api-key"] == API_KEY
    assert "authorization" not in sent.headers
    assert sent.json() == {
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "temperature": 0.2, "max_tokens": 50, "seed": 7,
    }
    body = raw.http_response.json()
    assert_valid(body, "CreateChatCompletionResponse")
    # Forwarded untouched, Azure's content filter annotations included.
    assert body == json.loads(fixture("chat_completion.json"))
    assert completion.choices[0].message.content == "Hello from Azure."
    assert completion.usage is not None and completion.usage.total_tokens == 17


def test_direct_name_splits_model_and_deployment(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on("/openai/deployments/my-dep/chat/completions", json_handler("chat_completion.json"))
    sdk = client(gateway(serve_gateway, fake_upstream, {"api_version": "2025-04-01-preview"}))

    sdk.chat.completions.create(model="azure/gpt-4o/my-dep", messages=[{"role": "user", "content": "Hi"}])

    sent = fake_upstream.requests[-1]
    assert sent.query == "api-version=2025-04-01-preview"
    assert sent.json()["model"] == "gpt-4o"


def test_model_name_is_the_deployment_when_none_is_configured(
    fake_upstream: FakeUpstream, serve_gateway: Serve
) -> None:
    fake_upstream.on("/openai/deployments/gpt-4o-mini/chat/completions", json_handler("chat_completion.json"))
    sdk = client(gateway(serve_gateway, fake_upstream))

    sdk.chat.completions.create(model="azure/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])

    assert fake_upstream.requests[-1].path == "/openai/deployments/gpt-4o-mini/chat/completions"


def test_a_deployment_name_cannot_leave_the_deployments_path(
    fake_upstream: FakeUpstream, serve_gateway: Serve
) -> None:
    sdk = client(gateway(serve_gateway, fake_upstream))

    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="azure/gpt-4o/..", messages=[{"role": "user", "content": "Hi"}])

    assert_valid(caught.value.response.json(), "ErrorResponse")
    assert fake_upstream.requests == []


def test_entra_auth_sends_the_secret_as_bearer_token(
    fake_upstream: FakeUpstream, serve_gateway: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_ENTRA_TOKEN", "eyJ0eXAiOiJKV1Q.entra-token")
    fake_upstream.on(CHAT_PATH, json_handler("chat_completion.json"))
    sdk = client(gateway(serve_gateway, fake_upstream, {"auth": "entra", "api_key": "env:AZURE_ENTRA_TOKEN"}))

    sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])

    sent = fake_upstream.requests[-1]
    assert sent.headers["authorization"] == "Bearer eyJ0eXAiOiJKV1Q.entra-token"
    assert "api-key" not in sent.headers


def test_unknown_auth_mode_is_a_configuration_error(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    sdk = client(gateway(serve_gateway, fake_upstream, {"auth": "oauth"}))

    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])

    assert caught.value.status_code == 503
    assert fake_upstream.requests == []


def test_v1_api_has_no_api_version_and_routes_on_model(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on("/openai/v1/chat/completions", json_handler("chat_completion.json"))
    sdk = client(gateway(serve_gateway, fake_upstream, {"api_version": "v1"}))

    completion = sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])

    sent = fake_upstream.requests[-1]
    assert (sent.path, sent.query) == ("/openai/v1/chat/completions", "")
    assert sent.json()["model"] == "prod-4o"
    assert sent.headers["api-key"] == API_KEY
    assert completion.choices[0].message.content == "Hello from Azure."


def test_v1_api_base_selects_the_v1_path(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on("/openai/v1/chat/completions", json_handler("chat_completion.json"))
    sdk = client(gateway(serve_gateway, fake_upstream, {"api_base": fake_upstream.url + "/openai/v1/"}))

    sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])

    assert fake_upstream.requests[-1].path == "/openai/v1/chat/completions"


def test_stream_drops_prompt_filter_chunk_and_repairs_filter_annotations(
    fake_upstream: FakeUpstream, serve_gateway: Serve
) -> None:
    fake_upstream.on(CHAT_PATH, sse_handler("chat_stream.sse"))
    base_url = gateway(serve_gateway, fake_upstream)
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True,
               "stream_options": {"include_usage": True}}

    payloads = raw_sse(base_url, "/chat/completions", request)

    sent = fake_upstream.requests[-1]
    assert sent.json() == {**request, "model": "gpt-4o"}
    assert sent.query == f"api-version={DEFAULT_API_VERSION}"
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    assert not any("prompt_filter_results" in chunk for chunk in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "Hello there"
    assert chunks[-1]["usage"]["total_tokens"] == 11
    # Ordinary chunks are the upstream's bytes, not re-encoded.
    lines = fixture("chat_stream.sse").decode().splitlines()
    upstream_lines = [line[6:] for line in lines if line.startswith("data: ")]
    assert payloads[0] == upstream_lines[1]


def test_stream_through_the_sdk(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CHAT_PATH, sse_handler("chat_stream.sse"))
    sdk = client(gateway(serve_gateway, fake_upstream))

    stream = sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

    assert text == "Hello there"


def test_tools_round_trip(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CHAT_PATH, json_handler("chat_tool_calls.json"))
    sdk = client(gateway(serve_gateway, fake_upstream))
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }}]
    messages: list[Any] = [
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
    ]

    raw = sdk.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=messages, tools=tools, tool_choice="auto", parallel_tool_calls=True,
    )
    completion = raw.parse()

    sent = fake_upstream.requests[-1].json()
    assert sent["tools"] == tools
    assert sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is True
    assert sent["messages"] == messages
    assert_valid(raw.http_response.json(), "CreateChatCompletionResponse")
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls or []] == [
        ("call_Az1", "get_weather", {"city": "Paris"}), ("call_Az2", "get_weather", {"city": "Oslo"}),
    ]


# --- n is forwarded, not fanned out ------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("provider_type", ["openai", "azure"])
def test_n_reaches_the_upstream_in_one_call(
    fake_upstream: FakeUpstream, serve_gateway: Serve, provider_type: str, stream: bool
) -> None:
    # Both types take n natively: one upstream call with n=4, never four calls each with "n": null.
    path = CHAT_PATH if provider_type == "azure" else "/chat/completions"
    fake_upstream.on(path, fake_openai.chat)
    providers = {"up": {"type": provider_type, "api_key": API_KEY, "api_base": fake_upstream.url}}
    models = {"gpt-4o": {"provider": "up", "model": "gpt-4o", "deployment": "prod-4o"}}
    sdk = client(serve_gateway(make_config(providers, models)))
    messages: Any = [{"role": "user", "content": "Hi there"}]

    if stream:
        chunks = list(sdk.chat.completions.create(model="gpt-4o", messages=messages, n=4, stream=True))
        indexes = {choice.index for chunk in chunks for choice in chunk.choices}
    else:
        completion = sdk.chat.completions.create(model="gpt-4o", messages=messages, n=4)
        indexes = {choice.index for choice in completion.choices}

    assert len(fake_upstream.requests) == 1
    sent = fake_upstream.requests[0]
    assert sent.path == path
    assert sent.json()["n"] == 4
    assert indexes == {0, 1, 2, 3}


# --- text completions ----------------------------------------------------------------------


def test_completions_use_azure_native_endpoint(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    path = "/openai/deployments/instruct-1/completions"
    fake_upstream.on(path, json_handler("completion.json"))
    sdk = client(gateway(serve_gateway, fake_upstream))

    raw = sdk.completions.with_raw_response.create(model="instruct", prompt="Once", max_tokens=4, echo=False)
    completion = raw.parse()

    sent = fake_upstream.requests[-1]
    assert (sent.path, sent.query) == (path, f"api-version={DEFAULT_API_VERSION}")
    assert sent.json() == {"model": "gpt-35-turbo-instruct", "prompt": "Once", "max_tokens": 4, "echo": False}
    assert_valid(raw.http_response.json(), "CreateCompletionResponse")
    assert completion.choices[0].text == " upon a time"


def test_streamed_completions(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on("/openai/deployments/instruct-1/completions", sse_handler("completion_stream.sse"))
    base_url = gateway(serve_gateway, fake_upstream)

    payloads = raw_sse(base_url, "/completions", {"model": "instruct", "prompt": "Once", "stream": True})

    chunks = [json.loads(p) for p in payloads[:-1]]
    for chunk in chunks:
        # OpenAI has no schema of its own for completion chunks and streams a null finish_reason
        # until the last one; everything else must match the completion object.
        final = {**chunk, "choices": [{**c, "finish_reason": c["finish_reason"] or "stop"} for c in chunk["choices"]]}
        assert_valid(final, "CreateCompletionResponse")
    assert "".join(c["choices"][0]["text"] for c in chunks) == " upon a time"
    assert fake_upstream.requests[-1].json()["stream"] is True


# --- errors --------------------------------------------------------------------------------


def test_rate_limit_keeps_retry_after_and_scrubs_urls(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CHAT_PATH, json_handler("rate_limit_error.json", 429, {"retry-after": "7"}))
    sdk = client(gateway(serve_gateway, fake_upstream, num_retries=0))

    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])

    response = caught.value.response
    assert response.headers["retry-after"] == "7"
    body = response.json()
    assert_valid(body, "ErrorResponse")
    assert body["error"]["code"] == "rate_limit_exceeded"
    assert "exceeded token rate limit" in body["error"]["message"]
    assert "http" not in response.text and fake_upstream.url not in response.text


def test_content_filter_is_a_400_with_its_code(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CHAT_PATH, json_handler("content_filter_error.json", 400))
    sdk = client(gateway(serve_gateway, fake_upstream))

    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "bad"}])

    body = caught.value.response.json()
    assert_valid(body, "ErrorResponse")
    assert (body["error"]["code"], body["error"]["param"]) == ("content_filter", "prompt")
    assert "content management policy" in body["error"]["message"]
    assert "http" not in caught.value.response.text


def test_missing_deployment_is_a_404(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CHAT_PATH, json_handler("deployment_not_found.json", 404))
    sdk = client(gateway(serve_gateway, fake_upstream))

    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])

    assert caught.value.response.json()["error"]["code"] == "DeploymentNotFound"


def test_upstream_auth_failure_is_the_operators_problem(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    def unauthorized(request: Request, body: bytes) -> Response:
        message = {"error": {"code": "401", "message": f"Access denied due to invalid subscription key {API_KEY}."}}
        return Response(json.dumps(message), status_code=401, media_type="application/json")

    fake_upstream.on(CHAT_PATH, unauthorized)
    sdk = client(gateway(serve_gateway, fake_upstream))

    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])

    assert caught.value.status_code == 502
    assert API_KEY not in caught.value.response.text


def test_missing_api_base_is_a_configuration_error(serve_gateway: Serve) -> None:
    config = make_config({"azure": {"api_key": API_KEY}}, {"gpt-4o": {"provider": "azure", "model": "gpt-4o"}})
    sdk = client(serve_gateway(config))

    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])

    assert caught.value.status_code == 503


# --- unit ----------------------------------------------------------------------------------


def _chat_translator() -> StreamTranslator:
    return StreamTranslator(ChatCompletionRequest.model_validate({"model": "m", "messages": [
        {"role": "user", "content": "Hi"}]}))


def _event(data: str) -> SSEEvent:
    return SSEEvent("", json.loads(data), data)


def test_stream_translator_forwards_ordinary_chunks_as_they_are() -> None:
    data = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[]}'
    assert list(_chat_translator().on_event(_event(data))) == [RawJSON(data.encode())]


def test_stream_translator_keeps_a_usage_only_chunk_with_empty_object() -> None:
    usage = '{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}'
    data = '{"id":"","object":"","created":0,"model":"","choices":[],"usage":' + usage + "}"
    repaired = list(_chat_translator().on_event(_event(data)))
    assert len(repaired) == 1
    chunk = repaired[0]
    assert isinstance(chunk, dict)
    assert chunk["object"] == "chat.completion.chunk"
