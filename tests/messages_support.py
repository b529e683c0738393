"""Helpers for the Messages front door tests: a strict Anthropic fake, SSE parsing, validation with the SDK's types.

The fake (:class:`AnthropicAPI`) answers ``/v1/messages`` and ``/v1/messages/count_tokens`` on the
loopback fake upstream and refuses what Anthropic refuses: no ``anthropic-version``, a key that is
not the provider's (or a client's key forwarded), a body that is not JSON, a top-level field the
Messages API does not know (the gateway's own ``timeout``, say), a missing ``max_tokens``, a role
other than ``user``/``assistant``. Every answer and event is validated against the official
Anthropic SDK's models (``anthropic.types``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from conftest import DEV_KEY, FakeUpstream, Recorded

FIXTURES = Path(__file__).parent / "fixtures" / "anthropic"
UPSTREAM_KEY = "sk-ant-api03-upstream-secret-42"

# The top-level fields of MessageCreateParams / MessageCountTokensParams (anthropic 2.15, API 2026-10-21).
CREATE_FIELDS = frozenset({
    "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream", "temperature", "top_p",
    "top_k", "tools", "tool_choice", "thinking", "output_config", "service_tier", "container", "mcp_servers",
    "context_management", "inference_geo", "speed", "cache_control", "diagnostics", "user_profile_id",
})
COUNT_FIELDS = frozenset({"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config",
                          "mcp_servers", "context_management", "cache_control", "speed"})

EVENTS: TypeAdapter[Any] = TypeAdapter(anthropic.types.RawMessageStreamEvent)

CLAUDE_CODE_HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14",
    "x-app": "cli",
    "user-agent": "claude-cli/2.1.0 (external, cli)",
    "x-claude-code-session-id": "0b6a3b0e-5f0e-4d7e-9d38-6f1f2b1f8a11",
    "anthropic-dangerous-direct-browser-access": "true",
}
"""What Claude Code sends beside its key (``x-api-key`` with ANTHROPIC_API_KEY, or a Bearer token)."""


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def claude_code_body(model: str = "claude-sonnet-4-5-20250929", *, stream: bool = True) -> dict[str, Any]:
    """A request shaped like Claude Code's main loop: system blocks with cache_control, tools, thinking, metadata."""
    return {
        "model": model,
        "max_tokens": 32000,
        "stream": stream,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
            {"type": "text", "cache_control": {"type": "ephemeral"},
             "text": "You are an interactive CLI tool that helps users with software engineering tasks."},
        ],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>Context: a Python repository.</system-reminder>"},
                {"type": "text", "text": "List the files in the repository", "cache_control": {"type": "ephemeral"}},
            ]},
        ],
        "tools": [
            {"name": "Bash", "description": "Executes a given bash command.",
             "input_schema": {"type": "object", "properties": {"command": {"type": "string"},
                                                                "timeout": {"type": "number"}},
                              "required": ["command"], "additionalProperties": False,
                              "$schema": "http://json-schema.org/draft-07/schema#"}},
            {"name": "Read", "description": "Reads a file from the local filesystem.",
             "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}},
                              "required": ["file_path"], "additionalProperties": False},
             "cache_control": {"type": "ephemeral"}},
        ],
        "metadata": {"user_id": "user_3f2a_account__session_0b6a3b0e-5f0e-4d7e-9d38-6f1f2b1f8a11"},
        "thinking": {"type": "enabled", "budget_tokens": 4096},
        "temperature": 1,
    }


class AnthropicAPI:
    """The fake's Messages endpoints: strict checks, then the given fixtures in turn (the last one repeats)."""

    def __init__(self, fake: FakeUpstream, key: str = UPSTREAM_KEY) -> None:
        self.fake = fake
        self.key = key
        self.replies: list[tuple[str | bytes, int, dict[str, str]]] = []
        self.counts: list[tuple[str | bytes, int, dict[str, str]]] = [(b'{"input_tokens": 2095}', 200, {})]
        fake.on("/v1/messages", self._messages)
        fake.on("/v1/messages/count_tokens", self._count)

    def answer(self, *names: str | bytes, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.replies = [(name, status, headers or {}) for name in names]

    def answer_count(self, body: str | bytes, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.counts = [(body, status, headers or {})]

    @property
    def last(self) -> Recorded:
        return [r for r in self.fake.requests if r.path.startswith("/v1/messages")][-1]

    def _refuse(self, status: int, kind: str, message: str) -> Response:
        body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake_refusal"}
        return Response(json.dumps(body), status_code=status, media_type="application/json")

    def _check(self, request: Request, raw: bytes, fields: frozenset[str], *, create: bool) -> Response | None:
        headers = request.headers
        if not headers.get("anthropic-version"):
            return self._refuse(400, "invalid_request_error", "anthropic-version: header is required")
        keys = [headers.get("x-api-key"), (headers.get("authorization") or "").removeprefix("Bearer ")]
        if self.key not in keys or DEV_KEY in keys or any(k and k != self.key for k in keys):
            return self._refuse(401, "authentication_error", "invalid x-api-key")
        if not headers.get("content-type", "").startswith("application/json"):
            return self._refuse(400, "invalid_request_error", "content-type must be application/json")
        try:
            body = json.loads(raw)
        except ValueError:
            return self._refuse(400, "invalid_request_error", "The request body is not valid JSON.")
        unknown = sorted(set(body) - fields)
        if unknown:
            return self._refuse(400, "invalid_request_error", f"{unknown[0]}: Extra inputs are not permitted")
        if create and not isinstance(body.get("max_tokens"), int):
            return self._refuse(400, "invalid_request_error", "max_tokens: Field required")
        if not isinstance(body.get("model"), str) or not body.get("messages"):
            return self._refuse(400, "invalid_request_error", "model and messages are required")
        if any(m.get("role") not in ("user", "assistant") for m in body["messages"]):
            return self._refuse(400, "invalid_request_error", "messages: roles must be user or assistant")
        return None

    def _messages(self, request: Request, raw: bytes) -> Response:
        refused = self._check(request, raw, CREATE_FIELDS, create=True)
        if refused is not None:
            return refused
        stream = bool(json.loads(raw).get("stream"))
        replies = self.replies or [("stream_text.sse" if stream else "message_text.json", 200, {})]
        content, status, headers = replies.pop(0) if len(replies) > 1 else replies[0]
        data = content if isinstance(content, bytes) else fixture(content)
        is_stream = isinstance(content, str) and content.endswith(".sse")
        return Response(data, status_code=status, headers=headers,
                        media_type="text/event-stream" if is_stream else "application/json")

    def _count(self, request: Request, raw: bytes) -> Response:
        refused = self._check(request, raw, COUNT_FIELDS, create=False)
        if refused is not None:
            return refused
        content, status, headers = self.counts[0]
        data = content if isinstance(content, bytes) else content.encode()
        return Response(data, status_code=status, headers=headers, media_type="application/json")


# --- streams ---------------------------------------------------------------------------------------


def parse_sse(text: str) -> list[tuple[str | None, dict[str, Any]]]:
    """``(event name, data)`` of every SSE event of a body (comments skipped); no ``[DONE]`` allowed."""
    events: list[tuple[str | None, dict[str, Any]]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[len("event:"):].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:"):].strip())
        if data:
            assert data != ["[DONE]"], "a Messages stream has no [DONE]"
            events.append((name, json.loads("\n".join(data))))
    return events


def assert_stream(events: list[tuple[str | None, dict[str, Any]]], *, complete: bool = True) -> list[dict[str, Any]]:
    """Every event named as its type and valid for the SDK; the order Anthropic streams in; returns the datas."""
    assert events, "no events"
    datas = [data for _, data in events]
    for name, data in events:
        assert name == data["type"], (name, data)
        if data["type"] not in ("error", "ping"):  # the SDK skips pings and raises errors: neither is a stream event
            EVENTS.validate_python(data)
    kinds = [data["type"] for data in datas if data["type"] != "ping"]
    assert kinds[0] == "message_start", kinds
    anthropic.types.Message.model_validate(datas[0]["message"])
    if not complete:
        return datas
    assert kinds[-2:] == ["message_delta", "message_stop"], kinds
    opened: int | None = None
    expected = 0
    for data in datas:
        if data["type"] == "content_block_start":
            assert opened is None and data["index"] == expected, data
            opened = data["index"]
        elif data["type"] == "content_block_delta":
            assert data["index"] == opened, data
        elif data["type"] == "content_block_stop":
            assert data["index"] == opened, data
            opened, expected = None, expected + 1
    assert opened is None
    return datas


def text_of(datas: list[dict[str, Any]]) -> str:
    return "".join(d["delta"]["text"] for d in datas if d["type"] == "content_block_delta"
                   and d["delta"]["type"] == "text_delta")


def client(base_url: str, **options: Any) -> anthropic.Anthropic:
    """The official SDK against the gateway; ``base_url`` as serve_gateway gives it (the SDK adds ``/v1`` itself)."""
    return anthropic.Anthropic(base_url=base_url.removesuffix("/v1"), api_key=options.pop("api_key", DEV_KEY),
                               max_retries=0, timeout=20, **options)
