"""One owner of the request record: every request, whatever its end, is answered with an
``x-request-id`` and writes exactly one log line; the key is checked before the body is parsed."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from opentelemetry import _logs, metrics, trace

from conftest import DEV_KEY, make_config
from lambdagate.api import gateway as gateway_module
from lambdagate.config.schema import GatewayConfig
from lambdagate.providers import dispatch

Serve = Callable[[GatewayConfig], str]
AUTH = {"Authorization": f"Bearer {DEV_KEY}"}
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def _config() -> GatewayConfig:
    return make_config({"mock": {}}, {"m": {"provider": "mock", "model": "mock-1"}})


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "lambdagate.request"]


def test_unexpected_error_is_answered_recorded_and_keeps_the_connection(
    serve_gateway: Serve, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: Any) -> Any:
        raise RuntimeError("boom at https://internal.example/v1 with sk-secret-value")

    base = serve_gateway(_config())
    monkeypatch.setattr(dispatch, "chat", broken)
    caplog.set_level(logging.INFO)
    with httpx.Client(base_url=base, headers=AUTH) as client:
        failed = client.post("/chat/completions", json=CHAT)
        # The same keep-alive connection still serves the next request.
        monkeypatch.undo()
        answered = client.post("/chat/completions", json=CHAT)
    assert failed.status_code == 500
    assert failed.json()["error"]["type"] == "server_error"
    assert failed.headers["x-request-id"]
    assert "internal.example" not in failed.text and "sk-secret" not in failed.text
    assert answered.status_code == 200
    lines = _request_lines(caplog)
    assert [line["status"] for line in lines] == [500, 200]
    assert lines[0]["request_id"] == failed.headers["x-request-id"]
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("lambdagate"))
    assert "internal.example" not in logged and "sk-secret-value" not in logged


class _RecordingProviders:
    """OpenTelemetry's global tracer, meter and logger providers as an OTel Lambda layer sets them,
    keeping the name of every tracer, meter and logger asked of them."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        recorder = self

        # Not the API's no-op providers themselves: FastAPI skips those as unconfigured.
        class Tracers(trace.TracerProvider):
            def get_tracer(self, name: str, *args: Any, **kwargs: Any) -> trace.Tracer:
                recorder.asked.append(f"tracer {name}")
                return trace.NoOpTracer()

        class Meters(metrics.MeterProvider):
            def get_meter(self, name: str, *args: Any, **kwargs: Any) -> metrics.Meter:
                recorder.asked.append(f"meter {name}")
                return metrics.NoOpMeter(name)

        class Loggers(_logs.LoggerProvider):
            def get_logger(self, name: str, *args: Any, **kwargs: Any) -> _logs.Logger:
                recorder.asked.append(f"logger {name}")
                return _logs.NoOpLogger(name)

        self.tracers, self.meters, self.loggers = Tracers(), Meters(), Loggers()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(trace, "get_tracer_provider", lambda: self.tracers)
        monkeypatch.setattr(metrics, "get_meter_provider", lambda: self.meters)
        monkeypatch.setattr(_logs, "get_logger_provider", lambda: self.loggers)


def test_no_framework_telemetry_runs_when_opentelemetry_is_configured(
    serve_gateway: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI instruments every app it serves for OpenTelemetry unless told not to: with an OTel layer
    on the function it would export a span and HTTP metrics of its own for every request, beside the
    gateway's record and EMF metrics, and it checks the global providers on every request even when
    none is configured. No app serves requests through FastAPI (it only generates the OpenAPI
    document), and nothing else on the request path asks for a tracer, meter or logger."""
    providers = _RecordingProviders()
    providers.install(monkeypatch)
    base_url = serve_gateway(_config())
    client = openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0)
    assert client.chat.completions.create(**CHAT).choices[0].message.content  # type: ignore[call-overload]
    with pytest.raises(openai.AuthenticationError):
        client.with_options(api_key="sk-not-a-key").chat.completions.create(**CHAT)  # type: ignore[call-overload]
    with pytest.raises(openai.NotFoundError):
        client.get("/no-such-route", cast_to=object)
    assert providers.asked == []


def test_models_and_unknown_routes_are_recorded_with_a_request_id(
    serve_gateway: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    base = serve_gateway(_config())
    caplog.set_level(logging.INFO)
    with httpx.Client(base_url=base, headers=AUTH) as client:
        listed = client.get("/models")
        missing = client.get("/models/nope")
        unknown = client.get("/no-such-route")
    assert listed.status_code == 200 and missing.status_code == 404 and unknown.status_code == 404
    assert all(r.headers.get("x-request-id") for r in (listed, missing, unknown))
    assert unknown.json()["error"]["type"] == "invalid_request_error"
    lines = _request_lines(caplog)
    assert [(line["endpoint"], line["status"]) for line in lines] == [("models", 200), ("models", 404), ("other", 404)]


def test_the_key_is_checked_before_the_body_is_parsed(serve_gateway: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[int] = []
    original = gateway_module.parse_request

    def counting(raw: bytes, model: Any) -> Any:
        parsed.append(len(raw))
        return original(raw, model)

    monkeypatch.setattr(gateway_module, "parse_request", counting)
    base = serve_gateway(_config())
    messages = [{"role": "user", "content": "x"}] * 20_000
    body = json.dumps({"model": "m", "messages": messages})
    with httpx.Client(base_url=base) as client:
        anonymous = client.post("/chat/completions", content=body, headers={"content-type": "application/json"})
        wrong = client.post("/chat/completions", content=body,
                            headers={"content-type": "application/json", "Authorization": "Bearer sk-lg-nope"})
        invalid = client.post("/chat/completions", content=b"{not json", headers=AUTH)
    assert anonymous.status_code == 401 and wrong.status_code == 401
    assert parsed == [len(b"{not json")]  # only the authenticated request was parsed
    assert invalid.status_code == 400


def test_body_limit_is_enforced_while_reading_once_the_settings_are_known(serve_gateway: Serve) -> None:
    base = serve_gateway(make_config({"mock": {}}, {"m": {"provider": "mock", "model": "mock-1"}},
                                     max_body_bytes=2048))
    big = json.dumps({**CHAT, "messages": [{"role": "user", "content": "x" * 4096}]})
    with httpx.Client(base_url=base, headers=AUTH) as client:
        first = client.post("/chat/completions", content=big, headers={"content-type": "application/json"})
        second = client.post("/chat/completions", content=big, headers={"content-type": "application/json"})
        small = client.post("/chat/completions", json=CHAT)
    assert first.status_code == second.status_code == 413
    assert first.json()["error"]["code"] == "request_too_large"
    assert small.status_code == 200
