"""Generated requests against the app: no input gives a 5xx, and every error is OpenAI-shaped.

Hypothesis builds requests for ``POST /v1/chat/completions``, ``POST /v1/completions`` and
``GET /v1/models/{id}``: near-valid bodies whose fields (every property of the official request
schemas, plus unknown ones) take valid, boundary and wrong-typed values, arbitrary JSON, broken
bytes, with a valid key, none, or a wrong one. They go in-process (``httpx.ASGITransport``) to
``create_app(FileConfigStore(config))`` with a ``mock`` deployment, and every answer must be:

- below 500;
- an ``ErrorResponse`` (the official schema) when it is an error, and in every error event of a stream;
- never a 200 without a valid key (whichever of auth and validation comes first).

The run is seeded (``derandomize``) so CI is reproducible; its size is
``LAMBDAGATE_FUZZ_EXAMPLES``: 4,000 inputs over the three tests in the suite (about 18 s of one
core, half of it in the app, a quarter in httpx, a quarter in hypothesis), the full run of
10,000 or more as its own command, with a fresh seed each time::

    LAMBDAGATE_FUZZ_EXAMPLES=10000 .venv/bin/python -m pytest tests/test_fuzz.py
    LAMBDAGATE_FUZZ_EXAMPLES=200000 LAMBDAGATE_FUZZ_RANDOM=1 .venv/bin/python -m pytest tests/test_fuzz.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import request_schema
from conftest import DEV_KEY, make_config
from openai_schema import assert_valid

TOTAL = int(os.environ.get("LAMBDAGATE_FUZZ_EXAMPLES", "4000"))
SHARES = {"chat": 0.45, "completions": 0.35, "other": 0.20}


def fuzz(kind: str) -> settings:
    """Seeded unless asked otherwise, no deadline (CI machines vary), its share of ``TOTAL`` inputs."""
    return settings(
        max_examples=max(1, round(TOTAL * SHARES[kind])), deadline=None, database=None, print_blob=True,
        derandomize=not os.environ.get("LAMBDAGATE_FUZZ_RANDOM"), suppress_health_check=list(HealthCheck),
    )


# --- the app under test ---------------------------------------------------------------------------


class Driver:
    """One app, one event loop and one in-process client for the whole module; counts what it sent."""

    def __init__(self) -> None:
        from lambdagate.api import create_app
        from lambdagate.config.file_store import FileConfigStore

        config = make_config(
            {"mock": {"type": "mock"}},
            {"m": {"provider": "mock", "model": "mock-1"},
             "pair": [{"provider": "mock", "model": "mock-a", "weight": 1},
                      {"provider": "mock", "model": "mock-b", "weight": 1}]},
            max_body_bytes=256 * 1024,
        )
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(FileConfigStore(config))),
                                        base_url="http://gateway.test", timeout=30)
        self.sent = 0
        self.statuses: dict[int, int] = {}

    def request(self, method: str, path: str, headers: dict[str, str], content: bytes | None = None) -> httpx.Response:
        self.sent += 1
        response = self.loop.run_until_complete(self.client.request(method, path, headers=headers, content=content))
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def driver() -> Iterator[Driver]:
    instance = Driver()
    yield instance
    instance.close()
    print(f"\nfuzz: {instance.sent} requests, statuses {dict(sorted(instance.statuses.items()))}")


def check(response: httpx.Response, *, authenticated: bool) -> None:
    """The properties every answer has, whatever was sent."""
    status = response.status_code
    sent = response.request.content[:300] if response.request.content else b""
    assert status < 500, f"{response.request.method} {response.request.url.path} {sent!r} -> {status}: " \
                         f"{response.text[:500]}"
    if status >= 400:
        assert_valid(response.json(), "ErrorResponse")
        return
    assert authenticated, f"answered {status} without a valid key: {response.text[:300]}"
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
        assert data and data[-1] == "[DONE]", response.text[-300:]
        for payload in data[:-1]:
            event = json.loads(payload)
            assert isinstance(event, dict)
            if "error" in event:  # a failure after the stream started: still no server error
                assert_valid(event, "ErrorResponse")
                assert event["error"]["type"] != "server_error", event
    else:
        assert isinstance(response.json(), dict)


# --- values -----------------------------------------------------------------------------------------
#
# Hypothesis drives the run (how many inputs, which endpoint, which key, seeded and replayable) and
# hands each example a ``random.Random`` it seeded; :class:`Inputs` builds the request from it.
# Drawing every leaf through hypothesis strategies costs about 7 ms per request body, three times
# the request itself, so the bodies come from plain ``random`` calls (microseconds) instead.

SCHEMA_FIELDS = {
    name: sorted(request_schema.properties(name)) for name in (request_schema.CHAT, request_schema.COMPLETION)
}
UNKNOWN_FIELDS = ["top_k", "guided_json", "provider", "safe_prompt", "repetition_penalty", "timeout", "x" * 70]
STRINGS = ["", " ", "0.5", "1", "-1", "true", "null", "auto", "none", "required", "user", "assistant", "function",
           "tool", "text", "json_object", "json_schema", "image_url", "<|endoftext|>", "\x00", "\ud800", "é" * 3,
           "m", "pair", "nope", "mock/mock-1", "openai/gpt-4o", "*", "../../etc", "%s%n", "x" * 600, "50256"]
NUMBERS = [0, -1, 1, 2, 3, 4, 5, 6, 16, 20, 21, 128, 129, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63),
           -(2**63) - 1, 10**40, 0.0, -0.0, 0.5, 1.0, 2.0, 2.01, -2.01, 100.5, -100.5, 1e308, 5e-324]
KEYS = ["type", "text", "name", "role", "content", "function", "url", "include_usage", "arguments", "parameters",
        "json_schema", "50256", "-1", "", "id"]
CHARS = "abcxyz019 _-./:{}[]\"'\\\n\t\x00é€\U0001f600\ud800"
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
PLAUSIBLE: dict[str, list[Any]] = {
    "stream": [True, False], "stream_options": [{"include_usage": True}, {"include_usage": False}, {}],
    "stop": ["\n", ["a", "b"], "said"], "tools": [[TOOL], [], [TOOL, TOOL]],
    "tool_choice": ["auto", "none", "required", {"type": "function", "function": {"name": "lookup"}},
                    {"type": "function", "function": {"name": "other"}}],
    "response_format": [{"type": "text"}, {"type": "json_object"},
                        {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}],
    "logit_bias": [{"50256": -100}, {"1": 100}, {}], "metadata": [{"k": "v"}, {}],
    "functions": [[{"name": "f"}]], "function_call": ["auto", "none", {"name": "f"}],
    "max_tokens": [1, 3, 16], "max_completion_tokens": [1, 2, 50], "n": [1, 2, 3], "best_of": [1, 2, 3],
    "logprobs": [True, False, 0, 2], "top_logprobs": [0, 2], "echo": [True, False], "suffix": ["s"],
    "seed": [0, -1, 7], "user": ["u"], "temperature": [0, 0.7], "top_p": [0.1, 1], "timeout": [0.5, 5, 0, -1],
    "prompt": ["hello", ["a", "b"], [1, 2], [[1], [2]], [], [f"p{i}" for i in range(25)], ["x"] * 20],
    "model": ["m", "pair", "nope", "", "mock/mock-1"],
}


def _known_values(name: str) -> dict[str, list[Any]]:
    """Per property of the schema: plausible values, its bound values (from the schema), an example."""
    by_prop: dict[str, list[Any]] = {}
    for bound in request_schema.bounds(name):
        by_prop.setdefault(bound.prop, []).extend(value for _, value in bound.candidates())
    known: dict[str, list[Any]] = {}
    for prop, node in request_schema.properties(name).items():
        values = PLAUSIBLE.get(prop, []) + by_prop.get(prop, [])
        with contextlib.suppress(KeyError, IndexError, RecursionError):
            values.append(request_schema.example(node))
        known[prop] = values
    for prop in UNKNOWN_FIELDS:
        known[prop] = PLAUSIBLE.get(prop, [])
    return known


KNOWN = {name: _known_values(name) for name in SCHEMA_FIELDS}
# Chat fields sent to /v1/completions: extras there, which a chat-only provider gets as chat fields.
KNOWN[request_schema.COMPLETION] = {**KNOWN[request_schema.CHAT], **KNOWN[request_schema.COMPLETION]}


class Inputs:
    """Request bodies from one seeded ``random.Random``: near-valid objects, any JSON, broken bytes."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def text(self) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            return rng.choice(STRINGS)
        return "".join(rng.choice(CHARS) for _ in range(rng.randrange(13)))

    def scalar(self) -> Any:
        roll = self.rng.randrange(6)
        if roll == 0:
            return self.rng.choice([None, True, False])
        if roll == 1:
            return self.rng.choice(NUMBERS)
        if roll == 2:
            return self.rng.randint(-(2**64), 2**64) if self.rng.random() < 0.3 else self.rng.randint(-3, 130)
        if roll == 3:
            return self.rng.uniform(-3, 3) if self.rng.random() < 0.7 else self.rng.uniform(-1e300, 1e300)
        return self.text()

    def json(self, depth: int = 2) -> Any:
        rng = self.rng
        if depth <= 0 or rng.random() < 0.45:
            return self.scalar()
        size = rng.randrange(5)
        if rng.random() < 0.5:
            return [self.json(depth - 1) for _ in range(size)]
        return {rng.choice(KEYS) if rng.random() < 0.7 else self.text(): self.json(depth - 1) for _ in range(size)}

    def confused(self, value: Any) -> Any:
        """A valid value with its type changed the way clients get it wrong."""
        return self.rng.choice([json.dumps(value), [value], {"value": value}, not value, None, str(value)])

    def value(self, known: list[Any]) -> Any:
        roll = self.rng.random()
        if known and roll < 0.45:
            return self.rng.choice(known)
        if known and roll < 0.6:
            return self.confused(self.rng.choice(known))
        return self.json(self.rng.randrange(3))

    def part(self) -> Any:
        rng = self.rng
        kind = rng.choice(["text", "text", "image_url", "input_audio", "file", "refusal", "video", ""])
        part: dict[str, Any] = {"type": kind}
        if rng.random() < 0.8:
            part[{"": "text", "video": "video"}.get(kind, kind)] = (
                self.text() if kind in ("text", "refusal") and rng.random() < 0.7
                else {"url": self.text()} if kind == "image_url" and rng.random() < 0.7 else self.json(2))
        return part if rng.random() < 0.9 else self.json(2)

    def message(self) -> Any:
        rng = self.rng
        if rng.random() < 0.1:
            return self.json(2)
        role = rng.choice(["system", "developer", "user", "user", "assistant", "tool", "function"])
        message: dict[str, Any] = {"role": role if rng.random() < 0.9 else self.scalar()}
        roll = rng.random()
        if roll < 0.5:
            message["content"] = self.text()
        elif roll < 0.8:
            message["content"] = [self.part() for _ in range(rng.randrange(4))]
        elif roll < 0.9:
            message["content"] = self.json(2)
        for field in ("name", "tool_calls", "tool_call_id", "refusal", "function_call", "reasoning_content"):
            if rng.random() < 0.08:
                message[field] = self.json(2)
        if role == "assistant" and rng.random() < 0.2:
            message["tool_calls"] = [{"id": self.text(), "type": "function",
                                      "function": {"name": self.text(), "arguments": self.text()}}]
        return message

    def body(self, name: str) -> Any:
        rng = self.rng
        if rng.random() < 0.08:
            return self.json(3)
        body: dict[str, Any] = {"model": rng.choice(["m", "m", "m", "pair", "nope"])}
        if name == request_schema.CHAT:
            if rng.random() < 0.7:
                body["messages"] = [{"role": "user", "content": self.text()} for _ in range(rng.randint(1, 2))]
            else:
                body["messages"] = [self.message() for _ in range(rng.randrange(5))]
        else:
            body["prompt"] = self.text() if rng.random() < 0.6 else [self.text() for _ in range(rng.randrange(4))]
        known = KNOWN[name]
        for prop in rng.sample(sorted(known), rng.randrange(6)):
            body[prop] = self.value(known[prop])
        if rng.random() < 0.05:
            body.pop(rng.choice(["model", "messages", "prompt"]), None)
        return body

    def raw(self) -> bytes:
        rng = self.rng
        roll = rng.randrange(4)
        if roll == 0:
            return rng.randbytes(rng.randrange(41))
        if roll == 1:
            return rng.choice(BROKEN)
        encoded = encode(self.body(request_schema.CHAT))
        return encoded[: rng.randrange(1, max(2, len(encoded)))]


BROKEN = [b"", b"{", b"null", b"[]", b'"x"', b"{}", b'{"model": "m"', b'{"model": "m", "messages": [}',
          b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}',
          b'{"model": "m", "prompt": "x", "n": Infinity}', b"\xff\xfe{}",
          b'{"model": "m", "messages": [{"role": "user", "content": "\\ud800"}]}',
          b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000,
          b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "model": 5}']


def encode(body: Any) -> bytes:
    return json.dumps(body).encode()  # lone surrogates travel as \ud800 escapes; NaN never drawn


auth = st.sampled_from(["valid", "valid", "valid", "none", "wrong", "malformed"])
AUTH_HEADERS = {
    "valid": {"authorization": f"Bearer {DEV_KEY}"},
    "none": {},
    "wrong": {"authorization": "Bearer sk-not-a-key-000000000000"},
    "malformed": {"authorization": f"Basic {DEV_KEY}"},
}
seeds = st.randoms(use_true_random=True)


def _post(driver: Driver, path: str, who: str, content: bytes) -> None:
    headers = {**AUTH_HEADERS[who], "content-type": "application/json"}
    check(driver.request("POST", path, headers, content), authenticated=who == "valid")


# --- the runs -------------------------------------------------------------------------------------------


@fuzz("chat")
@given(rng=seeds, who=auth, prefix=st.sampled_from(["/v1", "/v1", ""]))
def test_fuzz_chat_completions(driver: Driver, rng: random.Random, who: str, prefix: str) -> None:
    _post(driver, prefix + "/chat/completions", who, encode(Inputs(rng).body(request_schema.CHAT)))


@fuzz("completions")
@given(rng=seeds, who=auth, prefix=st.sampled_from(["/v1", "/v1", ""]))
def test_fuzz_completions(driver: Driver, rng: random.Random, who: str, prefix: str) -> None:
    _post(driver, prefix + "/completions", who, encode(Inputs(rng).body(request_schema.COMPLETION)))


@fuzz("other")
@given(rng=seeds, who=auth, kind=st.sampled_from(["model", "model", "/v1/chat/completions", "/v1/completions"]))
def test_fuzz_models_and_raw_bodies(driver: Driver, rng: random.Random, who: str, kind: str) -> None:
    inputs = Inputs(rng)
    if kind == "model":
        model = rng.choice(["m", "pair", "mock/mock-1", "a/b/c"]) if rng.random() < 0.3 else inputs.text()
        # A lone surrogate becomes bytes that are not UTF-8 (%ED%A0%80): the path must survive them too.
        path = "/v1/models/" + quote(model.encode("utf-8", "surrogatepass"), safe="")
        check(driver.request("GET", path, AUTH_HEADERS[who]),
              authenticated=who == "valid")
    else:
        _post(driver, kind, who, inputs.raw())
