"""The streaming function as the Lambda Web Adapter runs it: ``run.sh`` with ``PORT`` set.

The adapter starts the handler script, waits until something answers on ``PORT`` and forwards each
function URL request as plain HTTP (adding ``x-amzn-lambda-context``), relaying the response body
as it is written. Here the script runs as a subprocess on loopback and the official openai SDK
plays the client: chunks of a slow mock model must arrive one by one, not all at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from conftest import free_port, make_config
from openai_schema import assert_valid

ROOT = Path(__file__).resolve().parents[1]
RUN_SH = ROOT / "functions" / "stream" / "run.sh"
KEY = "sk-lambdagate-dev"
RESTORE_PATH = "/_lambdagate/after-restore"
CHUNK_DELAY = 0.25


@pytest.fixture(scope="module")
def output_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stream-out") / "stdout.log"


@pytest.fixture(scope="module")
def stream_function(tmp_path_factory: pytest.TempPathFactory, output_file: Path) -> Iterator[str]:
    """run.sh on a free loopback port with a file config; yields the base URL (with /v1).

    Powertools is on as in the template; the process's stdout (CloudWatch Logs, on Lambda) goes
    to ``output_file``.
    """
    config = make_config({"mock": {}}, {
        "mock-gpt": {"provider": "mock", "model": "mock-gpt"},
        "mock-slow": {"provider": "mock", "model": "mock-slow", "chunk_delay": CHUNK_DELAY},
    }).model_dump(mode="json", exclude_none=True)
    config["keys"] = [{"name": "local-dev", "sha256": hashlib.sha256(KEY.encode()).hexdigest()}]
    path = tmp_path_factory.mktemp("stream") / "gateway.json"
    path.write_text(json.dumps(config))

    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "LAMBDAGATE_CONFIG": str(path),
        # run.sh calls `python3`: make it this interpreter, as /var/lang/bin/python3 is on Lambda.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH": RESTORE_PATH,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_SERVICE_NAME": "lambdagate",
        "POWERTOOLS_METRICS_NAMESPACE": "lambdagate-stream-test",
    }
    env.pop("PYTHONUNBUFFERED", None)  # run.sh must set it itself
    log = output_file.open("wb")
    process = subprocess.Popen([str(RUN_SH)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:  # the adapter's readiness check: any HTTP answer on "/"
            if process.poll() is not None:
                pytest.fail(f"run.sh exited with {process.returncode}: {output_file.read_text()}")
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("run.sh did not start listening within 30 s")
                time.sleep(0.1)
        yield base + "/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0, timeout=30)


def test_stream_arrives_chunk_by_chunk(stream_function: str) -> None:
    words = "one two three four five six"
    started = time.monotonic()
    arrivals: list[float] = []
    content = []
    stream = client(stream_function).chat.completions.create(
        model="mock-slow", stream=True, messages=[{"role": "user", "content": words}],
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        assert_valid(chunk.model_dump(mode="json", exclude_unset=True), "CreateChatCompletionStreamResponse")
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - started)
            content.append(chunk.choices[0].delta.content)
    total = time.monotonic() - started

    assert "".join(content).split() == f"You said: {words}".split()
    assert len(arrivals) >= 6
    # Incremental: the first word is there long before the last one; the gaps follow chunk_delay.
    assert arrivals[-1] - arrivals[0] >= (len(arrivals) - 1) * CHUNK_DELAY * 0.6
    assert arrivals[0] < total - 4 * CHUNK_DELAY * 0.6


def test_non_streamed_requests_and_models(stream_function: str) -> None:
    sdk = client(stream_function)
    completion = sdk.chat.completions.create(model="mock-gpt", messages=[{"role": "user", "content": "hi"}])
    assert_valid(completion.model_dump(mode="json", exclude_unset=True), "CreateChatCompletionResponse")
    assert completion.choices[0].message.content == "You said: hi"
    text = sdk.completions.create(model="mock-gpt", prompt="Say hello")
    assert_valid(text.model_dump(mode="json", exclude_unset=True), "CreateCompletionResponse")
    assert {m.id for m in sdk.models.list()} == {"mock-gpt", "mock-slow"}
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=stream_function, api_key="sk-wrong", max_retries=0).models.list()


def test_lambda_request_id_from_the_adapter_header(stream_function: str) -> None:
    context = {"request_id": "8f4c7a1e-lwa-request", "deadline": 0, "invoked_function_arn": "arn:x"}
    response = httpx.post(
        stream_function + "/chat/completions",
        headers={"authorization": f"Bearer {KEY}", "x-amzn-lambda-context": json.dumps(context)},
        json={"model": "mock-gpt", "messages": [{"role": "user", "content": "id?"}]}, timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "8f4c7a1e-lwa-request"


def test_after_restore_hook_only_for_the_adapter(stream_function: str) -> None:
    base = stream_function.removesuffix("/v1")
    assert httpx.post(base + RESTORE_PATH, timeout=10).status_code == 204
    # A forwarded client request (it carries the Lambda context header) never reaches the hook.
    forwarded = httpx.post(base + RESTORE_PATH, headers={"x-amzn-lambda-context": "{}"}, timeout=10)
    assert forwarded.status_code == 404
    assert_valid(forwarded.json(), "ErrorResponse")


def test_logs_and_metrics_are_flushed_per_request_under_uvicorn(stream_function: str, output_file: Path) -> None:
    """Each streamed request writes its JSON log line and EMF document when it ends, not at exit."""
    context = {"request_id": "lwa-metrics-request"}
    with httpx.stream("POST", stream_function + "/chat/completions", timeout=30, headers={
            "authorization": f"Bearer {KEY}", "x-amzn-lambda-context": json.dumps(context)},
            json={"model": "mock-gpt", "stream": True, "stream_options": {"include_usage": True},
                  "messages": [{"role": "user", "content": "count me"}]}) as r:
        assert r.status_code == 200
        assert list(r.iter_lines())[-2:] == ["data: [DONE]", ""]
    deadline = time.monotonic() + 30
    while True:
        lines = [json.loads(line) for line in output_file.read_text().splitlines() if line.startswith("{")]
        logs = [line for line in lines if line.get("correlation_id") == "lwa-metrics-request"]
        metrics = [line for line in lines if "_aws" in line and line.get("Requests") and line.get("model")]
        if (logs and metrics) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert logs and logs[0]["message"] == "request" and logs[0]["stream"] is True
    assert logs[0]["model"] == "mock-gpt" and logs[0]["provider"] == "mock" and logs[0]["completion_tokens"] > 0
    namespaces = {d["Namespace"] for m in metrics for d in m["_aws"]["CloudWatchMetrics"]}
    assert namespaces == {"lambdagate-stream-test"}
    assert any("TimeToFirstToken" in m for m in metrics)
    text = output_file.read_text()
    assert KEY not in text and "count me" not in text
