"""The Lambda entry points of functions/ invoked in process with every events/ file.

Each per-endpoint function module is imported as Lambda imports it (building its app at module
scope from ``$LAMBDAGATE_CONFIG``) and its ``handler`` is called with the API Gateway REST (v1),
HTTP API (v2) and function URL events that ``sam local invoke -e`` uses. The configuration comes
from a file, and from moto's SSM after ``lambdagate config push`` (the deployed layout). The events
carry the documented development key ``sk-lambdagate-dev`` and the ``mock-gpt`` model; against SSM,
where that hand-written key is refused before any look-up (auth/keys.py), they carry a key made by
``generate_key`` instead, as a deployed client would.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

import fake_openai
from conftest import FakeUpstream, ServerThread, emf_directive, make_config
from lambdagate import lambda_runtime, upstream_http
from lambdagate.auth import generate_key
from lambdagate.observability import RequestRecord, powertools
from lambdagate.observability.metrics import NONE, dimensions
from openai_schema import assert_valid

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
EVENTS = ROOT / "events"
EVENT_KEY = "sk-lambdagate-dev"
DEPLOYED_KEY = generate_key()
EVENT_PROMPT = "Hello from lambdagate"
KINDS = ("rest", "http", "url")
# function -> (event stem, schema of the body: a response, or the chunks of an SSE stream)
CASES = {
    "chat": [("chat", "CreateChatCompletionResponse"), ("chat-stream", "CreateChatCompletionStreamResponse")],
    "completions": [("completions", "CreateCompletionResponse")],
    "models": [("models-list", "ListModelsResponse"), ("models-retrieve", "Model")],
}
_ids = itertools.count()


def gateway_config() -> dict[str, Any]:
    """make_config's mock setup, with the events' development key instead of the tests' key."""
    config = make_config({"mock": {}}, {"mock-gpt": {"provider": "mock", "model": "mock-gpt"}})
    data = config.model_dump(mode="json", exclude_none=True)
    data["keys"] = [{"name": "local-dev", "sha256": hashlib.sha256(EVENT_KEY.encode()).hexdigest()}]
    return data


@dataclass
class FakeContext:
    """The attributes of Lambda's context object that Mangum and Powertools read."""

    aws_request_id: str
    function_name: str = "lambdagate-test"
    function_version: str = "1"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:lambdagate-test:live"
    log_group_name: str = "/aws/lambda/lambdagate-test"
    log_stream_name: str = "2026/11/23/[1]abc"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py afresh, as a new Lambda environment would."""
    path = FUNCTIONS / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"lambdagate_function_{name}_{next(_ids)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event(stem: str, kind: str, key: str | None = None) -> dict[str, Any]:
    """An events/ file; with ``key``, its Bearer key replaced by that one."""
    loaded: dict[str, Any] = json.loads((EVENTS / f"{stem}-{kind}.json").read_text())
    if key is not None:
        for container in ("headers", "multiValueHeaders"):
            for name in list(loaded.get(container) or {}):
                if name.lower() == "authorization":
                    value = f"Bearer {key}"
                    loaded[container][name] = [value] if container == "multiValueHeaders" else value
    return loaded


def invoke(module: ModuleType, payload: dict[str, Any], request_id: str) -> dict[str, Any]:
    result = module.handler(payload, FakeContext(request_id))
    assert isinstance(result, dict)
    return result


def headers_of(result: dict[str, Any]) -> dict[str, str]:
    """Response headers, lower-cased, from ``headers`` and (REST) ``multiValueHeaders``."""
    merged = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        merged[key.lower()] = values[-1]
    return merged


def assert_body(result: dict[str, Any], schema: str) -> list[Any]:
    """Check the body against ``schema`` (each SSE chunk for stream schemas); returns what was checked."""
    assert result.get("isBase64Encoded") in (False, None)
    body = result["body"]
    if not schema.endswith("StreamResponse"):
        document = json.loads(body)
        assert_valid(document, schema)
        return [document]
    assert body.endswith("data: [DONE]\n\n")
    chunks = [json.loads(line[len("data: "):]) for line in body.split("\n\n")
              if line.startswith("data: ") and line != "data: [DONE]"]
    assert chunks
    for chunk in chunks:
        assert_valid(chunk, schema)
    return chunks


@pytest.fixture(autouse=True)
def clean_telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (powertools.SERVICE_ENV, powertools.NAMESPACE_ENV, "POWERTOOLS_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    powertools.reset()
    yield
    powertools.reset()
    lambda_runtime._apps.clear()


@pytest.fixture
def file_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(gateway_config()))
    monkeypatch.setenv("LAMBDAGATE_CONFIG", str(path))
    return path


@pytest.fixture
def ssm_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_aws: None) -> str:
    """The same configuration pushed into moto's SSM with the CLI; LAMBDAGATE_CONFIG=ssm:/prefix."""
    from lambdagate.cli import main as cli

    prefix = "/lambdagate-fn-test"
    data = gateway_config()
    data["keys"] = [{"name": "deployed", "sha256": hashlib.sha256(DEPLOYED_KEY.encode()).hexdigest()}]
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(data))
    assert cli(["config", "push", str(path), "--prefix", prefix]) == 0
    monkeypatch.setenv("LAMBDAGATE_CONFIG", f"ssm:{prefix}")
    return prefix


@pytest.fixture(params=["file", "ssm"])
def config_source(request: pytest.FixtureRequest) -> str | None:
    """Configures the functions from a file or from SSM; returns the Bearer key the events must carry."""
    request.getfixturevalue(f"{request.param}_config")
    return DEPLOYED_KEY if request.param == "ssm" else None


# --- every function with every event ----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("function", sorted(CASES))
def test_function_answers_its_events(config_source: str | None, function: str, kind: str) -> None:
    module = load_function(function)
    for stem, schema in CASES[function]:
        request_id = f"{function}-{stem}-{kind}"
        result = invoke(module, event(stem, kind, config_source), request_id)
        assert result["statusCode"] == 200, result["body"]
        headers = headers_of(result)
        checked = assert_body(result, schema)
        if stem.startswith("models"):
            assert headers["content-type"] == "application/json"
            ids = [m["id"] for m in checked[0]["data"]] if stem == "models-list" else [checked[0]["id"]]
            assert "mock-gpt" in ids
            continue
        # Completions carry the Lambda request id (Mangum's context) as x-request-id.
        assert headers["x-request-id"] == request_id
        if stem == "chat-stream":
            assert headers["content-type"].startswith("text/event-stream")
            assert checked[-1]["usage"]["completion_tokens"] > 0  # stream_options.include_usage
        else:
            assert headers["content-type"] == "application/json"
            assert checked[0]["model"] == "mock-gpt"
            assert checked[0]["usage"]["prompt_tokens"] > 0


@pytest.mark.parametrize("kind", KINDS)
def test_chat_function_answers_the_mock_deterministically(file_config: Path, kind: str) -> None:
    result = invoke(load_function("chat"), event("chat", kind), "req-1")
    assert json.loads(result["body"])["choices"][0]["message"]["content"] == f"You said: {EVENT_PROMPT}"


@pytest.mark.parametrize("kind", KINDS)
def test_bad_key_and_unknown_model_are_openai_errors(file_config: Path, kind: str) -> None:
    module = load_function("chat")
    payload = event("chat", kind)
    for container in ("headers", "multiValueHeaders"):
        for name in list(payload.get(container) or {}):
            if name.lower() == "authorization":
                value = "Bearer sk-wrong"
                payload[container][name] = [value] if container == "multiValueHeaders" else value
    result = invoke(module, payload, "req-bad-key")
    assert result["statusCode"] == 401
    assert_valid(json.loads(result["body"]), "ErrorResponse")

    payload = event("chat", kind)
    payload["body"] = json.dumps({"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]})
    result = invoke(module, payload, "req-no-model")
    assert result["statusCode"] == 404
    assert json.loads(result["body"])["error"]["code"] == "model_not_found"


def test_endpoint_functions_mount_only_their_routes(file_config: Path) -> None:
    """The models function does not answer chat, and the chat function does not list models."""
    result = invoke(load_function("models"), event("chat", "http"), "req-x")
    assert result["statusCode"] == 404
    assert_valid(json.loads(result["body"]), "ErrorResponse")
    result = invoke(load_function("chat"), event("models-list", "http"), "req-y")
    assert result["statusCode"] == 404


def test_app_is_built_once_per_environment(file_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Module scope builds the app; invocations reuse it (Mangum's lifespan is off)."""
    import lambdagate.api

    module = load_function("chat")
    built: list[object] = []
    original = lambdagate.api.create_app

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(lambdagate.api, "create_app", counting)
    for n in range(3):
        assert invoke(module, event("chat", "http"), f"req-{n}")["statusCode"] == 200
    assert built == []


@pytest.mark.parametrize(("kind", "built_by"), [("http", "OneScopeHTTPGateway"), ("url", "OneScopeHTTPGateway"),
                                               ("rest", "APIGateway")])
def test_an_invocation_builds_its_asgi_scope_once(file_config: Path, monkeypatch: pytest.MonkeyPatch,
                                                  kind: str, built_by: str) -> None:
    """Mangum's HTTP API handler built the scope a second time to answer; the gateway's keeps the first.
    REST events stay with Mangum's own handler, which builds it once."""
    from mangum.handlers import APIGateway, HTTPGateway

    builds: list[str] = []

    def counted(real: property) -> property:
        def scope(handler: Any) -> Any:
            builds.append(type(handler).__name__)
            assert real.fget is not None
            return real.fget(handler)
        return property(scope)

    for cls in (HTTPGateway, APIGateway):
        monkeypatch.setattr(cls, "scope", counted(cls.__dict__["scope"]))
    module = load_function("chat")
    result = invoke(module, event("chat", kind), f"req-{kind}")
    assert result["statusCode"] == 200, result
    assert json.loads(result["body"])["choices"][0]["message"]["content"]
    assert builds == [built_by]


def test_limits_finish_a_buffered_answer_once_and_leave_a_stream_to_its_relay(
        file_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdagate.limits import Limits

    finished: list[bool | None] = []
    real = Limits.finish

    async def spy(self: Limits, record: RequestRecord, response: Any) -> Any:
        finished.append(record.stream)
        return await real(self, record, response)

    monkeypatch.setattr(Limits, "finish", spy)
    module = load_function("chat")
    assert invoke(module, event("chat", "http"), "req-buffered")["statusCode"] == 200
    assert invoke(module, event("chat-stream", "url"), "req-streamed")["statusCode"] == 200
    assert finished == [False]


# --- SSM: cache after the first look-ups, last good values through an outage ---------------------


def test_ssm_lookups_are_cached_and_survive_an_outage(ssm_config: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from botocore.exceptions import EndpointConnectionError

    from lambdagate.config import ssm

    client = boto3.client("ssm", region_name="us-east-1")
    calls: list[str] = []
    outage = {"on": False}

    def count(model: Any, **_: Any) -> None:
        calls.append(model.name)
        if outage["on"]:
            raise EndpointConnectionError(endpoint_url="https://ssm.us-east-1.amazonaws.com")

    client.meta.events.register("before-call.ssm.*", count)
    monkeypatch.setattr(ssm, "ssm_client", lambda *a, **k: client)
    monkeypatch.setenv(ssm.TTL_ENV, "1")
    module = load_function("chat")

    # Neither the development key nor a random one costs a call: refused before the store.
    mistyped = DEPLOYED_KEY[:-1] + ("1" if DEPLOYED_KEY.endswith("0") else "0")
    for key in ("sk-lambdagate-dev", "sk-" + "x" * 48, mistyped):
        assert invoke(module, event("chat", "http", key), "refused")["statusCode"] == 401
    assert calls == []

    assert invoke(module, event("chat", "http", DEPLOYED_KEY), "cold")["statusCode"] == 200
    cold = len(calls)
    assert 1 <= cold <= 3, calls  # key (+ settings), alias, provider: fetched by name, never listed
    assert "GetParametersByPath" not in calls
    assert invoke(module, event("chat", "rest", DEPLOYED_KEY), "warm")["statusCode"] == 200
    assert len(calls) == cold  # served from the cache

    # Let the TTL run out, then make SSM fail: the last good values keep serving.
    time.sleep(1.1)
    outage["on"] = True
    result = invoke(module, event("chat", "url", DEPLOYED_KEY), "outage")
    assert result["statusCode"] == 200, result["body"]
    assert len(calls) > cold  # it did try SSM


# --- telemetry: Powertools JSON logs and EMF metrics -------------------------------------------------


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def _emf(lines: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    return [line for line in lines if emf_directive(line, metric) is not None]


def _v(doc: dict[str, Any], name: str) -> Any:
    """A metric's value in an EMF document (Powertools writes each value as a list)."""
    value = doc[name]
    return value[0] if isinstance(value, list) and len(value) == 1 else value


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(powertools.SERVICE_ENV, "lambdagate")
    monkeypatch.setenv(powertools.NAMESPACE_ENV, "lambdagate-test")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    powertools.reset()


def test_request_log_and_metrics(file_config: Path, telemetry: None, capsys: pytest.CaptureFixture[str]) -> None:
    module = load_function("chat")
    capsys.readouterr()
    assert invoke(module, event("chat", "http"), "req-logged")["statusCode"] == 200
    assert invoke(module, event("chat-stream", "url"), "req-streamed")["statusCode"] == 200
    out = capsys.readouterr().out
    lines = _json_lines(out)

    logs = [line for line in lines if line.get("message") == "request"]
    assert [log["correlation_id"] for log in logs] == ["req-logged", "req-streamed"]
    assert [log["function_request_id"] for log in logs] == ["req-logged", "req-streamed"]
    assert isinstance(logs[0]["cold_start"], bool) and logs[1]["cold_start"] is False
    for log in logs:
        assert log["service"] == "lambdagate" and log["level"] == "INFO"
        assert (log["model"], log["provider"], log["status"]) == ("mock-gpt", "mock", 200)
        assert log["latency_ms"] > 0 and log["prompt_tokens"] > 0 and log["completion_tokens"] > 0
    assert logs[1]["stream"] is True and logs[1]["time_to_first_token_ms"] > 0
    # The line is written without Powertools' formatter: its keys and its timestamp are the formatter's own.
    powertools.logger().info("reference")
    reference = next(line for line in _json_lines(capsys.readouterr().out) if line.get("message") == "reference")
    for log in logs:
        assert list(log)[:5] == list(reference)[:5] == ["level", "location", "message", "timestamp", "service"]
        ours, theirs = datetime.fromisoformat(log["timestamp"]), datetime.fromisoformat(reference["timestamp"])
        assert len(log["timestamp"]) == len(reference["timestamp"]) and ours.utcoffset() == theirs.utcoffset()
        assert abs((theirs - ours).total_seconds()) < 60

    requests = _emf(lines, "Requests")
    assert len(requests) == 2  # one EMF document per request, the streamed one included
    for doc in requests:
        directive = emf_directive(doc, "Requests")
        assert directive is not None
        assert directive["Namespace"] == "lambdagate-test"
        assert sorted(directive["Dimensions"][0]) == ["model", "provider", "service"]
        assert (doc["model"], doc["provider"], _v(doc, "Requests"), _v(doc, "Errors")) == ("mock-gpt", "mock", 1, 0)
        assert _v(doc, "PromptTokens") > 0 and _v(doc, "CompletionTokens") > 0 and _v(doc, "Latency") > 0
    assert _emf(lines, "TimeToFirstToken") == [requests[1]]
    # The by-key metrics are a second directive of the same document, not a document of their own.
    assert _emf(lines, "KeyRequests") == requests
    assert len([line for line in lines if "_aws" in line]) == 2
    assert _emf(lines, "ErrorsByType") == []

    # Neither the client key nor the prompt ever reaches the logs or the metrics.
    assert EVENT_KEY not in out and EVENT_PROMPT not in out and "Stream this answer" not in out


def test_errors_are_counted_by_type_without_client_chosen_dimensions(
    file_config: Path, telemetry: None, capsys: pytest.CaptureFixture[str]
) -> None:
    module = load_function("chat")
    payload = event("chat", "http")
    payload["body"] = json.dumps({"model": "attacker-chosen-name", "messages": [{"role": "user", "content": "x"}]})
    capsys.readouterr()
    assert invoke(module, payload, "req-404")["statusCode"] == 404
    lines = _json_lines(capsys.readouterr().out)
    errors = _emf(lines, "ErrorsByType")
    assert len(errors) == 1
    assert (errors[0]["error_type"], errors[0]["model"], errors[0]["provider"]) == ("invalid_request_error", NONE, NONE)
    directive = emf_directive(errors[0], "ErrorsByType")
    assert directive is not None
    assert sorted(directive["Dimensions"][0]) == ["error_type", "model", "provider", "service"]
    assert _v(_emf(lines, "Requests")[0], "Errors") == 1
    assert "attacker-chosen-name" not in json.dumps(_emf(lines, "Requests") + errors)


def test_no_powertools_output_without_its_environment(file_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = load_function("chat")
    assert invoke(module, event("chat", "http"), "req-quiet")["statusCode"] == 200
    assert "_aws" not in capsys.readouterr().out


@pytest.mark.parametrize(("status", "error_type", "provider", "expected"), [
    (200, None, "mock", ("mock-gpt", "mock")),
    (404, "invalid_request_error", None, (NONE, NONE)),   # unknown model: not a dimension value
    (401, "invalid_request_error", None, (NONE, NONE)),   # unauthenticated: the model is unchecked
    (429, "rate_limit_error", None, ("mock-gpt", NONE)),  # routed alias, every attempt throttled
    (502, "upstream_error", "mock", ("mock-gpt", "mock")),
])
def test_metric_dimensions(status: int, error_type: str | None, provider: str | None,
                           expected: tuple[str, str]) -> None:
    record = RequestRecord(request_id="r", endpoint="chat", status=status, model="mock-gpt", provider=provider,
                           error_type=error_type)
    assert (dimensions(record)["model"], dimensions(record)["provider"]) == expected


# --- SnapStart hooks -------------------------------------------------------------------------------


def test_snapstart_hook_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "snapshot_restore_py", raising=False)
    assert lambda_runtime.register_snapstart_hooks() is False  # not a Lambda runtime: nothing to do

    registered: list[Callable[[], None]] = []
    fake = SimpleNamespace(register_after_restore=registered.append)
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake)
    assert lambda_runtime.register_snapstart_hooks() is True
    assert registered == [lambda_runtime.after_restore]


def test_a_connection_the_upstream_closed_between_invocations_is_not_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_upstream: FakeUpstream,
    _upstream_server: tuple[FakeUpstream, ServerThread],
) -> None:
    """Between invocations nothing reads the sockets (Mangum's event loop runs only inside one), so
    an upstream's close of an idle keep-alive connection is still unread when the next invocation
    starts; that connection must not carry its request. With no retries configured, reusing it
    was a 502; with retries, a second attempt after a backoff."""
    fake_upstream.on("/v1/chat/completions", fake_openai.chat)
    data = gateway_config()
    data["settings"]["num_retries"] = 0
    data["providers"] = {"up": {"type": "openai", "api_base": fake_upstream.url + "/v1", "api_key": "sk-up"}}
    data["models"] = {"mock-gpt": [{"provider": "up", "model": "upstream-model"}]}
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("LAMBDAGATE_CONFIG", str(path))
    monkeypatch.setattr(lambda_runtime.ReadPendingEvents, "IDLE_GAP", 0.0)  # the pause below is short
    module = load_function("chat")
    first = invoke(module, event("chat", "http"), "req-keepalive-1")
    assert first["statusCode"] == 200, first["body"]
    _, server = _upstream_server
    server.run(server.quiesce())  # the upstream ends its idle connections, as servers do after a while
    second = invoke(module, event("chat", "http"), "req-keepalive-2")
    assert second["statusCode"] == 200, second["body"]
    assert headers_of(second)["x-lambdagate-attempts"] == "1"
    assert len(fake_upstream.requests) == 2
    assert len({request.peer for request in fake_upstream.requests}) == 2  # a new connection for the second


def test_after_restore_drops_pool_and_store_state(file_config: Path) -> None:
    import asyncio

    class Store:
        resets = 0

        def reset(self) -> None:
            self.resets += 1

    store, limits = Store(), Store()
    lambda_runtime._apps.append(
        SimpleNamespace(state=SimpleNamespace(gateway=SimpleNamespace(store=store, limits=limits))))

    async def open_client() -> None:
        upstream_http.get_client()

    asyncio.run(open_client())
    assert upstream_http._client is not None
    lambda_runtime.after_restore()
    assert upstream_http._client is None
    assert store.resets == 1 and limits.resets == 1  # config caches, and the limits table's client and teams


def test_store_is_prepared_at_init_unless_a_snapshot_would_freeze_it(
    file_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Store:
        def __init__(self, resettable: bool) -> None:
            self.prepared = 0
            if resettable:
                self.reset = lambda: None

        def prepare(self) -> None:
            self.prepared += 1

    def app_with(store: Store) -> Any:
        return SimpleNamespace(state=SimpleNamespace(gateway=SimpleNamespace(store=store)))

    on_demand, snap_plain, snap_resettable = Store(False), Store(False), Store(True)
    lambda_runtime._adopt(app_with(on_demand))
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    lambda_runtime._adopt(app_with(snap_plain))
    lambda_runtime._adopt(app_with(snap_resettable))
    assert (on_demand.prepared, snap_plain.prepared, snap_resettable.prepared) == (1, 0, 1)
