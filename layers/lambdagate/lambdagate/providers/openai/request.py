"""The upstream body of the OpenAI type: what the client sent, with the routed model."""

from __future__ import annotations

from typing import Any

from lambdagate.types import BaseRequest


def build_body(request: BaseRequest, model: str, *, stream: bool) -> dict[str, Any]:
    """The client's fields as sent (extras included); ``stream`` options only on streams."""
    body = request.sent_fields()
    body["model"] = model
    if stream:
        body["stream"] = True
    else:
        body.pop("stream", None)
        body.pop("stream_options", None)
    return body
