"""The README's examples work as written against the example config."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import ServerThread
from lambdagate.api import create_app
from lambdagate.config import load_store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def example_server() -> Iterator[str]:
    """One server for the module: the examples only read from it."""
    with ServerThread(create_app(load_store(str(ROOT / "gateway.example.yaml")))) as server:
        yield server.url


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_python_example(example_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = next(b for b in _blocks("python") if "OpenAI(" in b)
    exec(compile(code.replace("http://127.0.0.1:8000", example_server), "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out == ["You said: Hello, gateway", "You said: Stream this please"]


def test_curl_example(example_server: str) -> None:
    block = next(b for b in _blocks("bash") if "curl" in b)
    headers = dict(h.split(": ", 1) for h in re.findall(r'-H "([^"]+)"', block))
    body = re.search(r"-d '([^']+)'", block)
    assert body is not None
    response = httpx.post(example_server + "/v1/chat/completions", headers=headers, content=body.group(1))
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "You said: Hello, gateway"


def test_docs_describe_the_api(example_server: str) -> None:
    assert httpx.get(example_server + "/docs").status_code == 200
    spec = httpx.get(example_server + "/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/completions", "/v1/models", "/v1/models/{model_id}"} <= set(spec["paths"])
    body = spec["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ChatCompletionRequest"}
    schema = spec["components"]["schemas"]["ChatCompletionRequest"]
    assert {"messages", "model"} <= set(schema["required"])
    assert {"tools", "stream_options", "response_format", "max_completion_tokens"} <= set(schema["properties"])
