"""The two flavours of the app answer alike: the documented one (``/docs`` and ``/openapi.json``;
``lambdagate serve``) and the plain one (every Lambda function); neither imports FastAPI to start.

Every request below goes to both apps, built from the same configuration, and the answers are
compared whole (status, the headers a client reads, the body with its ids and timestamps set aside):
successes of every endpoint, streams, and each kind of error the front door answers itself.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import DEV_KEY, make_config
from lambdagate import environment
from lambdagate.api import create_app
from lambdagate.api.cors import CORS_ENV
from lambdagate.cli.common import DEV_KEY as EXAMPLE_KEY
from lambdagate.config.file_store import FileConfigStore

AUTH = {"authorization": f"Bearer {DEV_KEY}"}
EXAMPLE_AUTH = {"authorization": f"Bearer {EXAMPLE_KEY}"}  # gateway.example.yaml's
ORIGIN = "https://app.example"
CHAT = {"model": "mock-gpt", "messages": [{"role": "user", "content": "Say something short."}]}
# What varies from one answer to the next whatever the app: ids, clocks, the request id.
_VARYING = {"id", "created", "created_at", "msg_id", "response_id", "item_id", "system_fingerprint"}
_HEADERS = ("content-type", "allow", "retry-after", "www-authenticate", "x-lambdagate-provider",
            "x-lambdagate-model", "access-control-allow-origin", "access-control-allow-methods",
            "access-control-allow-headers", "access-control-expose-headers")

REQUESTS: list[tuple[str, str, str, dict[str, str], Any]] = [
    ("chat", "POST", "/v1/chat/completions", AUTH, CHAT),
    ("chat without /v1", "POST", "/chat/completions", AUTH, CHAT),
    ("chat stream", "POST", "/v1/chat/completions", AUTH,
     {**CHAT, "stream": True, "stream_options": {"include_usage": True}}),
    ("completion", "POST", "/v1/completions", AUTH, {"model": "mock-gpt", "prompt": "Once", "max_tokens": 5}),
    ("models", "GET", "/v1/models", AUTH, None),
    ("model", "GET", "/v1/models/mock-gpt", AUTH, None),
    ("model with a slash", "GET", "/v1/models/org/unknown", AUTH, None),
    ("embeddings", "POST", "/v1/embeddings", AUTH, {"model": "mock-embed", "input": ["a", "b"]}),
    ("responses", "POST", "/v1/responses", AUTH, {"model": "mock-gpt", "input": "Hello"}),
    ("responses stream", "POST", "/v1/responses", AUTH, {"model": "mock-gpt", "input": "Hello", "stream": True}),
    ("messages", "POST", "/v1/messages", {**AUTH, "anthropic-version": "2023-06-01"},
     {"model": "mock-gpt", "max_tokens": 20, "messages": [{"role": "user", "content": "Hi"}]}),
    ("count tokens", "POST", "/v1/messages/count_tokens", {**AUTH, "anthropic-version": "2023-06-01"},
     {"model": "mock-gpt", "messages": [{"role": "user", "content": "Hi"}]}),
    ("no key", "POST", "/v1/chat/completions", {}, CHAT),
    ("wrong key", "POST", "/v1/chat/completions", {"authorization": "Bearer sk-wrong"}, CHAT),
    ("unknown model", "POST", "/v1/chat/completions", AUTH, {**CHAT, "model": "nope"}),
    ("invalid parameter", "POST", "/v1/chat/completions", AUTH, {**CHAT, "temperature": 5}),
    ("not JSON", "POST", "/v1/chat/completions", AUTH, b"{not json"),
    ("too large", "POST", "/v1/chat/completions", AUTH, b"x" * 4096),
    ("unknown route", "GET", "/v1/nothing-here", AUTH, None),
    ("wrong method", "GET", "/v1/chat/completions", AUTH, None),
    ("trailing slash", "POST", "/v1/chat/completions/", AUTH, CHAT),
    ("CORS preflight", "OPTIONS", "/v1/chat/completions",
     {"origin": ORIGIN, "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type"}, None),
    ("CORS request", "GET", "/v1/models", {**AUTH, "origin": ORIGIN}, None),
]


def _config() -> FileConfigStore:
    config = make_config({"mock": {}}, {"mock-gpt": {"provider": "mock", "model": "mock-gpt"},
                                        "mock-embed": {"provider": "mock", "model": "mock-embed"}},
                         cors_allow_origins=[ORIGIN], max_body_bytes=2048)
    return FileConfigStore(config)


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<varies>" if k in _VARYING else _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    if isinstance(value, str) and value.startswith(("chatcmpl-", "cmpl-", "resp_", "msg_", "req_")):
        return "<varies>"
    return value


def _body(response: httpx.Response) -> Any:
    media = response.headers.get("content-type", "")
    if media.startswith("text/event-stream"):
        events = []
        for block in response.text.split("\n\n"):
            lines = [line for line in block.splitlines() if not line.startswith(":")]
            if not lines:
                continue
            fields = [line.partition(": ") for line in lines]
            events.append([(name, _normalized(json.loads(value)) if value.startswith("{") else value)
                           for name, _, value in fields])
        return events
    if media.startswith("application/json"):
        return _normalized(response.json())
    return response.text


def _answer(response: httpx.Response) -> dict[str, Any]:
    return {"status": response.status_code, "body": _body(response),
            "headers": {name: response.headers.get(name) for name in _HEADERS},
            "request id": bool(response.headers.get("x-request-id"))}


async def _answers(documented: bool) -> dict[str, dict[str, Any]]:
    app = create_app(_config(), documented=documented)
    transport = httpx.ASGITransport(app=app)
    answers = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        for name, method, path, headers, body in REQUESTS:
            content = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
            sent = {**headers, **({"content-type": "application/json"} if content is not None else {})}
            answers[name] = _answer(await client.request(method, path, headers=sent, content=content))
    return answers


@pytest.fixture(scope="module")
def answers() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Both apps' answers to every request, gathered once for the tests below."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(CORS_ENV, raising=False)  # the app answers CORS itself, as `lambdagate serve` does
        environment.refresh()
        yield asyncio.run(_answers(True)), asyncio.run(_answers(False))
    environment.refresh()


@pytest.mark.parametrize("name", [request[0] for request in REQUESTS])
def test_both_flavours_answer_alike(answers: tuple[dict[str, Any], dict[str, Any]], name: str) -> None:
    documented, plain = answers
    assert plain[name] == documented[name]
    # Two answers come before any route: a preflight (the CORS middleware's) and the redirect of a path
    # that differs from a route's by its trailing slash (the router's); every other one is recorded.
    assert documented[name]["request id"] or name in ("CORS preflight", "trailing slash")


def test_the_answers_compared_are_the_real_ones(answers: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """The comparison above is between answers of each kind, not between two identical failures."""
    documented, _ = answers
    statuses = {name: answer["status"] for name, answer in documented.items()}
    assert {statuses[n] for n in ("chat", "chat without /v1", "chat stream", "completion", "models", "model",
                                  "embeddings", "responses", "responses stream", "messages", "count tokens",
                                  "CORS request")} == {200}
    assert (statuses["no key"], statuses["wrong key"], statuses["unknown route"], statuses["wrong method"],
            statuses["too large"], statuses["model with a slash"]) == (401, 401, 404, 405, 413, 404)
    assert documented["wrong method"]["headers"]["allow"] == "POST"  # HTTP requires it on a 405
    assert statuses["trailing slash"] == 307
    assert documented["chat stream"]["body"][-1] == [("data", "[DONE]")]
    assert documented["unknown route"]["body"]["error"]["message"] == "Invalid URL (GET /v1/nothing-here)"
    assert documented["CORS preflight"]["headers"]["access-control-allow-origin"] == ORIGIN


def test_only_the_documented_flavour_serves_docs() -> None:
    async def statuses(documented: bool) -> list[int]:
        transport = httpx.ASGITransport(app=create_app(_config(), documented=documented))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            return [(await client.get(path)).status_code for path in ("/docs", "/openapi.json")]

    assert asyncio.run(statuses(True)) == [200, 200]
    assert asyncio.run(statuses(False)) == [404, 404]


def test_the_functions_never_import_fastapi() -> None:
    """Each function's init, in a fresh interpreter: the plain app, and FastAPI never loaded."""
    code = (
        "import os, sys\n"
        "os.environ['LAMBDAGATE_CONFIG'] = sys.argv[2]\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import app\n"
        "assert 'fastapi' not in sys.modules, sorted(m for m in sys.modules if m.startswith('fastapi'))\n"
    )
    root = Path(__file__).resolve().parents[1]
    for function in ("chat", "completions", "models", "embeddings", "responses", "messages", "stream"):
        result = subprocess.run([sys.executable, "-c", code, str(root / "functions" / function),
                                 str(root / "gateway.example.yaml")], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (function, result.stderr[-2000:])


def test_the_documented_app_imports_fastapi_only_for_its_document() -> None:
    """``lambdagate serve``'s app, in a fresh interpreter: it starts and answers a chat completion
    without FastAPI, which is imported for the first ``/openapi.json`` (its generator), whose
    document then describes every endpoint and request body."""
    code = (
        "import asyncio, json, re, sys\n"
        "import httpx\n"
        "from lambdagate.api import create_app\n"
        "from lambdagate.config import load_store\n"
        "app = create_app(load_store(sys.argv[1]))\n"
        "async def main():\n"
        "    transport = httpx.ASGITransport(app=app)\n"
        "    async with httpx.AsyncClient(transport=transport, base_url='http://gateway.test') as client:\n"
        f"        chat = await client.post('/v1/chat/completions', json={CHAT!r}, headers={EXAMPLE_AUTH!r})\n"
        "        before = sorted(m for m in sys.modules if m.split('.')[0] == 'fastapi')\n"
        "        document = (await client.get('/openapi.json')).json()\n"
        "    print(json.dumps({'chat': chat.status_code, 'before': before, 'after': 'fastapi' in sys.modules,\n"
        "                      'paths': sorted(document['paths']),\n"
        "                      'refs': re.findall(r'#/components/schemas/(\\w+)', json.dumps(document['paths'])),\n"
        "                      'schemas': sorted(document['components']['schemas'])}))\n"
        "asyncio.run(main())\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code, str(root / "gateway.example.yaml")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout)
    assert answer["chat"] == 200
    assert answer["before"] == [] and answer["after"]
    assert {"/v1/chat/completions", "/v1/completions", "/v1/models", "/v1/models/{model_id}", "/v1/embeddings",
            "/v1/responses", "/v1/messages", "/v1/messages/count_tokens"} <= set(answer["paths"])
    # Every request body a path refers to is in the document, the chat completion's among them.
    assert "ChatCompletionRequest" in answer["refs"] and set(answer["refs"]) <= set(answer["schemas"])


def test_the_document_names_the_prefix_a_proxy_mounts_the_gateway_under() -> None:
    """Swagger UI's "Try it out" calls the servers the document names: under a prefix (``root_path``)
    that is the prefix, as FastAPI's app answered; without one, the document names none."""
    async def fetch(root_path: str) -> tuple[dict[str, Any], str]:
        transport = httpx.ASGITransport(app=create_app(_config()), root_path=root_path)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            return (await client.get("/openapi.json")).json(), (await client.get("/docs")).text

    plain, _ = asyncio.run(fetch(""))
    prefixed, page = asyncio.run(fetch("/gateway"))
    assert "servers" not in plain
    assert prefixed["servers"] == [{"url": "/gateway"}]
    assert "'/gateway/openapi.json'" in page or '"/gateway/openapi.json"' in page
    assert prefixed["paths"] == plain["paths"]
