"""A fault-injecting upstream on loopback: every provider type's API, answering with one chosen fault.

One server plays every HTTP provider type at once (any path, any method), so one gateway with
one provider of each type can be started once per module; a test only sets :attr:`FaultUpstream.
scenario` and reads how many times the fault was served (:attr:`FaultUpstream.hits`). A second,
raw TCP server accepts connections and closes them before sending a byte.

The well-formed streams the "not a fault" scenarios decorate are the providers' own fixtures
(tests/fixtures/<type>/...), written from each API's reference.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

FIXTURES = Path(__file__).parent / "fixtures"
PREDICTION_ID = "faultpred0001"

# Faults of a JSON answer (also served to stream requests, where they replace the event stream).
BODY_FAULTS = ("non_json_200", "html_200", "html_502", "json_list", "json_string", "bad_gzip")
# What only a stream can do wrong, or do oddly but correctly.
STREAM_FAULTS = ("non_json_event", "list_event", "string_event", "done_only", "error_event", "comment_only")
STREAM_OK = ("empty_event", "id_retry_event_only_blocks", "multi_line_data")

HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"

# A well-formed stream per type, from the fixtures (OpenAI's own shape: Mistral's chunks are OpenAI chunks).
GOOD_STREAMS = {
    "openai": ("mistral", "stream_text.sse"),
    "azure": ("azure", "chat_stream.sse"),
    "anthropic": ("anthropic", "stream_text.sse"),
    "cohere": ("cohere", "stream_text.sse"),
    "gemini": ("gemini", "stream_text.sse"),
    "mistral": ("mistral", "stream_text.sse"),
    "replicate": ("replicate", "stream.sse"),
}

# Each type's own way of reporting an error as the first event of a stream.
ERROR_EVENTS = {
    "openai": 'data: {"error": {"message": "boom", "type": "server_error", "code": null}}\n\n',
    "azure": 'data: {"error": {"message": "boom", "type": "server_error", "code": "500"}}\n\n',
    "mistral": 'data: {"object": "error", "message": "boom", "type": "internal_error", "code": "3000"}\n\n',
    "anthropic": 'event: error\ndata: {"type": "error", "error": {"type": "api_error", "message": "boom"}}\n\n',
    "cohere": 'event: message-end\ndata: {"type": "message-end", "delta": {"finish_reason": "ERROR", '
              '"error": "boom"}}\n\n',
    "gemini": 'data: {"error": {"code": 500, "message": "boom", "status": "INTERNAL"}}\n\n',
    "replicate": 'event: error\ndata: {"detail": "boom"}\n\n',
}

# The same error as a JSON object under a 200 (OpenAI-compatible servers do this).
ERROR_BODIES = {
    "openai": {"error": {"message": "boom", "type": "server_error", "code": None}},
    "azure": {"error": {"message": "boom", "type": "server_error", "code": "500"}},
    "mistral": {"object": "error", "message": "boom", "type": "internal_error", "code": "3000"},
    "anthropic": {"type": "error", "error": {"type": "api_error", "message": "boom"}},
    "cohere": {"message": "boom"},
    "gemini": {"error": {"code": 500, "message": "boom", "status": "INTERNAL"}},
    "replicate": {"detail": "boom", "status": 500},
    "bedrock": {"message": "boom"},
}


def blocks(provider: str) -> list[str]:
    """The SSE blocks (events, without their blank line) of the type's well-formed stream."""
    folder, name = GOOD_STREAMS[provider]
    text = (FIXTURES / folder / name).read_text()
    return [block for block in text.split("\n\n") if block.strip()]


def decorated_stream(provider: str, scenario: str) -> str:
    """A well-formed stream with something a reader must take in its stride."""
    events = blocks(provider)
    if scenario == "empty_event":
        events[1:1] = ["data:", "data: ", "event: message\ndata:"]
    elif scenario == "id_retry_event_only_blocks":
        events[1:1] = ["id: 42", "retry: 1000", "event: ping", "id: 43\nretry: 50\nevent: content-delta"]
    elif scenario == "multi_line_data":
        # Split every JSON event's data over two ``data:`` lines; joined with "\n" it is the same JSON.
        events = [block.replace("data: {", "data: {\ndata: ", 1) for block in events]
    else:
        raise ValueError(scenario)
    return "".join(block + "\n\n" for block in events)


@dataclass
class Scenario:
    provider: str
    fault: str
    stream: bool


@dataclass
class FaultUpstream:
    """The fault server's state: the scenario of the running test and what it saw."""

    url: str = ""
    scenario: Scenario | None = None
    hits: int = 0
    """Times the fault was served (one per attempt of the gateway)."""
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def reset(self, scenario: Scenario) -> None:
        self.scenario, self.hits, self.requests = scenario, 0, []

    async def _dispatch(self, request: Request) -> Response:
        await request.body()
        self.requests.append((request.method, request.url.path, dict(request.headers)))
        scenario = self.scenario
        if scenario is None:
            return Response('{"error": {"message": "no scenario"}}', status_code=500, media_type="application/json")
        if scenario.provider == "replicate":
            if request.url.path.endswith("/cancel"):
                return _json({"id": PREDICTION_ID, "status": "canceled"})
            if scenario.stream and not request.url.path.startswith("/stream/"):
                # Create the prediction; the fault is in its stream.
                return _json({"id": PREDICTION_ID, "status": "starting",
                              "urls": {"stream": f"{self.url}/stream/{PREDICTION_ID}"}})
        self.hits += 1
        return self.fault(scenario)

    def fault(self, scenario: Scenario) -> Response:
        fault, provider = scenario.fault, scenario.provider
        media = "text/event-stream" if scenario.stream else "application/json"
        if fault == "non_json_200":
            return Response(b"this is not JSON {", media_type=media)
        if fault == "html_200":
            return Response(HTML, media_type="text/html")
        if fault == "html_502":
            return Response(HTML, status_code=502, media_type="text/html")
        if fault == "json_list":
            return Response(b'[{"choices": []}, 2]', media_type="application/json")
        if fault == "json_string":
            return Response(b'"a JSON string"', media_type="application/json")
        if fault == "bad_gzip":
            return Response(b"\x1f\x8b\x08\x00 this is not a gzip stream at all", media_type=media,
                            headers={"content-encoding": "gzip"})
        if fault == "error_body_200":
            return _json(ERROR_BODIES[provider])
        if fault == "non_json_event":
            return _sse("data: this is not JSON {\n\n")
        if fault == "list_event":
            return _sse('data: [{"choices": []}, 2]\n\n')
        if fault == "string_event":
            return _sse('data: "a JSON string"\n\n')
        if fault == "done_only":
            return _sse("data: [DONE]\n\n")
        if fault == "error_event":
            return _sse(ERROR_EVENTS[provider])
        if fault == "comment_only":
            return StreamingResponse(self._comments(), media_type="text/event-stream")
        return _sse(decorated_stream(provider, fault))

    async def _comments(self) -> AsyncIterator[bytes]:
        # Comments only, for far longer than any attempt's timeout; ends early once the test is over.
        for _ in range(300):
            yield b": still thinking\n\n"
            await asyncio.sleep(0.05)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._dispatch, methods=["GET", "POST"])])


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _sse(text: str) -> Response:
    return Response(text.encode(), media_type="text/event-stream")


class ClosingServer:
    """A raw asyncio TCP server on 127.0.0.1 that accepts each connection and closes it before any byte."""

    def __init__(self) -> None:
        self.accepted = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _close(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        writer.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._close, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def __enter__(self) -> ClosingServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
