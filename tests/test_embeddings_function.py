"""functions/embeddings invoked in process with its events/ files, as ``sam local invoke -e`` would.

The module is imported as Lambda imports it (the app built at module scope from
``$LAMBDAGATE_CONFIG``) and its ``handler`` called with the API Gateway REST (v1), HTTP API (v2)
and function URL events, against a configuration read from a file and from moto's SSM after
``lambdagate config push`` (the deployed layout). The events carry the development key and the
``mock-gpt`` model of gateway.example.yaml: the mock provider answers embeddings too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdagate import lambda_runtime
from lambdagate.auth import generate_key
from lambdagate.observability import powertools
from lambdagate.providers.mock.embeddings import vector
from openai_schema import assert_valid
from test_functions import event, gateway_config, headers_of, invoke, load_function

KINDS = ("rest", "http", "url")
DEPLOYED_KEY = generate_key()
EVENT_INPUTS = ["Hello from lambdagate", "Embed this too"]


@pytest.fixture(autouse=True)
def clean_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (powertools.SERVICE_ENV, powertools.NAMESPACE_ENV, "POWERTOOLS_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    powertools.reset()
    yield
    powertools.reset()
    lambda_runtime._apps.clear()


@pytest.fixture(params=["file", "ssm"])
def config_key(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """Configures the function from a file or from SSM; returns the Bearer key the events must carry."""
    data = gateway_config()
    path = tmp_path / "gateway.json"
    if request.param == "file":
        path.write_text(json.dumps(data))
        monkeypatch.setenv("LAMBDAGATE_CONFIG", str(path))
        return None
    request.getfixturevalue("moto_aws")
    from lambdagate.cli import main as cli

    prefix = "/lambdagate-embeddings-test"
    data["keys"] = [{"name": "deployed", "sha256": hashlib.sha256(DEPLOYED_KEY.encode()).hexdigest()}]
    path.write_text(json.dumps(data))
    assert cli(["config", "push", str(path), "--prefix", prefix]) == 0
    monkeypatch.setenv("LAMBDAGATE_CONFIG", f"ssm:{prefix}")
    return DEPLOYED_KEY


@pytest.mark.parametrize("kind", KINDS)
def test_embeddings_function_answers_its_events(config_key: str | None, kind: str) -> None:
    module = load_function("embeddings")
    request_id = f"embeddings-{kind}"
    result = invoke(module, event("embeddings", kind, config_key), request_id)
    assert result["statusCode"] == 200, result["body"]
    assert result.get("isBase64Encoded") in (False, None)
    headers = headers_of(result)
    assert headers["content-type"] == "application/json"
    assert headers["x-request-id"] == request_id
    assert headers["x-lambdagate-provider"] == "mock"
    body = json.loads(result["body"])
    assert_valid(body, "CreateEmbeddingResponse")
    assert body["model"] == "mock-gpt"
    assert [item["embedding"] for item in body["data"]] == [vector(text, 64) for text in EVENT_INPUTS]
    assert body["usage"] == {"prompt_tokens": 6, "total_tokens": 6}


@pytest.mark.parametrize("kind", KINDS)
def test_embeddings_function_errors_and_routes(config_key: str | None, kind: str) -> None:
    module = load_function("embeddings")
    payload: dict[str, Any] = event("embeddings", kind, config_key)
    payload["body"] = json.dumps({"model": "mock-gpt", "input": ""})
    result = invoke(module, payload, "req-empty")
    assert result["statusCode"] == 400
    assert_valid(json.loads(result["body"]), "ErrorResponse")
    assert json.loads(result["body"])["error"]["param"] == "input"

    bad_key = invoke(module, event("embeddings", kind, "sk-wrong"), "req-bad-key")
    assert bad_key["statusCode"] == 401
    # Only its own route: the chat event is a 404 here, and the chat function has no embeddings.
    assert invoke(module, event("chat", kind, config_key), "req-chat")["statusCode"] == 404
    assert invoke(load_function("chat"), event("embeddings", kind, config_key), "req-x")["statusCode"] == 404


def test_the_streaming_app_serves_embeddings_too() -> None:
    from lambdagate.api.app import ENDPOINTS

    assert "embeddings" in ENDPOINTS  # create_app's default: the stream function and `lambdagate serve`
