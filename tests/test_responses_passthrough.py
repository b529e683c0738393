"""``POST /v1/responses`` to OpenAI and Azure: the request forwarded as sent, the answer as the upstream's bytes.

The loopback fake answers ``/v1/responses`` with recorded-shape bodies and event streams
(tests/fixtures/openai/responses_*, written from the OpenAI API reference); the tests assert the
forwarded request (every field kept, ``previous_response_id`` and built-in tools included, only
``model`` routed), that the client gets the fake's bytes unchanged, and the failure paths.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response

from conftest import DEV_KEY, FakeUpstream, make_config
from fake_openai import chat
from openai_schema import assert_valid
from responses_support import assert_events, final_response, output_text, parse_sse, post_stream

FIXTURES = Path(__file__).parent / "fixtures" / "openai"
UPSTREAM_KEY = "sk-upstream-secret-123456"
TEXT = "In a peaceful grove beneath a silver moon, a unicorn named Lumina discovered a hidden pool."


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class ResponsesAPI:
    """The fake's ``/v1/responses`` (and Azure's ``/openai/v1/responses``): fixtures in turn, the last repeating."""

    def __init__(self, fake: FakeUpstream) -> None:
        self.fake = fake
        self.replies: list[tuple[str, int]] = [("responses_text.json", 200)]
        for path in ("/v1/responses", "/openai/v1/responses"):
            fake.on(path, self._answer)

    def answer(self, *names: str, status: int = 200) -> None:
        self.replies = [(name, status) for name in names]

    def _answer(self, request: Request, body: bytes) -> Response:
        name, status = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if json.loads(body).get("stream") and name == "responses_text.json":
            name = "responses_stream_text.sse"
        media = "text/event-stream" if name.endswith(".sse") else "application/json"
        return Response(fixture(name), status_code=status, media_type=media)

    @property
    def sent(self) -> dict[str, Any]:
        requests = [r for r in self.fake.requests if r.path.endswith("/responses")]
        return requests[-1].json()  # type: ignore[no-any-return]


@pytest.fixture
def upstream(fake_upstream: FakeUpstream) -> ResponsesAPI:
    return ResponsesAPI(fake_upstream)


@pytest.fixture
def start(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> Callable[..., str]:
    def run(models: dict[str, Any] | None = None, providers: dict[str, Any] | None = None, **settings: Any) -> str:
        all_providers = {
            "openai": {"api_base": fake_upstream.url + "/v1", "api_key": UPSTREAM_KEY},
            "compat": {"type": "openai", "api_base": fake_upstream.url + "/v1", "api_key": UPSTREAM_KEY,
                       "native_responses": False},
            "azure": {"api_base": fake_upstream.url, "api_key": UPSTREAM_KEY},
            "mock": {},
            **(providers or {}),
        }
        all_models = {"gpt": {"provider": "openai", "model": "gpt-4.1"}, **(models or {})}
        return serve_gateway(make_config(all_providers, all_models, **{"num_retries": 0, **settings}))

    return run


@pytest.fixture
def base_url(start: Callable[..., str]) -> str:
    return start()


@pytest.fixture
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=20)


def test_request_forwarded_as_sent_and_answer_as_bytes(client: openai.OpenAI, upstream: ResponsesAPI,
                                                       fake_upstream: FakeUpstream) -> None:
    request = {
        "model": "gpt", "input": [{"role": "user", "content": "Tell me a story."}],
        "previous_response_id": "resp_previous_123", "store": True, "include": ["reasoning.encrypted_content"],
        "tools": [{"type": "web_search"}, {"type": "file_search", "vector_store_ids": ["vs_1"]}],
        "reasoning": {"effort": "minimal"}, "metadata": {"k": "v"}, "truncation": "auto",
    }
    # ``timeout`` in the body is the gateway's (it lowers the deadline), never forwarded.
    raw = client.responses.with_raw_response.create(**request, extra_body={"brand_new_param": {"x": 1},
                                                                           "timeout": 30})
    assert raw.content == fixture("responses_text.json")  # the upstream's bytes, untouched
    response = raw.parse()
    assert response.output_text == TEXT and response.previous_response_id == "resp_previous_123"
    assert raw.headers["x-lambdagate-provider"] == "openai" and raw.headers["x-lambdagate-model"] == "gpt-4.1"

    forwarded = fake_upstream.requests[-1]
    assert forwarded.path == "/v1/responses"
    assert forwarded.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    # Every field as sent (the built-in tools and unknown extras too); only the model is the routed one.
    assert forwarded.json() == {**request, "model": "gpt-4.1", "brand_new_param": {"x": 1}}


def test_stream_forwarded_event_by_event(client: openai.OpenAI, upstream: ResponsesAPI, base_url: str) -> None:
    raw = post_stream(base_url, {"model": "gpt", "input": "Tell me a story.", "previous_response_id": "resp_1"})
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/event-stream")
    assert raw.content == fixture("responses_stream_text.sse")  # each event's name and bytes, as they came
    assert upstream.sent["stream"] is True and upstream.sent["previous_response_id"] == "resp_1"
    datas = assert_events(parse_sse(raw.text))
    assert output_text(datas) == TEXT and final_response(datas)["usage"]["output_tokens"] == 87

    with client.responses.stream(model="gpt", input="Tell me a story.") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        assert text == stream.get_final_response().output_text == TEXT


def test_usage_reaches_the_request_record(client: openai.OpenAI, upstream: ResponsesAPI, base_url: str,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lambdagate.request")
    client.responses.create(model="gpt", input="x")
    post_stream(base_url, {"model": "gpt", "input": "x"})
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "lambdagate.request"]
    assert [(r["endpoint"], r["stream"], r["prompt_tokens"], r["completion_tokens"]) for r in records] == [
        ("responses", False, 36, 87), ("responses", True, 36, 87)]
    assert all(r["provider"] == "openai" and r["status"] == 200 for r in records)


def test_upstream_errors_pass_with_their_class(client: openai.OpenAI, upstream: ResponsesAPI) -> None:
    upstream.answer("responses_error_not_found.json", status=400)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="gpt", input="x", previous_response_id="resp_missing")
    assert caught.value.code == "previous_response_not_found"
    assert isinstance(caught.value.body, dict) and caught.value.body["param"] == "previous_response_id"
    assert "resp_missing" in caught.value.message and UPSTREAM_KEY not in caught.value.message
    upstream.answer("responses_error_not_found.json", status=500)
    with pytest.raises(openai.InternalServerError) as failed:
        client.responses.create(model="gpt", input="x")
    assert failed.value.status_code == 502 and failed.value.response.headers["x-lambdagate-provider"] == "openai"


def test_failures_mid_stream_end_with_an_error_event(upstream: ResponsesAPI, base_url: str) -> None:
    upstream.answer("responses_stream_error.sse")
    datas = assert_events(parse_sse(post_stream(base_url, {"model": "gpt", "input": "x"}).text), terminal=None)
    assert [d["type"] for d in datas][-2:] == ["response.output_text.delta", "error"]
    assert datas[-1]["sequence_number"] == 5 and "had an error" in datas[-1]["message"]

    upstream.answer("responses_stream_cut.sse")  # the connection ends before response.completed
    datas = assert_events(parse_sse(post_stream(base_url, {"model": "gpt", "input": "x"}).text), terminal=None)
    assert datas[-1]["type"] == "error" and datas[-1]["sequence_number"] == 6
    assert "ended before its last event" in datas[-1]["message"]


def test_azure_uses_the_v1_responses_api(start: Callable[..., str], upstream: ResponsesAPI,
                                         fake_upstream: FakeUpstream) -> None:
    base_url = start(models={"az": {"provider": "azure", "model": "gpt-4.1", "deployment": "my-deployment"}})
    client = openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0)
    raw = client.responses.with_raw_response.create(model="az", input="x", store=False)
    assert raw.content == fixture("responses_text.json")
    forwarded = fake_upstream.requests[-1]
    assert forwarded.path == "/openai/v1/responses" and forwarded.query == ""
    assert forwarded.headers["api-key"] == UPSTREAM_KEY and "authorization" not in forwarded.headers
    assert forwarded.json() == {"model": "my-deployment", "input": "x", "store": False}
    datas = assert_events(parse_sse(post_stream(base_url, {"model": "azure/gpt-4.1/other-deployment",
                                                           "input": "x"}).text))
    assert output_text(datas) == TEXT and upstream.sent["model"] == "other-deployment"


def test_openai_compatible_server_without_responses_is_translated(start: Callable[..., str],
                                                                  fake_upstream: FakeUpstream) -> None:
    fake_upstream.on("/v1/chat/completions", chat)
    base_url = start(models={"compat": {"provider": "compat", "model": "llama"}})
    client = openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0)
    raw = client.responses.with_raw_response.create(model="compat", input="hi there", instructions="be brief")
    assert_valid(json.loads(raw.text), "Response")
    assert raw.parse().output_text == "echo: hi there"
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.json()["messages"] == [{"role": "system", "content": "be brief"},
                                       {"role": "user", "content": "hi there"}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="compat", input="x", previous_response_id="resp_1")
    assert isinstance(caught.value.body, dict) and caught.value.body["param"] == "previous_response_id"


def test_fallback_from_forwarded_to_translated(start: Callable[..., str], upstream: ResponsesAPI) -> None:
    base_url = start(models={"backup": {"provider": "mock", "model": "mock-backup"}}, fallbacks={"gpt": ["backup"]})
    client = openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0)
    upstream.answer("responses_error_not_found.json", status=500)
    raw = client.responses.with_raw_response.create(model="gpt", input="fall back")
    assert raw.headers["x-lambdagate-fallback"] == "backup" and raw.headers["x-lambdagate-attempts"] == "2"
    assert_valid(json.loads(raw.text), "Response")
    assert raw.parse().output_text == "You said: fall back"

    stream = post_stream(base_url, {"model": "gpt", "input": "fall back"})
    datas = assert_events(parse_sse(stream.text))  # translated events, numbered from 0
    assert output_text(datas) == "You said: fall back"
    assert stream.headers["x-lambdagate-fallback"] == "backup"


def test_unknown_route_methods_are_openai_errors(base_url: str) -> None:
    response = httpx.get(base_url + "/responses", headers={"authorization": f"Bearer {DEV_KEY}"})
    assert response.status_code == 405
    assert_valid(response.json(), "ErrorResponse")
