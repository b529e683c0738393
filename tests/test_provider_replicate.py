"""The ``replicate`` provider: a chat request run as one Replicate prediction, waited for or streamed.

The fake upstream plays Replicate's API (fixtures under fixtures/replicate, written from its
HTTP reference): create, poll, cancel and the SSE stream URL. The prediction objects' own URLs
are rewritten to a closed loopback port or to the fake, so nothing here can reach the internet.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from conftest import DEV_KEY, FakeUpstream, ServerThread, make_config
from lambdagate.config.schema import GatewayConfig, ProviderConfig
from lambdagate.errors import InvalidRequest
from lambdagate.providers import http as upstream_http
from lambdagate.providers.base import Target
from lambdagate.providers.replicate.request import build_prompt, model_path
from lambdagate.types import ChatCompletionRequest
from openai_schema import assert_valid

FIXTURES = Path(__file__).parent / "fixtures" / "replicate"
TOKEN = "r8_test_token_0123456789"
MODEL = "meta/meta-llama-3-8b-instruct"
CREATE_PATH = f"/models/{MODEL}/predictions"
PREDICTION_ID = "rrr4fx8dnhrj00cktmbv9gmxkm"
GET_PATH = f"/predictions/{PREDICTION_ID}"
CLOSED = "http://127.0.0.1:9"  # nothing listens on the discard port: using a prediction URL would fail

Serve = Callable[[GatewayConfig], str]


def prediction(name: str, fake: FakeUpstream | None = None, **changes: Any) -> dict[str, Any]:
    """A fixture prediction whose URLs point nowhere, or its stream URL to the fake."""
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    urls = body.get("urls", {})
    for key in urls:
        urls[key] = f"{CLOSED}/v1/predictions/{PREDICTION_ID}/{key}"
    if "stream" in urls and fake is not None:
        urls["stream"] = f"{fake.url}/stream/{PREDICTION_ID}"
    body.update(changes)
    return body


def answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    def handler(request: Request, raw: bytes) -> Response:
        return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)

    return handler


def sequence(*bodies: dict[str, Any]) -> Any:
    """Answers with each body in turn, then repeats the last (a prediction being polled)."""
    remaining: Iterator[dict[str, Any]] = iter(bodies)
    last: list[dict[str, Any]] = [bodies[-1]]

    def handler(request: Request, raw: bytes) -> Response:
        body = next(remaining, last[0])
        return Response(json.dumps(body), media_type="application/json")

    return handler


def sse(name: str) -> Any:
    def handler(request: Request, raw: bytes) -> Response:
        return Response((FIXTURES / name).read_bytes(), media_type="text/event-stream")

    return handler


def gateway(serve: Serve, fake: FakeUpstream, deployment: dict[str, Any] | None = None, **settings: Any) -> str:
    providers = {"replicate": {"api_key": TOKEN, "api_base": fake.url, "poll_interval": 0.01}}
    models = {"llama": {"provider": "replicate", "model": MODEL, **(deployment or {})}}
    return serve(make_config(providers, models, **settings))


def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=10)


def raw_post(base_url: str, path: str, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client(timeout=10) as http:
        return http.post(base_url + path, json=body, headers={"authorization": f"Bearer {DEV_KEY}"})


def wait_for_request(fake: FakeUpstream, method: str, path: str, within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any((r.method, r.path) == (method, path) for r in fake.requests):
            return True
        time.sleep(0.02)
    return False


def sse_payloads(response: httpx.Response) -> list[str]:
    return [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]


# --- not streamed --------------------------------------------------------------------------


def test_chat_creates_a_prediction_with_mapped_inputs(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_succeeded.json")))
    sdk = client(gateway(serve_gateway, fake_upstream))

    raw = sdk.chat.completions.with_raw_response.create(
        model="llama",
        messages=[{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Say hello"}],
        max_tokens=100, temperature=0.5, top_p=0.9, stop=["\n\n", "User:"], seed=42,
        presence_penalty=0.1, frequency_penalty=0.2, extra_body={"top_k": 40},
    )
    completion = raw.parse()

    sent = fake_upstream.requests[-1]
    assert (sent.method, sent.path) == ("POST", CREATE_PATH)
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["prefer"] == "wait=60"
    assert sent.json() == {"input": {
        "prompt": "Say hello", "system_prompt": "Be kind.", "max_tokens": 100, "temperature": 0.5, "top_p": 0.9,
        "top_k": 40, "stop_sequences": "\n\n,User:", "seed": 42, "presence_penalty": 0.1, "frequency_penalty": 0.2,
    }}
    body = raw.http_response.json()
    assert_valid(body, "CreateChatCompletionResponse")
    assert completion.choices[0].message.content == "Hello! How can I help?"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (14, 7)
    assert completion.model == MODEL


def test_output_at_the_token_limit_finishes_with_length(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_succeeded.json")))
    sdk = client(gateway(serve_gateway, fake_upstream, {"max_tokens_field": "max_new_tokens"}))

    completion = sdk.chat.completions.create(
        model="llama", messages=[{"role": "user", "content": "Say hello"}], max_completion_tokens=7,
    )

    assert completion.choices[0].finish_reason == "length"
    assert fake_upstream.requests[-1].json()["input"] == {"prompt": "Say hello", "max_new_tokens": 7}


def test_unsupported_parameters_are_dropped_and_listed(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_succeeded.json", metrics={})))
    sdk = client(gateway(serve_gateway, fake_upstream))

    raw = sdk.chat.completions.with_raw_response.create(
        model="llama", messages=[{"role": "user", "content": "Say hello"}], logit_bias={"50256": -100}, user="u1",
    )
    body = raw.http_response.json()

    assert set(raw.headers["x-lambdagate-dropped-params"].split(",")) == {"logit_bias", "user"}
    assert fake_upstream.requests[-1].json() == {"input": {"prompt": "Say hello"}}
    # No token counts reported: no usage rather than an invented one.
    assert "usage" not in body
    assert_valid(body, "CreateChatCompletionResponse")


def test_unsupported_parameter_is_refused_when_drop_params_is_off(
    fake_upstream: FakeUpstream, serve_gateway: Serve
) -> None:
    sdk = client(gateway(serve_gateway, fake_upstream, drop_params=False))

    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="llama", messages=[{"role": "user", "content": "Hi"}], logit_bias={"1": 1})

    assert caught.value.response.json()["error"]["param"] == "logit_bias"
    assert fake_upstream.requests == []


def test_unfinished_prediction_is_polled_by_id(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_starting.json")))
    fake_upstream.on(GET_PATH, sequence(
        prediction("prediction_starting.json", status="processing"),
        prediction("prediction_succeeded.json"),
    ))
    sdk = client(gateway(serve_gateway, fake_upstream))

    completion = sdk.chat.completions.create(model="llama", messages=[{"role": "user", "content": "Say hello"}])

    assert completion.choices[0].message.content == "Hello! How can I help?"
    polls = [r for r in fake_upstream.requests if r.path == GET_PATH]
    assert len(polls) == 2
    assert all(r.method == "GET" and r.headers["authorization"] == f"Bearer {TOKEN}" for r in polls)


def test_pinned_version_uses_the_predictions_endpoint(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    version = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"
    fake_upstream.on("/predictions", answer(prediction("prediction_succeeded.json")))
    sdk = client(gateway(serve_gateway, fake_upstream, {"model": f"{MODEL}:{version}"}))

    sdk.chat.completions.create(model="llama", messages=[{"role": "user", "content": "Say hello"}])

    assert fake_upstream.requests[-1].json() == {"version": version, "input": {"prompt": "Say hello"}}


def test_direct_name_reaches_a_replicate_model(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on("/models/mistralai/mixtral-8x7b-instruct-v0.1/predictions",
                     answer(prediction("prediction_succeeded.json")))
    sdk = client(gateway(serve_gateway, fake_upstream))

    completion = sdk.chat.completions.create(
        model="replicate/mistralai/mixtral-8x7b-instruct-v0.1", messages=[{"role": "user", "content": "Say hello"}],
    )

    assert completion.choices[0].message.content == "Hello! How can I help?"


def test_multi_turn_becomes_a_transcript_with_configured_inputs(
    fake_upstream: FakeUpstream, serve_gateway: Serve
) -> None:
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_succeeded.json")))
    deployment = {"input": {"prompt_template": "{prompt}", "min_tokens": 0}, "system_prompt_field": ""}
    sdk = client(gateway(serve_gateway, fake_upstream, deployment))

    sdk.chat.completions.create(model="llama", messages=[
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": [{"type": "text", "text": "How are you?"}]},
    ])

    assert fake_upstream.requests[-1].json()["input"] == {
        "prompt_template": "{prompt}", "min_tokens": 0,
        "prompt": "Be kind.\n\nUser: Hi\n\nAssistant: Hello!\n\nUser: How are you?\n\nAssistant:",
    }


def test_image_content_is_refused(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    sdk = client(gateway(serve_gateway, fake_upstream))

    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="llama", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ]}])

    assert fake_upstream.requests == []


# --- errors --------------------------------------------------------------------------------


def test_failed_prediction_is_a_mapped_error(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_starting.json")))
    fake_upstream.on(GET_PATH, answer(prediction("prediction_failed.json")))
    sdk = client(gateway(serve_gateway, fake_upstream, num_retries=0))

    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="llama", messages=[{"role": "user", "content": "Say hello"}])

    body = caught.value.response.json()
    assert caught.value.status_code == 502
    assert_valid(body, "ErrorResponse")
    assert body["error"]["code"] == "prediction_failed"
    assert "CUDA out of memory" in body["error"]["message"]
    assert "http" not in caught.value.response.text


def test_canceled_prediction_is_an_error(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_failed.json", status="canceled", error=None)))
    sdk = client(gateway(serve_gateway, fake_upstream, num_retries=0))

    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="llama", messages=[{"role": "user", "content": "Say hello"}])

    assert caught.value.response.json()["error"]["code"] == "prediction_canceled"


def test_validation_error_is_a_400_with_replicates_detail(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    body = json.loads((FIXTURES / "validation_error.json").read_text())
    fake_upstream.on(CREATE_PATH, answer(body, 422))
    sdk = client(gateway(serve_gateway, fake_upstream))

    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="llama", messages=[{"role": "user", "content": "Hi"}], temperature=1.5)

    error = caught.value.response.json()
    assert_valid(error, "ErrorResponse")
    assert "input.temperature: Must be less than or equal to 5" in error["error"]["message"]


def test_rate_limit_keeps_retry_after(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    body = json.loads((FIXTURES / "rate_limit_error.json").read_text())
    fake_upstream.on(CREATE_PATH, answer(body, 429, {"retry-after": "3"}))
    sdk = client(gateway(serve_gateway, fake_upstream, num_retries=0))

    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(model="llama", messages=[{"role": "user", "content": "Hi"}])

    assert caught.value.response.headers["retry-after"] == "3"
    assert "throttled" in caught.value.response.json()["error"]["message"]


def test_prediction_not_done_in_time_is_canceled_and_a_504(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_starting.json")))
    fake_upstream.on(GET_PATH, answer(prediction("prediction_starting.json", status="processing")))
    fake_upstream.on(GET_PATH + "/cancel", answer(prediction("prediction_failed.json", status="canceled")))
    # Long enough for the prediction to be created even on a loaded machine, so there is one to cancel.
    sdk = client(gateway(serve_gateway, fake_upstream, {"timeout": 1.0}, num_retries=0))

    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(model="llama", messages=[{"role": "user", "content": "Say hello"}])

    assert caught.value.status_code == 504
    assert fake_upstream.requests[0].headers["prefer"] == "wait=1"
    # The cancellation is sent in the background, so the 504 never waits on it.
    assert wait_for_request(fake_upstream, "POST", GET_PATH + "/cancel")


def test_client_leaving_a_stream_cancels_the_prediction(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    async def endless(request: Request, raw: bytes) -> Response:
        async def events() -> AsyncIterator[bytes]:
            yield b"event: output\nid: 1:0\ndata: Hello\n\n"
            await asyncio.sleep(30)

        return StreamingResponse(events(), media_type="text/event-stream")

    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_starting.json", fake_upstream)))
    fake_upstream.on(f"/stream/{PREDICTION_ID}", endless)
    fake_upstream.on(GET_PATH + "/cancel", answer(prediction("prediction_failed.json", status="canceled")))
    sdk = client(gateway(serve_gateway, fake_upstream))

    stream = sdk.chat.completions.create(model="llama", messages=[{"role": "user", "content": "Hi"}], stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    stream.close()

    assert wait_for_request(fake_upstream, "POST", GET_PATH + "/cancel")


# --- streamed ------------------------------------------------------------------------------


def test_stream_reads_the_prediction_stream_url(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_starting.json", fake_upstream)))
    fake_upstream.on(f"/stream/{PREDICTION_ID}", sse("stream.sse"))
    fake_upstream.on(GET_PATH, answer(prediction("prediction_succeeded.json")))
    base_url = gateway(serve_gateway, fake_upstream)

    response = raw_post(base_url, "/chat/completions", {
        "model": "llama", "messages": [{"role": "user", "content": "Say hello"}], "stream": True,
        "stream_options": {"include_usage": True},
    })

    create, stream = fake_upstream.requests[0], fake_upstream.requests[1]
    assert create.json() == {"input": {"prompt": "Say hello"}, "stream": True}
    assert "prefer" not in create.headers
    assert (stream.method, stream.path) == ("GET", f"/stream/{PREDICTION_ID}")
    assert stream.headers["accept"] == "text/event-stream"
    assert stream.headers["authorization"] == f"Bearer {TOKEN}"
    payloads = sse_payloads(response)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hello, world!"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == {"prompt_tokens": 14, "completion_tokens": 7, "total_tokens": 21}


def test_stream_through_the_sdk(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_starting.json", fake_upstream)))
    fake_upstream.on(f"/stream/{PREDICTION_ID}", sse("stream.sse"))
    sdk = client(gateway(serve_gateway, fake_upstream))

    stream = sdk.chat.completions.create(model="llama", messages=[{"role": "user", "content": "Hi"}], stream=True)
    chunks = list(stream)

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello, world!"
    # Without include_usage or a token limit the finished prediction is not fetched again.
    assert [r.path for r in fake_upstream.requests] == [CREATE_PATH, f"/stream/{PREDICTION_ID}"]


def test_stream_error_event_ends_the_stream_with_an_error(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_starting.json", fake_upstream)))
    fake_upstream.on(f"/stream/{PREDICTION_ID}", sse("stream_error.sse"))
    base_url = gateway(serve_gateway, fake_upstream)

    response = raw_post(base_url, "/chat/completions", {
        "model": "llama", "messages": [{"role": "user", "content": "Hi"}], "stream": True,
    })

    payloads = sse_payloads(response)
    assert payloads[-1] == "[DONE]"
    error = json.loads(payloads[-2])
    assert_valid(error, "ErrorResponse")
    assert error["error"]["code"] == "prediction_failed"
    assert "CUDA out of memory" in error["error"]["message"]
    assert "http" not in response.text


def test_model_without_stream_url_is_answered_in_one_chunk(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    starting = prediction("prediction_starting.json")
    del starting["urls"]["stream"]
    fake_upstream.on(CREATE_PATH, answer(starting))
    fake_upstream.on(GET_PATH, answer(prediction("prediction_succeeded.json")))
    sdk = client(gateway(serve_gateway, fake_upstream))

    stream = sdk.chat.completions.create(
        model="llama", messages=[{"role": "user", "content": "Hi"}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello! How can I help?"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 21


# --- text completions (served through chat) ------------------------------------------------


def test_completions_through_chat(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_succeeded.json")))
    sdk = client(gateway(serve_gateway, fake_upstream))

    raw = sdk.completions.with_raw_response.create(model="llama", prompt="Say hello", max_tokens=20, n=2, echo=True)
    completion = raw.parse()

    creates = [r for r in fake_upstream.requests if r.path == CREATE_PATH]
    assert len(creates) == 2  # Replicate has no n: one prediction per choice
    assert all(r.json() == {"input": {"prompt": "Say hello", "max_tokens": 20}} for r in creates)
    assert_valid(raw.http_response.json(), "CreateCompletionResponse")
    assert [c.text for c in completion.choices] == ["Say helloHello! How can I help?"] * 2
    assert completion.usage is not None and completion.usage.completion_tokens == 14


def test_streamed_completions_through_chat(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_starting.json", fake_upstream)))
    fake_upstream.on(f"/stream/{PREDICTION_ID}", sse("stream.sse"))
    fake_upstream.on(GET_PATH, answer(prediction("prediction_succeeded.json")))
    sdk = client(gateway(serve_gateway, fake_upstream))

    stream = sdk.completions.create(model="llama", prompt="Say hello", stream=True)
    text = "".join(chunk.choices[0].text for chunk in stream if chunk.choices)

    assert text == "Hello, world!"


# --- no upstream URL ever reaches a client -------------------------------------------------


def test_no_upstream_url_or_prediction_id_in_any_response(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_starting.json", fake_upstream)))
    fake_upstream.on(f"/stream/{PREDICTION_ID}", sse("stream.sse"))
    fake_upstream.on(GET_PATH, answer(prediction("prediction_succeeded.json")))
    base_url = gateway(serve_gateway, fake_upstream, num_retries=0)
    messages = [{"role": "user", "content": "Hi"}]

    bodies = [
        raw_post(base_url, "/chat/completions", {"model": "llama", "messages": messages}).text,
        raw_post(base_url, "/chat/completions", {"model": "llama", "messages": messages, "stream": True,
                                                 "stream_options": {"include_usage": True}}).text,
        raw_post(base_url, "/completions", {"model": "llama", "prompt": "Hi"}).text,
    ]
    fake_upstream.on(GET_PATH, answer(prediction("prediction_failed.json")))
    bodies.append(raw_post(base_url, "/chat/completions", {"model": "llama", "messages": messages}).text)
    fake_upstream.on(f"/stream/{PREDICTION_ID}", sse("stream_error.sse"))
    bodies.append(raw_post(base_url, "/chat/completions", {"model": "llama", "messages": messages,
                                                           "stream": True}).text)

    assert "prediction_failed" in bodies[3] and "prediction_failed" in bodies[4]
    for body in bodies:
        for leak in ("http://", "https://", "127.0.0.1", PREDICTION_ID, "urls", TOKEN):
            assert leak not in body


# --- credentials go only to the configured API (issue 8) ----------------------------------


def test_stream_url_on_another_host_gets_no_token(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    other = FakeUpstream()
    with ServerThread(other.app()) as server:
        other.url = server.url
        other.on(f"/stream/{PREDICTION_ID}", sse("stream.sse"))
        starting = prediction("prediction_starting.json")
        starting["urls"]["stream"] = f"{other.url}/stream/{PREDICTION_ID}"
        fake_upstream.on(CREATE_PATH, answer(starting))
        sdk = client(gateway(serve_gateway, fake_upstream))

        stream = sdk.chat.completions.create(model="llama", messages=[{"role": "user", "content": "Hi"}], stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    assert text == "Hello, world!"
    assert fake_upstream.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    (read,) = other.requests
    assert read.method == "GET" and "authorization" not in read.headers
    assert TOKEN not in json.dumps(read.headers)


def test_plain_http_stream_url_is_refused(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    starting = prediction("prediction_starting.json")
    # Never contacted: refused before any connection (and .invalid never resolves).
    starting["urls"]["stream"] = "http://stream.replicate.invalid/v1/files/abc"
    fake_upstream.on(CREATE_PATH, answer(starting))
    fake_upstream.on(GET_PATH + "/cancel", answer(prediction("prediction_failed.json", status="canceled")))
    sdk = client(gateway(serve_gateway, fake_upstream, num_retries=0))

    with pytest.raises(openai.InternalServerError) as caught:
        list(sdk.chat.completions.create(model="llama", messages=[{"role": "user", "content": "Hi"}], stream=True))

    assert caught.value.status_code == 502
    assert_valid(caught.value.response.json(), "ErrorResponse")
    assert "not https" in caught.value.response.json()["error"]["message"]
    assert "invalid" not in caught.value.response.text
    # The prediction it could not read is canceled, through the configured API.
    assert wait_for_request(fake_upstream, "POST", GET_PATH + "/cancel")


def test_credentials_allowed_rule() -> None:
    api = "https://api.replicate.com/v1"
    assert upstream_http.credentials_allowed("https://api.replicate.com/v1/predictions/x", api)
    assert upstream_http.credentials_allowed("https://API.replicate.com:443/v1/x", api)
    assert not upstream_http.credentials_allowed("https://stream.replicate.com/v1/files/x", api)
    assert not upstream_http.credentials_allowed("https://api.replicate.com:8443/v1/x", api)
    assert not upstream_http.credentials_allowed("http://api.replicate.com/v1/x", api)
    assert upstream_http.credentials_allowed("https://anything.example/v1")
    assert not upstream_http.credentials_allowed("http://10.0.0.5:8000/v1")
    for loopback in ("http://127.0.0.1:8000/v1", "http://127.9.9.9/v1", "http://[::1]:8000/v1", "http://localhost/v1"):
        assert upstream_http.credentials_allowed(loopback), loopback
    assert not upstream_http.credentials_allowed("ftp://127.0.0.1/x")


# --- context length ------------------------------------------------------------------------


def test_prompt_too_long_is_context_length_exceeded(fake_upstream: FakeUpstream, serve_gateway: Serve) -> None:
    message = "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens."
    fake_upstream.on(CREATE_PATH, answer(prediction("prediction_failed.json", error=message)))
    sdk = client(gateway(serve_gateway, fake_upstream))

    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="llama", messages=[{"role": "user", "content": "Hi"}])

    body = caught.value.response.json()
    assert_valid(body, "ErrorResponse")
    assert body["error"]["code"] == "context_length_exceeded"
    assert len([r for r in fake_upstream.requests if r.path == CREATE_PATH]) == 1  # not retried


# --- unit ----------------------------------------------------------------------------------


def _target(**options: Any) -> Target:
    return Target(alias="a", provider_name="replicate", provider_type="replicate", config=ProviderConfig(),
                  model=MODEL, options=options, timeout=10)


def test_model_path_forms() -> None:
    assert model_path("meta/llama") == ("/models/meta/llama/predictions", {})
    assert model_path("meta/llama:abc123") == ("/predictions", {"version": "abc123"})
    assert model_path("deployments/acme/my-llama") == ("/deployments/acme/my-llama/predictions", {})
    for bad in ("llama", "a/b/c", "/b", "meta/"):
        with pytest.raises(InvalidRequest):
            model_path(bad)


def test_turn_templates_option() -> None:
    request = ChatCompletionRequest.model_validate({"model": "m", "messages": [
        {"role": "developer", "content": "Rules."},
        {"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"},
    ]})
    templates = {"user": "[INST] {content} [/INST]", "assistant": "{content}</s>", "generation": ""}

    inputs = build_prompt(request.messages, _target(turn_templates=templates))

    assert inputs == {"system_prompt": "Rules.", "prompt": "[INST] Q1 [/INST]\n\nA1</s>\n\n[INST] Q2 [/INST]\n\n"}
