"""functions/messages (POST /v1/messages and /v1/messages/count_tokens behind API Gateway) and the streaming function.

The per-endpoint function is imported as Lambda imports it and invoked with the API Gateway REST
(v1), HTTP API (v2) and function URL events ``messages-*.json`` (a Bearer key, as Claude Code sends
its ``ANTHROPIC_AUTH_TOKEN``, and ``anthropic-version``; ``x-api-key`` too), configured from a file and
from moto's SSM (the helpers and fixtures of tests/test_functions.py). The streaming function's app
serves both routes too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import pytest
from starlette.testclient import TestClient

from messages_support import assert_stream, parse_sse, text_of
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


def messages_event(kind: str, key: str | None, *, x_api_key: bool = False, **body: Any) -> dict[str, Any]:
    """A messages event with ``key`` (as ``x-api-key`` instead of a Bearer key if asked), its body's fields updated."""
    payload = event("messages", kind, key)
    for container in ("headers", "multiValueHeaders"):
        for name in list(payload.get(container) or {}):
            if name.lower() == "authorization" and x_api_key:
                value = payload[container].pop(name)
                bearer = value[0] if isinstance(value, list) else value
                key_value = bearer.removeprefix("Bearer ")
                payload[container]["X-Api-Key"] = [key_value] if container == "multiValueHeaders" else key_value
    if body:
        payload["body"] = json.dumps({**json.loads(payload["body"]), **body})
    return payload


def with_path(payload: dict[str, Any], path: str) -> dict[str, Any]:
    text = json.dumps(payload).replace('"/v1/messages"', f'"{path}"').replace("/v1/messages\"", f'{path}"')
    moved: dict[str, Any] = json.loads(text)
    return moved


@pytest.mark.parametrize("kind", KINDS)
def test_messages_function_answers_its_events(config_source: str | None, kind: str) -> None:  # noqa: F811
    module = load_function("messages")
    result = invoke(module, messages_event(kind, config_source), f"messages-{kind}")
    assert result["statusCode"] == 200, result["body"]
    headers = headers_of(result)
    assert headers["content-type"] == "application/json" and headers["x-request-id"] == f"messages-{kind}"
    assert headers["request-id"] == f"messages-{kind}"
    message = anthropic.types.Message.model_validate(json.loads(result["body"]))
    assert message.content[0].text == f"You said: {PROMPT}"  # type: ignore[union-attr]
    assert message.usage.input_tokens > 0 and message.stop_reason == "end_turn"

    streamed = invoke(module, messages_event(kind, config_source, stream=True), f"messages-stream-{kind}")
    assert streamed["statusCode"] == 200, streamed["body"]
    assert headers_of(streamed)["content-type"].startswith("text/event-stream")
    assert text_of(assert_stream(parse_sse(streamed["body"]))) == f"You said: {PROMPT}"

    payload = with_path(messages_event(kind, config_source, x_api_key=True), "/v1/messages/count_tokens")
    body = json.loads(payload["body"])
    payload["body"] = json.dumps({name: body[name] for name in ("model", "system", "messages")})
    counted = invoke(module, payload, f"count-{kind}")
    assert counted["statusCode"] == 200, counted["body"]
    assert json.loads(counted["body"])["input_tokens"] > 0
    assert headers_of(counted)["x-lambdagate-token-estimate"] == "true"


@pytest.mark.parametrize("kind", KINDS)
def test_messages_function_errors_and_routes(file_config: Path, kind: str) -> None:  # noqa: F811
    module = load_function("messages")
    bad_key = invoke(module, messages_event(kind, "sk-wrong", x_api_key=True), "req-bad-key")
    assert bad_key["statusCode"] == 401
    assert json.loads(bad_key["body"]) == {"type": "error", "error": {
        "type": "authentication_error", "message": "Incorrect API key provided."}, "request_id": "req-bad-key"}
    payload = messages_event(kind, None)
    payload["body"] = json.dumps({"model": "mock-gpt", "messages": [{"role": "user", "content": "x"}]})
    missing = invoke(module, payload, "req-missing")
    assert missing["statusCode"] == 400 and json.loads(missing["body"])["error"]["type"] == "invalid_request_error"
    # The function mounts only its routes; the chat function does not answer /v1/messages.
    assert invoke(module, event("chat", kind), "req-chat")["statusCode"] == 404
    assert invoke(load_function("chat"), messages_event(kind, None), "req-other")["statusCode"] == 404


def test_streaming_function_serves_messages(file_config: Path) -> None:  # noqa: F811
    from lambdagate import lambda_runtime

    app: Any = lambda_runtime.streaming_app()
    with TestClient(app) as http:
        headers = {"x-api-key": EVENT_KEY, "anthropic-version": "2023-06-01"}
        body = {"model": "mock-gpt", "max_tokens": 50, "messages": [{"role": "user", "content": PROMPT}]}
        answer = http.post("/v1/messages", json=body, headers=headers)
        assert answer.status_code == 200 and answer.json()["content"][0]["text"] == f"You said: {PROMPT}"
        stream = http.post("/messages", json={**body, "stream": True},
                           headers={**headers, "x-amzn-lambda-context": json.dumps({"request_id": "lwa-1"})})
        assert stream.status_code == 200 and stream.headers["x-request-id"] == "lwa-1"
        assert text_of(assert_stream(parse_sse(stream.text))) == f"You said: {PROMPT}"
        counted = http.post("/messages/count_tokens", json={"model": "mock-gpt", "messages": body["messages"]},
                            headers=headers)
        assert counted.status_code == 200 and counted.json()["input_tokens"] > 0


def test_the_first_invocation_imports_nothing_new() -> None:
    """Init builds what the first request needs (the doors' validators and translation), as for chat."""
    from test_init_first_request import FIRST_REQUEST, ROOT, run

    code = FIRST_REQUEST.format(event=str(ROOT / "events" / "messages-http.json"), setup="")
    result = run("messages", code, ROOT / "gateway.example.yaml")
    assert (result["status"], result["again"]) == (200, 200), result["body"]
    assert result["imported"] == []
