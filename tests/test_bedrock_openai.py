"""Bedrock Runtime's OpenAI-compatible endpoint (``api: openai`` on a ``bedrock`` provider), through the openai SDK.

The loopback fake plays ``bedrock-runtime`` at ``/openai/v1`` (:mod:`fake_responses`: chat
completions, with function tools refused for its reasoning models, and the Responses API). Every
request must carry a SigV4 ``Authorization`` for the service ``bedrock``, which these tests
recompute independently (the AWS Signature Version 4 algorithm, with ``hashlib``/``hmac``) over
the headers and the exact body bytes the fake received; or, with a Bedrock API key, a Bearer
token and no signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

import fake_responses as fr
from conftest import DEV_KEY, FakeUpstream, Recorded, make_config
from lambdagate.config.schema import GatewayConfig, ProviderConfig
from lambdagate.providers.base import Target
from lambdagate.providers.bedrock import openai_api, sigv4
from lambdagate.providers.openai.responses_api import route
from openai_schema import assert_valid
from responses_support import assert_events, final_response, parse_sse, post_stream

ACCESS_KEY, SECRET_KEY, REGION = "AKIDFAKEFAKEFAKE", "fake-secret", "us-west-2"
MODEL = "openai.gpt-oss-120b-1:0"
REASONER = "openai.gpt-5.4"
AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/(?P<service>[a-z-]+)"
    r"/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
ASK = [{"role": "user", "content": "Weather in Paris?"}]

Serve = Callable[[GatewayConfig], str]


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Fake static credentials, and nothing from the machine's AWS configuration or metadata."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    sigv4.reset()
    route.forget()
    yield
    sigv4.reset()
    route.forget()


@pytest.fixture
def upstream(fake_upstream: FakeUpstream) -> fr.ResponsesUpstream:
    return fr.ResponsesUpstream(fake_upstream, prefixes=("/openai/v1",))


@pytest.fixture
def start(fake_upstream: FakeUpstream, serve_gateway: Serve) -> Callable[..., openai.OpenAI]:
    def run(**provider: Any) -> openai.OpenAI:
        providers = {"aws": {"type": "bedrock", "region": REGION, "endpoint_url": fake_upstream.url,
                             "api": "openai", **provider}}
        models = {"gpt-oss": {"provider": "aws", "model": MODEL},
                  "reasoner": {"provider": "aws", "model": REASONER}}
        base_url = serve_gateway(make_config(providers, models, num_retries=0))
        return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=15)

    return run


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def assert_signed(sent: Recorded) -> None:
    """The request's SigV4 signature, recomputed from what the fake received, is the one it carries."""
    match = AUTHORIZATION.match(sent.headers["authorization"])
    assert match, sent.headers["authorization"]
    assert (match["key"], match["region"], match["service"]) == (ACCESS_KEY, REGION, "bedrock")
    signed = match["signed"].split(";")
    assert {"host", "x-amz-date"} <= set(signed)
    amz_date = sent.headers["x-amz-date"]
    assert amz_date.startswith(match["date"])
    canonical = "\n".join([
        sent.method, sent.path, sent.query,
        *(f"{name}:{sent.headers[name].strip()}" for name in signed), "",
        match["signed"], hashlib.sha256(sent.body).hexdigest(),
    ])
    scope = f"{match['date']}/{REGION}/bedrock/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(("AWS4" + SECRET_KEY).encode(), match["date"])
    for part in (REGION, "bedrock", "aws4_request"):
        key = _hmac(key, part)
    assert hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest() == match["signature"]


# --- chat completions -----------------------------------------------------------------------------


def test_chat_is_sent_to_the_openai_endpoint_signed_over_its_exact_bytes(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    client = start()

    raw = client.chat.completions.with_raw_response.create(model="gpt-oss", messages=ASK, max_tokens=50,
                                                           reasoning_effort="low")

    sent = fake_upstream.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/openai/v1/chat/completions")
    assert sent.json() == {"model": MODEL, "messages": ASK, "max_tokens": 50, "reasoning_effort": "low"}
    assert_signed(sent)
    assert_valid(raw.http_response.json(), "CreateChatCompletionResponse")
    assert raw.parse().choices[0].message.content == "echo: Weather in Paris?"
    assert raw.headers["x-lambdagate-provider"] == "aws"


def test_streamed_chat_is_signed_and_relayed(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    client = start()

    chunks = list(client.chat.completions.create(model="gpt-oss", messages=ASK, stream=True,
                                                 stream_options={"include_usage": True}))

    sent = fake_upstream.requests[-1]
    assert sent.path == "/openai/v1/chat/completions" and sent.json()["stream"] is True
    assert_signed(sent)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: Weather in Paris?"
    assert chunks[-1].usage is not None


def test_a_bedrock_api_key_is_sent_as_a_bearer_token(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "ABSKQmVkcm9ja0FQSUtleS1fake")
    client = start(api_key="env:AWS_BEARER_TOKEN_BEDROCK")

    client.chat.completions.create(model="gpt-oss", messages=ASK)

    sent = fake_upstream.requests[-1]
    assert sent.headers["authorization"] == "Bearer ABSKQmVkcm9ja0FQSUtleS1fake"
    assert "x-amz-date" not in sent.headers


def test_tools_on_a_reasoning_model_go_through_the_signed_responses_api(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    upstream.answer(fr.response([fr.reasoning(), fr.function_call('{"city":"Paris"}')], model=REASONER))
    client = start()

    raw = client.chat.completions.with_raw_response.create(model="reasoner", messages=ASK, tools=[WEATHER])

    assert [r.path for r in fake_upstream.requests] == ["/openai/v1/chat/completions", "/openai/v1/responses"]
    sent = fake_upstream.requests[-1]
    assert_signed(sent)
    body = sent.json()
    assert (body["model"], body["store"], body["include"]) == (REASONER, False, ["reasoning.encrypted_content"])
    answer = raw.http_response.json()
    assert_valid(answer, "CreateChatCompletionResponse")
    assert answer["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == '{"city":"Paris"}'
    assert answer["choices"][0]["message"]["reasoning_details"][1]["format"] == "bedrock-openai-responses-v1"


# --- the Responses front door ---------------------------------------------------------------------


def test_responses_are_forwarded_signed_and_not_stored(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    upstream.answer(fr.response([fr.message("Hello from Bedrock.")], model=MODEL))
    client = start()

    answer = client.responses.create(model="gpt-oss", input="Hello", instructions="Be brief.")

    sent = fake_upstream.requests[-1]
    assert sent.path == "/openai/v1/responses"
    assert sent.json() == {"model": MODEL, "input": "Hello", "instructions": "Be brief.", "store": False}
    assert_signed(sent)
    assert answer.output_text == "Hello from Bedrock."
    assert_valid(answer.model_dump(mode="json", exclude_unset=True), "Response")

    client.responses.create(model="gpt-oss", input="Keep it", store=True)
    assert fake_upstream.requests[-1].json()["store"] is True  # the client's choice is kept


def test_streamed_responses_are_forwarded_signed(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    upstream.answer(fr.response([fr.message("Streamed from Bedrock.")], model=MODEL))
    client = start()

    answer = post_stream(str(client.base_url).rstrip("/"), {"model": "gpt-oss", "input": "Hello"})

    sent = fake_upstream.requests[-1]
    assert sent.json() == {"model": MODEL, "input": "Hello", "stream": True, "store": False}
    assert_signed(sent)
    datas = assert_events(parse_sse(answer.text))
    assert final_response(datas)["output"][0]["content"][0]["text"] == "Streamed from Bedrock."


def test_a_refused_signature_is_the_operators_problem_not_the_clients(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    def forbidden(request: Request, body: bytes) -> Response:
        return JSONResponse({"message": "The security token included in the request is invalid."}, status_code=403)

    fake_upstream.on("/openai/v1/chat/completions", forbidden)
    client = start()

    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-oss", messages=ASK)

    assert caught.value.status_code == 502
    assert "security token" in caught.value.message
    assert json.loads(caught.value.response.text)["error"]["code"] == "upstream_permission_denied"


# --- where and how it signs -----------------------------------------------------------------------


def _target(**options: Any) -> Target:
    return Target(alias="a", provider_name="aws", provider_type="bedrock", config=ProviderConfig(type="bedrock"),
                  model=MODEL, options={"api": "openai", **options}, timeout=10)


def test_the_endpoint_and_signing_service_follow_the_region_and_host() -> None:
    assert openai_api.base_url(_target(region="eu-west-1")) == "https://bedrock-runtime.eu-west-1.amazonaws.com/openai/v1"
    mantle = _target(region="us-east-1", endpoint_url="https://bedrock-mantle.us-east-1.api.aws/v1")
    assert openai_api.base_url(mantle) == "https://bedrock-mantle.us-east-1.api.aws/v1"
    assert sigv4.service_for(openai_api.base_url(mantle), mantle) == "bedrock-mantle"
    runtime = _target(endpoint_url="https://bedrock-runtime.ap-south-1.amazonaws.com")
    assert sigv4.service_for(openai_api.base_url(runtime), runtime) == "bedrock"
    assert openai_api.signing_region(runtime, openai_api.base_url(runtime)) == "ap-south-1"
    assert openai_api.PROVIDER.chat_api(_target(api="openai-responses")) == "responses"
    assert openai_api.PROVIDER.chat_api(_target(api="openai-chat")) == "chat"
    assert openai_api.PROVIDER.chat_api(_target()) == "auto"


def test_a_prompt_over_the_context_window_gets_openais_code() -> None:
    info = openai_api.parse_error({"message": "Input is too long for requested model."})
    assert info.code == "context_length_exceeded"
