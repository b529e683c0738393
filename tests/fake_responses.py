"""A loopback OpenAI upstream whose reasoning models refuse chat tools, and whose ``/responses`` answers.

Built from the official schemas (tests/openai-spec/schemas.json): every ``Response`` this fake
sends is checked against ``Response``, every stream event against its own event schema and
``ResponseStreamEvent``, before it leaves. The event sequences are what the OpenAI API reference
("Streaming events") documents for each output item: ``response.created``,
``response.in_progress``, then per item ``output_item.added``, its parts and deltas,
``output_item.done``, and ``response.completed`` (or ``response.incomplete``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

import fake_openai
from conftest import FakeUpstream, Recorded
from openai_schema import assert_valid
from responses_support import EVENT_SCHEMAS

REASONING_MODELS = ("gpt-5.4", "gpt-5.4-pro", "openai.gpt-5.4")
REFUSAL = ("Function tools with reasoning_effort are not supported for {model} in /v1/chat/completions. "
           "To use function tools, use /v1/responses or set reasoning_effort to 'none'.")
CREATED = 1767225600
USAGE = {"input_tokens": 120, "input_tokens_details": {"cached_tokens": 64, "cache_write_tokens": 0},
         "output_tokens": 45, "output_tokens_details": {"reasoning_tokens": 30}, "total_tokens": 165}

CallMode = Literal["deltas", "done_only", "item_done_only"]
"""How a function call's arguments are streamed: deltas, only ``function_call_arguments.done`` (after an
``output_item.added`` with empty arguments), or only the final ``output_item.done`` (nothing announced)."""


# --- output items ----------------------------------------------------------------------------------


def reasoning(summary: str | None = "Thinking about the weather.", encrypted: str | None = "gAAAAB-encrypted-1",
              item_id: str = "rs_001") -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "type": "reasoning",
                            "summary": [{"type": "summary_text", "text": summary}] if summary else []}
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def function_call(arguments: str = '{"city":"Paris","unit":"celsius"}', *, name: str = "get_weather",
                  call_id: str = "call_W3xyz", item_id: str = "fc_001") -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "call_id": call_id, "name": name, "arguments": arguments,
            "status": "completed"}


def message(text: str = "It is sunny in Paris.", item_id: str = "msg_001",
            logprobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": item_id, "type": "message", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": logprobs or []}]}


def response(output: list[dict[str, Any]], *, model: str = "gpt-5.4-2026-03-05", status: str = "completed",
             incomplete: str | None = None, usage: dict[str, Any] | None = USAGE, response_id: str = "resp_abc123",
             ) -> dict[str, Any]:
    body = {
        "id": response_id, "object": "response", "created_at": CREATED, "status": status,
        "completed_at": CREATED + 2 if status == "completed" else None, "error": None,
        "incomplete_details": {"reason": incomplete} if incomplete else None, "instructions": None,
        "max_output_tokens": None, "model": model, "output": output, "parallel_tool_calls": True,
        "previous_response_id": None, "reasoning": {"effort": "high", "summary": None}, "service_tier": "default",
        "store": False, "temperature": 1.0, "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto", "tools": [], "top_p": 1.0, "truncation": "disabled", "usage": usage,
        "metadata": {},
    }
    assert_valid(body, "Response")
    return body


# --- the event stream of a response ----------------------------------------------------------------


def _pieces(text: str, size: int = 7) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def events(final: dict[str, Any], *, calls: CallMode = "deltas") -> list[dict[str, Any]]:
    """The events a Responses stream sends for ``final``, each valid against its schema."""
    out: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        out.append({"type": kind, "sequence_number": len(out), **fields})

    opening = {**final, "status": "in_progress", "completed_at": None, "output": [], "incomplete_details": None}
    opening.pop("usage", None)  # not known yet (the schema has no null usage)
    add("response.created", response=opening)
    add("response.in_progress", response=opening)
    for index, item in enumerate(final["output"]):
        kind, item_id = item["type"], item["id"]
        where = {"item_id": item_id, "output_index": index}
        if kind == "reasoning":
            add("response.output_item.added", output_index=index,
                item={"id": item_id, "type": "reasoning", "summary": [], "status": "in_progress"})
            for s, part in enumerate(item["summary"]):
                add("response.reasoning_summary_part.added", **where, summary_index=s,
                    part={"type": "summary_text", "text": ""})
                for piece in _pieces(part["text"]):
                    add("response.reasoning_summary_text.delta", **where, summary_index=s, delta=piece)
                add("response.reasoning_summary_text.done", **where, summary_index=s, text=part["text"])
                add("response.reasoning_summary_part.done", **where, summary_index=s, part=part)
        elif kind == "message":
            add("response.output_item.added", output_index=index, item={**item, "content": [], "status": "in_progress"})
            for c, part in enumerate(item["content"]):
                add("response.content_part.added", **where, content_index=c,
                    part={"type": "output_text", "text": "", "annotations": [], "logprobs": []})
                for piece in _pieces(part["text"]):
                    add("response.output_text.delta", **where, content_index=c, delta=piece,
                        logprobs=part["logprobs"] if piece == part["text"][:7] else [])
                add("response.output_text.done", **where, content_index=c, text=part["text"],
                    logprobs=part["logprobs"])
                add("response.content_part.done", **where, content_index=c, part=part)
        elif kind == "function_call":
            if calls != "item_done_only":
                add("response.output_item.added", output_index=index,
                    item={**item, "arguments": "", "status": "in_progress"})
            if calls == "deltas":
                for piece in _pieces(item["arguments"], 5):
                    add("response.function_call_arguments.delta", **where, delta=piece)
            if calls != "item_done_only":
                add("response.function_call_arguments.done", **where, name=item["name"], arguments=item["arguments"])
        add("response.output_item.done", output_index=index, item=item)
    add("response.incomplete" if final["status"] == "incomplete" else "response.completed", response=final)
    for event in out:
        assert_valid(event, EVENT_SCHEMAS[event["type"]])
        assert_valid(event, "ResponseStreamEvent")
    return out


def sse(stream: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in stream)


# --- the fake upstream -----------------------------------------------------------------------------


class ResponsesUpstream:
    """The fake's chat and Responses endpoints under ``prefix`` (``/v1``, Azure's ``/openai/v1``...).

    Chat refuses function tools for the reasoning models, with OpenAI's 400, and answers the rest as
    :mod:`fake_openai` does. ``/responses`` answers the queued ``Response`` objects in turn (the last
    one repeats), as JSON or, for ``stream: true``, as its event stream.
    """

    def __init__(self, fake: FakeUpstream, prefixes: Iterable[str] = ("/v1",)) -> None:
        self.fake = fake
        self.replies: list[dict[str, Any]] = [response([message()])]
        self.calls: CallMode = "deltas"
        self.reasoning_models = REASONING_MODELS
        self.prefixes = tuple(prefixes)
        for prefix in self.prefixes:
            fake.on(prefix + "/chat/completions", self._chat)
            fake.on(prefix + "/responses", self._responses)

    def answer(self, *replies: dict[str, Any], calls: CallMode = "deltas") -> None:
        self.replies = list(replies)
        self.calls = calls

    def _chat(self, request: Request, raw: bytes) -> Response:
        body = json.loads(raw)
        if body.get("model") in self.reasoning_models and body.get("tools") and body.get("reasoning_effort") != "none":
            return fake_openai.error(400, REFUSAL.format(model=body["model"]), code="unsupported_parameter")
        return fake_openai.chat(request, raw)

    def _responses(self, request: Request, raw: bytes) -> Response:
        body = json.loads(raw)
        final = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if body.get("stream"):
            return Response(sse(events(final, calls=self.calls)), media_type="text/event-stream")
        return JSONResponse(final)

    def sent(self, path: str = "/responses") -> list[Recorded]:
        return [r for r in self.fake.requests if r.path.endswith(path)]

    @property
    def last(self) -> dict[str, Any]:
        return self.sent()[-1].json()  # type: ignore[no-any-return]
