"""The OpenAI type's Responses API (``POST /responses``): the Responses front door's passthrough.

The client's request is forwarded with only ``model`` (the routed upstream model) and ``stream``
set, so the upstream's own features keep working: ``previous_response_id``, stored responses,
built-in tools, everything OpenAI adds later. The answer goes back as the upstream's bytes: the
JSON ``Response`` once it is known to be one, and each SSE event as it came, with its
``event:`` name (:class:`~lambdagate.wire.RawEvent`).

Built against the OpenAI API reference (Responses, "Streaming events"): a stream is a sequence of
named events whose data carries the same ``type``, ending with ``response.completed``,
``response.incomplete`` or ``response.failed``; it has no ``[DONE]``. An ``error`` event is the
upstream failing: it is raised as the mapped error (the front door ends the stream with its own
``error`` event).
"""

from __future__ import annotations

from typing import Any

from lambdagate.providers import http
from lambdagate.providers.base import Target
from lambdagate.providers.passthrough import NamedEventPassthrough
from lambdagate.wire import RawJSON

PATH = "/responses"
TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def build_body(fields: dict[str, Any], model: str, *, stream: bool) -> dict[str, Any]:
    """The client's fields as sent (extras included) with the routed model."""
    body = dict(fields)
    body["model"] = model
    if stream:
        body["stream"] = True
    else:
        body.pop("stream", None)
        body.pop("stream_options", None)
    return body


def is_error_event(event: str, data: Any) -> bool:
    """Only ``error`` events are failures: every ``Response`` carries an ``error`` field, null when all is well."""
    return event == "error" or (isinstance(data, dict) and data.get("type") == "error")


def has_error(value: Any) -> bool:
    """An error object sent with a 200 instead of a ``Response``."""
    return isinstance(value, dict) and value.get("object") != "response" and http.is_error_event("", value)


def response(reply: http.Reply, target: Target) -> RawJSON:
    if reply.value.get("object") != "response":
        raise http.bad_answer(target, "an object that is not a response")
    return RawJSON(reply.content, value=reply.value)


class PassthroughEvents(NamedEventPassthrough):
    """The Responses passthrough's stream: each event as its own bytes, until a terminal event."""

    last_events = TERMINAL_EVENTS
    api = "Responses"
