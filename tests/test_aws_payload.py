"""Lambda's 6 MB synchronous payload limit: an over-size response is an OpenAI-shaped error.

``events/chat-stream-oversize-http.json`` asks the buffered API for a streamed answer of 32
choices over a 1,200-word prompt: an SSE body of about 9 MB, which Lambda could not return (the
client would get API Gateway's bare 502). The real chat handler answers a 502 the SDKs can read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdagate import lambda_runtime
from openai_schema import assert_valid
from test_functions import event, gateway_config, headers_of, invoke, load_function


@pytest.fixture(autouse=True)
def file_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(gateway_config()))
    monkeypatch.setenv("LAMBDAGATE_CONFIG", str(path))
    yield
    lambda_runtime._apps.clear()


def test_oversize_response_is_an_openai_error() -> None:
    result = invoke(load_function("chat"), event("chat-stream-oversize", "http"), "req-oversize")
    assert len(json.dumps(result)) < 64 * 1024  # what Lambda returns now fits easily
    assert result["statusCode"] == 502 and result["isBase64Encoded"] is False
    document = json.loads(result["body"])
    assert_valid(document, "ErrorResponse")
    assert document["error"]["code"] == "response_too_large" and document["error"]["type"] == "api_error"
    assert "streaming URL" in document["error"]["message"]
    headers = headers_of(result)
    assert headers["content-type"] == "application/json" and headers["x-request-id"] == "req-oversize"


@pytest.mark.parametrize("kind", ["rest", "url"])
def test_oversize_response_on_the_other_event_shapes(kind: str) -> None:
    payload = event("chat-stream", kind)
    payload["body"] = event("chat-stream-oversize", "http")["body"]
    result = invoke(load_function("chat"), payload, f"req-oversize-{kind}")
    assert result["statusCode"] == 502
    assert json.loads(result["body"])["error"]["code"] == "response_too_large"
    assert headers_of(result)["content-type"] == "application/json"


def test_responses_under_the_limit_are_untouched() -> None:
    result = invoke(load_function("chat"), event("chat-stream", "http"), "req-small")
    assert result["statusCode"] == 200 and result["body"].endswith("data: [DONE]\n\n")


def test_the_limit_counts_the_whole_json_document() -> None:
    """Escaping counts: a body under the limit in characters can be over it once JSON-encoded."""
    body = "\u0001" * (lambda_runtime.MAX_PAYLOAD_BYTES // 3)  # 2 MB of characters, 12 MB escaped
    result = lambda_runtime.fit_payload({"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": body})
    assert result["statusCode"] == 502 and result["headers"] == {"content-type": "application/json"}
