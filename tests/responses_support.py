"""Helpers for the Responses API tests: SSE parsing and validation of every event against the schemas."""

from __future__ import annotations

import json
from typing import Any

import httpx

from conftest import DEV_KEY
from openai_schema import assert_valid

EVENT_SCHEMAS = {
    "response.created": "ResponseCreatedEvent",
    "response.in_progress": "ResponseInProgressEvent",
    "response.queued": "ResponseQueuedEvent",
    "response.output_item.added": "ResponseOutputItemAddedEvent",
    "response.output_item.done": "ResponseOutputItemDoneEvent",
    "response.content_part.added": "ResponseContentPartAddedEvent",
    "response.content_part.done": "ResponseContentPartDoneEvent",
    "response.output_text.delta": "ResponseTextDeltaEvent",
    "response.output_text.done": "ResponseTextDoneEvent",
    "response.refusal.delta": "ResponseRefusalDeltaEvent",
    "response.refusal.done": "ResponseRefusalDoneEvent",
    "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaEvent",
    "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneEvent",
    "response.reasoning_summary_part.added": "ResponseReasoningSummaryPartAddedEvent",
    "response.reasoning_summary_part.done": "ResponseReasoningSummaryPartDoneEvent",
    "response.reasoning_summary_text.delta": "ResponseReasoningSummaryTextDeltaEvent",
    "response.reasoning_summary_text.done": "ResponseReasoningSummaryTextDoneEvent",
    "response.completed": "ResponseCompletedEvent",
    "response.incomplete": "ResponseIncompleteEvent",
    "response.failed": "ResponseFailedEvent",
    "error": "ResponseErrorEvent",
}
TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def parse_sse(text: str) -> list[tuple[str | None, dict[str, Any]]]:
    """``(event name, data)`` of every SSE event of a body (comments skipped); no ``[DONE]`` allowed."""
    events: list[tuple[str | None, dict[str, Any]]] = []
    for block in text.split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data.append(line[len("data: "):])
        if data:
            assert data != ["[DONE]"], "a Responses stream has no [DONE]"
            events.append((name, json.loads("\n".join(data))))
    return events


def assert_events(events: list[tuple[str | None, dict[str, Any]]], *, terminal: str | None = "response.completed",
                  numbered_from: int | None = 0) -> list[dict[str, Any]]:
    """Every event valid (its own schema and ``ResponseStreamEvent``), named as its type, numbered in order."""
    assert events, "no events"
    datas = [data for _, data in events]
    for name, data in events:
        assert name == data["type"], (name, data)
        assert_valid(data, EVENT_SCHEMAS[data["type"]])
        assert_valid(data, "ResponseStreamEvent")
    numbers = [data["sequence_number"] for data in datas]
    if numbered_from is not None:
        assert numbers == list(range(numbered_from, numbered_from + len(numbers))), numbers
    if terminal is not None:
        assert datas[0]["type"] == "response.created" and datas[1]["type"] == "response.in_progress"
        assert datas[-1]["type"] == terminal
        ids = {data["response"]["id"] for data in datas if "response" in data}
        assert len(ids) == 1, ids
        # Every item added is done once, in order of output_index.
        added = [data["output_index"] for data in datas if data["type"] == "response.output_item.added"]
        done = [data["output_index"] for data in datas if data["type"] == "response.output_item.done"]
        assert added == list(range(len(added)))
        if terminal != "response.failed":
            assert sorted(done) == added
    return datas


def output_text(datas: list[dict[str, Any]]) -> str:
    return "".join(data["delta"] for data in datas if data["type"] == "response.output_text.delta")


def final_response(datas: list[dict[str, Any]]) -> dict[str, Any]:
    last = datas[-1]
    assert last["type"] in TERMINAL
    response: dict[str, Any] = last["response"]
    assert_valid(response, "Response")
    return response


def post_stream(base_url: str, body: dict[str, Any], key: str = DEV_KEY) -> httpx.Response:
    """A streamed ``POST /responses`` as raw HTTP (the bytes the gateway wrote)."""
    with httpx.Client(timeout=20) as client:
        return client.post(base_url + "/responses", json={**body, "stream": True},
                           headers={"authorization": f"Bearer {key}"})
