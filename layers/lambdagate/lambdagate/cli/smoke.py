"""``lambdagate smoke``: call every model a deployment lists, on each endpoint, and print a scorecard.

After a deploy (or a config change) an operator wants to know that each mapped model answers, on
each base URL, before users find out. For every model ``/v1/models`` lists, this sends a short
chat completion (non-streamed and streamed) and a text completion (non-streamed and streamed),
and reports status, latency, time to first token and tokens. The exit code is 1 if any check
failed. Only httpx is needed (no AWS access).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambdagate.cli.common import CliError

if TYPE_CHECKING:
    import httpx

PROMPT = "Reply with one short sentence: is the gateway working?"
ENDPOINTS = ("chat", "chat-stream", "completions", "completions-stream")
KEY_ENV = "LAMBDAGATE_KEY"


@dataclass(frozen=True, slots=True)
class Check:
    """One row of the scorecard."""

    url: str
    model: str
    endpoint: str
    status: int | None
    ok: bool
    latency_ms: float
    ttft_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    note: str = ""

    @property
    def tokens(self) -> str:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return "-"
        return f"{self.prompt_tokens or 0}+{self.completion_tokens or 0}"


def _error_note(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
        message = f"{error.get('code') or error.get('type') or ''}: {error.get('message', '')}".strip(": ")
    except (ValueError, AttributeError):
        message = response.text
    return " ".join(message.split())[:200]


def _body(model: str, endpoint: str, max_tokens: int) -> tuple[str, dict[str, Any]]:
    stream = endpoint.endswith("-stream")
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens}
    if endpoint.startswith("chat"):
        path = "/chat/completions"
        body["messages"] = [{"role": "user", "content": PROMPT}]
    else:
        path = "/completions"
        body["prompt"] = PROMPT
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    return path, body


def _events(response: httpx.Response) -> Iterator[str]:
    """The ``data:`` payloads of an SSE body, as they arrive (comments and blank lines skipped)."""
    for line in response.iter_lines():
        if line.startswith("data:"):
            yield line[5:].strip()


def _content(chunk: dict[str, Any]) -> str:
    text = ""
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        text += (delta.get("content") or delta.get("reasoning_content") or choice.get("text") or "")
        if delta.get("tool_calls"):
            text += "<tool call>"
    return text


def run_check(client: httpx.Client, label: str, base: str, model: str, endpoint: str, max_tokens: int) -> Check:
    import httpx

    path, body = _body(model, endpoint, max_tokens)
    start = time.perf_counter()

    def elapsed() -> float:
        return (time.perf_counter() - start) * 1000

    try:
        if not body.get("stream"):
            response = client.post(base + path, json=body)
            latency = elapsed()
            if response.status_code != 200:
                return Check(label, model, endpoint, response.status_code, False, latency, note=_error_note(response))
            usage = response.json().get("usage") or {}
            return Check(label, model, endpoint, 200, True, latency, None, usage.get("prompt_tokens"),
                         usage.get("completion_tokens"))
        with client.stream("POST", base + path, json=body) as response:
            if response.status_code != 200:
                response.read()
                return Check(label, model, endpoint, response.status_code, False, elapsed(),
                             note=_error_note(response))
            ttft: float | None = None
            usage, done, error = {}, False, ""
            for data in _events(response):
                if data == "[DONE]":
                    done = True
                    break
                chunk = json.loads(data)
                if "error" in chunk:
                    error = " ".join(str(chunk["error"].get("message", chunk["error"])).split())[:120]
                    continue
                if ttft is None and _content(chunk):
                    ttft = elapsed()
                usage = chunk.get("usage") or usage
            ok = done and not error
            note = error or ("" if done else "stream ended without [DONE]")
            return Check(label, model, endpoint, 200, ok, elapsed(), ttft, usage.get("prompt_tokens"),
                         usage.get("completion_tokens"), note)
    except (httpx.HTTPError, ValueError) as exc:  # unreachable, timed out, or a body that is not JSON
        return Check(label, model, endpoint, None, False, elapsed(), note=f"{type(exc).__name__}: {exc}"[:120])


def list_models(client: httpx.Client, label: str, base: str) -> tuple[list[str], Check]:
    import httpx

    start = time.perf_counter()
    try:
        response = client.get(base + "/models")
    except httpx.HTTPError as exc:
        return [], Check(label, "-", "models", None, False, (time.perf_counter() - start) * 1000,
                         note=f"{type(exc).__name__}: {exc}"[:120])
    latency = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        return [], Check(label, "-", "models", response.status_code, False, latency, note=_error_note(response))
    ids = [m["id"] for m in response.json().get("data", [])]
    return ids, Check(label, "-", "models", 200, bool(ids), latency, note=f"{len(ids)} models")


def scorecard(checks: list[Check]) -> str:
    header = ("URL", "MODEL", "ENDPOINT", "STATUS", "LATENCY", "TTFT", "TOKENS", "RESULT")
    rows = [header] + [(c.url, c.model, c.endpoint, str(c.status or "-"), f"{c.latency_ms:.0f} ms",
                        f"{c.ttft_ms:.0f} ms" if c.ttft_ms is not None else "-", c.tokens,
                        ("ok" if c.ok else "FAIL") + (f" - {c.note}" if c.note else "")) for c in checks]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
             for row in rows]
    failed = sum(not c.ok for c in checks)
    lines.append(f"{len(checks)} checks, {len(checks) - failed} passed, {failed} failed")
    return "\n".join(lines)


def _key(args: argparse.Namespace) -> str:
    import os

    key = args.key if args.key is not None else os.environ.get(KEY_ENV, "")
    if key == "-":
        key = sys.stdin.readline()
    key = key.strip()
    if not key:
        raise CliError(f"pass --key (or - to read it from stdin) or set {KEY_ENV}", code=2)
    return key


def smoke(args: argparse.Namespace) -> int:
    urls = [(label, url.rstrip("/")) for label, url in (("api", args.api_url), ("stream", args.stream_url)) if url]
    if not urls:
        raise CliError("pass --api-url and/or --stream-url (the stack's ApiUrl and StreamUrl outputs)", code=2)
    endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    unknown = sorted(set(endpoints) - set(ENDPOINTS))
    if unknown or not endpoints:
        raise CliError(f"--endpoints takes {', '.join(ENDPOINTS)}", code=2)
    only = {m.strip() for m in args.models.split(",") if m.strip()} if args.models else None
    import httpx

    headers = {"Authorization": f"Bearer {_key(args)}"}
    checks: list[Check] = []
    with httpx.Client(headers=headers, timeout=args.timeout) as client, \
            ThreadPoolExecutor(max_workers=max(1, args.concurrency)) as pool:
        for label, base in urls:
            models, listing = list_models(client, label, base)
            checks.append(listing)
            selected = [m for m in models if only is None or m in only]
            jobs = [(m, e) for m in selected for e in endpoints]
            # map() keeps the order of the jobs: the scorecard reads model by model.
            checks += pool.map(lambda job, lb=label, b=base: run_check(client, lb, b, job[0], job[1],
                                                                        args.max_tokens), jobs)
    print(scorecard(checks))
    return 0 if all(c.ok for c in checks) else 1


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("smoke", help="call every listed model on each endpoint and print a scorecard")
    parser.add_argument("--api-url", help="the stack's ApiUrl (HTTP API), with or without /v1")
    parser.add_argument("--stream-url", help="the stack's StreamUrl (function URL), with or without /v1")
    parser.add_argument("--key", help=f"a gateway key, or - to read it from stdin (default: ${KEY_ENV})")
    parser.add_argument("--models", help="comma-separated model ids to check (default: all that /v1/models lists)")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS),
                        help=f"which checks (default: {','.join(ENDPOINTS)})")
    parser.add_argument("--max-tokens", type=int, default=16, help="max_tokens of each request (default: 16)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per request (default: 60)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once (default: 4)")
    parser.set_defaults(handler=smoke)
