"""``POST /v1/embeddings`` through the real app with the official openai SDK, against each provider's fake.

Every provider type that has embeddings is served by a loopback fake speaking its API (the
recorded-shape bodies in fixtures/<type>/embeddings_*.json, or a handler that derives each vector
from its text so order can be checked); Bedrock is reached by the real boto3 client through its
``endpoint_url``. Each answer is validated against ``CreateEmbeddingResponse`` of the vendored
OpenAI schema. Batching is proven by counting upstream calls and checking every ``index`` and
vector; ``encoding_format`` by the SDK's default (it asks for base64 and decodes it), an explicit
``base64`` (the string is decoded here as little-endian float32) and ``float``.
"""

from __future__ import annotations

import array
import base64
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response

from conftest import DEV_KEY, FakeUpstream, fixture_bytes, make_config
from lambdagate.config.schema import GatewayConfig
from lambdagate.providers.embeddings import encode_vector
from lambdagate.providers.mock.embeddings import vector as mock_vector
from openai_schema import assert_valid

Serve = Callable[[GatewayConfig], str]
UPSTREAM_KEY = "upstream-key-0123456789abcdef"


# --- helpers -------------------------------------------------------------------------------------


def sdk(serve: Serve, providers: dict[str, Any], models: dict[str, Any], **settings: Any) -> openai.OpenAI:
    base_url = serve(make_config(providers, models, **{"num_retries": 0, **settings}))
    return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20)


def raw(client: openai.OpenAI, **fields: Any) -> tuple[dict[str, Any], Mapping[str, str]]:
    """The gateway's JSON answer and headers for one embeddings call (the SDK's parsing bypassed)."""
    response = client.embeddings.with_raw_response.create(**fields)
    return json.loads(response.http_response.content), response.headers


def valid(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` checked against the OpenAI schema (base64 strings decoded first, as the SDK does)."""
    decoded = json.loads(json.dumps(document))
    for item in decoded["data"]:
        if isinstance(item["embedding"], str):
            item["embedding"] = decode(item["embedding"])
    assert_valid(decoded, "CreateEmbeddingResponse")
    return document


def decode(text: str) -> list[float]:
    return array.array("f", base64.b64decode(text)).tolist()


def number_of(text: str) -> int:
    return int(text.removeprefix("t"))


def vector_for(text: str) -> list[float]:
    """The fakes' vector for input ``t<i>``: exact in float32, so base64 round trips compare equal."""
    i = number_of(text)
    return [float(i), i + 0.5, -0.25]


def assert_in_order(data: list[Any], count: int) -> None:
    assert [item.index for item in data] == list(range(count))
    assert [item.embedding for item in data] == [vector_for(f"t{i}") for i in range(count)]


def json_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Callable[..., Response]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()

    def handler(request: Request, raw_body: bytes) -> Response:
        return Response(content, status_code=status, media_type="application/json", headers=headers)

    return handler


def texts(count: int) -> list[str]:
    return [f"t{i}" for i in range(count)]


# --- the mock provider ---------------------------------------------------------------------------


@pytest.fixture
def mock_client(serve_gateway: Serve) -> openai.OpenAI:
    return sdk(serve_gateway, {"mock": {}}, {"emb": {"provider": "mock", "model": "mock-embed"}})


def test_mock_single_list_and_determinism(mock_client: openai.OpenAI) -> None:
    single, headers = raw(mock_client, model="emb", input="hello world", encoding_format="float")
    valid(single)
    assert single["model"] == "mock-embed" and single["object"] == "list"
    assert single["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    assert single["data"][0]["embedding"] == mock_vector("hello world", 64)
    assert math.isclose(sum(v * v for v in single["data"][0]["embedding"]), 1.0)
    assert headers["x-lambdagate-provider"] == "mock" and headers["x-request-id"]

    listed = mock_client.embeddings.create(model="emb", input=["hello world", "bye", "hello world"],
                                           encoding_format="float")
    assert [d.index for d in listed.data] == [0, 1, 2]
    assert listed.data[0].embedding == listed.data[2].embedding == single["data"][0]["embedding"]
    assert listed.data[1].embedding != listed.data[0].embedding
    assert listed.usage.prompt_tokens == listed.usage.total_tokens == 5


def test_mock_sdk_default_base64_is_decoded(mock_client: openai.OpenAI) -> None:
    """Without encoding_format the SDK asks for base64 and decodes it: the same vectors, in float32."""
    floats = mock_client.embeddings.create(model="emb", input=["a b", "c"], encoding_format="float")
    default = mock_client.embeddings.create(model="emb", input=["a b", "c"])
    for got, want in zip(default.data, floats.data, strict=True):
        assert got.embedding == array.array("f", want.embedding).tolist()


def test_mock_explicit_base64_is_little_endian_float32(mock_client: openai.OpenAI) -> None:
    answer, _ = raw(mock_client, model="emb", input="x", encoding_format="base64", dimensions=4)
    valid(answer)
    encoded = answer["data"][0]["embedding"]
    assert isinstance(encoded, str) and len(base64.b64decode(encoded)) == 4 * 4
    assert encoded == encode_vector(mock_vector("x", 4))
    parsed = mock_client.embeddings.create(model="emb", input="x", encoding_format="base64", dimensions=4)
    assert parsed.data[0].embedding == encoded  # an explicit format is not decoded by the SDK


def test_mock_dimensions_truncate_and_renormalise(mock_client: openai.OpenAI) -> None:
    full = mock_client.embeddings.create(model="emb", input="text", encoding_format="float", dimensions=32)
    short = mock_client.embeddings.create(model="emb", input="text", encoding_format="float", dimensions=8)
    assert (len(full.data[0].embedding), len(short.data[0].embedding)) == (32, 8)
    prefix = full.data[0].embedding[:8]
    norm = math.sqrt(sum(v * v for v in prefix))
    assert short.data[0].embedding == pytest.approx([v / norm for v in prefix])


def test_path_without_v1_and_user(mock_client: openai.OpenAI) -> None:
    bare = openai.OpenAI(base_url=str(mock_client.base_url).removesuffix("/v1/"), api_key=DEV_KEY, max_retries=0)
    answer = bare.embeddings.create(model="emb", input="hi", user="user-1234", encoding_format="float")
    assert answer.data[0].embedding == mock_vector("hi", 64)


@pytest.mark.parametrize(("body", "param"), [
    ({"input": ""}, "input"),
    ({"input": []}, "input"),
    ({"input": ["x"] * 2049}, "input"),
    ({"input": [[]]}, "input[0]"),
    ({"input": 5}, "input"),
    ({"input": "x", "dimensions": 0}, "dimensions"),
    ({"input": "x", "dimensions": "8"}, "dimensions"),
    ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
    ({}, "input"),
])
def test_invalid_requests_are_openai_400s(mock_client: openai.OpenAI, body: dict[str, Any], param: str) -> None:
    response = httpx.post(f"{mock_client.base_url}embeddings", json={"model": "emb", **body},
                          headers={"authorization": f"Bearer {DEV_KEY}"})
    assert response.status_code == 400, response.text
    assert_valid(response.json(), "ErrorResponse")
    assert response.json()["error"]["param"] == param
    assert response.headers["x-request-id"]


def test_token_arrays_are_refused_by_translating_providers(mock_client: openai.OpenAI) -> None:
    for tokens in ([1212, 318, 257], [[1212, 318], [257]]):
        with pytest.raises(openai.BadRequestError) as caught:
            mock_client.embeddings.create(model="emb", input=tokens)
        assert caught.value.body["param"] == "input"  # type: ignore[index]
        assert "Token-array inputs are not supported by the 'mock' provider" in caught.value.message


def test_auth_and_model_errors(serve_gateway: Serve) -> None:
    config = make_config({"mock": {}}, {"emb": {"provider": "mock", "model": "e"},
                                        "other": {"provider": "mock", "model": "o"}})
    config = config.model_copy(update={"keys": [config.keys[0].model_copy(update={"models": ["emb"]})]})
    base_url = serve_gateway(config)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=base_url, api_key="sk-wrong", max_retries=0).embeddings.create(model="emb", input="x")
    client = openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-model", input="x")
    with pytest.raises(openai.PermissionDeniedError):
        client.embeddings.create(model="other", input="x")


def test_unknown_extra_fields_dropped_or_refused(serve_gateway: Serve) -> None:
    models = {"emb": {"provider": "mock", "model": "e"}}
    dropping = sdk(serve_gateway, {"mock": {}}, models)
    answer = dropping.embeddings.with_raw_response.create(model="emb", input="x", extra_body={"input_type": "query"})
    assert answer.headers["x-lambdagate-dropped-params"] == "input_type"
    refusing = sdk(serve_gateway, {"mock": {}}, models, drop_params=False)
    with pytest.raises(openai.BadRequestError) as caught:
        refusing.embeddings.create(model="emb", input="x", extra_body={"input_type": "query"})
    assert caught.value.code == "unsupported_parameter"


def test_key_rate_limits_apply(serve_gateway: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chat request path admits embeddings too: a key with rpm 1 gets a 429 on its second request."""
    monkeypatch.delenv("LAMBDAGATE_LIMITS", raising=False)
    config = make_config({"mock": {}}, {"emb": {"provider": "mock", "model": "e"}})
    config = config.model_copy(update={"keys": [config.keys[0].model_copy(update={"rpm": 1})]})
    client = openai.OpenAI(base_url=serve_gateway(config), api_key=DEV_KEY, max_retries=0)
    client.embeddings.create(model="emb", input="x")
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="emb", input="x")


def test_a_stream_field_does_not_stream(mock_client: openai.OpenAI) -> None:
    answer = mock_client.embeddings.with_raw_response.create(model="emb", input="x", extra_body={"stream": True})
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-lambdagate-dropped-params"] == "stream"


def test_provider_without_embeddings_is_a_clear_400(serve_gateway: Serve) -> None:
    client = sdk(serve_gateway, {"anthropic": {"api_key": UPSTREAM_KEY}},
                 {"claude": {"provider": "anthropic", "model": "claude-sonnet-4-5"}})
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="claude", input="x")
    assert "The 'anthropic' provider has no embeddings" in caught.value.message
    assert caught.value.body["param"] == "model"  # type: ignore[index]


def test_retries_and_fallbacks_are_the_routers(serve_gateway: Serve, fake_upstream: FakeUpstream) -> None:
    """An OpenAI deployment failing with 500 is retried, then its alias falls back to the mock."""
    fake_upstream.on("/v1/embeddings", json_answer({"error": {"message": "boom", "type": "server_error"}}, 500))
    client = sdk(serve_gateway, {"openai": {"api_key": UPSTREAM_KEY, "api_base": fake_upstream.url + "/v1"},
                                 "mock": {}},
                 {"emb": {"provider": "openai", "model": "text-embedding-3-small"},
                  "backup": {"provider": "mock", "model": "mock-embed"}},
                 num_retries=1, fallbacks={"emb": ["backup"]})
    answer = client.embeddings.with_raw_response.create(model="emb", input="hello", encoding_format="float")
    assert len(fake_upstream.requests) == 2
    assert answer.headers["x-lambdagate-fallback"] == "backup"
    assert answer.headers["x-lambdagate-provider"] == "mock"
    assert answer.headers["x-lambdagate-attempts"] == "3"
    assert answer.parse().data[0].embedding == mock_vector("hello", 64)


# --- OpenAI and Azure: bytes forwarded -------------------------------------------------------------


@pytest.fixture
def openai_client(serve_gateway: Serve, fake_upstream: FakeUpstream) -> openai.OpenAI:
    return sdk(serve_gateway, {"openai": {"api_key": UPSTREAM_KEY, "api_base": fake_upstream.url + "/v1"}},
               {"emb": {"provider": "openai", "model": "text-embedding-3-small"}})


def test_openai_bytes_and_body_forwarded(openai_client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fixture = fixture_bytes("openai", "embeddings_float.json")
    fake_upstream.on("/v1/embeddings", json_answer(fixture))
    response = openai_client.embeddings.with_raw_response.create(
        model="emb", input=["hello", "world"], encoding_format="float", dimensions=4, user="u-1",
        extra_body={"vendor_option": True})
    assert response.http_response.content == fixture  # byte for byte
    valid(json.loads(fixture))
    sent = fake_upstream.requests[-1]
    assert (sent.method, sent.path, sent.headers["authorization"]) == ("POST", "/v1/embeddings",
                                                                      f"Bearer {UPSTREAM_KEY}")
    assert sent.json() == {"model": "text-embedding-3-small", "input": ["hello", "world"], "user": "u-1",
                           "dimensions": 4, "encoding_format": "float", "vendor_option": True}
    assert response.parse().usage.prompt_tokens == 8


def test_openai_base64_is_the_upstreams(openai_client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    """The SDK's default asks the upstream for base64 (it is forwarded) and decodes the answer."""
    fake_upstream.on("/v1/embeddings", json_answer(fixture_bytes("openai", "embeddings_base64.json")))
    answer = openai_client.embeddings.create(model="emb", input="hello")
    assert fake_upstream.requests[-1].json()["encoding_format"] == "base64"
    assert answer.data[0].embedding == [0.5, -0.25, 0.125, 0.0625]


def test_openai_token_arrays_forwarded(openai_client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/embeddings", json_answer(fixture_bytes("openai", "embeddings_float.json")))
    openai_client.embeddings.create(model="emb", input=[[1212, 318], [257]], encoding_format="float")
    assert fake_upstream.requests[-1].json()["input"] == [[1212, 318], [257]]
    openai_client.embeddings.create(model="emb", input=[1212, 318, 257], encoding_format="float")
    assert fake_upstream.requests[-1].json()["input"] == [1212, 318, 257]


def test_openai_errors_and_bad_answers(openai_client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/embeddings", json_answer(
        fixture_bytes("openai", "embeddings_error_context_length.json"), 400))
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.embeddings.create(model="emb", input="long")
    assert "maximum context length is 8192 tokens" in caught.value.message
    fake_upstream.on("/v1/embeddings", json_answer({"error": {"message": "slow down", "type": "requests"}}, 429,
                                                   {"retry-after": "1"}))
    with pytest.raises(openai.RateLimitError):
        openai_client.embeddings.create(model="emb", input="x")
    fake_upstream.on("/v1/embeddings", json_answer({"object": "list"}))  # no data list
    with pytest.raises(openai.InternalServerError) as bad:
        openai_client.embeddings.create(model="emb", input="x")
    assert bad.value.status_code == 502


@pytest.mark.parametrize("v1", [False, True])
def test_azure_urls_and_auth(serve_gateway: Serve, fake_upstream: FakeUpstream, v1: bool) -> None:
    answer_fixture = json_answer(fixture_bytes("azure", "embeddings.json"))
    fake_upstream.on("/openai/deployments/embed-large/embeddings", answer_fixture)
    fake_upstream.on("/openai/v1/embeddings", answer_fixture)
    options = {"api_version": "v1"} if v1 else {}
    client = sdk(serve_gateway, {"az": {"type": "azure", "api_key": UPSTREAM_KEY, "api_base": fake_upstream.url,
                                        **options}},
                 {"emb": {"provider": "az", "model": "text-embedding-3-large", "deployment": "embed-large"}})
    answer, _ = raw(client, model="emb", input=[[1, 2, 3]], dimensions=256)
    valid(answer)
    sent = fake_upstream.requests[-1]
    assert sent.headers["api-key"] == UPSTREAM_KEY and "authorization" not in sent.headers
    if v1:
        assert (sent.path, sent.query) == ("/openai/v1/embeddings", "")
        assert sent.json()["model"] == "embed-large"
    else:
        assert (sent.path, sent.query) == ("/openai/deployments/embed-large/embeddings", "api-version=2024-10-21")
        assert sent.json()["model"] == "text-embedding-3-large"
    assert sent.json()["input"] == [[1, 2, 3]] and sent.json()["dimensions"] == 256
    assert sent.json()["encoding_format"] == "base64"  # the SDK's default, forwarded


# --- Cohere ------------------------------------------------------------------------------------------


def cohere_handler(request: Request, body: bytes) -> Response:
    sent = json.loads(body)
    vectors = [vector_for(text) for text in sent["texts"]]
    return Response(json.dumps({"id": "x", "embeddings": {"float": vectors}, "texts": sent["texts"],
                                "meta": {"billed_units": {"input_tokens": len(sent["texts"])}},
                                "response_type": "embeddings_by_type"}), media_type="application/json")


def cohere_client(serve: Serve, fake: FakeUpstream, model: str = "embed-v4.0", **options: Any) -> openai.OpenAI:
    return sdk(serve, {"cohere": {"api_key": UPSTREAM_KEY, "api_base": fake.url}},
               {"emb": {"provider": "cohere", "model": model, **options}})


def test_cohere_request_and_answer(serve_gateway: Serve, fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v2/embed", json_answer(fixture_bytes("cohere", "embeddings_float.json")))
    client = cohere_client(serve_gateway, fake_upstream)
    answer, headers = raw(client, model="emb", input=["hello", "goodbye"], encoding_format="float", dimensions=512,
                          user="u-1", extra_body={"truncate": "END"})
    valid(answer)
    assert [d["embedding"] for d in answer["data"]] == [[0.5, -0.25, 0.125, 0.0625],
                                                         [0.0023064255, -0.009327292, 0.015797347, -0.0077680205]]
    assert answer["usage"] == {"prompt_tokens": 2, "total_tokens": 2} and answer["model"] == "embed-v4.0"
    sent = fake_upstream.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert sent.json() == {"model": "embed-v4.0", "texts": ["hello", "goodbye"], "input_type": "search_document",
                           "embedding_types": ["float"], "output_dimension": 512, "truncate": "END"}
    assert headers["x-lambdagate-dropped-params"] == "user"


def test_cohere_batches_of_96_in_order(serve_gateway: Serve, fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v2/embed", cohere_handler)
    client = cohere_client(serve_gateway, fake_upstream)
    answer = client.embeddings.create(model="emb", input=texts(200))  # the SDK's base64, decoded
    assert sorted(len(r.json()["texts"]) for r in fake_upstream.requests) == [8, 96, 96]  # concurrent calls
    assert sorted(t for r in fake_upstream.requests for t in r.json()["texts"]) == sorted(texts(200))
    assert_in_order(answer.data, 200)
    assert answer.usage.prompt_tokens == 200


def test_cohere_input_type_from_option_or_extra_field(serve_gateway: Serve, fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v2/embed", cohere_handler)
    client = cohere_client(serve_gateway, fake_upstream, input_type="clustering")
    client.embeddings.create(model="emb", input="t1")
    assert fake_upstream.requests[-1].json()["input_type"] == "clustering"
    client.embeddings.create(model="emb", input="t1", extra_body={"input_type": "search_query"})
    assert fake_upstream.requests[-1].json()["input_type"] == "search_query"


def test_cohere_v3_dimensions_dropped_and_errors(serve_gateway: Serve, fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v2/embed", cohere_handler)
    client = cohere_client(serve_gateway, fake_upstream, model="embed-english-v3.0")
    answer = client.embeddings.with_raw_response.create(model="emb", input="t3", dimensions=256)
    assert answer.headers["x-lambdagate-dropped-params"] == "dimensions"
    assert "output_dimension" not in fake_upstream.requests[-1].json()
    errors = json.loads(fixture_bytes("cohere", "errors.json"))
    fake_upstream.on("/v2/embed", json_answer(errors["400_prompt_too_long"], 400))
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="emb", input="t3")
    assert caught.value.code == "context_length_exceeded"
    assert caught.value.body["param"] == "input"  # type: ignore[index]
    fake_upstream.on("/v2/embed", json_answer(errors["429"], 429))
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="emb", input="t3")
    with pytest.raises(openai.BadRequestError) as tokens:
        client.embeddings.create(model="emb", input=[1, 2])
    assert tokens.value.body["param"] == "input"  # type: ignore[index]


def test_a_failed_batch_fails_the_request(serve_gateway: Serve, fake_upstream: FakeUpstream) -> None:
    def handler(request: Request, body: bytes) -> Response:
        if "t100" in json.loads(body)["texts"]:
            return Response(json.dumps({"message": "internal server error"}), status_code=500)
        return cohere_handler(request, body)

    fake_upstream.on("/v2/embed", handler)
    client = cohere_client(serve_gateway, fake_upstream)
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="emb", input=texts(150))


# --- Gemini ------------------------------------------------------------------------------------------


GEMINI_BATCH = "/v1beta/models/gemini-embedding-001:batchEmbedContents"


def gemini_handler(request: Request, body: bytes) -> Response:
    sent = json.loads(body)["requests"]
    vectors = [{"values": vector_for(item["content"]["parts"][0]["text"])} for item in sent]
    return Response(json.dumps({"embeddings": vectors}), media_type="application/json")


def gemini_client(serve: Serve, fake: FakeUpstream, model: str = "gemini-embedding-001",
                  **options: Any) -> openai.OpenAI:
    return sdk(serve, {"google": {"type": "gemini", "api_key": UPSTREAM_KEY, "api_base": fake.url + "/v1beta"}},
               {"emb": {"provider": "google", "model": model, **options}})


def test_gemini_request_and_answer(serve_gateway: Serve, fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(GEMINI_BATCH, json_answer(fixture_bytes("gemini", "embeddings_batch.json")))
    client = gemini_client(serve_gateway, fake_upstream)
    answer, _ = raw(client, model="emb", input=["hello", "goodbye"], encoding_format="base64", dimensions=768,
                    extra_body={"task_type": "RETRIEVAL_DOCUMENT", "title": "Greetings"})
    valid(answer)
    assert decode(answer["data"][0]["embedding"]) == [0.5, -0.25, 0.125, 0.0625]
    assert answer["model"] == "gemini-embedding-001"
    sent = fake_upstream.requests[-1]
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY and UPSTREAM_KEY not in sent.query
    assert sent.json() == {"requests": [
        {"model": "models/gemini-embedding-001", "outputDimensionality": 768, "taskType": "RETRIEVAL_DOCUMENT",
         "title": "Greetings", "content": {"parts": [{"text": text}]}} for text in ("hello", "goodbye")]}


def test_gemini_batches_of_100_in_order(serve_gateway: Serve, fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(GEMINI_BATCH, gemini_handler)
    client = gemini_client(serve_gateway, fake_upstream, task_type="SEMANTIC_SIMILARITY")
    answer = client.embeddings.create(model="emb", input=texts(250), encoding_format="float")
    assert sorted(len(r.json()["requests"]) for r in fake_upstream.requests) == [50, 100, 100]
    assert {item["taskType"] for r in fake_upstream.requests for item in r.json()["requests"]} == {
        "SEMANTIC_SIMILARITY"}
    assert_in_order(answer.data, 250)


def test_gemini_errors_and_old_model_dimensions(serve_gateway: Serve, fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1beta/models/embedding-001:batchEmbedContents", gemini_handler)
    old = gemini_client(serve_gateway, fake_upstream, model="embedding-001")
    response = old.embeddings.with_raw_response.create(model="emb", input="t1", dimensions=8)
    assert response.headers["x-lambdagate-dropped-params"] == "dimensions"
    assert "outputDimensionality" not in fake_upstream.requests[-1].json()["requests"][0]
    fake_upstream.on("/v1beta/models/embedding-001:batchEmbedContents",
                     json_answer(fixture_bytes("gemini", "error_429.json"), 429))
    with pytest.raises(openai.RateLimitError):
        old.embeddings.create(model="emb", input="t1")
    fake_upstream.on("/v1beta/models/embedding-001:batchEmbedContents", json_answer({"embeddings": [{"values": [1]}]}))
    with pytest.raises(openai.InternalServerError) as short:  # one vector for two inputs
        old.embeddings.create(model="emb", input=["t1", "t2"])
    assert short.value.status_code == 502


# --- Mistral -----------------------------------------------------------------------------------------


def mistral_handler(request: Request, body: bytes) -> Response:
    sent = json.loads(body)["input"]
    data = [{"object": "embedding", "index": i, "embedding": vector_for(text)} for i, text in enumerate(sent)]
    return Response(json.dumps({"id": "e", "object": "list", "data": data[::-1], "model": "m",
                                "usage": {"prompt_tokens": len(sent), "total_tokens": len(sent)}}),
                    media_type="application/json")


def mistral_client(serve: Serve, fake: FakeUpstream, model: str = "codestral-embed", **settings: Any) -> openai.OpenAI:
    return sdk(serve, {"mistral": {"api_key": UPSTREAM_KEY, "api_base": fake.url + "/v1"}},
               {"emb": {"provider": "mistral", "model": model}}, **settings)


def test_mistral_request_and_answer(serve_gateway: Serve, fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/embeddings", json_answer(fixture_bytes("mistral", "embeddings.json")))
    client = mistral_client(serve_gateway, fake_upstream, model="mistral-embed")
    answer, headers = raw(client, model="emb", input=["hello", "goodbye"], encoding_format="float", user="u")
    valid(answer)
    # Mistral's items came out of order: answered by their index.
    assert [d["embedding"] for d in answer["data"]] == [[0.5, -0.25, 0.125, 0.0625],
                                                         [0.0023064255, -0.009327292, 0.015797347, -0.0077680205]]
    assert answer["usage"] == {"prompt_tokens": 9, "total_tokens": 9}
    assert fake_upstream.requests[-1].json() == {"model": "mistral-embed", "input": ["hello", "goodbye"],
                                                 "encoding_format": "float"}
    assert headers["x-lambdagate-dropped-params"] == "user"
    with pytest.raises(openai.BadRequestError) as refused:
        mistral_client(serve_gateway, fake_upstream, model="mistral-embed", drop_params=False).embeddings.create(
            model="emb", input="x", dimensions=256)
    assert refused.value.body["param"] == "dimensions"  # type: ignore[index]


def test_mistral_batches_of_512_and_dimensions(serve_gateway: Serve, fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/embeddings", mistral_handler)
    client = mistral_client(serve_gateway, fake_upstream)
    answer = client.embeddings.create(model="emb", input=texts(600), dimensions=1536)  # base64 by the gateway
    assert sorted(len(r.json()["input"]) for r in fake_upstream.requests) == [88, 512]
    assert {(r.json()["output_dimension"], r.json()["encoding_format"]) for r in fake_upstream.requests} == {
        (1536, "float")}
    assert_in_order(answer.data, 600)
    assert answer.usage.total_tokens == 600
    errors = json.loads(fixture_bytes("mistral", "error_context_length.json"))
    fake_upstream.on("/v1/embeddings", json_answer(errors, 400))
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="emb", input="t1")
    assert caught.value.code == "context_length_exceeded"


# --- Bedrock (boto3 against a loopback Bedrock Runtime) ----------------------------------------------


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def bedrock_wired(aws_env: None) -> None:
    """AWS credentials for the Bedrock adapter (which declares embeddings itself)."""


def test_bedrock_adapter_declares_embeddings() -> None:
    from lambdagate.providers.bedrock.adapter import BedrockProvider

    assert BedrockProvider.capabilities.embeddings


TITAN = "amazon.titan-embed-text-v2:0"
COHERE_V3 = "cohere.embed-english-v3"


def bedrock_client(serve: Serve, fake: FakeUpstream, model: str, **options: Any) -> openai.OpenAI:
    return sdk(serve, {"aws": {"type": "bedrock", "region": "us-east-1", "endpoint_url": fake.url}},
               {"emb": {"provider": "aws", "model": model, **options}})


def test_bedrock_titan_one_call_per_text(bedrock_wired: None, serve_gateway: Serve,
                                         fake_upstream: FakeUpstream) -> None:
    def handler(request: Request, body: bytes) -> Response:
        text = json.loads(body)["inputText"]
        return Response(json.dumps({"embedding": vector_for(text), "inputTextTokenCount": 2}),
                        media_type="application/json")

    fake_upstream.on(f"/model/{TITAN}/invoke", handler)
    client = bedrock_client(serve_gateway, fake_upstream, TITAN, normalize=False)
    answer = client.embeddings.create(model="emb", input=texts(20), dimensions=256)
    assert len(fake_upstream.requests) == 20
    sent = fake_upstream.requests[0]
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDFAKEFAKEFAKE/")
    assert {json.dumps({k: v for k, v in r.json().items() if k != "inputText"}) for r in fake_upstream.requests} == {
        json.dumps({"dimensions": 256, "normalize": False})}
    assert sorted(r.json()["inputText"] for r in fake_upstream.requests) == sorted(texts(20))
    assert_in_order(answer.data, 20)
    assert answer.usage.prompt_tokens == 40


def test_bedrock_titan_fixture_and_dimensions(bedrock_wired: None, serve_gateway: Serve,
                                              fake_upstream: FakeUpstream) -> None:
    fake_upstream.on(f"/model/{TITAN}/invoke", json_answer(fixture_bytes("bedrock", "embeddings_titan_v2.json")))
    client = bedrock_client(serve_gateway, fake_upstream, TITAN)
    answer, _ = raw(client, model="emb", input="hello", encoding_format="float")
    valid(answer)
    assert answer["data"][0]["embedding"] == [0.5, -0.25, 0.125, 0.0625]
    assert answer["usage"] == {"prompt_tokens": 3, "total_tokens": 3} and answer["model"] == TITAN
    assert fake_upstream.requests[-1].json() == {"inputText": "hello"}
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="emb", input="hello", dimensions=300)
    assert caught.value.body["param"] == "dimensions"  # type: ignore[index]
    assert len(fake_upstream.requests) == 1  # refused before any call


def test_bedrock_cohere_batches_and_token_header(bedrock_wired: None, serve_gateway: Serve,
                                                 fake_upstream: FakeUpstream) -> None:
    def handler(request: Request, body: bytes) -> Response:
        sent = json.loads(body)
        return Response(json.dumps({"embeddings": {"float": [vector_for(t) for t in sent["texts"]]}, "id": "x",
                                    "response_type": "embeddings_by_type", "texts": sent["texts"]}),
                        media_type="application/json",
                        headers={"X-Amzn-Bedrock-Input-Token-Count": str(len(sent["texts"]))})

    fake_upstream.on(f"/model/{COHERE_V3}/invoke", handler)
    client = bedrock_client(serve_gateway, fake_upstream, COHERE_V3)
    answer = client.embeddings.with_raw_response.create(model="emb", input=texts(100), dimensions=512,
                                                        extra_body={"input_type": "search_query"})
    assert answer.headers["x-lambdagate-dropped-params"] == "dimensions"  # Cohere v3: one size
    assert sorted(len(r.json()["texts"]) for r in fake_upstream.requests) == [4, 96]
    assert {(r.json()["input_type"], tuple(r.json()["embedding_types"])) for r in fake_upstream.requests} == {
        ("search_query", ("float",))}
    parsed = answer.parse()
    assert_in_order(parsed.data, 100)
    assert parsed.usage.prompt_tokens == 100


def test_bedrock_cohere_fixture_and_errors(bedrock_wired: None, serve_gateway: Serve,
                                           fake_upstream: FakeUpstream) -> None:
    path = "/model/cohere.embed-v4:0/invoke"
    fake_upstream.on(path, json_answer(fixture_bytes("bedrock", "embeddings_cohere_v3.json")))
    client = bedrock_client(serve_gateway, fake_upstream, "cohere.embed-v4:0")
    answer, _ = raw(client, model="emb", input=["hello", "goodbye"], dimensions=1024)
    valid(answer)
    assert decode(answer["data"][0]["embedding"]) == [0.5, -0.25, 0.125, 0.0625]
    assert fake_upstream.requests[-1].json() == {"texts": ["hello", "goodbye"], "input_type": "search_document",
                                                 "embedding_types": ["float"], "output_dimension": 1024}
    fake_upstream.on(path, json_answer({"message": "Too many requests, please wait before trying again."}, 429,
                                       {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/"}))
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="emb", input="hello")


def test_bedrock_unknown_model_is_a_clear_400(bedrock_wired: None, serve_gateway: Serve,
                                              fake_upstream: FakeUpstream) -> None:
    client = bedrock_client(serve_gateway, fake_upstream, "anthropic.claude-sonnet-4-5-v1:0")
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="emb", input="x")
    assert "embedding_api" in caught.value.message and fake_upstream.requests == []


def test_openapi_documents_the_route_and_its_body(mock_client: openai.OpenAI) -> None:
    spec = httpx.get(str(mock_client.base_url).removesuffix("v1/") + "openapi.json").json()
    assert "/v1/embeddings" in spec["paths"] and "/embeddings" not in spec["paths"]
    body = spec["paths"]["/v1/embeddings"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    name = body["$ref"].rsplit("/", 1)[-1]
    schema = spec["components"]["schemas"][name]
    assert {"model", "input", "encoding_format", "dimensions", "user"} <= set(schema["properties"])
    assert "ChatCompletionRequest" in spec["components"]["schemas"]  # the chat bodies are still documented
