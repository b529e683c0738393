"""Callers signed with SigV4 on an AWS_IAM function URL, identified by their IAM principal.

``events/chat-iam-url.json`` is what Lambda delivers for a signed request: the SigV4 signature in
``Authorization`` and the verified caller in ``requestContext.authorizer.iam``. It goes through the
real chat handler (Mangum), and its request context, as the Lambda Web Adapter forwards it in the
``x-amzn-request-context`` header, through the streaming function's app (functions/stream).
"""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import make_config
from lambdagate import lambda_runtime
from lambdagate.auth.iam import AUTH_ENV
from test_functions import event, invoke, load_function

ROOT = Path(__file__).resolve().parents[1]
ROLE_PATTERN = "arn:aws:iam::123456789012:role/app-*"
CALLER = "arn:aws:sts::123456789012:assumed-role/app-backend/i-0abc123def4567890"


def iam_config(principals: list[str]) -> dict[str, Any]:
    data = make_config({"mock": {}}, {
        "mock-gpt": {"provider": "mock", "model": "mock-gpt"},
        "other": {"provider": "mock", "model": "other"},
    }).model_dump(mode="json", exclude_none=True)
    # A record for IAM callers needs no key: it is found by principal, never by hash.
    data["keys"].append({"name": "backend", "principals": principals, "models": ["mock-gpt"]})
    return data


@pytest.fixture(autouse=True)
def forget_apps() -> Iterator[None]:
    yield
    lambda_runtime._apps.clear()


@pytest.fixture
def file_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(iam_config([ROLE_PATTERN])))
    monkeypatch.setenv("LAMBDAGATE_CONFIG", str(path))
    return path


@pytest.fixture
def iam_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AUTH_ENV, "iam")  # what the template sets when StreamAuthType=AWS_IAM


def signed_event() -> dict[str, Any]:
    return event("chat-iam", "url")


def body(result: dict[str, Any]) -> Any:
    return json.loads(result["body"])


# --- the buffered handler (Mangum): the identity comes from the event --------------------------------


def test_signed_request_is_mapped_to_its_principal_record(file_config: Path, iam_on: None) -> None:
    result = invoke(load_function("chat"), signed_event(), "req-iam")
    assert result["statusCode"] == 200, result["body"]
    assert body(result)["choices"][0]["message"]["content"] == "You said: Hello from a signed caller"


def test_principal_record_keeps_its_model_allow_list(file_config: Path, iam_on: None) -> None:
    payload = signed_event()
    payload["body"] = json.dumps({"model": "other", "messages": [{"role": "user", "content": "x"}]})
    result = invoke(load_function("chat"), payload, "req-iam-403")
    assert result["statusCode"] == 403 and body(result)["error"]["code"] == "model_not_allowed"


def test_unmapped_principal_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, iam_on: None) -> None:
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(iam_config(["arn:aws:iam::123456789012:role/billing-*"])))
    monkeypatch.setenv("LAMBDAGATE_CONFIG", str(path))
    result = invoke(load_function("chat"), signed_event(), "req-iam-unmapped")
    assert result["statusCode"] == 403
    assert body(result)["error"]["code"] == "principal_not_allowed" and CALLER in body(result)["error"]["message"]


def test_iam_mode_without_an_identity_is_a_401(file_config: Path, iam_on: None) -> None:
    """A Bearer key is not an identity in IAM mode, even a valid one (the URL only lets signed requests in)."""
    result = invoke(load_function("chat"), event("chat", "url"), "req-iam-none")
    assert result["statusCode"] == 401 and body(result)["error"]["code"] == "iam_identity_missing"


def test_sigv4_header_is_never_a_bearer_key_nor_an_identity_without_iam_mode(file_config: Path) -> None:
    """On a NONE URL the request context of a forged event is not trusted, and SigV4 is no Bearer key."""
    result = invoke(load_function("chat"), signed_event(), "req-key-mode")
    assert result["statusCode"] == 401 and body(result)["error"]["code"] == "invalid_api_key"


def test_signed_request_with_the_ssm_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_aws: None,
                                            iam_on: None) -> None:
    """Deployed: the principal records are listed from {prefix}/keys once, then served from the cache."""
    from lambdagate.cli import main as cli

    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(iam_config([ROLE_PATTERN])))
    assert cli(["config", "push", str(path), "--prefix", "/lambdagate-iam-test"]) == 0
    monkeypatch.setenv("LAMBDAGATE_CONFIG", "ssm:/lambdagate-iam-test")
    module = load_function("chat")
    for n in range(2):
        result = invoke(module, signed_event(), f"req-iam-ssm-{n}")
        assert result["statusCode"] == 200, result["body"]


# --- the streaming function (Web Adapter): the identity comes from x-amzn-request-context --------------


def stream_app() -> Any:
    path = ROOT / "functions" / "stream" / "app.py"
    spec = importlib.util.spec_from_file_location("lambdagate_function_stream_iam", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def adapter_headers(context: dict[str, Any], signed: dict[str, Any]) -> dict[str, str]:
    """The headers the Web Adapter forwards: the client's, plus the request and Lambda contexts it sets."""
    headers = {k: v for k, v in signed["headers"].items() if k not in ("host", "content-length")}
    headers["x-amzn-request-context"] = json.dumps(context)
    headers["x-amzn-lambda-context"] = json.dumps({"request_id": "lwa-iam-1"})
    return headers


def test_stream_app_maps_the_adapter_request_context(file_config: Path, iam_on: None) -> None:
    signed = signed_event()
    with TestClient(stream_app()) as client:
        response = client.post("/v1/chat/completions", content=signed["body"],
                               headers=adapter_headers(signed["requestContext"], signed))
        assert response.status_code == 200, response.text
        assert response.headers["x-request-id"] == "lwa-iam-1"
        assert response.json()["choices"][0]["message"]["content"] == "You said: Hello from a signed caller"

        models = client.get("/v1/models", headers=adapter_headers(signed["requestContext"], signed))
        assert [m["id"] for m in models.json()["data"]] == ["mock-gpt"]  # the record's allow-list


def test_stream_app_ignores_a_client_written_context_on_a_none_url(file_config: Path) -> None:
    signed = signed_event()
    with TestClient(stream_app()) as client:
        response = client.post("/v1/chat/completions", content=signed["body"],
                               headers=adapter_headers(signed["requestContext"], signed))
    assert response.status_code == 401


def test_stream_app_refuses_a_context_without_iam_identity(file_config: Path, iam_on: None) -> None:
    signed = signed_event()
    context = copy.deepcopy(signed["requestContext"])
    del context["authorizer"]
    with TestClient(stream_app()) as client:
        response = client.post("/v1/chat/completions", content=signed["body"], headers=adapter_headers(context, signed))
    assert response.status_code == 401 and response.json()["error"]["code"] == "iam_identity_missing"
