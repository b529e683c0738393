"""Cohere v2 Chat's parameter table: OpenAI names -> Cohere's, clamped into Cohere's ranges.

Checked against the v2 Chat reference (docs.cohere.com/reference/chat) as of November 2026:
sampling names differ from OpenAI's (``p``, ``k``, ``stop_sequences``) and so do ranges (``p``
is 0.01-0.99, the penalties 0-1), so values are clamped rather than refused. ``response_format``
json_object and json_schema both become Cohere's ``json_object`` (with ``json_schema`` for the
latter). Cohere has no ``n``: several choices are parallel calls (declared in the adapter).
"""

from __future__ import annotations

from typing import Any

from lambdagate.providers.base import ALWAYS_HANDLED, Param, ParamTable
from lambdagate.providers.transforms import stop_sequences


def _response_format(value: Any) -> Any:
    kind = value.get("type")
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = (value.get("json_schema") or {}).get("schema")
        return {"type": "json_object", "json_schema": schema} if schema else {"type": "json_object"}
    return {"type": "text"}


PARAMS: ParamTable = {
    "max_tokens": Param(),
    "temperature": Param(),
    "top_p": Param("p", min=0.01, max=0.99),
    "top_k": Param("k", min=0, max=500),
    "stop": Param("stop_sequences", transform=stop_sequences),
    "seed": Param(),
    "frequency_penalty": Param(min=0, max=1),
    "presence_penalty": Param(min=0, max=1),
    "response_format": Param(transform=_response_format),
    # Cohere's own fields, sent by clients as extra body fields.
    "safety_mode": Param(),
    "thinking": Param(),
}

HANDLED = ALWAYS_HANDLED | {"tools", "tool_choice"}
"""Translated by :mod:`.request` itself: messages, and tools with their choice."""
