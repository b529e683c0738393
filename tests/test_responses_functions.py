"""functions/responses (POST /v1/responses behind API Gateway) and the streaming function, with the events/ files.

The per-endpoint function is imported as Lambda imports it and invoked with the API Gateway REST
(v1), HTTP API (v2) and function URL events ``responses-*.json`` and ``responses-stream-*.json``,
configured from a file and from moto's SSM (the helpers and fixtures of tests/test_functions.py).
The streaming function's app serves the route too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from openai_schema import assert_valid
from responses_support import assert_events, final_response, output_text, parse_sse
from test_functions import (  # noqa: F401 (fixtures)
    EVENT_KEY,
    KINDS,
    clean_telemetry,
    config_source,
    event,
    file_config,
    headers_of,
    invoke,
    load_function,
    ssm_config,
)

PROMPT = "Hello from lambdagate"


@pytest.mark.parametrize("kind", KINDS)
def test_responses_function_answers_its_events(config_source: str | None, kind: str) -> None:  # noqa: F811
    module = load_function("responses")
    result = invoke(module, event("responses", kind, config_source), f"responses-{kind}")
    assert result["statusCode"] == 200, result["body"]
    headers = headers_of(result)
    assert headers["content-type"] == "application/json" and headers["x-request-id"] == f"responses-{kind}"
    body = json.loads(result["body"])
    assert_valid(body, "Response")
    assert body["output"][0]["content"][0]["text"] == f"You said: {PROMPT}"
    assert body["instructions"] == "You are terse." and body["usage"]["input_tokens"] > 0

    streamed = invoke(module, event("responses-stream", kind, config_source), f"responses-stream-{kind}")
    assert streamed["statusCode"] == 200, streamed["body"]
    assert headers_of(streamed)["content-type"].startswith("text/event-stream")
    datas = assert_events(parse_sse(streamed["body"]))  # the whole stream in one buffered body
    assert output_text(datas) == "You said: Stream this answer"
    assert final_response(datas)["usage"]["output_tokens"] == 5


def test_responses_function_errors_and_routes(file_config: Path) -> None:  # noqa: F811
    module = load_function("responses")
    payload = event("responses", "http")
    payload["body"] = json.dumps({"model": "mock-gpt", "input": "x", "previous_response_id": "resp_1"})
    result = invoke(module, payload, "req-stateful")
    assert result["statusCode"] == 400
    assert_valid(json.loads(result["body"]), "ErrorResponse")
    assert json.loads(result["body"])["error"]["param"] == "previous_response_id"
    # The function mounts only its route; the chat function does not answer /v1/responses.
    assert invoke(module, event("chat", "http"), "req-chat")["statusCode"] == 404
    assert invoke(load_function("chat"), event("responses", "http"), "req-other")["statusCode"] == 404


def test_streaming_function_serves_responses(file_config: Path) -> None:  # noqa: F811
    from lambdagate import lambda_runtime

    app: Any = lambda_runtime.streaming_app()
    with TestClient(app) as client:
        headers = {"authorization": f"Bearer {EVENT_KEY}"}
        answer = client.post("/v1/responses", json={"model": "mock-gpt", "input": PROMPT}, headers=headers)
        assert answer.status_code == 200 and answer.json()["output"][0]["content"][0]["text"] == f"You said: {PROMPT}"
        stream = client.post("/responses", json={"model": "mock-gpt", "input": PROMPT, "stream": True},
                             headers={**headers, "x-amzn-lambda-context": json.dumps({"request_id": "lwa-1"})})
        assert stream.status_code == 200 and stream.headers["x-request-id"] == "lwa-1"
        assert output_text(assert_events(parse_sse(stream.text))) == f"You said: {PROMPT}"
