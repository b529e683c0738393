"""An OpenAI-compatible upstream for the fake server: answers from the request, like a tiny model.

Chat: the reply is ``echo: <last user text>``; with tools and ``tool_choice`` ``required`` it calls
the first tool with ``{"q": <last user text>}``; a tool result is answered ``tool said: <content>``.
Text completions: the reply is `` completed: <prompt>`` per prompt. ``n`` and ``stop`` are honoured,
usage counts words. Streams send one chunk per word, ``stream_options.include_usage`` adds the
usage chunk, and ``pace`` (a :class:`Pacer`) holds each content chunk until the test lets it go, so
tests observe the order of events instead of timing them.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse


class Gate:
    """An event any thread can open and any event loop can await (a fake handler on the server's loop).

    A handler that waits on a gate nobody opens is cancelled when its test ends (see conftest).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def open(self) -> None:
        with self._lock:
            self._open = True
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, future)

    def is_open(self) -> bool:
        return self._open

    async def wait(self, timeout: float | None = None) -> bool:
        """Until the gate opens (True) or ``timeout`` passes (False)."""
        with self._lock:
            if self._open:
                return True
            future = asyncio.get_running_loop().create_future()
            self._waiters.append((asyncio.get_running_loop(), future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return False
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Pacer:
    """Holds a fake stream before each content chunk until the test lets that chunk go.

    The stream waits for :meth:`allow` of chunk ``k`` (from 0) before sending it and counts what it
    sent in :attr:`sent`. A chunk not allowed within ``timeout`` goes anyway, so a test whose order
    is broken fails on its assertions instead of hanging.
    """

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self.sent = 0
        self._lock = threading.Lock()
        self._gates: dict[int, Gate] = {}

    def _gate(self, index: int) -> Gate:
        with self._lock:
            return self._gates.setdefault(index, Gate())

    def allow(self, index: int) -> None:
        self._gate(index).open()

    async def before(self, index: int) -> None:
        await self._gate(index).wait(self.timeout)


def _last_user(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            content = message["content"]
            if isinstance(content, list):
                return " ".join(part.get("text", "") for part in content)
            return str(content)
    return ""


def _cut(text: str, stop: Any) -> tuple[str, str]:
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    for s in stops:
        if s in text:
            return text[: text.index(s)], "stop"
    return text, "stop"


def chat_answer(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    messages = body["messages"]
    if messages[-1]["role"] == "tool":
        text, finish = _cut(f"tool said: {messages[-1]['content']}", body.get("stop"))
        return {"role": "assistant", "content": text, "refusal": None}, finish
    if body.get("tools") and body.get("tool_choice") == "required":
        name = body["tools"][0]["function"]["name"]
        call = {"id": "call_1", "type": "function",
                "function": {"name": name, "arguments": json.dumps({"q": _last_user(messages)})}}
        return {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}, "tool_calls"
    text, finish = _cut(f"echo: {_last_user(messages)}", body.get("stop"))
    return {"role": "assistant", "content": text, "refusal": None}, finish


def _usage(prompt: str, completion: str, n: int) -> dict[str, int]:
    p, c = len(prompt.split()), len(completion.split()) * n
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def chat(request: Request, raw: bytes, *, pace: Pacer | None = None, fail_after: int | None = None) -> Response:
    body = json.loads(raw)
    message, finish = chat_answer(body)
    n = body.get("n") or 1
    usage = _usage(_last_user(body["messages"]), message.get("content") or "x", n)
    if not body.get("stream"):
        return JSONResponse({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": body["model"], "system_fingerprint": "fp_fake",
            "choices": [{"index": i, "message": message, "finish_reason": finish, "logprobs": None}
                        for i in range(n)],
            "usage": usage,
        })

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        payload = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                   "model": body["model"], "choices": choices, **extra}
        return b"data: " + json.dumps(payload).encode() + b"\n\n"

    async def events() -> AsyncIterator[bytes]:
        for i in range(n):
            yield chunk([{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        if message.get("tool_calls"):
            call = message["tool_calls"][0]
            for i in range(n):
                yield chunk([{"index": i, "delta": {"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                              "function": {"name": call["function"]["name"], "arguments": ""}}]},
                              "finish_reason": None}])
                yield chunk([{"index": i, "delta": {"tool_calls": [{"index": 0, "function": {
                              "arguments": call["function"]["arguments"]}}]}, "finish_reason": None}])
        words = (message.get("content") or "").split(" ") if message.get("content") else []
        for position, word in enumerate(words):
            if pace is not None:
                await pace.before(position)
            if fail_after is not None and position >= fail_after:
                yield b'data: {"error": {"message": "upstream overloaded mid-stream", "type": "server_error"}}\n\n'
                return
            piece = word if position == len(words) - 1 else word + " "
            if pace is not None:
                pace.sent += 1
            for i in range(n):
                yield chunk([{"index": i, "delta": {"content": piece}, "finish_reason": None}])
        for i in range(n):
            yield chunk([{"index": i, "delta": {}, "finish_reason": finish}])
        if (body.get("stream_options") or {}).get("include_usage"):
            yield chunk([], usage=usage)
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def completions(request: Request, raw: bytes) -> Response:
    body = json.loads(raw)
    prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
    n = body.get("n") or 1
    choices = []
    for i, prompt in enumerate(prompts):
        text, finish = _cut(f" completed: {prompt}", body.get("stop"))
        if body.get("echo"):
            text = prompt + text
        choices += [{"index": i * n + j, "text": text, "finish_reason": finish, "logprobs": None} for j in range(n)]
    usage = _usage(" ".join(prompts), " ".join(str(c["text"]) for c in choices), 1)
    if not body.get("stream"):
        return JSONResponse({"id": "cmpl-fake", "object": "text_completion", "created": int(time.time()),
                             "model": body["model"], "choices": choices, "usage": usage})

    async def events() -> AsyncIterator[bytes]:
        for choice in choices:
            payload = {"id": "cmpl-fake", "object": "text_completion", "created": int(time.time()),
                       "model": body["model"], "choices": [choice]}
            yield b"data: " + json.dumps(payload).encode() + b"\n\n"
        if (body.get("stream_options") or {}).get("include_usage"):
            payload = {"id": "cmpl-fake", "object": "text_completion", "created": int(time.time()),
                       "model": body["model"], "choices": [], "usage": usage}
            yield b"data: " + json.dumps(payload).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def error(status: int, message: str, *, type: str = "invalid_request_error", code: str | None = None,
          headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"message": message, "type": type, "param": None, "code": code}},
                        status_code=status, headers=headers)
